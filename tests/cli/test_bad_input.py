"""Bad input never crashes: whatever a builds.toml holds, `load_config` returns a
`Config` or raises `ConfigError`; a path no file system can hold is an error naming
where it came from, for artifacts a plugin reports too."""

from __future__ import annotations

import datetime as dt
import string
from pathlib import Path
from typing import Any

import pytest
import tomlkit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import buildsys
from _cli_helpers import by_name, cli, cli_env, install_plugin, read_json, write_builds
from buildsys.config.keys import BUILD_KEYS, RUN_KEYS
from buildsys.plugin.manager import PluginHost
from buildsys.plugin.options import field_keys

HOST = PluginHost().load()  # the installed plugins too: their options are keys as well

# Strings a path check trips on: NUL, control characters, `..`, absolute paths.
NASTY = ["\x00", "a\x00b", "\x1b[31m", "\t\n\r", "..", "../x", "/", "/etc", "~", "", " ", "*", "!"]
strings = st.one_of(
    st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12),
    st.text(string.printable, max_size=12),
    st.sampled_from(NASTY),
)
scalars = st.one_of(
    strings,
    st.booleans(),
    st.integers(),
    st.integers(-(10**400), 10**400),  # beyond 64 bits and floats: tomllib reads them
    st.floats(),  # nan and inf included
    st.dates(),
    st.times(),
    st.datetimes(timezones=st.sampled_from([None, dt.UTC])),
)
containers = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(strings, inner, max_size=3),
    max_leaves=6,
)
# Weighted towards what trips path and type checks: nasty strings, alone or in arrays.
values = st.one_of(
    st.sampled_from(NASTY),
    st.lists(st.sampled_from(NASTY) | strings, min_size=1, max_size=3),
    scalars,
    containers,
)
OPTION_KEYS = sorted(
    {
        key
        for registered in HOST.registry
        if getattr(registered.builder, "options", None) is not None
        for key in field_keys(registered.builder.options)
    }
)
# Core keys twice: a plugin's options are many, and each core key needs its turn.
BUILD_TABLE_KEYS = [*BUILD_KEYS, *BUILD_KEYS, *OPTION_KEYS, "profiles", "no-such-key"]


def table(keys: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(st.sampled_from(keys), values, max_size=6)


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    platform = draw(st.sampled_from(sorted(HOST.registry.names())))
    build = {"platform": platform, "command": ["true"], **draw(table(BUILD_TABLE_KEYS))}
    if draw(st.booleans()):
        build["profiles"] = {"release": draw(table(BUILD_TABLE_KEYS))}
    doc: dict[str, Any] = {
        "run": draw(table([*RUN_KEYS, "no-such-key"])),
        "defaults": draw(table(BUILD_TABLE_KEYS)),
        "builds": {"app": build, "other": {"platform": "command", "command": ["true"]}},
    }
    for key, value in draw(st.dictionaries(strings, values, max_size=2)).items():
        doc.setdefault(key, value)  # any top-level key, a table or not
    # Now and then a whole table is replaced by a value of another type.
    for name in ("run", "defaults", "builds"):
        if draw(st.integers(0, 9)) == 0:
            doc[name] = draw(values)
    return doc


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=documents())
def test_load_config_returns_a_config_or_raises_config_error(
    tmp_path_factory: pytest.TempPathFactory, doc: dict[str, Any]
) -> None:
    text = tomlkit.dumps(doc)
    path = tmp_path_factory.mktemp("config") / "builds.toml"
    path.write_text(text, encoding="utf-8")
    try:
        config = buildsys.load_config(path, HOST, host_os="linux")
    except buildsys.ConfigError as exc:
        assert exc.problems
        for problem in exc.problems:
            assert str(problem)  # each one can be printed
        return
    assert isinstance(config, buildsys.Config)


@pytest.mark.parametrize(
    ("where", "value", "message"),
    [
        ("cwd", "\x00", "build 'app', key 'cwd': contains a NUL character"),
        ("inputs", ["src/\x00"], "build 'app', key 'inputs': pattern 'src/\\x00' contains a NUL"),
        ("outputs", ["\x00/**"], "build 'app', key 'outputs': pattern '\\x00/**' contains a NUL"),
        ("cache-dir", "\x00", "key 'cache-dir': contains a NUL character"),
    ],
)
def test_a_nul_in_a_path_is_a_config_error_naming_it(
    tmp_path: Path, where: str, value: object, message: str
) -> None:
    build: dict[str, Any] = {"platform": "command", "command": ["true"]}
    doc: dict[str, Any] = {"builds": {"app": build}}
    if where == "cache-dir":
        doc["run"] = {where: value}
    else:
        build[where] = value
    path = tmp_path / "builds.toml"
    path.write_text(tomlkit.dumps(doc))
    with pytest.raises(buildsys.ConfigError) as info:
        buildsys.load_config(path, HOST, host_os="linux")
    (problem,) = info.value.problems
    assert message in str(problem)
    assert problem.line is not None
    res = cli("check", cwd=tmp_path)  # the command line says it the same way: exit 2
    assert res.rc == 2, res
    assert message in res.err and "Traceback" not in res.err


def test_a_pattern_with_the_project_path_written_out_is_an_error(tmp_path: Path) -> None:
    project = str(tmp_path.resolve())
    path = tmp_path / "builds.toml"
    build = {"platform": "command", "command": ["true"], "inputs": [f"{project}/src/**"]}
    path.write_text(tomlkit.dumps({"builds": {"app": build}}))
    with pytest.raises(buildsys.ConfigError) as info:
        buildsys.load_config(path, HOST, host_os="linux")
    (problem,) = info.value.problems
    assert "is an absolute path" in problem.message
    assert "did you mean 'src/**'?" in problem.message


NUL_ARTIFACT_PLUGIN = """
import os

import buildsys


class NulArtifact:
    name = "nulartifact"

    def build(self, spec, ctx):
        ctx.add_artifact(os.path.join(spec.root, "out", "a\\x00b.bin"))


@buildsys.hookimpl
def buildsys_register_platforms(registry):
    registry.add(NulArtifact())
"""


def test_an_artifact_no_file_system_can_hold_fails_its_build_naming_the_plugin(
    tmp_path: Path,
) -> None:
    site = tmp_path / "site"
    install_plugin(
        site,
        "buildsys-plugin-nulartifact",
        "1.0",
        {"nulartifact": "nulartifact_plugin"},
        {"nulartifact_plugin": NUL_ARTIFACT_PLUGIN},
    )
    proj = tmp_path / "proj"
    write_builds(proj, {"n": {"platform": "nulartifact"}})
    report = tmp_path / "report.json"
    res = cli("build", "--report-json", report, cwd=proj, env=cli_env(PYTHONPATH=str(site)))
    assert res.rc == 1, res
    result = by_name(read_json(report))["n"]
    assert result["status"] == "failed"
    (error,) = result["errors"]
    assert error["code"] == "ARTIFACT_INVALID"
    assert "a\\x00b.bin" in error["message"] and "NUL" in error["message"]
    assert error["context"]["plugin"] == "nulartifact"
    assert any("'nulartifact'" in s for s in error["suggestions"])
    assert "Traceback" not in res.err


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[run]\ntimeout = 1e308\n", "key 'timeout': a duration must be at most a year"),
        ("[run]\nkill-grace = 1" + "0" * 400 + "\n", "key 'kill-grace': a duration must be at"),
        ('[run]\ntimeout = "99999999h"\n', "key 'timeout': a duration must be at most a year"),
        ("[run]\nretries = " + "9" * 5000 + "\n", "invalid TOML: Exceeds the limit"),
    ],
)
def test_numbers_too_large_to_use_are_config_errors(
    tmp_path: Path, text: str, message: str
) -> None:
    """A 1e308 s timeout overflowed the clock in the middle of a run; a number of
    5000 digits is more than Python reads."""
    path = tmp_path / "builds.toml"
    path.write_text(text + '[builds.app]\nplatform = "command"\ncommand = ["true"]\n')
    with pytest.raises(buildsys.ConfigError) as info:
        buildsys.load_config(path, HOST, host_os="linux")
    assert message in str(info.value)


def test_a_timeout_too_large_on_the_command_line_is_a_usage_error(tmp_path: Path) -> None:
    write_builds(tmp_path, {"app": {"platform": "command", "command": ["true"]}})
    res = cli("build", "--timeout", "1e308", cwd=tmp_path)
    assert res.rc == 2, res
    assert "at most a year" in res.err and "Traceback" not in res.err
