"""The replay journal: recording a run that a no-op can reproduce, and the key it answers to.

A no-op run spends nearly all its time before the first cache lookup:
importing the engine, loading plugins, parsing builds.toml, planning. When
a run ends with every build served from the cache or stored in it, `record`
writes `.buildsys/replay`: for the exact command line that ran (its
`invocation_key`), each build's input patterns, the stat facts and digests
of its inputs and outputs (taken from the stat memo, so they describe the
content that was hashed), its cache entry, and its report entry as a
`cached` result would have it. `replay.py` answers the next no-op from it.

The engine hands `record` one `RunRecord` (`record.py`): plain values, the
run's cache and its masker; this module never imports the engine.

Only runs a replay can reproduce are recorded: no `-v`, no JUnit file, no
warnings, no build decided before running (host skips, toolchain checks), no
third-party plugin observing runs, and only platforms whose toolchain can be
checked by stat: a builder without `check()` or `fingerprint()`, or one whose
fingerprint is a `buildsys.Fingerprint` (whose files then also cover what its
`check()` looks at). A string fingerprint, or a `check()` with none, could
change without any file it names changing. Secrets do not stop a run from
being recorded: what the journal holds was masked when it was recorded, and
a secret that changes changes the invocation key.

The key a journal answers to (`invocation_key`) and the format both sides
share live in `replay.py`: a no-op `buildsys build` loads that module alone.
"""

from __future__ import annotations

import marshal
from typing import TYPE_CHECKING, Any

from .lognotes import clear, prepare_note, same_content, staging_dir
from .replay import VERSION, hash_value, ignore_probes, journal_path, listed_dirs, log_stat

if TYPE_CHECKING:
    from .record import RunRecord

__all__ = ["record"]

# -- recording (called by the engine, which has everything imported) ---------


def _unreplayable(rec: RunRecord) -> str | None:
    """Why this run's outcome could not be reproduced by `replay`, or None."""
    from ..results import Status

    cache, result = rec.cache, rec.result
    if cache is None or not rec.specs:
        return "not a command-line run with the cache on, or nothing to build"
    if rec.verbose or rec.junit_xml:
        return "-v or --junit-xml"
    if rec.decided_early or not result.ok or result.interrupted or rec.warnings:
        return "a build decided before running, a failure or warnings"
    for build in result.results:
        if build.status not in (Status.CACHED, Status.SUCCEEDED) or build.warnings:
            return f"{build.name} {build.status.value} or warned"
        done = cache.done.get(build.name)
        if done is None or any(f.symlink is not None for f in done.manifest.files):
            return f"{build.name} not served from or stored in the cache"
    for spec in rec.specs:
        if spec.name not in rec.toolchains:
            return f"{spec.name} has no cache key"
        methods = rec.checks.get(spec.platform)
        if methods is None:
            return f"platform {spec.platform} has no builder"
        if "fingerprint" not in methods:
            if "check" in methods:
                return f"platform {spec.platform} has a check() and no fingerprint() to vouch"
            continue
        if not rec.toolchains[spec.name].vouched:
            return f"{spec.name}: its toolchain fingerprint cannot be checked by stat"
    if rec.observers:
        return f"plugin {rec.observers[0]} observes runs"
    return None


def record(rec: RunRecord) -> None:
    """Write the journal if this run can be replayed; otherwise leave any old one alone."""
    cache = rec.cache
    if cache is None or _unreplayable(rec) is not None:
        return
    import contextlib
    from datetime import UTC, datetime

    from .._files import write_atomic
    from ..cache.keys import cached_result, log_note
    from ..config.graph import dependency_order
    from ..report.serialize import result_to_dict

    masker = rec.masker
    root = rec.root
    log_dir = root / ".buildsys" / "logs"
    now = datetime.now(UTC)
    builds: list[dict[str, Any]] = []
    staging = staging_dir(root)
    clear(staging)
    for spec in rec.specs:
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
        listed = listed_dirs(root, spec.inputs or (), [entry[0] for entry in inputs], cache.tree)
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
                "log_stat": log_stat(str(log_path)),
                # A build that ran has its own output in its log: the first
                # replay does what serving does, keeps it beside a note.
                "note": None
                if done.served
                else prepare_note(
                    staging / f"{spec.name}.log",
                    log_note(done.parts.key, 0, original if log_blob else None),
                    str(original),
                    str(cache.cache.blob_path(log_blob)) if log_blob else None,
                    # The log is still what was stored: moving it is the copy.
                    log_blob is not None and same_content(log_path, log_blob),
                ),
                "row": row,  # name, platform, reason: what progress lines show
                "entry": _entry_template(reported),
            }
        )
    tool_files: dict[str, Any] = {}
    tool_env: dict[str, str] = {}
    for spec in rec.specs:
        toolchain = rec.toolchains[spec.name]
        tool_files.update(toolchain.facts or ())
        for name in toolchain.env:
            if name not in spec.env:  # a value of builds.toml's: part of the key already
                tool_env[name] = hash_value(rec.environ.get(name))
    order = {s.name: i for i, s in enumerate(rec.specs)}
    journal = {
        "version": VERSION,
        "key": rec.key,
        "key_env": {
            name: hash_value(rec.environ.get(name)) for s in rec.specs for name in s.key_env
        },
        # Digests: one set or changed since must be masked (or warned about) anew.
        "secret_env": {
            name: hash_value(rec.environ.get(name)) for s in rec.specs for name in s.secret_env
        },
        # What vouches for each build's toolchain: stat facts, and the variables it read.
        "toolchain_files": [[path, found] for path, found in tool_files.items()],
        "toolchain_env": tool_env,
        "progress": rec.progress,
        "report_json": rec.report_json,
        "max_concurrency": rec.max_concurrency,
        "finish_order": [order[s.name] for s in dependency_order(rec.specs)],
        # Whether inputs leave out what git ignores, and what git's rules were read from.
        "gitignore": rec.inputs_respect_gitignore,
        "ignore": ignore_probes(cache.tree.ignore.probes if cache.tree.ignore else {}),
        "builds": builds,
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
