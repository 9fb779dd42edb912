"""Answering a no-op `buildsys build` from its journal, without loading the project.

`journal.py` records a run a no-op can reproduce, under `invocation_key`:
the command line, working directory, builds.toml bytes, interpreter,
installed distributions (the stat of every `sys.path` directory), the
`BUILDSYS_*`, secret-named and `secret-env` variables (secrets by digest)
and `key-env` values. The key and the rest of the journal's format that
both sides share live here, so a no-op loads this module alone: it imports
neither the engine nor plugins nor attrs. A replay checks the toolchains
(the stat facts of every file each build's `Fingerprint` named, and the
variables it read), each build's patterns (by the stat of the directories
they list, else by globbing again), its inputs and outputs against their
recorded stat (hashing a file whose stat differs or is racy, `_racy`, and
comparing digests) and its cache entry and blobs, then reports what the
engine's own no-op would, through the reporters' formatting
(`report/text.py`, `report/serialize.py`): the same progress lines and JSON
report, with `cached` statuses and fresh times. Any difference, any doubt, a
held project lock or a journal not as expected returns None and the normal
run takes over: a replay is only ever a faster way to the engine's answer.
"""

from __future__ import annotations

import gc
import marshal
import os
import stat
import sys
import time

from .._argv import read_argv
from .._racy import vouches

# Only what every `buildsys build` needs to find out there is nothing to replay:
# the rest is imported once a journal exists. typing itself costs milliseconds.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from datetime import datetime
    from pathlib import Path
    from typing import Any

    from ..config.patterns import FileTree

__all__ = [
    "VERSION",
    "hash_value",
    "ignore_probes",
    "invocation_key",
    "journal_path",
    "listed_dirs",
    "log_stat",
    "replay",
]


class _Stale(Exception):
    """The journal does not describe the project as it is now."""


# -- what a journal answers to, and what recording and replaying share --------


# 5: cache keys hold cwd and outputs (buildcache v2), toolchains are checked, secrets keyed.
# 6: git's ignore rules (`gitignore`, `ignore`).
VERSION = 6
# Variables besides BUILDSYS_* and secret-named ones that change what a run does
# or prints (HOME: a `cache-dir` under `~`).
_RUN_VARS = ("TERM", "NO_COLOR", "FORCE_COLOR", "COLUMNS", "HOME")


def journal_path(root: Path) -> Path:
    return root / ".buildsys" / "replay"


def hash_value(value: str | None) -> str:
    """A variable's value as the journal keeps it: a digest, never the value.

    blake2b from `_blake2`, which hashlib itself uses: importing hashlib costs
    2 to 5 ms (OpenSSL), and every replay on a CI runner (GITHUB_TOKEN) or of
    a project with a fingerprint (PATH) digests something.
    """
    if value is None:
        return "unset"
    try:
        from _blake2 import blake2b
    except ImportError:  # pragma: no cover - a Python built without it
        from hashlib import blake2b
    return blake2b(value.encode("utf-8", "surrogateescape"), digest_size=16).hexdigest()


def invocation_key(argv: Sequence[str], config: str, environ: Mapping[str, str]) -> bytes:
    """What must be the same for a recorded run to answer this one.

    Kept whole rather than hashed (builds.toml's bytes included): comparing
    is cheaper than importing hashlib on every run that has nothing to replay.
    """
    from .._about import version_text
    from ..masking import is_secret_name
    from ..plugin._entrypoints import installed_state

    variables = sorted(
        # A secret's value is never kept: its digest is, so a changed secret is noticed.
        (name, hash_value(value) if is_secret_name(name) else value)
        for name, value in environ.items()
        if name.startswith("BUILDSYS_") or name in _RUN_VARS or is_secret_name(name)
    )
    material = repr(
        (
            VERSION,
            version_text(),
            sys.executable,
            sys.version,
            os.uname().machine,
            os.getcwd(),  # noqa: PTH109
            list(argv),
            config,
            installed_state(),
            [os.isatty(fd) for fd in (0, 1, 2)],
            len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
            variables,
        )
    )
    try:
        with open(config, "rb") as fh:  # noqa: PTH123
            content = fh.read()
    except OSError as exc:
        content = type(exc).__name__.encode()
    return material.encode("utf-8", "surrogateescape") + b"\0" + content


def ignore_probes(probes: Mapping[str, list[Any]]) -> dict[str, list[Any]]:
    """Where git's ignore rules were looked for, as the journal keeps them: paths
    that were absent, `.git` directories, and files read (as inputs are kept)."""
    kept: dict[str, list[Any]] = {"absent": [], "dirs": [], "files": []}
    for kind, path, *facts in probes.values():
        if kind == "absent":
            kept["absent"].append(path)
        elif kind == "dir":
            kept["dirs"].append(path)
        else:
            kept["files"].append([path, *facts])
    return kept


def listed_dirs(
    root: Path, patterns: Sequence[str], inputs: list[str], tree: FileTree
) -> list[Any] | None:
    """The stat of each directory whose entries decide what `patterns` match, taken
    before listing them again (in `tree`) and finding `inputs`; None where that
    cannot vouch."""
    from ..config.patterns import PatternSet

    pattern_set = PatternSet(patterns)
    dirs = pattern_set.listed_dirs()
    if dirs is None or any(rel.rpartition("/")[0] not in dirs for rel in inputs):
        return None  # a match inside a matched directory: only listing again can tell
    recorded = time.time_ns()
    listed = []
    for directory in dirs:
        try:
            st = os.stat(os.path.join(root, directory))  # noqa: PTH116, PTH118
        except OSError:
            return None
        listed.append([directory, st.st_mtime_ns, st.st_ino, st.st_ctime_ns, recorded])
    if pattern_set.files(root, tree) != inputs:
        return None
    return listed


def log_stat(path: str) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)  # noqa: PTH116 - os-level on the hot path
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ino)


def _dirs_unchanged(root: str, listed: list[list[Any]] | None) -> bool:
    if listed is None:
        return False
    for directory, mtime_ns, ino, ctime_ns, recorded_ns in listed:
        try:
            st = os.stat(os.path.join(root, directory))  # noqa: PTH116, PTH118
        except OSError:
            return False
        if not vouches(st, mtime_ns, ino, ctime_ns, recorded_ns):
            return False
    return True


# -- replaying ------------------------------------------------------------------


def _digest(path: str, size: int) -> str:
    """sha256 of the file, read in one call when it is no bigger than its stat said."""
    import hashlib

    fd = os.open(path, _READ_FLAGS)
    try:
        data = os.read(fd, size + 1)
        if len(data) <= size:
            return hashlib.sha256(data).hexdigest()
        h = hashlib.sha256(data)  # it grew: read the rest
        while chunk := os.read(fd, 1 << 20):
            h.update(chunk)
        return h.hexdigest()
    finally:
        os.close(fd)


_READ_FLAGS = os.O_RDONLY | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)


def _changed(path: str, entry: list[Any], mode: int | None) -> os.stat_result | None:
    """None if the file is as recorded and not racy; its stat if only hashing can tell.
    Raises `_Stale` if it is gone, not a regular file, or of another size or mode."""
    _, _, size, mtime_ns, ino, ctime_ns, recorded_ns = entry[:7]
    try:
        st = os.lstat(path)
    except OSError:
        raise _Stale(path) from None
    if not stat.S_ISREG(st.st_mode) or st.st_size != size:
        raise _Stale(path)
    if mode is not None and stat.S_IMODE(st.st_mode) != mode:
        raise _Stale(path)
    return None if vouches(st, mtime_ns, ino, ctime_ns, recorded_ns) else st


def _confirm(pending: list[tuple[str, list[Any], os.stat_result]]) -> None:
    """Hash each file; raise `_Stale` unless each still has its recorded content.
    Its entry then holds the stat taken before reading, as the stat memo's do:
    a write during the read changes the file's stat, so the next run hashes it."""
    for path, entry, st in pending:
        recorded = time.time_ns()  # before reading
        try:
            if _digest(path, st.st_size) != entry[1]:
                raise _Stale(path)
        except OSError:
            raise _Stale(path) from None
        entry[3:7] = [st.st_mtime_ns, st.st_ino, st.st_ctime_ns, recorded]


class _Replay:
    """One replay: check the journal against the files, apply, report, save."""

    def __init__(self, journal: dict[str, Any], root: Path) -> None:
        self.journal = journal
        self.root = root
        self.dirty = False
        self._tree: FileTree | None = None

    def tree(self) -> FileTree:
        """Where inputs are walked again, with git's rules as the recorded run had them."""
        if self._tree is None:
            from ..config.patterns import FileTree

            self._tree = FileTree.for_inputs(self.root, self.journal["gitignore"])
        return self._tree

    def _check_ignore_rules(self, pending: list[tuple[str, list[Any], os.stat_result]]) -> None:
        """Raise `_Stale` unless git's ignore rules are where and as they were read."""
        ignore = self.journal["ignore"]
        for path in ignore["absent"]:
            if os.path.lexists(path):
                raise _Stale(path)
        for path in ignore["dirs"]:
            try:
                if not stat.S_ISDIR(os.lstat(path).st_mode):
                    raise _Stale(path)
            except OSError:
                raise _Stale(path) from None
        for entry in ignore["files"]:
            if (st := _changed(entry[0], entry, None)) is not None:
                pending.append((entry[0], entry, st))

    def _keep_new_probes(self) -> None:
        """Ignore files a walk again read for the first time: the next replay checks them too."""
        if self._tree is None or self._tree.ignore is None:
            return
        ignore = self.journal["ignore"]
        known = {*ignore["absent"], *ignore["dirs"], *(entry[0] for entry in ignore["files"])}
        fresh = {k: v for k, v in self._tree.ignore.probes.items() if k not in known}
        if fresh:
            for key, values in ignore_probes(fresh).items():
                ignore[key].extend(values)
            self.dirty = True

    def verify(self) -> list[tuple[datetime, datetime]]:
        """Per build, when its check started and ended; raises `_Stale` on any change."""
        from datetime import UTC, datetime

        from ..config.patterns import PatternSet

        root = str(self.root)
        times = []
        pending: list[tuple[str, list[Any], os.stat_result]] = []  # stat changed or racy
        self._check_ignore_rules(pending)
        for build in self.journal["builds"]:
            started = datetime.now(UTC)
            inputs = build["inputs"]
            if not _dirs_unchanged(root, build["dirs"]):
                names = [entry[0] for entry in inputs]
                tree = self.tree()
                listed = listed_dirs(self.root, build["patterns"], names, tree)
                if listed is None and PatternSet(build["patterns"]).files(self.root, tree) != names:
                    raise _Stale(f"{build['name']}: the files its inputs match changed")
                if listed is not None:
                    build["dirs"] = listed
                    self.dirty = True
            for entry in inputs:
                path = f"{root}/{entry[0]}"
                if (st := _changed(path, entry, None)) is not None:
                    pending.append((path, entry, st))
            for entry in build["outputs"]:
                path = f"{root}/{entry[0]}"
                if (st := _changed(path, entry, entry[7])) is not None:
                    pending.append((path, entry, st))
            for blob, size in build["blobs"]:
                try:
                    if os.stat(blob).st_size != size:  # noqa: PTH116
                        raise _Stale(blob)
                except OSError:
                    raise _Stale(blob) from None
            if build["note"] is None and log_stat(build["log"]) != build["log_stat"]:
                raise _Stale(build["log"])
            times.append((started, datetime.now(UTC)))
        if pending:
            _confirm(pending)
            self.dirty = True
        self._keep_new_probes()
        return times

    def apply(self) -> None:
        """What serving does besides reporting: mark entries used, keep original logs."""
        noted = []
        for build in self.journal["builds"]:
            try:
                os.utime(build["manifest"])  # least recently used is by manifest mtime
            except OSError:
                raise _Stale(build["manifest"]) from None
            if build["note"] is not None:
                noted.append(build)
        if noted:
            self.dirty = True
            from .lognotes import keep_log  # the first replay after a cold run only

            for build in noted:
                unchanged = log_stat(build["log"]) == build["log_stat"]
                keep_log(build["log"], build["note"], unchanged=unchanged)
                build["note"] = None
                build["log_stat"] = log_stat(build["log"])

    def report(self, times: list[tuple[datetime, datetime]], started: float) -> int:
        journal = self.journal
        durations = []
        entries = []
        for build, (begin, end) in zip(journal["builds"], times, strict=True):
            duration = (end - begin).total_seconds()
            durations.append(duration)
            entries.append(
                build["entry"]
                % {
                    "duration": repr(duration),  # as json writes a float
                    "started_at": f'"{begin.isoformat()}"',
                    "finished_at": f'"{end.isoformat()}"',
                }
            )
        total = time.monotonic() - started
        # `rich` prints the plain lines too, under a transient panel of running
        # builds; with nothing to run there is no panel worth drawing.
        if journal["progress"] in ("plain", "rich"):
            self._print(durations, total)
        path = journal["report_json"]
        if path is not None:
            from pathlib import Path

            from .._files import write_atomic
            from ..report.serialize import dumps_report, report_data

            data = report_data(
                ok=True,
                all_completed=True,
                interrupted=False,
                total_duration=total,
                cached=len(entries),
                results=entries,
            )
            try:
                write_atomic(Path(path), dumps_report(data))
            except OSError:
                raise _Stale(path) from None  # the normal run reports why
        return 0

    def _print(self, durations: list[float], total: float) -> None:
        """The console reporter's lines for a run whose every build came from the cache."""
        from ..report import text

        builds = self.journal["builds"]
        rows = [b["row"] for b in builds]  # name, platform, reason
        out = sys.stdout
        out.write(text.run_header(len(builds), self.journal["max_concurrency"]) + "\n")
        for index in self.journal["finish_order"]:
            name, _, reason = rows[index]
            out.write(text.build_finished(name, "cached", durations[index], reason or None) + "\n")
        table = [
            text.summary_row(name, platform, "cached", duration, reason or "")
            for (name, platform, reason), duration in zip(rows, durations, strict=True)
        ]
        last = text.verdict(
            ok=True,
            interrupted=False,
            succeeded=0,
            cached=len(builds),
            failed=0,
            cancelled=0,
            skipped=0,
            seconds=total,
        )
        out.write(text.run_summary(table, (), last) + "\n")
        out.flush()

    def save(self) -> None:
        if not self.dirty:
            return
        from .._files import write_atomic

        try:
            write_atomic(journal_path(self.root), marshal.dumps(self.journal))
        except (OSError, ValueError):
            self.dirty = True  # not saved: the next replay checks by content again


def _load(root: Path) -> dict[str, Any] | None:
    try:
        with open(journal_path(root), "rb") as fh:  # noqa: PTH123
            # marshal.load(fh) reads object by object: one read() is much faster.
            journal = marshal.loads(fh.read())
    except (OSError, EOFError, ValueError, TypeError):
        return None
    if not isinstance(journal, dict) or journal.get("version") != VERSION:
        return None
    return journal


def replay(argv: Sequence[str]) -> int | None:
    """Answer `buildsys build` from the journal and return its exit code, or None
    to leave the run to the engine (no journal, anything changed, any error)."""
    started = time.monotonic()
    # Loading and checking builds thousands of small containers, none cyclic.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _replay(argv, started)
    finally:
        if collecting:
            gc.enable()


def _replay(argv: Sequence[str], started: float) -> int | None:
    config, _ = read_argv(argv, ())
    where = os.path.join(os.path.dirname(os.path.abspath(config)), ".buildsys", "replay")  # noqa: PTH100, PTH118, PTH120
    if not os.path.exists(where):  # noqa: PTH110 - the common case: return at once
        return None
    from pathlib import Path

    root = Path(config).absolute().parent
    journal = _load(root)
    if journal is None:
        return None
    try:
        environ = os.environ
        if journal["key"] != invocation_key(argv, config, environ):
            return None
        for variables in (journal["key_env"], journal["secret_env"], journal["toolchain_env"]):
            for name, value in variables.items():
                if hash_value(environ.get(name)) != value:
                    return None
        if journal["toolchain_files"]:
            from ..cache._witness import facts

            for path, found in journal["toolchain_files"]:
                if facts(path) != found:
                    return None  # a tool installed, removed or replaced: the engine asks it
        from .lock import try_project_lock

        with try_project_lock(root) as locked:
            if not locked:
                return None  # the engine waits for it, and says so
            job = _Replay(journal, root)
            times = job.verify()
            job.apply()
            code = job.report(times, started)
            job.save()
            return code
    except (_Stale, OSError, LookupError, TypeError, ValueError, EOFError):
        return None  # any doubt, or a journal not as expected: the engine decides
