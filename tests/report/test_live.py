"""--progress rich and auto: the live panel changes neither what a run does nor its summary."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap


def project(tmp_path):
    py = json.dumps(sys.executable)
    (tmp_path / "builds.toml").write_text(
        textwrap.dedent(
            f"""
            [builds.a]
            platform = "command"
            command = [{py}, "-c", "print('hello from a')"]

            [builds.b]
            platform = "command"
            depends-on = ["a"]
            command = [{py}, "-c", "raise SystemExit(3)"]
            """
        )
    )


def build(tmp_path, *args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "buildsys", "build", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
    )


def test_rich_progress_without_a_terminal_still_reports(tmp_path):
    project(tmp_path)
    done = build(tmp_path, "--progress", "rich")
    assert done.returncode == 1
    assert "[a] ok" in done.stdout and "[b] FAILED" in done.stdout
    assert "error[COMMAND_FAILED]" in done.stdout
    assert "buildsys: FAILED: 1 succeeded, 1 failed" in done.stdout


def test_rich_progress_on_a_terminal(tmp_path):
    """Under a pseudo-terminal (as `auto` picks rich there) the run and summary are the same."""
    project(tmp_path)
    script = f"{sys.executable} -m buildsys build --progress auto"
    done = subprocess.run(
        ["script", "-qec", script, "/dev/null"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "TERM": "xterm"},
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "[b] FAILED" in done.stdout
    assert "buildsys: FAILED: 1 succeeded, 1 failed" in done.stdout
