"""``python -m atsock``: the ``atsock`` command."""
import sys

from .cli.main import main

sys.exit(main())
