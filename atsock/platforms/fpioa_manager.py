"""MaixPy's ``fpioa_manager``: ``from fpioa_manager import fm`` (and, on older firmware, ``board_info``)."""
from . import board_info, fm  # noqa: F401 - re-exported under MaixPy's names
