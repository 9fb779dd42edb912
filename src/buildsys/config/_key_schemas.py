"""The schema and description of each core key of builds.toml, for `schema.py`.

Every key of `keys.py`'s tables needs an entry here: `described` raises for
one that has none (and test_schema asks for every key), so a key cannot be
added to builds.toml without its description.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..host.facts import KNOWN_OS
from .keys import STRATEGIES

__all__ = ["BUILD", "NAME", "PROFILE", "PROFILES", "RUN", "WORKSPACE", "Schema", "described"]

Schema = dict[str, Any]

NAME = "^[A-Za-z0-9][A-Za-z0-9._-]*$"  # keys.NAME_RE
_ENV_NAME = "^[A-Za-z_][A-Za-z0-9_]*$"
_STRINGS: Schema = {"type": "array", "items": {"type": "string"}}


def _caseless(words: Sequence[str]) -> str:
    """A pattern matching any of `words` in any case (JSON Schema has no `(?i)`)."""
    alternatives = (
        "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in word) for word in words
    )
    return f"^({'|'.join(alternatives)})$"


def _duration(minimum: str) -> Schema:
    return {
        "anyOf": [
            {"type": "number", minimum: 0},
            {"type": "string", "examples": ["90s", "20m", "1h30m", "500ms"]},
        ]
    }


_OS_NAMES = (*KNOWN_OS, "macos")
_OS_LIST: Schema = {
    "type": "array",
    "items": {
        "anyOf": [{"enum": list(_OS_NAMES)}, {"type": "string", "pattern": _caseless(_OS_NAMES)}]
    },
}
_ENV_NAMES: Schema = {"type": "array", "items": {"type": "string", "pattern": _ENV_NAME}}

# Per-build keys: the value each takes and what it does.
BUILD: dict[str, tuple[Schema, str]] = {
    "platform": (
        {"type": "string"},
        "The builder plugin that runs this build (default: the build's name). "
        "Any other key of the table is an option of that platform.",
    ),
    "depends-on": (_STRINGS, "Builds that must succeed (or be cached) before this one starts."),
    "timeout": (
        _duration("exclusiveMinimum"),
        'Time limit per attempt: "90s", "20m", "1h30m", or a number of seconds above zero. '
        "Overrides [defaults] and [run].timeout.",
    ),
    "retries": (
        {"type": "integer", "minimum": 0},
        "How many times a failed build is tried again (default: [run].retries).",
    ),
    "cwd": (
        {"type": "string"},
        "The directory the build runs in, relative to builds.toml; inside the project.",
    ),
    "env": (
        {
            "type": "object",
            "propertyNames": {"pattern": _ENV_NAME},
            "additionalProperties": {"type": "string"},
        },
        'Environment variables set for the build, such as { NODE_ENV = "production" }; '
        "part of the cache key.",
    ),
    "key-env": (_ENV_NAMES, "The caller's variables whose values join the cache key."),
    "secret-env": (
        _ENV_NAMES,
        "The caller's variables that are secrets: their values are masked everywhere.",
    ),
    "inputs": (
        _STRINGS,
        "gitignore-style patterns of the files the build reads, relative to builds.toml "
        "('**' any depth, '!' excludes, a leading '/' anchors at the project). "
        "A build with no inputs is never served from the cache.",
    ),
    "outputs": (
        _STRINGS,
        "gitignore-style patterns of the files the build writes, cached and restored. "
        "`outputs = []`: nothing to restore, cached on its success alone.",
    ),
    "requires-os": (
        _OS_LIST,
        f"The hosts the build runs on ({', '.join(KNOWN_OS)}; macos means darwin); "
        "on another host it is skipped, with the reason.",
    ),
    "skip-if-unavailable": (
        {"type": "boolean"},
        "true: a missing toolchain skips the build, with the reason, instead of failing it.",
    ),
    "tags": (_STRINGS, "Labels for `buildsys build --tag TAG`."),
}
PROFILES = "Per-profile overrides of this build's keys, applied by `--profile NAME`."
PROFILE = "A profile: any key of the build but `platform` and `profiles`, set over the build's."

RUN: dict[str, tuple[Schema, str]] = {
    "strategy": (
        {"enum": list(STRATEGIES)},
        '"parallel" (default): keep going after a failure; '
        '"stop-on-failure": the first failure cancels the rest.',
    ),
    "max-concurrency": (
        {"type": "integer", "minimum": 1},
        "Builds at once (default: the usable CPUs); 1 runs them one by one.",
    ),
    "timeout": (_duration("exclusiveMinimum"), "The default per-build timeout, per attempt."),
    "kill-grace": (
        _duration("minimum"),
        "How long a stopped build has between SIGTERM and SIGKILL (default 5s; 0: at once).",
    ),
    "retries": ({"type": "integer", "minimum": 0}, "The default per-build retry count."),
    "cache": ({"type": "boolean"}, "Whether builds are served from the cache (default true)."),
    "cache-dir": (
        {"type": "string", "pattern": "\\S"},
        "Where the cache lives (default .buildsys/cache); may be shared between projects.",
    ),
    "cache-max-size": (
        {
            "anyOf": [
                {"type": "integer", "minimum": 1},
                {
                    "type": "string",
                    "pattern": "^\\s*\\d+(\\.\\d+)?\\s*([kKmMgGtT][iI]?[bB]?|[bB])?\\s*$",
                },
            ]
        },
        'The cache\'s size limit: bytes, or "500MB", "2GiB"; least recently used entries go first.',
    ),
    "inputs-respect-gitignore": (
        {"type": "boolean"},
        "Inside a git work tree, `inputs` leave out what git ignores (default true).",
    ),
}

WORKSPACE: dict[str, tuple[Schema, str]] = {
    "root": (
        {"type": "string", "pattern": "\\S"},
        'The workspace\'s directory, relative to builds.toml (default ".").',
    ),
    "members": (
        _STRINGS,
        "Globs of the member directories to build (default: the workspace's own list).",
    ),
    "exclude": (_STRINGS, "Globs of member directories to leave out."),
    "overrides": (
        {"type": "object"},
        "Per member, by its build name: keys set over the table's for that member alone.",
    ),
}


def described(table: Mapping[str, tuple[Schema, str]], keys: Sequence[str]) -> dict[str, Schema]:
    found: dict[str, Schema] = {}
    for key in keys:
        if key not in table:  # a key added to keys.py without its description here
            raise KeyError(f"builds.toml key {key!r} has no schema; describe it in schema.py")
        value, description = table[key]
        found[key] = {**value, "description": description}
    return found
