"""A JSON Schema of builds.toml, for editors that complete and check TOML from one.

Generated from the key tables (`keys.py`) and the installed platforms'
`options` attrs classes, in draft-07: the newest draft taplo (VS Code's Even
Better TOML, taplo-lsp in other editors) validates well, which JetBrains IDEs
read too, and the first with `if`/`then`, which picks a build's options by
its `platform`. Editors ignore the keywords they do not know; `x-taplo` tells
taplo which key a new build table starts with.

The schema accepts every file the loader accepts, and rejects what it can
say in JSON Schema of what the loader rejects: unknown keys (the options of
a platform that is installed included), wrong types, unknown `strategy` and
`requires-os` values. What needs more than one table to check (dependencies,
overlapping outputs, paths outside the project) is left to `buildsys check`.

A build's keys are completed at its table (core keys and every installed
platform's options); the branch for its platform then allows only that
platform's options. Its `platform` defaults to the table's name, as the loader
reads it, so `[builds.web]` with no `platform` is checked as a `web` build.

The core keys' schemas and descriptions are `_key_schemas.py`'s; the
options' come from their attrs fields (`_option_schemas.py`).
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import TYPE_CHECKING

from ._key_schemas import BUILD, NAME, PROFILE, PROFILES, RUN, WORKSPACE, Schema, described
from ._option_schemas import option_schemas
from .keys import BUILD_KEYS, RUN_KEYS, TOP_LEVEL, WORKSPACE_KEYS

if TYPE_CHECKING:
    from ..plugin.manager import PluginHost

__all__ = ["DRAFT", "SCHEMA_FILE", "builds_schema", "schema_text"]

DRAFT = "http://json-schema.org/draft-07/schema#"
# Where `buildsys init` writes it, relative to builds.toml (and so `#:schema ./<this>`).
SCHEMA_FILE = ".buildsys/builds.schema.json"

# Keys a member's override may not set.
_NOT_PER_MEMBER = ("platform", "profiles", "cwd", *WORKSPACE_KEYS)


def builds_schema(plugins: PluginHost) -> Schema:
    """The schema of builds.toml for the platforms `plugins` registered."""
    return _Generator(plugins).schema()


def schema_text(plugins: PluginHost) -> str:
    """`builds_schema` as JSON, keys sorted, so that the file is the same from run to run."""
    return json.dumps(builds_schema(plugins), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


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
        "propertyNames": {"pattern": NAME},
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
                {} if cls is None else option_schemas(cls, registered.name, registered.plugin)
            )
            if getattr(builder, "discover", None) is not None:
                self.discovering.append(registered.name)
        self.definitions: dict[str, Schema] = {}

    def schema(self) -> Schema:
        core = described(BUILD, list(BUILD_KEYS))
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
                "properties": described(RUN, list(RUN_KEYS)),
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
                "profiles": _table_of(_ref("profile"), PROFILES),
            },
            "allOf": [self._when(p, f"build-{p}") for p in self.platforms],
            "x-taplo": {"initKeys": ["platform"]},
        }
        self.definitions["profile"] = {
            "type": "object",
            "description": PROFILE,
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
        own = described(WORKSPACE, list(WORKSPACE_KEYS))
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
                "profiles": _table_of(_ref("profile"), PROFILES),
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
