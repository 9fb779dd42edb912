"""The build cache as a run uses it: keys, hits, stores, and why a build missed.

A build's key hashes everything its outputs may depend on: its platform, the
builder's distribution version and `fingerprint()` (toolchain versions), the
host OS and architecture, its resolved options, profile and extra args, its
`env` values, the values of its `key-env` variables, the contents and paths of
every file its `inputs` match, and the keys of the builds it depends on.
Variable values are only ever kept as hashes.

What is never served from the cache, and so never stored: a build with no
`inputs`; one that declares no `outputs` and whose builder reports no
artifacts (an explicit `outputs = []` is cached on its success alone); one
that depends on a build that cannot be cached (its outputs could change
unseen); one whose inputs changed while it ran; any failure.

The parts of each build's last successful key are kept in
`.buildsys/cache-state/` (hashes only), so `--dry-run` can say what changed.
Storage itself (blobs, manifests, verification, eviction) is `cache.py`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from .cache import Cache, CacheMiss, Manifest
from .hashing import StatMemo, combine, hash_inputs
from .options import unstructure
from .spec import BuildSpec

__all__ = ["BuildCache", "KeyParts", "NotCacheable"]

_STATE_VERSION = 1


class NotCacheable(Exception):
    """This build cannot be served from or stored in the cache; the message says why."""


def _hash_value(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogateescape")).hexdigest()[:32]


@attrs.frozen
class KeyParts:
    """The ingredients of one build's key, as hashes or plain versions."""

    platform: str
    builder: str  # the builder's distribution version
    toolchain: str  # fingerprint()
    host: str
    options: str  # hash of the canonical options, profile and args
    env: Mapping[str, str]  # variable -> hash of its value (env table and key-env)
    inputs: Mapping[str, str]  # relative path -> content digest
    deps: Mapping[str, str]  # dependency -> its key

    # Derived from the fields above, once: it is asked for several times per build.
    key: str = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "key", self._compute_key())

    def _compute_key(self) -> str:
        parts: list[str] = [
            "buildsys-cache-v1",
            self.platform,
            self.builder,
            self.toolchain,
            self.host,
            self.options,
        ]
        for mapping in (self.env, self.inputs, self.deps):
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


def _first_difference(old: KeyParts, new: KeyParts) -> str:
    """The change a person most needs to hear about, in their words."""
    if old.toolchain != new.toolchain:
        return f"toolchain {old.toolchain or '?'} -> {new.toolchain or '?'}"
    if old.builder != new.builder:
        return f"builder {new.platform} {old.builder} -> {new.builder}"
    if old.host != new.host:
        return f"host {old.host} -> {new.host}"
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
    ) -> None:
        self.root = root
        self.cache = Cache(directory, max_size=max_size)
        self.memo = StatMemo.load(state_dir / "stat-memo")
        self.state_dir = state_dir / "cache-state"
        self.host = host
        self.environ = environ
        self._keys: dict[str, str] = {}
        self._lock = threading.Lock()

    # -- keys -----------------------------------------------------------------

    def parts(
        self, spec: BuildSpec, *, builder_version: str, toolchain: Callable[[], str]
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
            inputs = dict(hash_inputs(self.root, spec.inputs, self.memo))
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
        return KeyParts(
            platform=spec.platform,
            builder=builder_version,
            toolchain=toolchain(),  # last: it may run the tools, and only keys need it
            host=self.host,
            options=_hash_value(options),
            env=env,
            inputs=inputs,
            deps=deps,
        )

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

    def artifact_paths(self, manifest: Manifest) -> list[str]:
        return [str(self.root / f.path) for f in manifest.files]

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
            return "no outputs declared and the builder reported no artifacts"
        try:
            after = dict(hash_inputs(self.root, spec.inputs or (), self.memo))
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
        return None

    # -- the record of the last key, for explanations ------------------------------

    def _state_path(self, name: str) -> Path:
        return self.state_dir / f"{name}.json"

    def record(self, name: str, parts: KeyParts) -> None:
        from .report.json_report import write_atomic

        with contextlib.suppress(OSError):  # only explanations would suffer
            write_atomic(self._state_path(name), json.dumps(parts.to_json()))

    def last(self, name: str) -> KeyParts | None:
        try:
            data = json.loads(self._state_path(name).read_text())
        except (OSError, ValueError):
            return None
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
        """Save the stat memo, trim to the size limit, and return the cache's warnings."""
        self.memo.save()
        if self.cache.max_size is not None:
            self.cache.trim()
        return self.cache.take_warnings()


def default_host() -> str:
    from .host import Host

    host = Host(env={})
    return f"{host.os}/{host.arch}"


def cache_directory(root: Path, configured: str | None) -> Path:
    if configured is None:
        return root / ".buildsys" / "cache"
    path = Path(configured).expanduser()
    return path if path.is_absolute() else root / path
