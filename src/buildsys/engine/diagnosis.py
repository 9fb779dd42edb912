"""Making a failed build's error useful: known errors, toolchain versions, plugin hints.

For a `BuildFailed`, the build's log is matched against the known-error
catalogues (the project's `buildsys-errors.toml`, then the builder's): a match
replaces the generic message with the catalogued one, its code, suggestions
and docs, and keeps the matched lines. The builder's `fingerprint()` (tool
versions, in the build's environment) joins the error's context, and plugins'
`buildsys_error_suggestions` hooks add theirs. Catalogues are looked up once
per platform.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import BuildFailed
from ..results import BuildError

if TYPE_CHECKING:
    from ..cache.toolchains import Toolchains
    from ..plugin.catalogue import Catalogue
    from ..plugin.manager import PluginHost
    from ..spec import BuildSpec

__all__ = ["Diagnosis"]


class Diagnosis:
    """One run's memo of catalogues; thread-safe. Fingerprints come from the run's
    `Toolchains`, taken in each build's environment."""

    def __init__(self, root: Path, plugins: PluginHost, toolchains: Toolchains) -> None:
        self.root = root
        self.plugins = plugins
        self.toolchains = toolchains
        self._catalogues: dict[str, Catalogue] = {}
        self._lock = threading.Lock()

    def catalogue(self, platform: str) -> Catalogue:
        """Project entries, then the builder's."""
        from ..plugin.catalogue import (
            PROJECT_CATALOGUE,
            Catalogue,
            CatalogueError,
            builder_catalogue,
        )

        with self._lock:
            if platform in self._catalogues:
                return self._catalogues[platform]
        found = Catalogue()
        project = self.root / PROJECT_CATALOGUE
        registered = self.plugins.registry.get(platform)
        try:
            if project.is_file():
                found = Catalogue.load(project).for_platform(platform)
            if registered is not None:
                found = found + builder_catalogue(registered.builder)
        except CatalogueError as exc:
            self.plugins.hook_errors.append(f"error catalogue ignored: {exc}")
        with self._lock:
            self._catalogues[platform] = found
        return found

    def explain(self, spec: BuildSpec, exc: BuildFailed, log_path: Path) -> None:
        """Rewrite `exc` in place: the known error its log matches, tool versions, hints."""
        match = self.catalogue(spec.platform).match_log(log_path)
        if match or exc.code != "BUILD_FAILED":
            toolchain = self.toolchains.text(spec)
            if toolchain:
                exc.context.setdefault("toolchain", toolchain)
        if match is not None:
            entry = match.entry
            exc.context.update(
                {
                    "matched_lines": list(match.lines),
                    "error": exc.message,
                    **({"phase": entry.phase} if entry.phase else {}),
                    **({"docs": entry.docs} if entry.docs else {}),
                }
            )
            exc.message = entry.message
            exc.code = entry.code
            exc.transient = entry.transient
            docs = [f"docs: {entry.docs}"] if entry.docs else []
            exc.suggestions = tuple(dict.fromkeys([*entry.suggestions, *docs, *exc.suggestions]))
        extra = self._plugin_suggestions(spec, exc, log_path)
        exc.suggestions = tuple(dict.fromkeys([*exc.suggestions, *extra]))

    def _plugin_suggestions(self, spec: BuildSpec, exc: BuildFailed, log_path: Path) -> list[str]:
        if not self.plugins.has_impl("buildsys_error_suggestions"):
            return []
        from ..report.tail import read_tail

        error = BuildError(exc.message, code=exc.code, suggestions=exc.suggestions)
        found: list[str] = []
        for value in self.plugins.call(
            "buildsys_error_suggestions", build=spec, error=error, log_tail=read_tail(log_path)
        ):
            found.extend(str(v) for v in value)
        return found
