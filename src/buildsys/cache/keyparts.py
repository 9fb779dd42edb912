"""A build's cache key: what it is made of, and computing it for a run.

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
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from ..config.patterns import FileTree
from ..plugin.options import unstructure
from ..spec import BuildSpec
from .hashing import StatMemo, combine, hash_inputs

if TYPE_CHECKING:
    from .toolchains import Toolchain

__all__ = ["KeyMaker", "KeyParts", "NotCacheable"]

# The version of the key's recipe: a new one never serves an old entry. (v2: cwd,
# outputs and toolchain contents joined the key.)
_KEY_VERSION = "buildsys-cache-v2"
_STATE_VERSION = 2


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


class KeyMaker:
    """One run's key computation; remembers each build's key for its dependents.

    Thread-safe: workers key their builds concurrently.
    """

    def __init__(
        self,
        *,
        root: Path,
        memo: StatMemo,
        tree: FileTree,
        host: str,
        environ: Mapping[str, str],
    ) -> None:
        self.root = root
        self.memo = memo
        self.tree = tree
        self.host = host
        self.environ = environ
        self._real_root = os.path.realpath(root)
        self._cwds: dict[str, str] = {}
        self._tool_digests: dict[str, str] = {}
        self._keys: dict[str, str] = {}
        self._lock = threading.Lock()

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

    def remember(self, name: str, key: str) -> None:
        """Dependents may now be keyed on this build."""
        with self._lock:
            self._keys[name] = key
