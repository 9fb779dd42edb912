"""buildsys.host.probe: quick tool queries for check() and fingerprint()."""

from __future__ import annotations

import sys

import buildsys


def test_output_holds_stdout_then_stderr():
    said = buildsys.probe(
        [sys.executable, "-c", "import sys; print('out'); print('err', file=sys.stderr)"]
    )
    assert said.ok and said.returncode == 0
    assert said.output == "out\nerr"
    assert said.first_line == "out"


def test_exit_code_is_kept():
    said = buildsys.probe([sys.executable, "-c", "raise SystemExit(3)"])
    assert said.returncode == 3 and not said.ok


def test_missing_program_is_a_result_not_an_exception():
    said = buildsys.probe(["no-such-tool-for-buildsys"])
    assert said.returncode == -1
    assert "no-such-tool-for-buildsys could not run" in said.output


def test_a_tool_that_hangs_is_cut_off():
    said = buildsys.probe([sys.executable, "-c", "import time; time.sleep(30)"], timeout=0.2)
    assert said.returncode == -1
    assert "did not answer within 0.2s" in said.output


def test_env_replaces_the_environment():
    code = "import os; print(os.environ.get('PROBE_VAR', '-'))"
    said = buildsys.probe([sys.executable, "-c", code], env={"PROBE_VAR": "yes"})
    assert said.output == "yes"
