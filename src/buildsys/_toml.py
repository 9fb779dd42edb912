"""How config messages name TOML values: in TOML's words, not Python's."""

from __future__ import annotations

__all__ = ["describe", "literal"]


def describe(value: object) -> str:
    """'a boolean', 'the number 3', "the string 'x'", 'an array', 'a table'."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__


def literal(value: object) -> str:
    """A scalar as TOML writes it (true, not True)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
