"""What a build produced: each artifact's path, size and sha256."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import attrs

__all__ = ["Artifact", "describe"]

_CHUNK = 1024 * 1024


@attrs.frozen
class Artifact:
    path: str
    size: int | None  # None: the path is gone, or is a directory
    sha256: str | None


def _digest(path: Path) -> str:
    import hashlib  # only when artifacts are described: not on every start

    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _tree(path: Path) -> tuple[int, str]:
    """Total size and a digest over the sorted relative paths and contents of a directory."""
    import hashlib

    h = hashlib.sha256()
    total = 0
    for child in sorted(p for p in path.rglob("*") if p.is_file() and not p.is_symlink()):
        rel = child.relative_to(path).as_posix()
        total += child.stat().st_size
        h.update(rel.encode() + b"\0" + _digest(child).encode() + b"\n")
    return total, h.hexdigest()


def describe(paths: Iterable[str]) -> tuple[Artifact, ...]:
    """Size and sha256 of each path; a directory (an .app bundle) is hashed as a tree."""
    out: list[Artifact] = []
    for raw in paths:
        path = Path(raw)
        try:
            if path.is_symlink() or path.is_file():
                out.append(Artifact(raw, path.stat().st_size, _digest(path)))
            elif path.is_dir():
                size, digest = _tree(path)
                out.append(Artifact(raw, size, digest))
            else:
                out.append(Artifact(raw, None, None))
        except OSError:
            out.append(Artifact(raw, None, None))
    return tuple(out)
