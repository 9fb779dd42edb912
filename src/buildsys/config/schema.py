"""A JSON Schema of builds.toml, for editors that complete and check TOML from one.

Generated from the key tables (`keys.py`) and the installed platforms'
`options` attrs classes, in draft-07: taplo (VS Code's Even Better TOML,
taplo-lsp in other editors) reads drafts 4 to 7, JetBrains 4 to 2020-12, and
draft-07 is the newest with `if`/`then`, which picks a build's options by its
`platform`.

The schema accepts every file the loader accepts, and rejects what it can
say in JSON Schema of what the loader rejects: unknown keys (the options of
a platform that is installed included), wrong types, unknown `strategy` and
`requires-os` values. What needs more than one table to check (dependencies,
overlapping outputs, paths outside the project) is left to `buildsys check`.

A build's keys are completed at its table (core keys and every installed
platform's options); the branch for its platform then allows only that
platform's options. Its `platform` defaults to the table's name, as the loader
reads it, so `[builds.web]` with no `platform` is checked as a `web` build.

An option's type comes from its field's annotation (`str`, `int`, `float`,
`bool`, `Literal[...]`, an `Enum`, `X | None`, `tuple[X, ...]`, `list[X]`,
`dict[str, X]`); its description from the field's `metadata["description"]`,
else from the class docstring; `metadata["json_schema"]` replaces the schema
derived from the type (for a converter that accepts more than the annotation
says, or values the annotation does not list).
"""

from __future__ import annotations

import contextlib
import enum
import json
import types
import typing
from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from ..host.facts import KNOWN_OS
from .keys import BUILD_KEYS, RUN_KEYS, STRATEGIES, TOP_LEVEL, WORKSPACE_KEYS

if TYPE_CHECKING:
    from ..plugin.manager import PluginHost

__all__ = ["DRAFT", "SCHEMA_FILE", "builds_schema", "schema_text"]

DRAFT = "http://json-schema.org/draft-07/schema#"
# Where `buildsys init` writes it, relative to builds.toml (and so `#:schema ./<this>`).
SCHEMA_FILE = ".buildsys/builds.schema.json"

Schema = dict[str, Any]

_NAME = "^[A-Za-z0-9][A-Za-z0-9._-]*$"  # keys.NAME_RE
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

# Per-build keys: the value each takes and what it does. Every key of BUILD_KEYS
# needs one (test_schema checks), so a new key cannot go undescribed.
_BUILD: dict[str, tuple[Schema, str]] = {
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
_PROFILES = "Per-profile overrides of this build's keys, applied by `--profile NAME`."
_PROFILE = "A profile: any key of the build but `platform` and `profiles`, set over the build's."

_RUN: dict[str, tuple[Schema, str]] = {
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

_WORKSPACE: dict[str, tuple[Schema, str]] = {
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
# Keys a member's override may not set.
_NOT_PER_MEMBER = ("platform", "profiles", "cwd", *WORKSPACE_KEYS)


def builds_schema(plugins: PluginHost) -> Schema:
    """The schema of builds.toml for the platforms `plugins` registered."""
    return _Generator(plugins).schema()


def schema_text(plugins: PluginHost) -> str:
    """`builds_schema` as JSON, keys sorted, so that the file is the same from run to run."""
    return json.dumps(builds_schema(plugins), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _described(table: Mapping[str, tuple[Schema, str]], keys: Sequence[str]) -> dict[str, Schema]:
    found: dict[str, Schema] = {}
    for key in keys:
        if key not in table:  # a key added to keys.py without its description here
            raise KeyError(f"builds.toml key {key!r} has no schema; describe it in schema.py")
        value, description = table[key]
        found[key] = {**value, "description": description}
    return found


def _ref(name: str) -> Schema:
    return {"$ref": f"#/definitions/{name}"}


def _any(keys: Collection[str]) -> dict[str, Schema]:
    """Each of `keys`, whatever its value: checked where the key's schema is."""
    return {key: {} for key in keys}


def _table_of(item: Schema, description: str) -> Schema:
    """A table of tables named like builds (`[builds.<name>]`, profiles, members)."""
    return {
        "type": "object",
        "description": description,
        "propertyNames": {"pattern": _NAME},
        "additionalProperties": item,
    }


class _Generator:
    """The schema for one set of installed platforms."""

    def __init__(self, plugins: PluginHost) -> None:
        self.platforms: dict[str, dict[str, Schema]] = {}  # name -> its options' schemas
        self.discovering: list[str] = []  # platforms whose builder can discover a workspace
        for registered in sorted(plugins.registry, key=lambda r: r.name):
            builder = registered.builder
            cls = getattr(builder, "options", None)
            self.platforms[registered.name] = (
                {} if cls is None else _options(cls, registered.name, registered.plugin)
            )
            if getattr(builder, "discover", None) is not None:
                self.discovering.append(registered.name)
        self.definitions: dict[str, Schema] = {}

    def schema(self) -> Schema:
        core = _described(_BUILD, list(BUILD_KEYS))
        core["platform"] = {
            **core["platform"],
            # Completion offers the installed ones; another may be skipped on this host.
            "anyOf": [{"enum": list(self.platforms)}, {"type": "string"}],
        }
        self._builds(core)
        self._workspaces(core)
        top: dict[str, Schema] = {
            "run": {
                "type": "object",
                "description": "Run-wide settings; every key optional.",
                "properties": _described(_RUN, list(RUN_KEYS)),
                "additionalProperties": False,
            },
            "defaults": self._defaults(core),
            "builds": {
                **_table_of(_ref("build"), "One table per build; its name is the build's name."),
                "properties": {p: _ref(f"build-named-{p}") for p in self.platforms},
            },
            "workspaces": self._workspaces_table(),
        }
        return {
            "$schema": DRAFT,
            "title": "builds.toml",
            "description": "How a project builds, for `buildsys build`; see `buildsys --help`.",
            "type": "object",
            "properties": {key: top[key] for key in TOP_LEVEL},
            "additionalProperties": False,
            "anyOf": [
                {"required": ["builds"]},
                {"required": ["workspaces"], "properties": {"workspaces": {"minProperties": 1}}},
            ],
            "definitions": dict(sorted(self.definitions.items())),
        }

    # -- [builds.<name>] ---------------------------------------------------------------

    def _hints(self, skip: Collection[str] = ()) -> dict[str, Schema]:
        """Every installed platform's options, described but not typed: for completion
        where the platform is not known yet (the platform's branch checks them)."""
        hints: dict[str, Schema] = {}
        for options in self.platforms.values():
            for key, option in options.items():
                if key in skip:
                    continue
                previous = hints.get(key)
                text = option.get("description", "")
                hints[key] = {
                    "description": text
                    if previous is None
                    else f"{previous['description']}\n\n{text}"
                }
        return hints

    def _builds(self, core: dict[str, Schema]) -> None:
        in_profile = {k: v for k, v in core.items() if k != "platform"}
        self.definitions["build"] = {
            "type": "object",
            "description": "A build: the keys below, and the options of its platform.",
            "properties": {
                **self._hints(skip=core),
                **core,
                "profiles": _table_of(_ref("profile"), _PROFILES),
            },
            "allOf": [self._when(p, f"build-{p}") for p in self.platforms],
            "x-taplo": {"initKeys": ["platform"]},
        }
        self.definitions["profile"] = {
            "type": "object",
            "description": _PROFILE,
            "properties": {**self._hints(skip=core), **in_profile},
            "propertyNames": {"not": {"enum": ["platform", "profiles"]}},
        }
        for platform, options in self.platforms.items():
            own = {k: v for k, v in options.items() if k not in core}
            self.definitions[f"build-{platform}"] = {
                "properties": {
                    **_any(core),
                    **own,
                    "profiles": {"additionalProperties": _ref(f"profile-{platform}")},
                },
                "additionalProperties": False,
            }
            self.definitions[f"profile-{platform}"] = {
                "properties": {**_any(in_profile), **own},
                "additionalProperties": False,
            }
            self.definitions[f"build-named-{platform}"] = {
                "allOf": [
                    _ref("build"),
                    {"if": {"not": {"required": ["platform"]}}, "then": _ref(f"build-{platform}")},
                ]
            }

    @staticmethod
    def _when(platform: str, branch: str) -> Schema:
        return {
            "if": {"properties": {"platform": {"const": platform}}, "required": ["platform"]},
            "then": _ref(branch),
        }

    # -- [defaults] --------------------------------------------------------------------

    def _defaults(self, core: dict[str, Schema]) -> Schema:
        options: dict[str, list[Schema]] = {}
        for platform_options in self.platforms.values():
            for key, option in platform_options.items():
                if key not in core:
                    options.setdefault(key, []).append(option)
        merged = {
            key: found[0] if len(found) == 1 else {"anyOf": found} for key, found in options.items()
        }
        return {
            "type": "object",
            "description": "Per-build keys, and options of the platforms used in this file, "
            "that every build (and workspace member) inherits.",
            "properties": {**merged, **core},
            "additionalProperties": False,
        }

    # -- [workspaces.<name>] -----------------------------------------------------------

    def _workspaces(self, core: dict[str, Schema]) -> None:
        shared = {k: v for k, v in core.items() if k != "cwd"}
        own = _described(_WORKSPACE, list(WORKSPACE_KEYS))
        member = {k: v for k, v in core.items() if k not in _NOT_PER_MEMBER}
        shared["platform"] = {
            **{k: v for k, v in core["platform"].items() if k != "anyOf"},
            "enum": self.discovering,
            "description": "The builder that discovers the members (default: the "
            "workspace's name); its options are defaults of every member.",
        }
        own["overrides"] = {
            "type": "object",
            "description": own["overrides"]["description"],
            "additionalProperties": _ref("member"),
        }
        self.definitions["workspace"] = {
            "type": "object",
            "description": "A workspace whose members (found by its platform's builder) "
            "become builds named <workspace>.<member>; the table's build keys and options "
            "are defaults of every member.",
            "properties": {
                **self._hints(skip=core),
                **shared,
                **own,
                "profiles": _table_of(_ref("profile"), _PROFILES),
            },
            "propertyNames": {"not": {"const": "cwd"}},
            "allOf": [self._when(p, f"workspace-{p}") for p in self.discovering],
        }
        self.definitions["member"] = {
            "type": "object",
            "description": "Keys for this member alone, set over the workspace table's.",
            "properties": {**self._hints(skip=core), **member},
            "propertyNames": {"not": {"enum": list(_NOT_PER_MEMBER)}},
        }
        for platform in self.discovering:
            options = {k: v for k, v in self.platforms[platform].items() if k not in core}
            self.definitions[f"workspace-{platform}"] = {
                "properties": {
                    **_any([*shared, *own]),
                    **options,
                    "overrides": {"additionalProperties": _ref(f"member-{platform}")},
                    "profiles": {"additionalProperties": _ref(f"profile-{platform}")},
                },
                "additionalProperties": False,
            }
            self.definitions[f"member-{platform}"] = {
                "properties": {**_any(member), **options},
                "additionalProperties": False,
            }
            self.definitions[f"workspace-named-{platform}"] = {
                "allOf": [
                    _ref("workspace"),
                    {
                        "if": {"not": {"required": ["platform"]}},
                        "then": _ref(f"workspace-{platform}"),
                    },
                ]
            }

    def _workspaces_table(self) -> Schema:
        description = (
            "One table per workspace (a JavaScript monorepo, say): its members are "
            "discovered when builds.toml is read."
        )
        if not self.discovering:
            return {
                "type": "object",
                "description": f"{description} No installed platform can discover one.",
                "maxProperties": 0,
            }
        return {
            # A workspace not named for a platform must say which discovers it.
            **_table_of({"allOf": [_ref("workspace"), {"required": ["platform"]}]}, description),
            "properties": {p: _ref(f"workspace-named-{p}") for p in self.discovering},
        }


# -- platform options ------------------------------------------------------------------


def _options(cls: type, platform: str, plugin: str) -> dict[str, Schema]:
    """builds.toml key -> schema, for the fields of an options attrs class."""
    from ._field_docs import field_docs

    # A name only the plugin's type checker sees leaves its field untyped.
    with contextlib.suppress(Exception):
        attrs.resolve_types(cls)
    docs = field_docs(cls)
    heading = (cls.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")
    found: dict[str, Schema] = {}
    for field in attrs.fields(cls):
        if not field.init:
            continue
        key = field.name.replace("_", "-")
        given = field.metadata.get("json_schema")
        schema: Schema = dict(given) if isinstance(given, Mapping) else _value(field.type)
        text = field.metadata.get("description", docs.get(field.name))
        parts = [text if isinstance(text, str) else heading]
        default = _default(field)
        if default is attrs.NOTHING:
            parts.append("Required (here or in [defaults]).")
        elif default is not None:
            schema["default"] = default
            parts.append(f"Default: {json.dumps(default)}.")
        parts.append(f"(An option of platform `{platform}`, from plugin {plugin}.)")
        schema["description"] = " ".join(p for p in parts if p)
        found[key] = schema
    return found


def _default(field: attrs.Attribute[Any]) -> Any:
    """The field's default as TOML would write it; None when it has no such value."""
    default = field.default
    if default is attrs.NOTHING:
        return attrs.NOTHING
    if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
        factory: Any = default
        if factory.takes_self:
            return None
        try:
            default = factory.factory()
        except Exception:  # noqa: BLE001 - a factory that needs more than nothing: no default
            return None
    plain = _plain(default)
    try:
        json.dumps(plain)
    except (TypeError, ValueError):
        return None
    return plain


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple | list | frozenset | set):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


_SCALARS: dict[Any, Schema] = {
    str: {"type": "string"},
    bool: {"type": "boolean"},
    int: {"type": "integer"},
    float: {"type": "number"},
}


def _value(kind: Any) -> Schema:
    """The schema of a value of type `kind`; {} (anything) for a type it cannot say."""
    if kind in _SCALARS:
        return dict(_SCALARS[kind])
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin is typing.Union or origin is types.UnionType:
        # TOML has no null: an optional option is one left out.
        kinds = [_value(a) for a in args if a is not type(None)]
        return kinds[0] if len(kinds) == 1 else {"anyOf": kinds}
    if origin is typing.Literal:
        return {"enum": [_plain(a) for a in args]}
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return {"enum": [m.value for m in kind]}
    if origin in (tuple, list, set, frozenset, Sequence):
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            if not args:
                return {"type": "array"}
            return {
                "type": "array",
                "items": [_value(a) for a in args],
                "minItems": len(args),
                "maxItems": len(args),
            }
        return {"type": "array", "items": _value(args[0])} if args else {"type": "array"}
    if origin in (dict, Mapping):
        value = _value(args[1]) if len(args) == 2 else {}
        return {"type": "object", "additionalProperties": value}
    if isinstance(kind, type) and attrs.has(kind):
        return {"type": "object"}
    return {}
