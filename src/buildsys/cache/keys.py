"""The build cache as a run uses it: hits, stores, and serving builds.

What is never served from the cache, and so never stored: a build with no
`inputs`; one that declares no `outputs` and whose builder reports no
artifacts (an explicit `outputs = []` is cached on its success alone); one
that depends on a build that cannot be cached (its outputs could change
unseen); one whose inputs changed while it ran; any failure.

What a key is made of is `keyparts.py`; why one missed, `explain.py`.
Storage itself (blobs, manifests, verification, eviction) is `store.py`.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from ..artifacts import Artifact
from ..config.graph import dependency_order
from ..config.patterns import FileTree
from ..results import BuildResult, Status
from ..spec import BuildSpec
from .explain import KeyRecords
from .hashing import StatMemo, hash_inputs
from .keyparts import KeyMaker, KeyParts, NotCacheable
from .store import Cache, CacheMiss, Manifest

if TYPE_CHECKING:
    from .toolchains import Toolchain

__all__ = ["BuildCache", "Done", "KeyParts", "NotCacheable", "cached_result", "log_note"]

_NOTHING_TO_STORE = "no outputs declared and the builder reported no artifacts"


def _starts_with(path: Path, text: str) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(len(text.encode())) == text.encode()
    except OSError:
        return False


@attrs.frozen
class Done:
    """A build this run served from the cache (`served`) or stored in it."""

    parts: KeyParts
    manifest: Manifest
    served: bool


def log_note(key: str, restored: int, original: Path | None) -> str:
    """What a served build's new log says."""
    kept = f"The original run's log: {original}\n" if original else "The original log is gone.\n"
    return f"buildsys: served from the cache (key {key}); restored {restored} file(s). {kept}"


def cached_result(
    root: Path,
    spec: BuildSpec,
    key: str,
    manifest: Manifest,
    log_path: Path,
    started_at: datetime,
    attempt: int = 1,
) -> BuildResult:
    """The result of a build served from the cache by the entry `manifest`."""
    finished = datetime.now(UTC)
    paths = [os.path.join(root, f.path) for f in manifest.files]  # noqa: PTH118
    return BuildResult(
        name=spec.name,
        platform=spec.platform,
        status=Status.CACHED,  # no reason: SPEC keeps that for skipped and cancelled
        duration=(finished - started_at).total_seconds(),
        started_at=started_at,
        finished_at=finished,
        attempts=attempt,
        artifacts=paths,
        # The manifest already knows sizes and hashes: nothing is read again.
        artifact_details=[
            Artifact(path, f.size, f.sha256)
            for path, f in zip(paths, manifest.files, strict=True)
            if f.symlink is None
        ],
        log_path=str(log_path),
    )


class BuildCache:
    """One run's view of the cache. Thread-safe: workers call it concurrently."""

    def __init__(
        self,
        *,
        root: Path,
        state_dir: Path,
        directory: Path,
        max_size: int | None,
        host: str,
        environ: Mapping[str, str],
        tree: FileTree | None = None,
    ) -> None:
        self.root = root
        # Where `inputs` are walked: the run's, shared by every build (default: no git rules).
        self.tree = tree if tree is not None else FileTree(root)
        self.cache = Cache(directory, max_size=max_size)
        self.memo = StatMemo.load(state_dir / "stat-memo")
        self.keys = KeyMaker(root=root, memo=self.memo, tree=self.tree, host=host, environ=environ)
        # Each build's last key parts (hashes only), so --dry-run can say what changed.
        self.records = KeyRecords(state_dir / "cache-state.json")
        # Builds served from or stored in the cache this run: what `replay` records.
        self.done: dict[str, Done] = {}
        self._lock = threading.Lock()

    # -- hits and stores ---------------------------------------------------------

    def fetch(self, parts: KeyParts) -> tuple[Manifest, list[str]] | None:
        """Look the key up and restore its files; None on a miss (or a bad entry)."""
        manifest = self.cache.lookup(parts.key, verify=False)
        if manifest is None:
            return None
        try:
            restored = self.cache.restore(manifest, self.root, memo=self.memo)
        except CacheMiss:
            return None
        return manifest, restored

    def keep_original_log(self, manifest: Manifest, dest: Path) -> bool:
        return self.cache.copy_log(manifest, dest)

    def would_hit(self, parts: KeyParts) -> bool:
        return self.cache.lookup(parts.key, verify=False) is not None

    def store(
        self,
        spec: BuildSpec,
        parts: KeyParts,
        artifacts: Iterable[str],
        log_path: Path,
    ) -> str | None:
        """Store a successful build's outputs; returns why not, or None when stored."""
        files: set[str] = set()
        root = self.root.resolve()
        for path in artifacts:
            resolved = Path(path).resolve() if not Path(path).is_symlink() else Path(path)
            try:
                files.add(resolved.relative_to(root).as_posix())
            except ValueError:
                try:
                    files.add(Path(path).relative_to(self.root).as_posix())
                except ValueError:
                    return f"artifact {path} lies outside the project"
        if spec.outputs is None and not files:
            return _NOTHING_TO_STORE
        try:
            after = dict(hash_inputs(self.root, spec.inputs or (), self.memo, self.tree))
        except OSError as exc:
            return f"cannot re-read its inputs ({exc})"
        if after != dict(parts.inputs):
            changed = sorted(
                p for p in set(after) | set(parts.inputs) if after.get(p) != parts.inputs.get(p)
            )
            return f"input {changed[0]} changed while it ran"
        manifest = self.cache.store(
            parts.key,
            self.root,
            sorted(files),
            log_path,
            {"build": spec.name, "platform": spec.platform},
        )
        if manifest is None:
            return "the cache could not store it"
        with self._lock:
            self.done[spec.name] = Done(parts, manifest, served=False)
        return None

    # -- serving and storing builds ------------------------------------------------

    def key_parts(
        self, spec: BuildSpec, builder_version: str, toolchain_of: Callable[[BuildSpec], Toolchain]
    ) -> KeyParts | None:
        """The build's key parts, or None if it cannot be cached."""
        if not spec.inputs:
            return None
        try:
            return self.keys.parts(
                spec,
                builder_version=builder_version,
                toolchain=functools.partial(toolchain_of, spec),
            )
        except NotCacheable:
            return None

    def serve(
        self,
        spec: BuildSpec,
        parts: KeyParts,
        started_at: datetime,
        log_path: Path,
        write_note: Callable[[str], None] | None = None,
        attempt: int = 1,
    ) -> BuildResult | None:
        """A `cached` result with the outputs restored, or None on a miss.

        The new log says the build was served from the cache and names the
        original run's log, copied beside it. `write_note` writes to a log a
        worker has open; without it (before scheduling) the log is written
        here, and left alone when it already names this same entry.
        """
        hit = self.fetch(parts)
        if hit is None:
            return None
        manifest, restored = hit
        self.keys.remember(spec.name, parts.key)
        with self._lock:
            self.done[spec.name] = Done(parts, manifest, served=True)
        original = log_path.with_name(f"{spec.name}.cached.log")
        head = f"buildsys: served from the cache (key {parts.key})"
        if write_note is not None or restored or not _starts_with(log_path, head):
            kept = self.keep_original_log(manifest, original)
            note = log_note(parts.key, len(restored), original if kept else None)
            if write_note is not None:
                write_note(note)
            else:
                with contextlib.suppress(OSError):
                    log_path.parent.mkdir(parents=True, exist_ok=True)
                    log_path.write_text(note)
        return cached_result(self.root, spec, parts.key, manifest, log_path, started_at, attempt)

    def serve_unchanged(
        self,
        specs: Sequence[BuildSpec],
        presets: Mapping[str, BuildResult],
        version_of: Callable[[str], str | None],
        toolchain_of: Callable[[BuildSpec], Toolchain],
        log_dir: Path,
    ) -> tuple[dict[str, BuildResult], dict[str, list[str]]]:
        """Before scheduling: every build whose key hits and whose dependencies all hit.

        Keys are computed in dependency order, each after its dependencies'
        outputs were restored (they may be its inputs). A no-op rebuild then
        starts no worker, no process and no per-build log handle. Returns the
        results, and the cache's warnings for builds that missed (a damaged
        entry was evicted), for the build that now runs to report.
        """
        served: dict[str, BuildResult] = {}
        pending: dict[str, list[str]] = {}
        for spec in dependency_order(specs):
            if spec.name in presets or any(dep not in served for dep in spec.depends_on):
                continue
            version = version_of(spec.platform)
            parts = None if version is None else self.key_parts(spec, version, toolchain_of)
            if parts is None:
                continue
            result = self.serve(spec, parts, datetime.now(UTC), log_dir / f"{spec.name}.log")
            warnings = self.cache.take_warnings()
            if result is None:
                pending.setdefault(spec.name, []).extend(warnings)
            else:
                served[spec.name] = attrs.evolve(result, warnings=warnings)
        return served, pending

    def store_after(
        self, spec: BuildSpec, parts: KeyParts, artifacts: Iterable[str], log_path: Path
    ) -> str | None:
        """Store a successful build; returns a warning for the person, if any."""
        why_not = self.store(spec, parts, artifacts, log_path)
        if why_not is None:
            self.keys.remember(spec.name, parts.key)
            self.records.record(spec.name, parts)
            return None
        # "No outputs and no artifacts" is the rule, not news; the rest is.
        return None if why_not == _NOTHING_TO_STORE else f"not cached: {why_not}"

    def forecast(
        self,
        specs: Sequence[BuildSpec],
        presets: Mapping[str, BuildResult],
        version_of: Callable[[str], str | None],
        toolchain_of: Callable[[BuildSpec], Toolchain],
    ) -> dict[str, str]:
        """For --dry-run: per build, "from the cache" or why it will run. Changes nothing."""
        forecast: dict[str, str] = {}
        for spec in dependency_order(specs):
            if spec.name in presets:
                continue
            try:
                parts = self.keys.parts(
                    spec,
                    builder_version=version_of(spec.platform) or "?",
                    toolchain=functools.partial(toolchain_of, spec),
                )
            except NotCacheable as exc:
                forecast[spec.name] = f"will run: {exc}"
                continue
            # Dependents are keyed on this build whether it hits or runs again.
            self.keys.remember(spec.name, parts.key)
            if self.would_hit(parts):
                forecast[spec.name] = "from the cache"
            else:
                forecast[spec.name] = f"will run: {self.records.explain(spec.name, parts)}"
        return forecast

    # -- end of run ----------------------------------------------------------------

    def finish(self) -> list[str]:
        """Save the stat memo and key records, trim to the size limit; the cache's warnings."""
        self.memo.save()
        self.records.save()
        if self.cache.max_size is not None:
            self.cache.trim()
        return self.cache.take_warnings()


def cache_directory(root: Path, configured: str | None) -> Path:
    if configured is None:
        return root / ".buildsys" / "cache"
    path = Path(configured).expanduser()
    return path if path.is_absolute() else root / path
