"""Installed plugins' entry points, remembered between runs.

`importlib.metadata` costs over ten milliseconds to import and a few more to
scan every installed distribution, on every `buildsys` start. What it finds
can only change when a distribution is installed, removed or upgraded, and
each of those adds or removes a `*.dist-info` directory in a `sys.path`
directory, which changes that directory's modification time. So the entry
points found are kept in the user's cache directory (`$XDG_CACHE_HOME` or
`~/.cache`, under `buildsys/`), with the interpreter, `sys.path` and the stat
of each of its directories they were found under; any difference and they
are looked up again. A cache that cannot be read or written is ignored. Not
seen: a distribution edited in place (its entry_points.txt rewritten by hand),
and one in the working directory of `python -m buildsys`, which is not
stat'ed since every build changes it.

Loading an entry point is done here too, as `EntryPoint.load()` would: import
the module, then follow the dotted attribute.
"""

from __future__ import annotations

import importlib
import marshal
import os
import sys
import zlib

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

__all__ = ["EntryPoint", "entry_points", "installed_state", "load"]

_VERSION = 1

# (name, value, distribution name or None, distribution version)
EntryPoint = tuple[str, str, str | None, str]


def _cache_file() -> str | None:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(  # noqa: PTH118
        os.path.expanduser("~"),  # noqa: PTH111
        ".cache",
    )
    if not os.path.isabs(base):  # noqa: PTH117 - as XDG says: ignore a relative one
        return None
    tag = zlib.crc32(sys.executable.encode("utf-8", "surrogateescape"))
    return os.path.join(base, "buildsys", f"entry-points-{tag:08x}")  # noqa: PTH118


def installed_state() -> list[tuple[object, ...]]:
    """`sys.path` with the stat of each directory: it changes whenever a
    distribution is installed, upgraded or removed (also used by `replay`)."""
    cwd = os.getcwd()  # noqa: PTH109
    paths: list[tuple[object, ...]] = []
    for entry in sys.path:
        if os.path.abspath(entry or ".") == cwd:  # noqa: PTH100
            # `python -m` puts the working directory first, and builds change it
            # all the time; distributions are not installed into a project.
            paths.append((entry, "cwd"))
            continue
        try:
            st = os.stat(entry or ".")  # noqa: PTH116
        except OSError:
            paths.append((entry,))
        else:
            paths.append((entry, st.st_mtime_ns, st.st_ino, st.st_size))
    return paths


def _key(group: str) -> tuple[object, ...]:
    return (_VERSION, group, sys.executable, sys.version, installed_state())


def _scan(group: str) -> list[EntryPoint]:
    from importlib.metadata import entry_points as find

    found: list[EntryPoint] = []
    for ep in find(group=group):
        dist = ep.dist
        found.append(
            (ep.name, ep.value, dist.name if dist else None, dist.version if dist else "unknown")
        )
    return found


def entry_points(group: str) -> Sequence[EntryPoint]:
    """The entry points of `group` in the installed distributions."""
    path = _cache_file()
    key = _key(group)
    if path is not None:
        try:
            with open(path, "rb") as fh:  # noqa: PTH123
                cached_key, cached = marshal.loads(fh.read())
            if cached_key == key:
                return [tuple(ep) for ep in cached]
        except (OSError, EOFError, ValueError, TypeError):
            pass
    found = _scan(group)
    if path is not None:
        try:
            from pathlib import Path

            from .._files import write_atomic

            payload: Any = (key, [list(ep) for ep in found])
            write_atomic(Path(path), marshal.dumps(payload))
        except (OSError, ValueError):
            pass  # a read-only home: look them up every time
    return found


def load(value: str) -> object:
    """The object an entry point's value (`module:attr.attr [extras]`) names."""
    target = value.split("[", 1)[0].strip()
    module, _, attrs = target.partition(":")
    obj: object = importlib.import_module(module.strip())
    for attr in filter(None, attrs.strip().split(".")):
        obj = getattr(obj, attr)
    return obj
