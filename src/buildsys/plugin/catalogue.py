"""Known errors, as data: patterns matched against a failed build's log.

A catalogue is a TOML file of `[[error]]` tables. Plugins ship one beside
their builder (the builder's `catalogue` attribute is its path); a project
adds its own in `buildsys-errors.toml` beside builds.toml. Fields:

    [[error]]
    code = "ANDROID_SDK_NOT_FOUND"      # stable, upper case
    pattern = "SDK location not found"  # a regular expression, matched per log line
    message = "Gradle cannot find the Android SDK"
    suggestions = ["Set ANDROID_HOME to your SDK, or sdk.dir in local.properties"]
    phase = "configure"                 # optional: where in the build it happens
    transient = false                   # optional: whether a retry may help
    docs = "https://..."                # optional
    platform = "android"                # optional, project entries only: limit to a platform

The log is read line by line, never whole (its last `SCAN_BYTES` only); the
first entry (in file order, project entries first) whose pattern matches wins,
and its matched lines are kept for the report.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import attrs

from .._converters import strs

__all__ = [
    "PROJECT_CATALOGUE",
    "Catalogue",
    "CatalogueEntry",
    "CatalogueError",
    "CatalogueMatch",
    "builder_catalogue",
]

PROJECT_CATALOGUE = "buildsys-errors.toml"
SCAN_BYTES = 16 * 1024 * 1024
_MAX_MATCHED_LINES = 10
_MAX_LINE = 4096


@attrs.frozen
class CatalogueEntry:
    code: str
    pattern: re.Pattern[str]
    message: str
    suggestions: tuple[str, ...] = attrs.field(default=(), converter=strs)
    phase: str | None = None
    transient: bool = False
    docs: str | None = None
    platform: str | None = None


@attrs.frozen
class CatalogueMatch:
    entry: CatalogueEntry
    lines: tuple[str, ...]  # the log lines that matched, in order


class CatalogueError(ValueError):
    """A catalogue file that cannot be used; the message names the file and entry."""


_FIELDS = {"code", "pattern", "message", "suggestions", "phase", "transient", "docs", "platform"}


def _entry(raw: object, where: str) -> CatalogueEntry:
    if not isinstance(raw, dict):
        raise CatalogueError(f"{where}: expected a table")
    unknown = set(raw) - _FIELDS
    if unknown:
        raise CatalogueError(f"{where}: unknown keys {sorted(unknown)}; known: {sorted(_FIELDS)}")
    for key in ("code", "pattern", "message"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise CatalogueError(f"{where}: {key!r} must be a non-empty string")
    suggestions = raw.get("suggestions", [])
    if not isinstance(suggestions, list) or not all(isinstance(s, str) for s in suggestions):
        raise CatalogueError(f"{where}: 'suggestions' must be an array of strings")
    try:
        pattern = re.compile(raw["pattern"])
    except re.error as exc:
        raise CatalogueError(f"{where}: invalid pattern {raw['pattern']!r}: {exc}") from None
    return CatalogueEntry(
        code=raw["code"],
        pattern=pattern,
        message=raw["message"],
        suggestions=suggestions,
        phase=raw.get("phase"),
        transient=bool(raw.get("transient", False)),
        docs=raw.get("docs"),
        platform=raw.get("platform"),
    )


@attrs.frozen
class Catalogue:
    entries: tuple[CatalogueEntry, ...] = ()

    @classmethod
    def load(cls, path: str | Path) -> Catalogue:
        """Read a catalogue file; raises `CatalogueError` naming the file and entry."""
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise CatalogueError(f"{path}: {exc}") from None
        raws = data.get("error", [])
        if not isinstance(raws, list):
            raise CatalogueError(f"{path}: expected [[error]] tables")
        return cls(tuple(_entry(raw, f"{path}: [[error]] #{i + 1}") for i, raw in enumerate(raws)))

    def __add__(self, other: Catalogue) -> Catalogue:
        return Catalogue(self.entries + other.entries)

    def for_platform(self, platform: str) -> Catalogue:
        return Catalogue(tuple(e for e in self.entries if e.platform in (None, platform)))

    def match_lines(self, lines: Iterable[str]) -> CatalogueMatch | None:
        """The first entry (in catalogue order) matching any line, with its matched lines."""
        if not self.entries:
            return None
        # One combined search per line; entries are tried only on lines that hit.
        combined = re.compile("|".join(f"(?:{e.pattern.pattern})" for e in self.entries))
        hits: dict[int, list[str]] = {}
        for line in lines:
            line = line[:_MAX_LINE]
            if not combined.search(line):
                continue
            for index, entry in enumerate(self.entries):
                if entry.pattern.search(line):
                    found = hits.setdefault(index, [])
                    if len(found) < _MAX_MATCHED_LINES:
                        found.append(line.rstrip())
        if not hits:
            return None
        first = min(hits)
        return CatalogueMatch(self.entries[first], tuple(hits[first]))

    def match_log(self, path: str | Path | None) -> CatalogueMatch | None:
        if path is None:
            return None
        return self.match_lines(_read_lines(Path(path)))


def _read_lines(path: Path) -> Iterator[str]:
    try:
        with path.open("rb") as fh:
            size = fh.seek(0, 2)
            fh.seek(max(0, size - SCAN_BYTES))
            if size > SCAN_BYTES:
                fh.readline()  # skip the partial first line
            for raw in fh:
                yield raw.decode("utf-8", "replace").rstrip("\r\n")
    except OSError:
        return


def builder_catalogue(builder: object) -> Catalogue:
    """The catalogue a builder ships (its `catalogue` attribute: a path or a Catalogue)."""
    value = getattr(builder, "catalogue", None)
    if value is None:
        return Catalogue()
    if isinstance(value, Catalogue):
        return value
    if isinstance(value, str | Path):
        return Catalogue.load(value)
    if isinstance(value, Sequence):
        total = Catalogue()
        for item in value:
            total = total + Catalogue.load(item)
        return total
    raise CatalogueError(f"builder {getattr(builder, 'name', builder)!r}: bad catalogue {value!r}")
