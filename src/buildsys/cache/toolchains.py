"""Each build's toolchain as its cache key and a replay see it.

SPEC 7: a builder's `fingerprint` is taken in the environment the build will
run with: the run's environment with the build's own `env` applied (its
`PATH`, `JAVA_HOME`, `DEVELOPER_DIR`), which is the `env` of the `Host` it
gets. ``fingerprint(host)`` is asked once per distinct build environment;
``fingerprint(host, spec=None)`` once per build, for builders whose tools
depend on the build (the package manager of a web build), its tool lookups
and `probe()` answers memoised for the run (`_memo`), so each tool is asked
once per environment, never once per build.

A `Fingerprint` (see `buildsys.fingerprint`) names the files and variables
that vouch for it. Their stat facts are taken this run (once per path) and
must predate the run's start by the racy window, or nothing vouches for it.
One that asked any tool is kept in `.buildsys/toolchains` with those facts
and its variables' values (hashed); a later run whose facts and values are
the same reuses it instead of spawning `node --version` again. A plain
string, or a fingerprint that raised, is asked every run, and vouches for
nothing, which keeps its builds from being replayed.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from ..host._memo import RunMemo, using
from ..host.facts import Host
from ..host.fingerprint import Fingerprint
from ..plugin.registry import takes_spec
from ._witness import facts, trusted

if TYPE_CHECKING:
    from ..plugin.manager import PluginHost
    from ..plugin.registry import RegisteredPlatform
    from ..spec import BuildSpec

__all__ = ["NO_TOOLCHAIN", "Toolchain", "Toolchains"]

T = TypeVar("T")
_STORE_VERSION = 1
_STORE_LIMIT = 512  # entries kept between runs; the oldest go first
Facts = tuple[tuple[str, "list[int] | None"], ...]


@attrs.frozen
class Toolchain:
    """A build's fingerprint as the engine uses it."""

    text: str  # the versions: part of the key, shown in "toolchain X -> Y"
    contents: tuple[str, ...] = ()  # files whose content digest joins the key
    # (path, stat facts) of each file that vouches for `text`, or None when
    # nothing does (a str fingerprint, one that raised, a file changed this run).
    facts: Facts | None = ()
    env: tuple[str, ...] = ()  # the variables it read

    @property
    def vouched(self) -> bool:
        return self.facts is not None


NO_TOOLCHAIN = Toolchain("")  # a builder without fingerprint()


def _hash_value(value: str | None) -> str:
    if value is None:
        return "unset"
    import hashlib

    return hashlib.sha256(value.encode("utf-8", "surrogateescape")).hexdigest()[:32]


class Toolchains:
    """One run's fingerprints, per build environment; thread-safe."""

    def __init__(
        self,
        plugins: PluginHost,
        host: Host,
        environ: Mapping[str, str],
        store: Path | None = None,
    ) -> None:
        self.plugins = plugins
        self.host = host
        self.environ = environ
        self.memo = RunMemo()
        # Facts of files changed after this cannot vouch: taken before any tool is asked.
        self.started_ns = time.time_ns()
        self._store_path = store
        self._stored: dict[str, dict[str, Any]] | None = None
        self._fresh: dict[str, dict[str, Any]] = {}
        self._hosts: dict[tuple[tuple[str, str], ...], Host] = {}
        self._facts: dict[str, list[int] | None] = {}
        self._per_build: dict[str, bool] = {}
        self._of_build: dict[str, Toolchain] = {}  # by build name: asked 3 times per build
        # A thousand builds of one program return equal fingerprints: vouched for once.
        self._vouched_for: dict[Fingerprint, Toolchain] = {}
        self._lock = threading.Lock()

    def call(self, ask: Callable[[], T]) -> T:
        """`ask()` (a builder's check or fingerprint) with this run's memo in effect."""
        with using(self.memo):
            return ask()

    def text(self, spec: BuildSpec) -> str:
        return self.of(spec).text

    def of(self, spec: BuildSpec) -> Toolchain:
        """The build's toolchain, taken in its environment (memoised as the docstring says)."""
        found = self._of_build.get(spec.name)
        if found is not None:
            return found
        registered = self.plugins.registry.get(spec.platform)
        method = getattr(registered.builder, "fingerprint", None) if registered else None
        if registered is None or method is None:
            return NO_TOOLCHAIN
        per_build = self._per_build.get(spec.platform)
        if per_build is None:  # inspect.signature costs 30 us: once per platform
            per_build = self._per_build[spec.platform] = takes_spec(method)
        env_key = tuple(sorted(spec.env.items())) if spec.env else ()
        key = ("toolchain", spec.platform, env_key, spec.name if per_build else None)
        found = self.memo.once(key, lambda: self._take(registered, method, per_build, spec))
        self._of_build[spec.name] = found
        return found

    def host_for(self, spec: BuildSpec) -> Host:
        """A `Host` whose `env` is the build's environment (one per distinct `env`)."""
        env_key = tuple(sorted(spec.env.items())) if spec.env else ()
        host = self._hosts.get(env_key)
        if host is not None:
            return host
        with self._lock:
            host = self._hosts.get(env_key)
            if host is None:
                env = {**self.environ, **spec.env} if spec.env else dict(self.environ)
                host = self._hosts[env_key] = Host(os=self.host.os, arch=self.host.arch, env=env)
        return host

    def facts_of(self, path: str) -> list[int] | None:
        """A file's stat facts as first seen this run."""
        found = self._facts.get(path, False)
        if found is False:
            found = self._facts.setdefault(path, facts(path))
        return found  # type: ignore[return-value]

    # -- taking one ------------------------------------------------------------------

    def _take(
        self,
        registered: RegisteredPlatform,
        method: Callable[..., Any],
        per_build: bool,
        spec: BuildSpec,
    ) -> Toolchain:
        host = self.host_for(spec)
        kept = self._load().get(spec.platform)
        if kept:  # else nothing to look up: no key to compute for each of 1000 builds
            key = self._stored_key(registered, spec, per_build)
            reused = self._reuse(kept.get(key), host.env)
            if reused is not None:
                return reused
        with using(self.memo) as session:
            try:
                value = method(host, spec) if per_build else method(host)
            except Exception as exc:  # noqa: BLE001 - a report detail must not fail the build
                return Toolchain(f"(fingerprint() raised {type(exc).__name__}: {exc})", facts=None)
        if not isinstance(value, Fingerprint):
            return Toolchain(str(value or ""), facts=None)
        toolchain = self._vouched(value)
        if session.probed and toolchain.facts is not None:
            self._keep(registered, spec, per_build, toolchain, host.env)
        return toolchain

    def _vouched(self, fingerprint: Fingerprint) -> Toolchain:
        found = self._vouched_for.get(fingerprint)
        if found is None:
            found = self._vouched_for.setdefault(fingerprint, self._vouch(fingerprint))
        return found

    def _vouch(self, fingerprint: Fingerprint) -> Toolchain:
        contents = tuple(os.path.abspath(p) for p in fingerprint.contents)  # noqa: PTH100
        files = (os.path.abspath(p) for p in fingerprint.files)  # noqa: PTH100
        found = tuple((path, self.facts_of(path)) for path in dict.fromkeys((*files, *contents)))
        ok = all(trusted(f, self.started_ns) for _, f in found)
        return Toolchain(fingerprint.text, contents, found if ok else None, fingerprint.env)

    # -- kept between runs -----------------------------------------------------------

    @staticmethod
    def _stored_key(registered: RegisteredPlatform, spec: BuildSpec, per_build: bool) -> str:
        """The key of a kept fingerprint: what, besides its files and variables, it may
        depend on (a builder asked per build may read the build's options and cwd)."""
        from .hashing import combine

        return combine(
            [
                registered.version,
                repr(sorted(spec.env.items())),
                *([spec.name, spec.cwd, repr(spec.options)] if per_build else []),
            ]
        )

    def _load(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            if self._stored is None:
                self._stored = {}
                if self._store_path is not None:
                    import json

                    with contextlib.suppress(OSError, ValueError):
                        data = json.loads(self._store_path.read_text(encoding="utf-8"))
                        if isinstance(data, dict) and data.get("version") == _STORE_VERSION:
                            entries = data.get("entries")
                            if isinstance(entries, dict):
                                self._stored = {
                                    p: e for p, e in entries.items() if isinstance(e, dict)
                                }
            return self._stored

    def _reuse(self, entry: object, env: Mapping[str, str]) -> Toolchain | None:
        """A kept fingerprint, if its variables and files are still as they were."""
        if not isinstance(entry, dict):
            return None
        try:
            if any(_hash_value(env.get(n)) != h for n, h in entry["env"].items()):
                return None
            found = tuple((str(p), self.facts_of(str(p))) for p, _ in entry["files"])
            if [f for _, f in found] != [f for _, f in entry["files"]]:
                return None
            return Toolchain(
                str(entry["text"]), tuple(entry["contents"]), found, tuple(entry["env"])
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            return None

    def _keep(
        self,
        registered: RegisteredPlatform,
        spec: BuildSpec,
        per_build: bool,
        toolchain: Toolchain,
        env: Mapping[str, str],
    ) -> None:
        if self._store_path is None or toolchain.facts is None:
            return
        key = self._stored_key(registered, spec, per_build)
        entry = {
            "text": toolchain.text,
            "contents": list(toolchain.contents),
            "files": [[path, f] for path, f in toolchain.facts],
            "env": {name: _hash_value(env.get(name)) for name in toolchain.env},
            "at": self.started_ns,
        }
        with self._lock:
            self._fresh.setdefault(spec.platform, {})[key] = entry

    def save(self) -> None:
        """Keep this run's new fingerprints for the next runs (nothing new: no write)."""
        if self._store_path is None or not self._fresh:
            return
        stored = self._load()
        with self._lock:
            merged = {p: dict(e) for p, e in stored.items()}
            for platform, entries in self._fresh.items():
                merged.setdefault(platform, {}).update(entries)
            self._fresh = {}
        rows = sorted(
            ((_when(e), p, k) for p, es in merged.items() for k, e in es.items()), reverse=True
        )
        for _, platform, key in rows[_STORE_LIMIT:]:
            del merged[platform][key]
        import json

        from .._files import write_atomic

        with contextlib.suppress(OSError):  # only the next run would be slower
            write_atomic(
                self._store_path,
                json.dumps({"version": _STORE_VERSION, "entries": merged}, separators=(",", ":")),
            )


def _when(entry: object) -> int:
    at = entry.get("at") if isinstance(entry, dict) else None
    return at if isinstance(at, int) else 0
