"""Checks shared by the dialects' settings."""
from typing import Optional


def check_timeouts(timeouts: Optional[dict], names) -> dict:
    """A dialect's ``timeouts`` setting: known names, positive seconds."""
    timeouts = dict(timeouts or {})
    for name, seconds in timeouts.items():
        if name not in names or isinstance(seconds, bool) or not isinstance(seconds, (int, float)) \
                or not 0 < seconds < float("inf"):
            raise ValueError(f"timeouts takes {', '.join(names)} in seconds, not {name!r}: {seconds!r}")
    return timeouts
