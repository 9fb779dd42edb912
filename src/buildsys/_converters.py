"""Converters and checks shared by the frozen classes and the API's entry points:
sequences in, tuples kept; overrides checked as the CLI and builds.toml check them."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["check_concurrency", "check_timeout", "opt_strs", "strs", "timeout_seconds"]


def strs(value: str | Iterable[str]) -> tuple[str, ...]:
    """A list of strings as a tuple; one str is one item (a single hint, tag or
    name), not the characters `tuple()` would split it into."""
    if isinstance(value, str):
        return (value,)
    return tuple(value)


def opt_strs(value: str | Iterable[str] | None) -> tuple[str, ...] | None:
    return None if value is None else strs(value)


def check_concurrency(name: str, value: object) -> int | None:
    """`value` if it is None or a whole number of slots >= 1, as the CLI and builds.toml
    require; 0 is refused rather than read as "the default"."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be a whole number >= 1 or None, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}")
    return value


class _NotPositive(ValueError):
    """A timeout of zero or less: `check_timeout` words it its own way."""


def timeout_seconds(value: object) -> float:
    """Seconds in a timeout: a duration `parse_duration` reads, above zero.

    Raises ValueError with a message that completes "timeout: ...", as builds.toml
    reports it under its key; `check_timeout` words it for the API and the CLI.
    """
    from ._durations import parse_duration

    seconds = parse_duration(value)
    if seconds <= 0:  # zero is not "no timeout": every attempt would stop as it starts
        from ._toml import describe

        raise _NotPositive(f"a timeout must be greater than zero, got {describe(value)}")
    return seconds


def check_timeout(name: str, value: object) -> float | None:
    """`value` in seconds if it is None or a positive duration (a number, or a string
    like "10s" that `parse_duration` reads); 0 would time every build out at once."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TypeError(f"{name} must be a number of seconds, a duration like '10s', or None")
    try:
        return timeout_seconds(value)
    except _NotPositive:
        raise ValueError(f"{name} must be more than zero, got {value!r}") from None
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None
