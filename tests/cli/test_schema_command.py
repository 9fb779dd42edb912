"""`buildsys schema`, and the schema `buildsys init` writes beside builds.toml."""

from __future__ import annotations

import argparse
import json
import tomllib

import jsonschema

from _cli_helpers import cli, cli_env
from buildsys.config.schema import schema_text
from buildsys.plugin.manager import PluginHost


def test_schema_prints_the_schema_of_the_installed_platforms(tmp_path):
    res = cli("schema", cwd=tmp_path)  # no builds.toml needed
    assert res.rc == 0, res
    assert res.out == schema_text(PluginHost().load())
    schema = json.loads(res.out)
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert "script" in schema["definitions"]["build-web"]["properties"]
    assert res.err == ""


def test_schema_output_writes_the_same_file(tmp_path):
    printed = cli("schema", cwd=tmp_path).out
    res = cli("schema", "--output", "editor/builds.schema.json", cwd=tmp_path)
    assert res.rc == 2 and "no directory" in res.err  # nothing is created but the file
    (tmp_path / "editor").mkdir()
    res = cli("schema", "-o", "editor/builds.schema.json", cwd=tmp_path)
    assert res.rc == 0, res
    assert "wrote editor/builds.schema.json" in res.out
    assert (tmp_path / "editor" / "builds.schema.json").read_text() == printed


def test_schema_leaves_out_disabled_plugins(tmp_path):
    res = cli("schema", cwd=tmp_path, env=cli_env(BUILDSYS_DISABLE_PLUGINS="web"))
    assert res.rc == 0, res
    assert "build-web" not in json.loads(res.out)["definitions"]


def test_help_lists_schema(tmp_path):
    res = cli("--help", cwd=tmp_path)
    assert "schema" in res.out
    assert "--output" in cli("schema", "--help", cwd=tmp_path).out


def test_init_writes_the_schema_and_the_line_pointing_at_it(tmp_path):
    (tmp_path / "Makefile").write_text("all:\n")
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "package.json").write_text("{}")
    res = cli("init", cwd=tmp_path)
    assert res.rc == 0, res
    text = (tmp_path / "builds.toml").read_text()
    # taplo's directive: the first line, a path relative to builds.toml.
    assert text.splitlines()[0] == "#:schema ./.buildsys/builds.schema.json"
    written = tmp_path / ".buildsys" / "builds.schema.json"
    assert written.read_text() == cli("schema", cwd=tmp_path).out
    assert (tmp_path / ".buildsys" / ".gitignore").is_file()  # kept out of git
    assert "builds.schema.json" in res.out
    schema = json.loads(written.read_text())
    assert list(jsonschema.Draft7Validator(schema).iter_errors(tomllib.loads(text))) == []
    assert cli("check", cwd=tmp_path).rc == 0


def test_init_with_a_file_elsewhere_writes_the_schema_beside_it(tmp_path):
    (tmp_path / "app").mkdir()
    res = cli("init", "-f", "app/builds.toml", cwd=tmp_path)
    assert res.rc == 0, res
    assert (tmp_path / "app" / ".buildsys" / "builds.schema.json").is_file()
    assert not (tmp_path / ".buildsys").exists()


def test_a_plugin_that_failed_to_load_is_named(monkeypatch, capsys):
    from buildsys.cli import schema as command
    from buildsys.plugin.manager import PluginInfo

    broken = PluginInfo("acme", "1.0", "buildsys-plugin-acme", False, error="ImportError: nope")
    monkeypatch.setattr(PluginHost, "broken", lambda self: [broken])
    assert command.schema(argparse.Namespace(output=None)) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["$schema"]
    assert "plugin 'acme' failed to load (ImportError: nope)" in err
