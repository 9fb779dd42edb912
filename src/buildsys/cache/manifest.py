"""Manifests: what one cache key restores, as JSON, checked before anything trusts it.

A manifest lists each file's relative path, sha256, size and permission bits
(and a symlink's text), the hash of the build's log, when it was stored and
a little metadata. Its text is never trusted: `parse_manifest` refuses an
unknown format, another key, a bad hash, size or mode, and any path that is
absolute, has a `..` or empty component, or lies under another listed path,
so that a damaged or hand-edited entry is a miss, never a write outside the
project.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import attrs

from .hashing import link_digest

__all__ = [
    "Corrupt",
    "Manifest",
    "ManifestFile",
    "check_key",
    "manifest_to_json",
    "parse_manifest",
    "unsafe_path_reason",
]

_FORMAT = "buildsys-cache-manifest"
_VERSION = 1
_KEY = re.compile(r"[0-9a-f]{16,128}")
_SHA = re.compile(r"[0-9a-f]{64}")


@attrs.frozen
class ManifestFile:
    path: str  # relative POSIX path
    sha256: str  # of the content; for a symlink, hashing.link_digest(symlink)
    size: int  # bytes; for a symlink, of the link text
    mode: int  # permission bits (0o777 for a symlink)
    symlink: str | None = None  # the link text, for a symlink


@attrs.frozen
class Manifest:
    key: str
    files: tuple[ManifestFile, ...]
    log_blob: str | None  # sha256 of the stored log
    created: float  # time.time() of the store
    meta: Mapping[str, str]


class Corrupt(Exception):
    """An entry cannot be trusted: its manifest is damaged, or a blob it lists is."""


def check_key(key: str) -> None:
    if not _KEY.fullmatch(key):
        raise ValueError(f"cache key must be 16-128 lowercase hex digits, not {key!r}")


def unsafe_path_reason(rel: str) -> str | None:
    """Why `rel` is not a safe relative POSIX path inside a project, or None if it is."""
    if not isinstance(rel, str) or not rel:
        return "empty path"
    if "\0" in rel:
        return "NUL in path"
    if rel.startswith("/"):
        return "absolute path"
    for part in rel.split("/"):
        if part in ("", ".", ".."):
            return f"{part or 'empty'!r} component"
    return None


def manifest_to_json(manifest: Manifest) -> str:
    return json.dumps(
        {
            "format": _FORMAT,
            "version": _VERSION,
            "key": manifest.key,
            "created": manifest.created,
            "log": manifest.log_blob,
            "meta": dict(manifest.meta),
            "files": [
                {
                    "path": f.path,
                    "sha256": f.sha256,
                    "size": f.size,
                    "mode": f.mode,
                    "symlink": f.symlink,
                }
                for f in manifest.files
            ],
        },
        separators=(",", ":"),
    )


def _parse_file(raw: Any) -> ManifestFile:
    if not isinstance(raw, dict):
        raise Corrupt("a file entry is not an object")
    path, sha, size, mode, link = (
        raw.get("path"),
        raw.get("sha256"),
        raw.get("size"),
        raw.get("mode"),
        raw.get("symlink"),
    )
    if not isinstance(path, str):
        raise Corrupt("a file entry has no path")
    reason = unsafe_path_reason(path)
    if reason is not None:
        raise Corrupt(f"unsafe path {path!r} ({reason})")
    if not isinstance(sha, str) or not _SHA.fullmatch(sha):
        raise Corrupt(f"bad sha256 for {path!r}")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise Corrupt(f"bad size for {path!r}")
    if isinstance(mode, bool) or not isinstance(mode, int) or not 0 <= mode <= 0o777:
        raise Corrupt(f"bad mode for {path!r}")
    if link is not None and (
        not isinstance(link, str) or not link or "\0" in link or link_digest(link) != sha
    ):
        raise Corrupt(f"bad symlink for {path!r}")
    return ManifestFile(path, sha, size, mode, link)


def parse_manifest(text: str, key: str) -> Manifest:
    """The manifest `text` holds for `key`; raises `Corrupt` saying what is wrong."""
    try:
        data = json.loads(text)
    except ValueError as exc:  # JSONDecodeError, and UnicodeDecodeError
        raise Corrupt(f"not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise Corrupt("not a JSON object")
    if data.get("format") != _FORMAT or data.get("version") != _VERSION:
        raise Corrupt("unknown format or version")
    if data.get("key") != key:
        raise Corrupt("written for another key")
    created, log, meta, files = (
        data.get("created"),
        data.get("log"),
        data.get("meta"),
        data.get("files"),
    )
    if not isinstance(created, int | float) or isinstance(created, bool):
        raise Corrupt("bad created time")
    if log is not None and (not isinstance(log, str) or not _SHA.fullmatch(log)):
        raise Corrupt("bad log hash")
    if not isinstance(meta, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in meta.items()
    ):
        raise Corrupt("bad meta")
    if not isinstance(files, list):
        raise Corrupt("bad file list")
    parsed = tuple(_parse_file(raw) for raw in files)
    paths = {f.path for f in parsed}
    if len(paths) != len(parsed):
        raise Corrupt("a path is listed twice")
    for f in parsed:
        parts = f.path.split("/")
        for i in range(1, len(parts)):
            if "/".join(parts[:i]) in paths:
                raise Corrupt(f"{f.path!r} is nested under another listed file")
    return Manifest(key, parsed, log, float(created), dict(meta))
