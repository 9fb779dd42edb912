"""Toolchain fingerprints a builder can vouch for, and finding the tools they name.

A builder's ``fingerprint(host)`` (or ``fingerprint(host, spec=None)``) says
which tools a build runs, in the build's own environment (``host.env``). It
may return a plain string (the versions), or a `Fingerprint`, which also says
what the versions depend on, so that buildsys can tell by `stat` alone that
they still hold:

- ``text``: the versions ("node 20.11.1, pnpm 9.1.0"); it joins the cache key
  and explanations ("toolchain node 20.11.1 -> node 22.0.0");
- ``files``: absolute paths whose stat vouches for ``text``: each tool it ran
  and the PATH candidates looked at before it (`find_tool` gives both), any
  version file it read (``gradle-wrapper.properties``). A path that does not
  exist counts too: a tool installed there later is noticed;
- ``env``: names of the variables it read (``PATH``, ``JAVA_HOME``...);
- ``contents``: files whose content digest joins the key (the ``command``
  platform's program), hashed through the run's stat memo.

While those files' stats and those variables' values are unchanged, buildsys
reuses the fingerprint between runs without asking the tools again, and a
no-op run may be answered from `.buildsys/replay`. A string fingerprint is
taken again every run and keeps its builds from being replayed.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Mapping

import attrs

from .._converters import strs

__all__ = ["Fingerprint", "Program", "find_tool"]


def _paths(value: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> tuple[str, ...]:
    items = [value] if isinstance(value, str | os.PathLike) else list(value)
    return tuple(os.fspath(item) for item in items)


@attrs.frozen
class Fingerprint:
    """Toolchain versions, and the files and variables that vouch for them."""

    text: str = attrs.field(converter=str)
    files: tuple[str, ...] = attrs.field(default=(), converter=_paths)
    env: tuple[str, ...] = attrs.field(default=(), converter=strs)
    contents: tuple[str, ...] = attrs.field(default=(), converter=_paths)

    @classmethod
    def join(cls, *parts: Fingerprint | None, sep: str = ", ") -> Fingerprint:
        """One fingerprint of several tools: texts joined (empty ones left out), the rest merged."""
        found = [p for p in parts if p is not None]
        return cls(
            sep.join(p.text for p in found if p.text),
            files=tuple(dict.fromkeys(f for p in found for f in p.files)),
            env=tuple(dict.fromkeys(n for p in found for n in p.env)),
            contents=tuple(dict.fromkeys(c for p in found for c in p.contents)),
        )


@attrs.frozen
class Program:
    """Where a program was found on a PATH, and what vouches for that lookup."""

    name: str
    path: str | None  # what exec would run, or None: not found
    # The candidates tried before it (so that one installed earlier on PATH is
    # noticed) and the program itself; its stat follows its symlink chain.
    witnesses: tuple[str, ...]
    env: tuple[str, ...] = ("PATH",)  # () for a name with a slash: PATH is not searched

    @property
    def found(self) -> bool:
        return self.path is not None

    def fingerprint(self, text: str) -> Fingerprint:
        """`text` (this tool's version, or that it is missing), vouched for by this lookup."""
        return Fingerprint(text, files=self.witnesses, env=self.env)


def find_tool(
    name: str, env: Mapping[str, str] | None = None, *, cwd: str | None = None
) -> Program:
    """Find `name` as exec would on the PATH of `env` (default: this process's),
    relative names and PATH entries taken from `cwd`.

    Within a run each distinct lookup is made once, however many builds ask.
    """
    from ._memo import memoised

    search = (os.environ if env is None else env).get("PATH", os.defpath)
    relative = "/" in name or _has_relative(search)
    key = ("find_tool", name, search, cwd if relative else None)
    return memoised(key, lambda: _find(name, search, cwd))


@functools.cache  # one PATH, or a few, per run: splitting it for each build costs
def _has_relative(search: str) -> bool:
    return any(not os.path.isabs(d) for d in search.split(os.pathsep))  # noqa: PTH117


def _find(name: str, search: str, cwd: str | None) -> Program:
    from .programs import find_program, program_candidates

    found = find_program(name, search, cwd)
    tried: list[str] = []
    for candidate in program_candidates(name, search, cwd):
        tried.append(os.path.abspath(candidate))  # noqa: PTH100 - a witness is absolute
        if candidate == found:
            break
    return Program(
        name,
        None if found is None else os.path.abspath(found),  # noqa: PTH100
        tuple(dict.fromkeys(tried)),
        () if "/" in name else ("PATH",),
    )
