"""`buildsys init`: detection, the file it writes, and never overwriting."""

from __future__ import annotations

import subprocess
import sys
import tomllib

from buildsys.cli.scaffold import detect, render


def run_cli(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "buildsys", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


def test_detects_node_gradle_xcode_and_make(tmp_path):
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "package.json").write_text("{}")
    (tmp_path / "android").mkdir()
    (tmp_path / "android" / "settings.gradle").write_text("")
    (tmp_path / "ios").mkdir()
    (tmp_path / "ios" / "App.xcworkspace").mkdir()
    (tmp_path / "ios" / "App.xcodeproj").mkdir()
    (tmp_path / "Makefile").write_text("all:\n")
    (tmp_path / "node_modules").mkdir()
    (tmp_path / "node_modules" / "package.json").write_text("{}")

    found = {b.name: b for b in detect(tmp_path)}

    assert set(found) == {"make", "web", "android", "ios"}
    assert found["web"].platform == "web" and found["web"].cwd == "web"
    assert found["android"].platform == "android"
    # A workspace wins over the project it contains; the scheme is a guess to edit.
    assert found["ios"].options == {"workspace": "App.xcworkspace", "scheme": "App"}
    assert found["make"].options == {"command": ["make"]} and found["make"].cwd == "."


def test_rendered_file_is_valid_toml_with_comments(tmp_path):
    (tmp_path / "Makefile").write_text("all:\n")
    text = render(detect(tmp_path))
    data = tomllib.loads(text)
    assert data["builds"]["make"] == {"platform": "command", "command": ["make"]}
    assert data["run"]["timeout"] == "20m"
    assert "# a Makefile" in text and "depends-on" in text


def test_init_then_check_is_valid(tmp_path):
    (tmp_path / "Makefile").write_text("all:\n\t@echo made\n")
    res = run_cli("init", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "make (command)" in res.stdout
    assert run_cli("check", cwd=tmp_path).returncode == 0
    build = run_cli("build", "--progress", "plain", "-v", cwd=tmp_path)
    assert build.returncode == 0, build.stdout + build.stderr
    assert "make | made" in build.stdout


def test_empty_directory_gets_an_example_that_runs(tmp_path):
    assert run_cli("init", cwd=tmp_path).returncode == 0
    assert "hello" in tomllib.loads((tmp_path / "builds.toml").read_text())["builds"]
    assert run_cli("build", cwd=tmp_path).returncode == 0


def test_never_overwrites_without_force(tmp_path):
    target = tmp_path / "builds.toml"
    target.write_text("# mine\n")
    res = run_cli("init", cwd=tmp_path)
    assert res.returncode == 2
    assert "already exists" in res.stderr
    assert target.read_text() == "# mine\n"
    assert run_cli("init", "--force", cwd=tmp_path).returncode == 0
    assert target.read_text() != "# mine\n"


def test_file_option_names_where_to_write(tmp_path):
    (tmp_path / "sub").mkdir()
    res = run_cli("init", "-f", "sub/builds.toml", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "sub" / "builds.toml").is_file()


def test_a_missing_directory_is_a_usage_error_not_a_traceback(tmp_path):
    res = run_cli("-f", "sub/builds.toml", "init", cwd=tmp_path)
    assert res.returncode == 2, res
    assert "there is no directory sub" in res.stderr
    assert "Traceback" not in res.stderr
    assert not (tmp_path / "sub").exists()


def test_a_workspace_gets_a_workspaces_table_instead_of_a_build_per_package(tmp_path):
    (tmp_path / "package.json").write_text('{"name": "root", "workspaces": ["packages/*"]}')
    (tmp_path / "packages/a").mkdir(parents=True)
    (tmp_path / "packages/a/package.json").write_text(
        '{"name": "a", "scripts": {"build": "node -e 1"}}'
    )
    (tmp_path / "web").mkdir()
    (tmp_path / "web/package.json").write_text('{"name": "web"}')  # a member: no build of its own
    found = detect(tmp_path)
    assert [(d.name, d.kind) for d in found] == [("js", "workspace")]
    text = render(found)
    assert "# [workspaces.js.overrides.<member>]" in text
    data = tomllib.loads(text)
    assert data["workspaces"] == {"js": {"platform": "web", "script": "build"}}
    assert "builds" not in data
    (tmp_path / "builds.toml").write_text(text)
    from buildsys import load_config

    assert load_config(tmp_path / "builds.toml").names == ("js.install", "js.a")
