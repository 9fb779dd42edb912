"""The build cache as a run uses it: keys, hits, stores, and why a build missed.

A build's key hashes everything its outputs may depend on: its platform, the
builder's distribution version and `fingerprint()` (toolchain versions, taken
in the build's environment, and the content digest of any file it names in
`contents`, such as a `command` build's program), the host OS and
architecture, its `cwd` (relative to the project) and `outputs` patterns (a
builder's defaults included; unset is not `[]`), its resolved options,
profile and extra args, its `env` values, the values of its `key-env`
variables, the contents and paths of every file its `inputs` match, and the
keys of the builds it depends on. Two builds that run the same command on the
same inputs in other directories, or into other outputs, never share an
entry. Variable values are only ever kept as hashes.

What is never served from the cache, and so never stored: a build with no
`inputs`; one that declares no `outputs` and whose builder reports no
artifacts (an explicit `outputs = []` is cached on its success alone); one
that depends on a build that cannot be cached (its outputs could change
unseen); one whose inputs changed while it ran; any failure.

The parts of each build's last stored key are kept in
`.buildsys/cache-state.json` (hashes only), so `--dry-run` can say what changed.
Storage itself (blobs, manifests, verification, eviction) is `store.py`.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from ..artifacts import Artifact
from ..config.graph import dependency_order
from ..config.patterns import FileTree
from ..plugin.options import unstructure
from ..results import BuildResult, Status
from ..spec import BuildSpec
from .hashing import StatMemo, combine, hash_inputs
from .store import Cache, CacheMiss, Manifest

if TYPE_CHECKING:
    from .toolchains import Toolchain

__all__ = ["BuildCache", "Done", "KeyParts", "NotCacheable", "cached_result", "log_note"]

# The version of the key's recipe: a new one never serves an old entry. (v2: cwd,
# outputs and toolchain contents joined the key.)
_KEY_VERSION = "buildsys-cache-v2"
_STATE_VERSION = 2
_NOTHING_TO_STORE = "no outputs declared and the builder reported no artifacts"


class NotCacheable(Exception):
    """This build cannot be served from or stored in the cache; the message says why."""


def _hash_value(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogateescape")).hexdigest()[:32]


def _patterns(value: Iterable[str] | None) -> tuple[str, ...] | None:
    return None if value is None else tuple(value)


@attrs.frozen
class KeyParts:
    """The ingredients of one build's key, as hashes or plain versions."""

    platform: str
    builder: str  # the builder's distribution version
    toolchain: str  # fingerprint()'s text
    host: str
    options: str  # hash of the canonical options, profile and args
    env: Mapping[str, str]  # variable -> hash of its value (env table and key-env)
    inputs: Mapping[str, str]  # relative path -> content digest
    deps: Mapping[str, str]  # dependency -> its key
    cwd: str = "."  # relative to the project root, POSIX
    # None: no outputs declared (and no builder default); () is `outputs = []`.
    outputs: tuple[str, ...] | None = attrs.field(default=None, converter=_patterns)
    tools: Mapping[str, str] = attrs.field(factory=dict)  # fingerprint contents -> digest

    # Derived from the fields above, once: it is asked for several times per build.
    key: str = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "key", self._compute_key())

    def _compute_key(self) -> str:
        parts: list[str] = [
            _KEY_VERSION,
            self.platform,
            self.builder,
            self.toolchain,
            self.host,
            self.options,
            self.cwd,
        ]
        if self.outputs is None:
            parts.append("outputs unset")
        else:
            parts.extend(("outputs", str(len(self.outputs)), *self.outputs))
        for mapping in (self.tools, self.env, self.inputs, self.deps):
            parts.append(str(len(mapping)))
            for name in sorted(mapping):
                parts.extend((name, mapping[name]))
        return combine(parts)

    def to_json(self) -> dict[str, Any]:
        fields = attrs.asdict(self, filter=lambda a, _: a.init)
        return {"version": _STATE_VERSION, **fields}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> KeyParts | None:
        if data.get("version") != _STATE_VERSION:
            return None
        try:
            return cls(**{f.name: data[f.name] for f in attrs.fields(cls) if f.init})
        except (KeyError, TypeError):
            return None


def _starts_with(path: Path, text: str) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(len(text.encode())) == text.encode()
    except OSError:
        return False


def _first_difference(old: KeyParts, new: KeyParts) -> str:
    """The change a person most needs to hear about, in their words."""
    if old.toolchain != new.toolchain:
        return f"toolchain {old.toolchain or '?'} -> {new.toolchain or '?'}"
    for path in sorted(set(old.tools) | set(new.tools)):
        if old.tools.get(path) != new.tools.get(path):
            return f"toolchain file {path} changed"
    if old.builder != new.builder:
        return f"builder {new.platform} {old.builder} -> {new.builder}"
    if old.host != new.host:
        return f"host {old.host} -> {new.host}"
    if old.cwd != new.cwd:
        return f"cwd changed ({old.cwd} -> {new.cwd})"
    if old.outputs != new.outputs:
        return "outputs changed"
    if old.options != new.options:
        return "options, profile or arguments changed"
    for name in sorted(set(old.env) | set(new.env)):
        if old.env.get(name) != new.env.get(name):
            return f"variable {name} changed"
    for name in sorted(set(old.deps) | set(new.deps)):
        if old.deps.get(name) != new.deps.get(name):
            return f"dependency {name} changed"
    changed = [
        p
        for p in sorted(set(old.inputs) | set(new.inputs))
        if old.inputs.get(p) != new.inputs.get(p)
    ]
    if changed:
        first = changed[0]
        what = (
            "added"
            if first not in old.inputs
            else "removed"
            if first not in new.inputs
            else "changed"
        )
        more = f" (and {len(changed) - 1} more)" if len(changed) > 1 else ""
        return f"input {first} {what}{more}"
    return "no cache entry for this key (evicted, or never stored)"


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
        # Each build's last key parts (hashes only), so --dry-run can say what changed.
        self.state_file = state_dir / "cache-state.json"
        self._loaded: dict[str, Any] | None = None
        self._recorded: dict[str, Any] = {}
        self.host = host
        self.environ = environ
        self._real_root = os.path.realpath(root)
        self._cwds: dict[str, str] = {}
        self._tool_digests: dict[str, str] = {}
        self._keys: dict[str, str] = {}
        # Builds served from or stored in the cache this run: what `replay` records.
        self.done: dict[str, Done] = {}
        self._lock = threading.Lock()

    # -- keys -----------------------------------------------------------------

    def parts(
        self, spec: BuildSpec, *, builder_version: str, toolchain: Callable[[], Toolchain]
    ) -> KeyParts:
        """The build's key parts; raises `NotCacheable` saying why there is no key."""
        if not spec.inputs:
            raise NotCacheable("no inputs declared")
        deps: dict[str, str] = {}
        with self._lock:
            for dep in spec.depends_on:
                if dep not in self._keys:
                    raise NotCacheable(f"dependency {dep} cannot be cached")
                deps[dep] = self._keys[dep]
        try:
            inputs = dict(hash_inputs(self.root, spec.inputs, self.memo, self.tree))
        except OSError as exc:
            raise NotCacheable(f"cannot read its inputs ({exc})") from None
        options = json.dumps(
            [unstructure(spec.options), spec.profile, list(spec.args)],
            sort_keys=True,
            default=str,
        )
        env = {f"env:{k}": _hash_value(v) for k, v in spec.env.items()}
        for name in spec.key_env:
            value = self.environ.get(name)
            env[f"key-env:{name}"] = "unset" if value is None else _hash_value(value)
        tools = toolchain()  # last: it may run the tools, and only keys need it
        return KeyParts(
            platform=spec.platform,
            builder=builder_version,
            toolchain=tools.text,
            host=self.host,
            options=_hash_value(options),
            env=env,
            inputs=inputs,
            deps=deps,
            cwd=self._cwd(spec.cwd),
            outputs=spec.outputs,
            tools={path: self._tool_digest(path) for path in tools.contents},
        )

    def _cwd(self, cwd: str) -> str:
        """The build's directory relative to the project root, as a POSIX path."""
        found = self._cwds.get(cwd)
        if found is None:
            rel = os.path.relpath(os.path.realpath(cwd), self._real_root)
            found = self._cwds[cwd] = rel.replace(os.sep, "/")
        return found

    def _tool_digest(self, path: str) -> str:
        """A toolchain file's content digest, through the stat memo: one stat per run."""
        found = self._tool_digests.get(path)
        if found is None:
            try:
                found = self.memo.digest(self.root, path)  # `path` is absolute
            except OSError as exc:
                found = f"unreadable: {type(exc).__name__}"
            self._tool_digests[path] = found
        return found

    def remember_key(self, name: str, key: str) -> None:
        """Dependents may now be keyed on this build."""
        with self._lock:
            self._keys[name] = key

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
            return self.parts(
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
        self.remember_key(spec.name, parts.key)
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
            self.remember_key(spec.name, parts.key)
            self.record(spec.name, parts)
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
                parts = self.parts(
                    spec,
                    builder_version=version_of(spec.platform) or "?",
                    toolchain=functools.partial(toolchain_of, spec),
                )
            except NotCacheable as exc:
                forecast[spec.name] = f"will run: {exc}"
                continue
            # Dependents are keyed on this build whether it hits or runs again.
            self.remember_key(spec.name, parts.key)
            if self.would_hit(parts):
                forecast[spec.name] = "from the cache"
            else:
                forecast[spec.name] = f"will run: {self.explain(spec.name, parts)}"
        return forecast

    # -- the record of the last key, for explanations ------------------------------

    def _records(self) -> dict[str, Any]:
        """Every build's last key parts, from one file read once per run."""
        if self._loaded is None:
            try:
                data = json.loads(self.state_file.read_text())
            except (OSError, ValueError):
                data = {}
            self._loaded = data if isinstance(data, dict) else {}
        return self._loaded

    def record(self, name: str, parts: KeyParts) -> None:
        """Remember a stored build's key parts; written once, by `finish()`."""
        with self._lock:
            self._recorded[name] = parts.to_json()

    def last(self, name: str) -> KeyParts | None:
        with self._lock:
            data = self._recorded.get(name) or self._records().get(name)
        return KeyParts.from_json(data) if isinstance(data, dict) else None

    def explain(self, name: str, parts: KeyParts) -> str:
        """Why `parts` misses, compared with the build's last recorded key."""
        previous = self.last(name)
        if previous is None:
            return "never built with the cache on"
        return _first_difference(previous, parts)

    def would_hit(self, parts: KeyParts) -> bool:
        return self.cache.lookup(parts.key, verify=False) is not None

    # -- end of run ----------------------------------------------------------------

    def finish(self) -> list[str]:
        """Save the stat memo and key records, trim to the size limit; the cache's warnings."""
        self.memo.save()
        if self._recorded:
            from .._files import write_atomic

            with self._lock:
                merged = {**self._records(), **self._recorded}
            with contextlib.suppress(OSError):  # only explanations would suffer
                write_atomic(self.state_file, json.dumps(merged, separators=(",", ":")))
        if self.cache.max_size is not None:
            self.cache.trim()
        return self.cache.take_warnings()


def cache_directory(root: Path, configured: str | None) -> Path:
    if configured is None:
        return root / ".buildsys" / "cache"
    path = Path(configured).expanduser()
    return path if path.is_absolute() else root / path
