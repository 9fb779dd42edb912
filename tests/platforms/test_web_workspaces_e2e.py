"""`[workspaces.*]` end to end: the command line on real npm, pnpm and yarn workspaces.

Each workspace is a git work tree with a three-deep chain (app -> ui -> core)
whose `build` scripts are small node scripts writing dist/. Its lockfile is
made by the package manager, then node_modules is removed, so that buildsys's
own install is the one that brings it back.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from _cli_helpers import cli, cli_env
from _web_helpers import QUIET, needs_npm, pkg, run, write

BUILD_JS = (
    "const fs = require('fs');\n"
    "fs.mkdirSync('dist', { recursive: true });\n"
    "fs.writeFileSync('dist/out.txt', fs.readFileSync('src.txt', 'utf8'));\n"
)


def workspace_files(manager):
    def member(name, **deps):
        manifest = pkg(f"@acme/{name}", dependencies=deps) if deps else pkg(f"@acme/{name}")
        manifest["scripts"] = {"build": "node build.js"}
        return {
            f"packages/{name}/package.json": manifest,
            f"packages/{name}/build.js": BUILD_JS,
            f"packages/{name}/src.txt": f"{name}\n",
        }

    link = "workspace:*" if manager == "pnpm" else "1.0.0"
    files = {
        ".gitignore": "node_modules/\ndist/\n.buildsys/\n*.log\n",
        **member("core"),
        **member("ui", **{"@acme/core": link}),
        **member("app", **{"@acme/ui": link}),
        "builds.toml": '[workspaces.js]\nplatform = "web"\n\n'
        '[workspaces.js.overrides.app]\ntimeout = "5m"\n',
    }
    if manager == "pnpm":
        files["package.json"] = {"name": "root", "private": True}
        files["pnpm-workspace.yaml"] = "packages:\n  - 'packages/*'\n"
    else:
        files["package.json"] = {"name": "root", "private": True, "workspaces": ["packages/*"]}
    return files


@pytest.fixture(params=["npm", "pnpm", "yarn"])
def project(request, tmp_path):
    """(directory, environment) of an installed-then-emptied workspace of that manager."""
    manager = request.param
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("needs node and npm on PATH (apt install nodejs npm)")
    if shutil.which("git") is None:
        pytest.skip("needs git")
    tools = request.getfixturevalue("tools") if manager != "npm" else None
    write(tmp_path, workspace_files(manager))
    program = manager if tools is None else str(tools / manager)
    run([program, "install", "--offline"], tmp_path, tools)  # writes the lockfile
    shutil.rmtree(tmp_path / "node_modules")
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    path = os.environ["PATH"] if tools is None else f"{tools}{os.pathsep}{os.environ['PATH']}"
    return tmp_path, cli_env(QUIET, PATH=path, CI="1")


def build(root, env, *args):
    report = root / "report.json"
    result = cli("build", "--progress", "plain", "--report-json", report, *args, cwd=root, env=env)
    statuses = {r["name"]: r["status"] for r in json.loads(report.read_text())["results"]}
    return result, statuses


def test_a_workspace_builds_installs_once_and_rebuilds_only_what_changed(project):
    root, env = project
    graph = cli("graph", cwd=root, env=env)
    assert graph.rc == 0, graph
    for edge in ('"js.app" -> "js.ui"', '"js.ui" -> "js.core"', '"js.core" -> "js.install"'):
        assert edge in graph.out

    result, statuses = build(root, env)
    assert result.rc == 0, result
    assert statuses == dict.fromkeys(["js.install", "js.core", "js.ui", "js.app"], "succeeded")
    assert (root / "node_modules").is_dir()
    assert (root / "packages/app/dist/out.txt").read_text() == "app\n"
    log = (root / ".buildsys/logs/js.install.log").read_text()
    assert log.count("installing the workspace") == 1
    for member in ("core", "ui", "app"):  # members never install by themselves
        assert "installing" not in (root / f".buildsys/logs/js.{member}.log").read_text()

    result, statuses = build(root, env)
    assert result.rc == 0, result
    assert set(statuses.values()) == {"cached"}, statuses

    (root / "packages/ui/src.txt").write_text("ui, edited\n")
    result, statuses = build(root, env)
    assert result.rc == 0, result
    assert statuses == {
        "js.install": "cached",
        "js.core": "cached",
        "js.ui": "succeeded",
        "js.app": "succeeded",
    }
    assert (root / "packages/ui/dist/out.txt").read_text() == "ui, edited\n"

    (root / "packages/core/debug.log").write_text("ignored by git\n")
    result, statuses = build(root, env)
    assert set(statuses.values()) == {"cached"}, statuses

    shutil.rmtree(root / "node_modules")  # the install is stale: it runs, nothing else does
    result, statuses = build(root, env)
    assert result.rc == 0, result
    assert statuses["js.install"] == "succeeded"
    assert {statuses[m] for m in ("js.core", "js.ui", "js.app")} == {"cached"}
    assert (root / "node_modules").is_dir()

    result, statuses = build(root, env, "js.ui")  # a member by name, with its dependencies
    assert sorted(statuses) == ["js.core", "js.install", "js.ui"]


@pytest.mark.parametrize("project", ["npm", "pnpm"], indirect=True)
def test_a_stale_lockfile_fails_the_install_with_the_managers_message(project):
    # A package and a dependency the lockfile does not know yet: npm refuses the
    # first, pnpm the second (yarn classic records neither in yarn.lock: only a
    # registry dependency makes it stale, which cannot be installed offline).
    root, env = project
    manifest = json.loads((root / "packages/app/package.json").read_text())
    manifest["dependencies"]["@acme/core"] = manifest["dependencies"]["@acme/ui"]
    write(
        root,
        {
            "packages/extra/package.json": pkg("@acme/extra", build=False),
            "packages/app/package.json": manifest,
        },
    )
    result, statuses = build(root, env)
    assert result.rc == 1, result
    assert statuses["js.install"] == "failed"
    assert {statuses[m] for m in ("js.core", "js.ui", "js.app")} == {"skipped"}
    said = (root / ".buildsys/logs/js.install.log").read_text()
    assert "ERR_PNPM_OUTDATED_LOCKFILE" in said or "are in sync" in said
    assert "WEB_LOCKFILE_OUT_OF_SYNC" in result.text or "lockfile" in result.text


@needs_npm
def test_dry_run_says_why_the_install_runs(tmp_path):
    write(tmp_path, workspace_files("npm"))
    run(["npm", "install", "--offline"], tmp_path)
    shutil.rmtree(tmp_path / "node_modules")
    env = cli_env(QUIET, CI="1")
    assert cli("build", cwd=tmp_path, env=env).rc == 0
    shutil.rmtree(tmp_path / "node_modules")
    result = cli("build", "--dry-run", cwd=tmp_path, env=env)
    assert result.rc == 0, result
    assert "js.install (web): will run: node_modules is missing" in result.out
    assert "js.app (web) after js.ui, js.install: from the cache" in result.out
    assert not (tmp_path / "node_modules").exists()
