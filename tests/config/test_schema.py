"""The JSON Schema of builds.toml: every file the loader accepts is valid against it,
and the mistakes it can express (unknown keys and options, wrong types) are not."""

from __future__ import annotations

import enum
import json
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import attrs
import jsonschema
import pytest

from _web_helpers import pkg, write
from buildsys import ConfigError, hookimpl, load_config
from buildsys.config.keys import BUILD_KEYS, RUN_KEYS, WORKSPACE_KEYS
from buildsys.config.schema import DRAFT, builds_schema, schema_text
from buildsys.plugin.manager import PluginHost

REPO = Path(__file__).resolve().parents[2]
VALID = sorted((REPO / "tests" / "config" / "config_corpus" / "valid").glob("*.toml"))
EXAMPLES = sorted(REPO.glob("examples/**/builds.toml"))
INVALID = REPO / "tests" / "config" / "config_corpus" / "invalid"


@pytest.fixture(scope="module")
def plugins():
    return PluginHost().load()  # the installed plugins, through their entry points


@pytest.fixture(scope="module")
def schema(plugins):
    return builds_schema(plugins)


@pytest.fixture(scope="module")
def validator(schema):
    return jsonschema.Draft7Validator(schema)


def errors_of(validator, text: str) -> list[str]:
    return [e.message for e in validator.iter_errors(tomllib.loads(text))]


def test_schema_is_draft_07(schema):
    assert schema["$schema"] == DRAFT
    jsonschema.Draft7Validator.check_schema(schema)


def test_text_is_stable_sorted_json(plugins):
    text = schema_text(plugins)
    assert text == schema_text(PluginHost().load())
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


@pytest.mark.parametrize("path", [*EXAMPLES, *VALID], ids=lambda p: str(p.relative_to(REPO)))
def test_every_valid_file_is_valid_against_the_schema(validator, path):
    assert EXAMPLES, "the examples have a builds.toml"
    assert errors_of(validator, path.read_text()) == []


def test_every_core_key_is_described(schema):
    build = schema["definitions"]["build"]["properties"]
    for key in [*BUILD_KEYS, "profiles"]:
        assert build[key]["description"], key
    run = schema["properties"]["run"]["properties"]
    assert set(run) == set(RUN_KEYS)
    assert all(run[k]["description"] for k in run)
    workspace = schema["definitions"]["workspace"]["properties"]
    for key in WORKSPACE_KEYS:
        assert workspace[key]["description"], key
    for table in ("run", "defaults", "builds", "workspaces"):
        assert schema["properties"][table]["description"], table


def test_web_options_come_from_its_plugin(plugins, schema):
    registered = plugins.registry.get("web")
    assert registered is not None and registered.plugin == "web"  # its entry point
    web = schema["definitions"]["build-web"]["properties"]
    assert web["script"]["type"] == "string"
    assert web["script"]["default"] == "build"
    assert {"script", "package-manager", "install"} <= set(web)
    assert "platform `web`" in web["package-manager"]["description"]
    # Completed at any build, before its platform is known.
    assert "package-manager" in schema["definitions"]["build"]["properties"]
    assert schema["definitions"]["build-ios"]["properties"]["scheme"]["description"].count(
        "Required"
    )
    # Only the web platform can discover a workspace here.
    assert schema["definitions"]["workspace"]["properties"]["platform"]["enum"] == ["web"]


# A mistake the loader reports, the words the schema's error has.
WRONG = {
    "unknown build key": (
        '[builds.a]\nplatform = "command"\ncommand = ["x"]\ntimout = 5\n',
        "timout",
    ),
    "wrong type": ('[builds.a]\nplatform = "command"\ncommand = ["x"]\nretries = "3"\n', "'3'"),
    "unknown web option": ('[builds.w]\nplatform = "web"\nscripts = "build"\n', "scripts"),
    "web option of the wrong type": ('[builds.w]\nplatform = "web"\nscript = 1\n', "1 is not"),
    "another platform's option": ('[builds.w]\nplatform = "web"\nvariant = "debug"\n', "variant"),
    "platform from the name": ('[builds.web]\nvariant = "debug"\n', "variant"),
    "unknown option in a profile": (
        '[builds.web]\n[builds.web.profiles.release]\nscirpt = "x"\n',
        "scirpt",
    ),
    "platform in a profile": (
        '[builds.web]\n[builds.web.profiles.release]\nplatform = "ios"\n',
        "platform",
    ),
    "unknown table": ('[build.a]\nplatform = "command"\n', "build"),
    "unknown run key": ('[run]\nstrategy = "parallel"\njobs = 2\n[builds]\n', "jobs"),
    "unknown strategy": ('[run]\nstrategy = "drain"\n[builds]\n', "drain"),
    "unknown OS": (
        '[builds.a]\nplatform = "command"\ncommand = ["x"]\nrequires-os = ["osx"]\n',
        "osx",
    ),
    "env value not a string": (
        '[builds.a]\nplatform = "command"\ncommand = ["x"]\nenv = { DEBUG = true }\n',
        "True is not",
    ),
    "unknown key in [defaults]": (
        '[defaults]\nscrpt = "x"\n[builds.w]\nplatform = "web"\n',
        "scrpt",
    ),
    "profiles in [defaults]": (
        "[defaults.profiles.release]\nretries = 1\n[builds]\n",
        "profiles",
    ),
    "invalid build name": ('[builds."-a"]\nplatform = "command"\ncommand = ["x"]\n', "-a"),
    "no builds": ("[run]\nretries = 1\n", "not valid under any"),
}


@pytest.mark.parametrize("case", sorted(WRONG))
def test_wrong_files_are_rejected_by_both(validator, tmp_path, case):
    text, words = WRONG[case]
    found = errors_of(validator, text)
    assert found, f"the schema accepts it: {text}"
    assert any(words in message for message in found), found
    (tmp_path / "builds.toml").write_text(text)
    with pytest.raises(ConfigError):
        load_config(tmp_path / "builds.toml", host_os="linux")


# Invalid corpus files whose every mistake is one a schema can say.
SCHEMA_CAN_SAY = [
    "command-options",
    "core-key-wrong-types",
    "env-boolean-value",
    "invalid-build-name",
    "no-builds",
    "platform-wrong-type",
    "profile-errors",
    "requires-os-unknown",
    "run-wrong-types",
    "tables-wrong-type",
]


@pytest.mark.parametrize("case", SCHEMA_CAN_SAY)
def test_invalid_corpus_is_invalid_against_the_schema(validator, case):
    assert errors_of(validator, (INVALID / f"{case}.toml").read_text())


NPM = {
    "package.json": {"name": "root", "private": True, "workspaces": ["packages/*"]},
    "package-lock.json": "{}\n",
    "packages/core/package.json": pkg("@acme/core"),
    "packages/ui/package.json": pkg("@acme/ui", dependencies={"@acme/core": "1.0.0"}),
}
WORKSPACE = """\
[defaults]
retries = 1

[workspaces.js]
platform = "web"
members = ["packages/*"]
timeout = "10m"
outputs = ["lib/**"]
script = "build"

[workspaces.js.overrides.ui]
timeout = "5m"
script = "compile"

[workspaces.js.profiles.release]
env = { NODE_ENV = "production" }

[builds.app]
platform = "command"
command = ["true"]
depends-on = ["js.ui"]
"""


def test_a_workspace_that_loads_is_valid(validator, tmp_path):
    write(tmp_path, NPM)
    (tmp_path / "builds.toml").write_text(WORKSPACE)
    assert "js.ui" in load_config(tmp_path / "builds.toml").names
    assert errors_of(validator, WORKSPACE) == []
    assert errors_of(validator, '[workspaces.web]\nmembers = ["packages/*"]\n') == []


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (WORKSPACE.replace('script = "compile"', 'scirpt = "compile"'), "scirpt"),
        (WORKSPACE.replace('script = "compile"', 'root = "x"'), "root"),
        (WORKSPACE.replace('members = ["packages/*"]', 'cwd = "x"'), "cwd"),
        (WORKSPACE.replace('platform = "web"', 'platform = "command"'), "command"),
        (WORKSPACE.replace('script = "build"', 'variant = "debug"'), "variant"),
        ('[workspaces.js]\nmembers = ["packages/*"]\n', "platform"),  # not named for one
    ],
)
def test_wrong_workspaces_are_rejected_by_both(validator, tmp_path, text, words):
    found = errors_of(validator, text)
    assert any(words in message for message in found), found
    write(tmp_path, NPM)
    (tmp_path / "builds.toml").write_text(text)
    with pytest.raises(ConfigError):
        load_config(tmp_path / "builds.toml")


# -- options classes -------------------------------------------------------------------


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


@attrs.frozen(kw_only=True)
class _Options:
    """Options of a `paint` build."""

    colour: Colour = Colour.RED
    """The colour of the first coat."""
    mode: Literal["fast", "slow"] = "fast"
    #: How many coats to give.
    coats: int = 2
    ratio: float | None = None  #: Thinner to paint.
    brushes: tuple[str, ...] = ()
    sizes: tuple[int, str] = (1, "x")
    labels: Mapping[str, str] = attrs.field(factory=dict)
    wall: str = attrs.field(metadata={"description": "The wall to paint."})
    when: str = attrs.field(default="now", metadata={"json_schema": {"enum": ["now", "later"]}})
    plain: bool = False  # not a doc comment


class _Painter:
    name = "paint"
    options = _Options

    def build(self, spec, ctx):
        return None


class _PaintPlugin:
    @hookimpl
    def buildsys_register_platforms(self, registry):
        registry.add(_Painter())


def test_options_types_defaults_and_docs():
    host = PluginHost(entry_points=False)
    host.pm.register(_PaintPlugin(), name="paint-plugin")
    options = builds_schema(host.load())["definitions"]["build-paint"]["properties"]
    assert options["colour"]["enum"] == ["red", "blue"]
    assert options["colour"]["default"] == "red"
    assert options["colour"]["description"].startswith("The colour of the first coat.")
    assert options["mode"]["enum"] == ["fast", "slow"]
    assert options["coats"]["type"] == "integer"
    assert options["coats"]["description"].startswith("How many coats to give.")
    assert options["ratio"]["type"] == "number" and "default" not in options["ratio"]
    assert options["ratio"]["description"].startswith("Thinner to paint.")
    assert options["brushes"] == {**options["brushes"], "type": "array", "default": []}
    assert options["brushes"]["items"] == {"type": "string"}
    assert options["sizes"]["items"] == [{"type": "integer"}, {"type": "string"}]
    assert options["labels"]["additionalProperties"] == {"type": "string"}
    assert options["labels"]["default"] == {}
    assert options["wall"]["description"].startswith("The wall to paint. Required")
    assert options["when"]["enum"] == ["now", "later"]
    assert options["plain"]["description"].startswith("Options of a `paint` build.")
    assert "plugin paint-plugin" in options["plain"]["description"]
