"""Answering a no-op `buildsys build` from a journal, without loading the project.

A no-op run spends nearly all its time before the first cache lookup:
importing the engine, loading plugins, parsing builds.toml, planning. When
a run ends with every build served from the cache or stored in it, `record`
writes `.buildsys/replay`: for the exact command line that ran, each build's
input patterns, the stat facts and digests of its inputs and outputs (taken
from the stat memo, so they describe the content that was hashed), its cache
entry, and its report entry as a `cached` result would have it.

The next `buildsys build` with the same command line, working directory,
builds.toml bytes, interpreter, installed distributions (the stat of every
`sys.path` directory: installing or removing one changes it), the same
`BUILDSYS_*` variables, secret-named and `secret-env` variables (by digest:
a value is never written) and `key-env` values, and the same toolchains (the
stat facts of every file each build's `Fingerprint` named, and the values of
the variables it read, such as PATH), is answered by `replay`, which imports
neither the engine nor plugins nor attrs. Per build it checks that its
patterns still match the same files (by the stat of the directories they
list, else by globbing again), checks each input and output against its
recorded stat, hashing the file when the stat differs or is racy (`_racy`, as
the stat memo does) and comparing digests, checks that the cache entry and
its blobs are still there, and then
reports exactly what the engine's own no-op would: the same progress lines
and the same JSON report, with `cached` statuses and fresh times. Any
difference, any doubt, a held project lock or a journal not as expected
returns None and the normal run takes over, so a replay can only ever be a
faster way to reach the engine's answer.

Only runs a replay can reproduce are recorded: no `-v`, no JUnit file, no
warnings, no build decided before running (host skips, toolchain checks), no
third-party plugin observing runs, and only platforms whose toolchain can be
checked by stat: a builder without `check()` or `fingerprint()`, or one whose
fingerprint is a `buildsys.Fingerprint` (whose files then also cover what its
`check()` looks at). A string fingerprint, or a `check()` with none, could
change without any file it names changing. Secrets do not stop a run from
being recorded: what the journal holds was masked when it was recorded, and
a secret that changes changes the invocation key.
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

    from ..cache.keys import BuildCache
    from ..config.patterns import FileTree
    from ..masking import Masker
    from ..results import ExecutionResult
    from .plan import Plan
    from .runner import Runner as Run

__all__ = ["invocation_key", "journal_path", "record", "replay"]

# 5: cache keys hold cwd and outputs (buildcache v2), toolchains are checked, secrets keyed.
# 6: git's ignore rules (`gitignore`, `ignore`).
_VERSION = 6
# Hooks a third-party plugin may implement without making a run unreplayable:
# neither is called when every build comes from the cache.
_SILENT_HOOKS = {"buildsys_register_platforms", "buildsys_error_suggestions"}
# Variables besides BUILDSYS_* and secret-named ones that change what a run does
# or prints (HOME: a `cache-dir` under `~`).
_RUN_VARS = ("TERM", "NO_COLOR", "FORCE_COLOR", "COLUMNS", "HOME")


class _Stale(Exception):
    """The journal does not describe the project as it is now."""


def journal_path(root: Path) -> Path:
    return root / ".buildsys" / "replay"


def _hash_value(value: str | None) -> str:
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
    from .. import _version_text
    from ..masking import is_secret_name
    from ..plugin._entrypoints import installed_state

    variables = sorted(
        # A secret's value is never kept: its digest is, so a changed secret is noticed.
        (name, _hash_value(value) if is_secret_name(name) else value)
        for name, value in environ.items()
        if name.startswith("BUILDSYS_") or name in _RUN_VARS or is_secret_name(name)
    )
    material = repr(
        (
            _VERSION,
            _version_text(),
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


# -- recording (called by the engine, which has everything imported) ---------


def _unreplayable(
    run: Run, plan: Plan, result: ExecutionResult, masker: Masker, cache: BuildCache | None
) -> str | None:
    """Why this run's outcome could not be reproduced by `replay`, or None."""
    from ..results import Status

    opts = run.options
    if opts.replay_key is None or cache is None or not plan.specs:
        return "not a command-line run with the cache on, or nothing to build"
    if opts.verbose or opts.junit_xml:
        return "-v or --junit-xml"
    if plan.presets or not result.ok or result.interrupted or run.warnings:
        return "a build decided before running, a failure or warnings"
    for build in result.results:
        if build.status not in (Status.CACHED, Status.SUCCEEDED) or build.warnings:
            return f"{build.name} {build.status.value} or warned"
        done = cache.done.get(build.name)
        if done is None or any(f.symlink is not None for f in done.manifest.files):
            return f"{build.name} not served from or stored in the cache"
    for spec in plan.specs:
        registered = run.plugins.registry.get(spec.platform)
        builder = registered.builder if registered is not None else None
        if builder is None:
            return f"platform {spec.platform} has no builder"
        if not hasattr(builder, "fingerprint"):
            if hasattr(builder, "check"):
                return f"platform {spec.platform} has a check() and no fingerprint() to vouch"
            continue
        if not run.toolchains.of(spec).vouched:
            return f"{spec.name}: its toolchain fingerprint cannot be checked by stat"
    builtin = {info.name for info in run.plugins.plugins if info.builtin}
    for name, plugin in run.plugins.pm.list_name_plugin():
        if name in builtin or name.startswith("buildsys."):
            continue
        hooks = {caller.name for caller in run.plugins.pm.get_hookcallers(plugin) or []}
        if hooks - _SILENT_HOOKS:
            return f"plugin {name} observes runs"
    return None


def record(
    run: Run, plan: Plan, result: ExecutionResult, masker: Masker, cache: BuildCache | None
) -> None:
    """Write the journal if this run can be replayed; otherwise leave any old one alone."""
    if cache is None or _unreplayable(run, plan, result, masker, cache) is not None:
        return
    import contextlib
    from datetime import UTC, datetime

    from .._files import write_atomic
    from ..cache.keys import cached_result, log_note
    from ..config.graph import dependency_order
    from ..report.serialize import execution_to_dict, result_to_dict
    from ..results import ExecutionResult

    assert run.options.replay_key is not None
    root = run.config.root
    log_dir = root / ".buildsys" / "logs"
    now = datetime.now(UTC)
    builds: list[dict[str, Any]] = []
    staging = _staging_dir(root)
    _clear(staging)
    for spec in plan.specs:
        done = cache.done[spec.name]
        inputs: list[list[Any]] = []
        for rel, digest in sorted(done.parts.inputs.items()):
            entry = cache.memo.entry(root, rel)
            if entry is None or entry[0] != digest:
                return  # changed since it was hashed, or not a regular file
            inputs.append([rel, *entry])
        outputs = []
        for f in done.manifest.files:
            try:
                if cache.memo.digest(root, f.path) != f.sha256:
                    return
            except OSError:
                return
            entry = cache.memo.entry(root, f.path)
            if entry is None:
                return
            outputs.append([f.path, *entry, f.mode & 0o777])
        blobs = [(str(cache.cache.blob_path(f.sha256)), f.size) for f in done.manifest.files]
        listed = _listed_dirs(root, spec.inputs or (), [entry[0] for entry in inputs], cache.tree)
        log_path = log_dir / f"{spec.name}.log"
        original = log_dir / f"{spec.name}.cached.log"
        reported = result_to_dict(
            cached_result(root, spec, done.parts.key, done.manifest, log_path, now), masker
        )
        row = [reported["name"], reported["platform"], reported["reason"]]
        log_blob = done.manifest.log_blob
        builds.append(
            {
                "name": spec.name,
                "platform": spec.platform,
                "patterns": list(spec.inputs or ()),
                "dirs": listed,
                "inputs": inputs,
                "outputs": outputs,
                "blobs": blobs,
                "manifest": str(cache.cache.manifest_path(done.parts.key)),
                "log": str(log_path),
                "log_stat": _log_stat(str(log_path)),
                # A build that ran has its own output in its log: the first
                # replay does what serving does, keeps it beside a note.
                "note": None
                if done.served
                else _prepare_note(
                    staging / f"{spec.name}.log",
                    log_note(done.parts.key, 0, original if log_blob else None),
                    str(original),
                    str(cache.cache.blob_path(log_blob)) if log_blob else None,
                    # The log is still what was stored: moving it is the copy.
                    log_blob is not None and _same_content(log_path, log_blob),
                ),
                "row": row,  # name, platform, reason: what progress lines show
                "entry": _entry_template(reported),
            }
        )
    tool_files: dict[str, Any] = {}
    tool_env: dict[str, str] = {}
    for spec in plan.specs:
        toolchain = run.toolchains.of(spec)
        tool_files.update(toolchain.facts or ())
        for name in toolchain.env:
            if name not in spec.env:  # a value of builds.toml's: part of the key already
                tool_env[name] = _hash_value(run.environ.get(name))
    order = {s.name: i for i, s in enumerate(plan.specs)}
    report = execution_to_dict(ExecutionResult(results=()), masker)
    report.update(ok=True, all_completed=True, cached_count=len(builds))
    journal = {
        "version": _VERSION,
        "key": run.options.replay_key,
        "key_env": {
            name: _hash_value(run.environ.get(name)) for s in plan.specs for name in s.key_env
        },
        # Digests: one set or changed since must be masked (or warned about) anew.
        "secret_env": {
            name: _hash_value(run.environ.get(name)) for s in plan.specs for name in s.secret_env
        },
        # What vouches for each build's toolchain: stat facts, and the variables it read.
        "toolchain_files": [[path, found] for path, found in tool_files.items()],
        "toolchain_env": tool_env,
        "progress": run.options.progress,
        "report_json": run.options.report_json,
        "max_concurrency": plan.max_concurrency,
        "finish_order": [order[s.name] for s in dependency_order(plan.specs)],
        # Whether inputs leave out what git ignores, and what git's rules were read from.
        "gitignore": run.config.run.inputs_respect_gitignore,
        "ignore": _ignore_probes(cache.tree.ignore.probes if cache.tree.ignore else {}),
        "builds": builds,
        "report": report,
    }
    with contextlib.suppress(OSError, ValueError):  # only the next no-op would be slower
        write_atomic(journal_path(root), marshal.dumps(journal))


# Stand-ins for the values a replay fills in, unlike anything a report holds.
_HOLES = {
    "duration": "\x00buildsys:duration\x00",
    "started_at": "\x00buildsys:started_at\x00",
    "finished_at": "\x00buildsys:finished_at\x00",
}


def _entry_template(reported: dict[str, Any]) -> str:
    """The build's report entry as JSON text, its times left as %-format holes:
    a replay fills them in instead of encoding a thousand entries again."""
    import json

    text = json.dumps({**reported, **_HOLES}).replace("%", "%%")
    for name, hole in _HOLES.items():
        text = text.replace(json.dumps(hole), f"%({name})s", 1)
    return text


def _ignore_probes(probes: Mapping[str, list[Any]]) -> dict[str, list[Any]]:
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


def _listed_dirs(
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


def _staging_dir(root: Path) -> Path:
    return root / ".buildsys" / "replay-notes"


def _clear(directory: Path) -> None:
    """Remove the notes an earlier journal staged; none of them is current any more."""
    try:
        names = os.listdir(directory)  # noqa: PTH208
    except OSError:
        return
    import contextlib

    for name in names:
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(directory, name))  # noqa: PTH108, PTH118


def _prepare_note(
    staged: Path, note: str, original: str, blob: str | None, movable: bool
) -> tuple[str, str, str | None, bool, str | None]:
    """The first replay's work for a build that ran: what to write, where, and from what.

    The note's file is written now, in the cold run, beside the journal: a
    file created costs far more than one renamed, and the first replay after
    a cold build would otherwise create one per build.
    """
    try:
        staged.parent.mkdir(exist_ok=True)
        staged.write_text(note, encoding="utf-8")
    except OSError:
        return (note, original, blob, movable, None)
    return (note, original, blob, movable, str(staged))


def _same_content(path: Path, sha256: str) -> bool:
    import hashlib

    try:
        with path.open("rb") as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest() == sha256
    except OSError:
        return False


def _log_stat(path: str) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)  # noqa: PTH116 - os-level on the hot path
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ino)


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
            for key, values in _ignore_probes(fresh).items():
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
                listed = _listed_dirs(self.root, build["patterns"], names, tree)
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
            if build["note"] is None and _log_stat(build["log"]) != build["log_stat"]:
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
            _keep_logs(noted)

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
            from ..report.serialize import dumps_report

            data = {**journal["report"], "total_duration": total, "results": entries}
            try:
                write_atomic(Path(path), dumps_report(data))
            except OSError:
                raise _Stale(path) from None  # the normal run reports why
        return 0

    def _print(self, durations: list[float], total: float) -> None:
        from ..report import text

        builds = self.journal["builds"]
        out = sys.stdout
        out.write(text.run_header(len(builds), self.journal["max_concurrency"]) + "\n")
        for index in self.journal["finish_order"]:
            name, _, reason = builds[index]["row"]
            line = f"[{name}] {text.WORD['cached']} in {text.took(durations[index])}"
            out.write(f"{line}: {reason}\n" if reason else f"{line}\n")
        rows = [
            (name, platform, "cached", text.took(duration), reason or "")
            for (name, platform, reason), duration in zip(
                (b["row"] for b in builds), durations, strict=True
            )
        ]
        head = text.verdict(
            "ok",
            succeeded=0,
            cached=len(builds),
            failed=0,
            cancelled=0,
            skipped=0,
            seconds=total,
        )
        out.write("\n".join(["", *text.summary_table(rows), "", head]) + "\n")
        out.flush()

    def save(self) -> None:
        if not self.dirty:
            return
        from .._files import write_atomic

        try:
            write_atomic(journal_path(self.root), marshal.dumps(self.journal))
        except (OSError, ValueError):
            self.dirty = True  # not saved: the next replay checks by content again


def _keep_logs(builds: list[dict[str, Any]]) -> None:
    """Keep each build's original log beside a note, as serving from the cache does."""
    for build in builds:
        note, original, blob, movable, staged = build["note"]
        if movable and _log_stat(build["log"]) == build["log_stat"]:
            os.replace(build["log"], original)  # noqa: PTH105 - the log is still what was stored
        elif blob is not None:
            _copy_verified(blob, original)
        try:
            if staged is None:
                raise FileNotFoundError(staged)
            os.replace(staged, build["log"])  # noqa: PTH105
        except OSError:
            with open(build["log"], "w", encoding="utf-8") as fh:  # noqa: PTH123
                fh.write(note)
        build["note"] = None
        build["log_stat"] = _log_stat(build["log"])


def _copy_verified(blob: str, dest: str) -> None:
    """Copy a log blob beside the new log, checking it against its name (its sha256)."""
    import hashlib

    with open(blob, "rb") as fh:  # noqa: PTH123
        data = fh.read()
    if hashlib.sha256(data).hexdigest() != os.path.basename(blob):  # noqa: PTH119
        raise _Stale(blob)
    # The project lock is held: no other buildsys writes here meanwhile.
    partial = f"{dest}.{os.getpid()}.partial"
    with open(partial, "wb") as fh:  # noqa: PTH123
        fh.write(data)
    os.replace(partial, dest)  # noqa: PTH105


def _load(root: Path) -> dict[str, Any] | None:
    try:
        with open(journal_path(root), "rb") as fh:  # noqa: PTH123
            # marshal.load(fh) reads object by object: one read() is much faster.
            journal = marshal.loads(fh.read())
    except (OSError, EOFError, ValueError, TypeError):
        return None
    if not isinstance(journal, dict) or journal.get("version") != _VERSION:
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
                if _hash_value(environ.get(name)) != value:
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
