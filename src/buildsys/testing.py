"""A pytest plugin for plugin authors: make a project, run buildsys on it, read the result.

Installed with buildsys (entry point `pytest11`), so a plugin's tests can use
the `buildsys_project` fixture directly::

    def test_builds(buildsys_project):
        buildsys_project.write('''
            [builds.app]
            platform = "acme"
            target = "release"
        ''')
        outcome = buildsys_project.build()
        assert outcome.exit_code == 0
        assert outcome.status("app") == "succeeded"

`build()` runs the `buildsys` command line in a subprocess, exactly as a user
would, with the installed plugins found through their entry points.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import pytest

__all__ = ["BuildOutcome", "Project", "buildsys_project"]


@attrs.frozen
class BuildOutcome:
    """What one `buildsys` command produced."""

    exit_code: int
    stdout: str
    stderr: str
    report: Mapping[str, Any] | None  # the --report-json document, when written

    def result(self, name: str) -> Mapping[str, Any]:
        """The report's object for build `name`."""
        if self.report is None:
            raise AssertionError(f"no JSON report; stderr was:\n{self.stderr}")
        for item in self.report["results"]:
            if item["name"] == name:
                return dict(item)
        raise KeyError(name)

    def status(self, name: str) -> str:
        return str(self.result(name)["status"])


class Project:
    """A throwaway project directory holding a builds.toml."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, builds_toml: str, files: Mapping[str, str | bytes] | None = None) -> Path:
        """Write builds.toml (dedented) and any other files, relative to the project."""
        target = self.path / "builds.toml"
        target.write_text(textwrap.dedent(builds_toml).lstrip())
        for name, content in (files or {}).items():
            path = self.path / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(textwrap.dedent(content))
        return target

    def run(
        self, *args: str, env: Mapping[str, str] | None = None, timeout: float = 600
    ) -> BuildOutcome:
        """Run `buildsys ARGS` in the project (any command), in a subprocess."""
        full_env = {**os.environ, **(env or {})}
        proc = subprocess.run(
            [sys.executable, "-m", "buildsys", *args],
            cwd=self.path,
            env=full_env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return BuildOutcome(proc.returncode, proc.stdout, proc.stderr, None)

    def build(
        self,
        *names: str,
        options: Sequence[str] = (),
        args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        timeout: float = 600,
    ) -> BuildOutcome:
        """`buildsys build NAMES OPTIONS -- ARGS` with a JSON report, read back for you."""
        report = self.path / ".buildsys-test-report.json"
        report.unlink(missing_ok=True)
        command = ["build", *names, "--progress", "plain", "--report-json", str(report), *options]
        if args:
            command += ["--", *args]
        outcome = self.run(*command, env=env, timeout=timeout)
        data = json.loads(report.read_text()) if report.exists() else None
        return attrs.evolve(outcome, report=data)

    def log(self, name: str) -> str:
        """The build's log, decoded."""
        path = self.path / ".buildsys" / "logs" / f"{name}.log"
        return path.read_bytes().decode("utf-8", "replace")


@pytest.fixture
def buildsys_project(tmp_path: Path) -> Iterator[Project]:
    """A fresh project directory; write its builds.toml, then `build()`."""
    project = tmp_path / "project"
    project.mkdir()
    yield Project(project)
