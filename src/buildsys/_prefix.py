"""Patterns written relative to a directory, moved under it: one rule for the
config (a build's `cwd`) and for workspaces (a member's root), which sit in
different stages."""

from __future__ import annotations

import posixpath

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["prefix_patterns"]


def prefix_patterns(
    patterns: Iterable[str], directory: str, *, anchored: bool
) -> tuple[str, ...]:
    """Each pattern under `directory` (posix, relative; `.` or `""` leaves them as
    they are), its `!` kept in front; `anchored` starts the result with `/`."""
    prefix = posixpath.normpath(directory.strip("/"))
    if prefix in ("", "."):
        return tuple(patterns)
    lead = "/" if anchored else ""
    moved = []
    for pattern in patterns:
        negated = pattern.startswith("!")
        body = pattern[1:] if negated else pattern
        moved.append(("!" if negated else "") + f"{lead}{prefix}/{body.lstrip('/')}")
    return tuple(moved)
