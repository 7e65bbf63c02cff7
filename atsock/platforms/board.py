"""MaixPy's ``board``: ``from board import board_info``."""
from . import board_info  # noqa: F401 - re-exported under MaixPy's name
