"""Finding the program a command names, as exec would: on PATH, without shutil."""

from __future__ import annotations

import os

__all__ = ["find_program", "program_candidates", "program_on_path"]


_WHICH: dict[tuple[str, str | None], str] = {}


def program_on_path(name: str, search_path: str | None) -> str | None:
    """`name` found on the command's PATH, memoised: Popen's own search costs a
    path join per PATH entry on every spawn. Only hits are kept, so a tool that
    appears later is still found; a stale hit fails to start and is reported
    like any missing command.
    """
    if "/" in name:
        return None
    key = (name, search_path)
    found = _WHICH.get(key)
    if found is None:
        # Relative entries resolve against the command's cwd: Popen's own search decides.
        found = find_program(name, os.defpath if search_path is None else search_path, None)
        if found is None:
            return None
        _WHICH[key] = found
    return found


def find_program(name: str, search_path: str, cwd: str | None) -> str | None:
    """The executable that running `name` would start, as exec searches for it:
    `name` itself if it has a slash, else the first in a `search_path` entry;
    relative ones (and an empty one, `.`) taken from `cwd`, or, without a
    `cwd`, ending the search with None.

    What `shutil.which` does, without importing shutil (and with it bz2, lzma
    and zlib: 2 ms of every start).
    """
    for candidate in program_candidates(name, search_path, cwd):
        if os.access(candidate, os.X_OK) and not os.path.isdir(candidate):  # noqa: PTH112
            return candidate
    return None


def program_candidates(name: str, search_path: str, cwd: str | None) -> list[str]:
    """The paths `find_program` tries for `name`, in order."""
    if "/" in name:
        return [name if cwd is None else os.path.join(cwd, name)]  # noqa: PTH118
    candidates = []
    for directory in search_path.split(os.pathsep):
        if not os.path.isabs(directory):  # noqa: PTH117 - str in, str out
            if cwd is None:
                break
            directory = os.path.join(cwd, directory)  # noqa: PTH118
        candidates.append(os.path.join(directory, name))  # noqa: PTH118
    return candidates
