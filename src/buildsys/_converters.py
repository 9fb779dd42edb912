"""attrs converters shared by the frozen classes: sequences in, tuples kept."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["opt_strs", "strs"]


def strs(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


def opt_strs(value: Iterable[str] | None) -> tuple[str, ...] | None:
    return None if value is None else tuple(value)
