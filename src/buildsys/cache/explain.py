"""Why a build missed the cache, in a person's words, for `--dry-run`.

The parts of each build's last stored key are kept in
`.buildsys/cache-state.json` (hashes only); a new key is explained by the
first difference that matters most to the person reading it.
"""

from __future__ import annotations

import contextlib
import json
import threading
from pathlib import Path
from typing import Any

from .keyparts import KeyParts

__all__ = ["KeyRecords"]


class KeyRecords:
    """Each build's last stored key parts, read once per run and written once at its end.

    Thread-safe: workers record builds concurrently.
    """

    def __init__(self, state_file: Path) -> None:
        self.state_file = state_file
        self._loaded: dict[str, Any] | None = None
        self._recorded: dict[str, Any] = {}
        self._lock = threading.Lock()

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
        """Remember a stored build's key parts; written once, by `save()`."""
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

    def save(self) -> None:
        """Write what this run recorded over what was there (nothing if it recorded none)."""
        if not self._recorded:
            return
        from .._files import write_atomic

        with self._lock:
            merged = {**self._records(), **self._recorded}
        with contextlib.suppress(OSError):  # only explanations would suffer
            write_atomic(self.state_file, json.dumps(merged, separators=(",", ":")))


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
