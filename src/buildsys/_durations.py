"""Durations as builds.toml writes them: "90s", "20m", "1h30m", "500ms", or a number of seconds."""

from __future__ import annotations

import math
import re

from ._toml import describe

__all__ = ["format_duration", "parse_duration"]

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
# Longer than any build may take: beyond what the clocks' arithmetic holds, a wait
# would fail (a 1e308 s timeout overflows time_t), and a year is already no limit.
MAX_SECONDS = 365 * 24 * 3600


def _seconds(number: float, original: object) -> float:
    if isinstance(number, int) and abs(number) > MAX_SECONDS:
        number = math.inf if number > 0 else -math.inf  # may be beyond a float, as in TOML
    if math.isnan(number):
        raise ValueError(f"a duration must be a finite number of seconds, got {original!r}")
    if number < 0:
        raise ValueError(f"a duration cannot be negative, got {original!r}")
    if number > MAX_SECONDS:
        raise ValueError(f"a duration must be at most a year ({MAX_SECONDS}s), got {original!r}")
    return float(number) + 0.0  # "-0" is zero, not a -0.0 that prints with its sign


def parse_duration(value: object) -> float:
    """Seconds in `value`; raises `ValueError` with a message fit for a config error."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f'expected a duration like "90s", "20m" or "1h30m", got {describe(value)}')
    if isinstance(value, int | float):
        return _seconds(value, value)
    text = value.strip().lower().replace(" ", "")
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return _seconds(seconds, value)
    # A sign is read once, before the units: "-5s" is negative, not unreadable.
    negative = text.startswith("-")
    if negative:
        text = text[1:]
    pos = 0
    total = 0.0
    seen: list[str] = []
    for match in _PART.finditer(text):
        if match.start() != pos or match.group(2) in seen:
            break
        seen.append(match.group(2))
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if not text or pos != len(text):
        raise ValueError(
            f"cannot read {value!r} as a duration: use a number of seconds or units h, m, s, ms "
            '("90s", "20m", "1h30m")'
        )
    return _seconds(-total if negative else total, value)


def format_duration(seconds: float) -> str:
    """The shortest readable form: 0.4s, 90s -> 1m30s, 5400s -> 1h30m."""
    if seconds < 60:
        text = f"{seconds:.1f}".rstrip("0").rstrip(".")
        return f"{text}s"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    parts = []
    if hours:
        parts.append(f"{hours}h")
    if minutes:
        parts.append(f"{minutes}m")
    if secs:
        parts.append(f"{secs}s")
    return "".join(parts)
