"""Checks shared by the dialects' settings."""
import dataclasses
from typing import Optional


def check_timeouts(timeouts: Optional[dict], names) -> dict:
    """A dialect's ``timeouts`` setting: known names, positive seconds."""
    timeouts = dict(timeouts or {})
    for name, seconds in timeouts.items():
        if name not in names or isinstance(seconds, bool) or not isinstance(seconds, (int, float)) \
                or not 0 < seconds < float("inf"):
            raise ValueError(f"timeouts takes {', '.join(names)} in seconds, not {name!r}: {seconds!r}")
    return timeouts


def check_seconds(value, name: str, high: float = 60.0, zero: bool = False) -> None:
    """A setting in seconds: a number above 0 (or 0, with ``zero``) and at most ``high``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (0 <= value if zero else 0 < value) \
            or not value <= high:
        raise ValueError(f"{name} takes seconds, {'0' if zero else 'above 0'} to {high:g}, not {value!r}")


def make_settings(settings_class, dialect: str, settings: dict):
    """``settings_class(**settings)``, with a TypeError that lists what ``dialect`` takes."""
    accepted = [field.name for field in dataclasses.fields(settings_class)]
    unknown = sorted(set(settings) - set(accepted))
    if unknown:
        raise TypeError(f"the {dialect} dialect takes no {', '.join(unknown)}; "
                        f"its settings are {', '.join(accepted)}")
    return settings_class(**settings)
