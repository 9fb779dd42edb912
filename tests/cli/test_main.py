"""The command line end to end: real `python -m buildsys` processes running real builds.

Builds are `command` builds running `sys.executable -c ...` (see _cli_helpers);
they record what happened in files under `rec`, and tests read those files, the
exit code, the console output and the JSON report. No wall-clock assertions.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from _cli_helpers import (
    BROKEN_IMPORT_PLUGIN,
    CLI_TIMEOUT,
    ENV,
    FAIL,
    FAIL_AFTER,
    PY,
    READY_GATE,
    RECORD,
    SLEEPER,
    TIMED,
    assert_all_dead,
    by_name,
    cli,
    cli_env,
    command,
    install_plugin,
    kill_quietly,
    read_json,
    ready_gate,
    statuses,
    write_builds,
)
from conftest import fake_cgroups, max_overlap, ran


def ran_args(rec: Path, name: str) -> list[str]:
    return json.loads((rec / f"{name}.ran").read_text())


def simple_project(proj: Path, rec: Path) -> None:
    write_builds(
        proj,
        {
            "lib": command(RECORD, rec, "lib"),
            "app": command(RECORD, rec, "app", **{"depends-on": ["lib"], "tags": ["mobile"]}),
            "tool": command(RECORD, rec, "tool"),
        },
    )


# -- -f/--file, --help, --version ---------------------------------------------------------


@pytest.mark.parametrize("where", ["before", "after"])
def test_file_option_before_or_after_the_command(tmp_path, proj, rec, where):
    simple_project(proj, rec)
    elsewhere = tmp_path / "elsewhere"  # no builds.toml here
    elsewhere.mkdir()
    config = proj / "builds.toml"
    args = ["-f", config, "build", "tool"] if where == "before" else ["build", "tool", "-f", config]
    res = cli(*args, cwd=elsewhere)
    assert res.rc == 0, res
    assert ran(rec, "tool") and not ran(rec, "lib")

    listed = cli(
        *(["--file", config, "list"] if where == "before" else ["list", "--file", config]),
        cwd=elsewhere,
    )
    assert listed.rc == 0, listed
    assert "app (command)" in listed.out
    # The state directory sits beside builds.toml, not in the working directory.
    assert (proj / ".buildsys" / ".gitignore").is_file()
    assert not (elsewhere / ".buildsys").exists()


@pytest.mark.parametrize(
    "spelling",
    [
        ["--file={config}", "list"],
        ["-f{config}", "list"],
        ["--fi", "{config}", "list"],  # argparse's abbreviation of --file
        ["-f", "{config}", "-f", "{config}", "list"],
    ],
)
def test_every_spelling_of_file_before_the_command_is_parsed(tmp_path, proj, rec, spelling):
    """The CLI reads the command's name ahead of argparse (to declare only its
    options); however -f is spelled, the command and its options still parse."""
    simple_project(proj, rec)
    config = str(proj / "builds.toml")
    res = cli(*(a.format(config=config) for a in spelling), "--json", cwd=tmp_path)
    assert res.rc == 0, res
    assert [b["name"] for b in json.loads(res.out)] == ["lib", "app", "tool"]


def test_top_level_help_lists_every_command(tmp_path):
    res = cli("--help", cwd=tmp_path)
    assert res.rc == 0, res
    for name in ("build", "list", "plugins", "check", "graph", "cache", "init"):
        assert re.search(rf"^\s+{name}\s", res.out, re.M), (name, res.out)


def test_missing_builds_toml_is_a_config_error(tmp_path):
    res = cli("build", cwd=tmp_path)
    assert res.rc == 2, res
    assert "builds.toml" in res.err


def test_help_and_version_work_with_broken_config_and_broken_plugin(tmp_path):
    (tmp_path / "builds.toml").write_text("[builds.app\nplatform = \n")  # not even TOML
    site = tmp_path / "site"
    install_plugin(
        site,
        "buildsys-plugin-broken",
        "1.0",
        {"broken": "broken_plugin"},
        {"broken_plugin": BROKEN_IMPORT_PLUGIN},
    )
    env = cli_env(PYTHONPATH=str(site))
    version = importlib.metadata.version("buildsys")

    # The state really is broken: a command that needs the config fails.
    assert cli("list", cwd=tmp_path, env=env).rc == 2

    for args in (["--help"], ["-h"], ["build", "--help"], ["plugins", "--help"]):
        res = cli(*args, cwd=tmp_path, env=env)
        assert res.rc == 0, (args, res)
        assert "usage" in res.out.lower(), (args, res)
    for args in (["--version"], ["-V"]):
        res = cli(*args, cwd=tmp_path, env=env)
        assert res.rc == 0, (args, res)
        assert res.out.strip() == f"buildsys {version}"

    # The console script behaves the same.
    script = shutil.which("buildsys", path=str(Path(sys.executable).parent))
    assert script is not None
    for args in (["--help"], ["--version"]):
        proc = subprocess.run(
            [script, *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT,
            check=False,
        )
        assert proc.returncode == 0, proc
    assert proc.stdout.strip() == f"buildsys {version}"


LINGERING_THREAD_PLUGIN = """
import os
import threading
import time

import buildsys


def _finish_later(path):
    time.sleep(0.5)
    with open(path, "w") as f:
        f.write("finished")


@buildsys.hookimpl
def buildsys_run_finished(result):
    # Hooks may run on a daemon thread, whose threads are daemons by default.
    path = os.environ["LINGER_FILE"]
    threading.Thread(target=_finish_later, args=(path,), daemon=False).start()
"""


def test_the_process_waits_for_threads_a_plugin_left_running(tmp_path, proj, rec):
    """As Python's own exit does: a non-daemon thread finishes before the process ends."""
    simple_project(proj, rec)
    site = tmp_path / "site"
    install_plugin(
        site,
        "buildsys-plugin-linger",
        "1.0",
        {"linger": "linger_plugin"},
        {"linger_plugin": LINGERING_THREAD_PLUGIN},
    )
    done = tmp_path / "lingered"
    res = cli("build", "tool", cwd=proj, env=cli_env(PYTHONPATH=str(site), LINGER_FILE=str(done)))
    assert res.rc == 0, res
    assert done.read_text() == "finished"


# -- exit codes, SPEC section 3 ---------------------------------------------------------------


def test_exit_0_when_every_build_succeeds(proj, rec):
    simple_project(proj, rec)
    res = cli("build", cwd=proj)
    assert res.rc == 0, res
    assert all(ran(rec, n) for n in ("lib", "app", "tool"))


def test_exit_1_when_a_build_fails_and_the_others_still_run(proj, rec):
    write_builds(
        proj,
        {
            "bad": command(FAIL, rec, "bad", 3),
            "good": command(RECORD, rec, "good"),
            "after_bad": command(RECORD, rec, "after_bad", **{"depends-on": ["bad"]}),
        },
    )
    report = proj / "report.json"
    res = cli("build", "-j", "1", "--report-json", report, cwd=proj)
    assert res.rc == 1, res
    assert ran(rec, "good") and not ran(rec, "after_bad")
    assert statuses(read_json(report)) == {
        "bad": "failed",
        "good": "succeeded",
        "after_bad": "skipped",
    }


@pytest.mark.slow
def test_exit_1_when_a_build_times_out(proj, rec, tmp_path):
    gate, env = ready_gate(tmp_path / "site", rec, rec / "hang.pid")
    write_builds(
        proj,
        {"hang": command(SLEEPER, rec, "hang", timeout="0.5s"), READY_GATE: gate},
        run={"kill-grace": "0.5s", "max-concurrency": 2},
    )
    report = proj / "report.json"
    try:
        res = cli("build", "--report-json", report, cwd=proj, env=cli_env(env))
        pid = int((rec / "hang.pid").read_text())
        assert res.rc == 1, res
        result = by_name(read_json(report))["hang"]
        assert result["status"] == "timed_out"
        assert result["errors"][0]["code"] == "BUILD_TIMEOUT"
        assert_all_dead({"hang": pid})
    finally:
        if (rec / "hang.pid").exists():
            kill_quietly([int((rec / "hang.pid").read_text())])


def test_fail_fast_cancels_running_and_pending_builds_and_skips_dependents(proj, rec):
    # -j 2: "slow" and "bad" start; "later" waits for a slot. "bad" fails only
    # once "slow" is running, so at that moment: slow running, later pending.
    write_builds(
        proj,
        {
            "slow": command(SLEEPER, rec, "slow"),
            "bad": command(FAIL_AFTER, rec, "bad", "slow"),
            "later": command(RECORD, rec, "later"),
            "bad_dep": command(RECORD, rec, "bad_dep", **{"depends-on": ["bad"]}),
            "slow_dep": command(RECORD, rec, "slow_dep", **{"depends-on": ["slow"]}),
        },
    )
    report = proj / "report.json"
    try:
        res = cli("build", "--fail-fast", "-j", "2", "--report-json", report, cwd=proj)
        assert res.rc == 1, res
        data = read_json(report)
        assert statuses(data) == {
            "slow": "cancelled",
            "bad": "failed",
            "later": "cancelled",
            "bad_dep": "skipped",
            "slow_dep": "cancelled",
        }
        results = by_name(data)
        assert "bad" in results["bad_dep"]["reason"]
        for never in ("later", "bad_dep", "slow_dep"):
            assert results[never]["started_at"] is None, never
            assert not ran(rec, never)
        assert results["slow"]["started_at"] is not None
        assert "bad" in results["later"]["reason"]
        assert data["cancelled_count"] == 3 and data["ok"] is False
        assert_all_dead({"slow": int((rec / "slow.pid").read_text())})
    finally:
        if (rec / "slow.pid").exists():
            kill_quietly([int((rec / "slow.pid").read_text())])


def test_config_error_exits_2_and_runs_nothing(proj, rec):
    (proj / "builds.toml").write_text(
        "[builds.good]\n"
        'platform = "command"\n'
        f"command = {json.dumps(command(RECORD, rec, 'good')['command'])}\n"
        "\n"
        "[builds.typo]\n"
        'platform = "command"\n'
        f"command = {json.dumps(command(RECORD, rec, 'typo')['command'])}\n"
        'depend-on = ["good"]\n'
    )
    res = cli("build", cwd=proj)
    assert res.rc == 2, res
    assert not ran(rec, "good") and not ran(rec, "typo")
    # The message names the file, the line, the build, the key, and a close name.
    assert "builds.toml:8" in res.err, res
    assert "'typo'" in res.err and "'depend-on'" in res.err
    assert "did you mean 'depends-on'" in res.err
    assert "nothing was run" in res.err


def test_all_config_errors_are_reported_in_one_run(proj, rec):
    write_builds(
        proj,
        {
            "a": command(RECORD, rec, "a", **{"depends-on": ["nope"]}),
            "b": command(RECORD, rec, "b", retries="three"),
            "c": command(RECORD, rec, "c", **{"requires-os": ["plan9"]}),
        },
    )
    res = cli("build", cwd=proj)
    assert res.rc == 2, res
    assert "'nope'" in res.err and "'retries'" in res.err and "'plan9'" in res.err
    assert "3 problems" in res.err
    assert not any(ran(rec, n) for n in "abc")


def test_keep_going_with_fail_fast_is_a_usage_error(proj, rec):
    simple_project(proj, rec)
    res = cli("build", "-k", "--fail-fast", cwd=proj)
    assert res.rc == 2, res
    assert "--fail-fast" in res.err
    assert not any(ran(rec, n) for n in ("lib", "app", "tool"))


def test_unknown_build_name_exits_2_with_did_you_mean(proj, rec):
    simple_project(proj, rec)
    res = cli("build", "tols", cwd=proj)
    assert res.rc == 2, res
    assert "'tols'" in res.err and "did you mean 'tool'" in res.err
    assert not any(ran(rec, n) for n in ("lib", "app", "tool"))


def host_skip_project(proj: Path, rec: Path) -> None:
    write_builds(
        proj,
        {
            "winonly": command(RECORD, rec, "winonly", **{"requires-os": ["windows"]}),
            "anywhere": command(RECORD, rec, "anywhere"),
        },
    )


def test_named_build_skipped_for_its_host_exits_1(proj, rec):
    host_skip_project(proj, rec)
    report = proj / "report.json"
    res = cli("build", "winonly", "--report-json", report, cwd=proj)
    assert res.rc == 1, res
    result = by_name(read_json(report))["winonly"]
    assert result["status"] == "skipped"
    assert "windows" in result["reason"] and "linux" in result["reason"]
    assert not ran(rec, "winonly")
    assert "named on the command line but skipped: winonly" in res.out
    # The last line agrees with the exit code.
    assert res.out.rstrip().splitlines()[-1].startswith("buildsys: FAILED: 1 skipped"), res.out


def test_build_skipped_for_its_host_but_not_named_exits_0(proj, rec):
    host_skip_project(proj, rec)
    report = proj / "report.json"
    res = cli("build", "--report-json", report, cwd=proj)
    assert res.rc == 0, res
    assert statuses(read_json(report)) == {"winonly": "skipped", "anywhere": "succeeded"}
    assert ran(rec, "anywhere") and not ran(rec, "winonly")
    assert res.out.rstrip().splitlines()[-1].startswith("buildsys: ok: 1 succeeded, 1 skipped")


# -- selection and overrides -------------------------------------------------------------


def test_build_name_runs_it_and_its_dependencies_only(proj, rec):
    simple_project(proj, rec)
    report = proj / "report.json"
    res = cli("build", "app", "--report-json", report, cwd=proj)
    assert res.rc == 0, res
    assert ran(rec, "lib") and ran(rec, "app") and not ran(rec, "tool")
    assert [r["name"] for r in read_json(report)["results"]] == ["lib", "app"]


def test_tag_selects_tagged_builds_and_their_dependencies(proj, rec):
    simple_project(proj, rec)
    res = cli("build", "--tag", "mobile", cwd=proj)
    assert res.rc == 0, res
    assert ran(rec, "lib") and ran(rec, "app") and not ran(rec, "tool")

    unknown = cli("build", "--tag", "mobil", cwd=proj)
    assert unknown.rc == 2, unknown
    assert "did you mean 'mobile'" in unknown.err


def test_args_after_double_dash_go_to_the_named_build_only(proj, rec):
    simple_project(proj, rec)
    res = cli("build", "app", "--", "--flavour", "paid", "-x", cwd=proj)
    assert res.rc == 0, res
    assert ran_args(rec, "app") == ["--flavour", "paid", "-x"]
    assert ran_args(rec, "lib") == []  # a dependency, not named
    assert not ran(rec, "tool")


@pytest.mark.slow
@pytest.mark.parametrize("value", ["0", "0s", "-5", "soon"])
def test_a_timeout_that_cannot_work_is_a_usage_error(proj, rec, value):
    simple_project(proj, rec)
    res = cli("build", f"--timeout={value}", cwd=proj)
    assert res.rc == 2, res
    assert "--timeout" in res.err
    assert not ran(rec, "lib")


def test_timeout_on_the_command_line_overrides_builds_toml(proj, rec, tmp_path):
    # No second build that must finish within the 1 s: that would race its start.
    # (The 1 s applies to the gate build too; its result is not looked at.)
    gate, env = ready_gate(tmp_path / "site", rec, rec / "hang.pid")
    write_builds(
        proj,
        {"hang": command(SLEEPER, rec, "hang", timeout="1h"), READY_GATE: gate},
        run={"kill-grace": "0.5s", "timeout": "2h", "max-concurrency": 2},
    )
    report = proj / "report.json"
    try:
        res = cli("build", "--timeout", "1s", "--report-json", report, cwd=proj, env=cli_env(env))
        assert res.rc == 1, res
        results = by_name(read_json(report))
        assert results["hang"]["status"] == "timed_out"
        (error,) = results["hang"]["errors"]
        assert "timed out after 1s;" in error["message"]
        hints = " ".join(error["suggestions"])
        assert "--timeout" in hints
        assert_all_dead({"hang": int((rec / "hang.pid").read_text())})
    finally:
        if (rec / "hang.pid").exists():
            kill_quietly([int((rec / "hang.pid").read_text())])


def test_j1_runs_builds_one_at_a_time_in_file_order(proj, rec):
    names = ["zeta", "alpha", "mid"]
    write_builds(
        proj,
        {n: command(TIMED, rec, n, 0.15) for n in names},
        run={"max-concurrency": 4},
    )
    res = cli("build", "-j", "1", cwd=proj)
    assert res.rc == 0, res
    intervals = {
        n: (float((rec / f"{n}.start").read_text()), float((rec / f"{n}.end").read_text()))
        for n in names
    }
    assert max_overlap(list(intervals.values())) == 1
    assert sorted(names, key=lambda n: intervals[n][0]) == names


def test_profile_applies_its_env(proj, rec):
    write_builds(
        proj,
        {
            "app": command(
                ENV,
                rec,
                "app",
                "MODE",
                env={"MODE": "debug"},
                profiles={"release": {"env": {"MODE": "release"}}},
            )
        },
    )
    assert cli("build", cwd=proj).rc == 0
    assert (rec / "app.env").read_text() == "debug"

    res = cli("build", "--profile", "release", "-v", cwd=proj)
    assert res.rc == 0, res
    assert (rec / "app.env").read_text() == "release"
    assert "app | MODE=release" in res.out


def test_unknown_profile_exits_2(proj, rec):
    write_builds(
        proj,
        {"app": command(RECORD, rec, "app", profiles={"release": {"env": {"MODE": "release"}}})},
    )
    res = cli("build", "--profile", "relase", cwd=proj)
    assert res.rc == 2, res
    assert "'relase'" in res.err and "did you mean 'release'" in res.err
    assert not ran(rec, "app")


def test_dry_run_prints_each_build_and_runs_nothing(proj, rec):
    simple_project(proj, rec)
    res = cli("build", "--dry-run", cwd=proj)
    assert res.rc == 0, res
    for name in ("lib", "app", "tool"):
        assert re.search(rf"^\s*{name} \(command\)", res.out, re.M), res.out
        assert not ran(rec, name)
    assert re.search(r"^\s*app \(command\) after lib", res.out, re.M), res.out


def test_dry_run_says_dependents_of_a_host_skipped_build_would_be_skipped(proj, rec):
    write_builds(
        proj,
        {
            "app": command(RECORD, rec, "app", **{"depends-on": ["winonly"]}),
            "winonly": command(RECORD, rec, "winonly", **{"requires-os": ["windows"]}),
            "tests": command(RECORD, rec, "tests", **{"depends-on": ["app"]}),
        },
    )
    res = cli("build", "--dry-run", cwd=proj)
    assert res.rc == 0, res
    lines = {line.split()[0]: line for line in res.out.splitlines() if line.startswith("  ")}
    assert "would be skipped: dependency 'winonly'" in lines["app"], res.out
    assert "would be skipped: dependency 'winonly'" in lines["tests"], res.out
    assert "would be skipped" in lines["winonly"], res.out
    real = cli("build", "--report-json", proj / "r.json", cwd=proj)
    assert statuses(read_json(proj / "r.json")) == {
        "app": "skipped",
        "winonly": "skipped",
        "tests": "skipped",
    }, real


# -- list, graph, check, plugins ------------------------------------------------------------------


def test_list_shows_builds_platforms_dependencies_tags(proj, rec):
    simple_project(proj, rec)
    res = cli("list", cwd=proj)
    assert res.rc == 0, res
    assert "lib (command)" in res.out
    assert re.search(r"^app \(command\) <- lib \[mobile\]", res.out, re.M), res.out
    assert "tool (command)" in res.out
    assert not any(ran(rec, n) for n in ("lib", "app", "tool"))


def test_list_json(proj, rec):
    simple_project(proj, rec)
    res = cli("list", "--json", cwd=proj)
    assert res.rc == 0, res
    data = json.loads(res.out)
    assert [b["name"] for b in data] == ["lib", "app", "tool"]
    app = data[1]
    for key in ("name", "platform", "depends_on", "tags", "options"):
        assert key in app, key
    assert app["platform"] == "command"
    assert app["depends_on"] == ["lib"]
    assert app["tags"] == ["mobile"]
    assert app["options"]["command"][0] == PY
    assert data[0]["depends_on"] == [] and data[0]["tags"] == []
    # Every per-build key of SPEC section 2 is there, resolved.
    assert (app["key_env"], app["secret_env"], app["skip_if_unavailable"]) == ([], [], False)


def test_graph_is_dot_with_an_edge_per_dependency(proj, rec):
    write_builds(
        proj,
        {
            "lib": command(RECORD, rec, "lib"),
            "app": command(RECORD, rec, "app", **{"depends-on": ["lib"]}),
            "pkg": command(RECORD, rec, "pkg", **{"depends-on": ["app", "lib"]}),
        },
    )
    res = cli("graph", cwd=proj)
    assert res.rc == 0, res
    assert res.out.lstrip().startswith("digraph")
    assert res.out.rstrip().endswith("}")
    edges = set(re.findall(r'"([^"]+)"\s*->\s*"([^"]+)"', res.out))
    assert edges == {("app", "lib"), ("pkg", "app"), ("pkg", "lib")}
    for name in ("lib", "app", "pkg"):
        assert f'"{name}"' in res.out


def missing_program_project(proj: Path, rec: Path) -> None:
    """A command build whose program is nowhere, one allowed to be skipped for
    that with a dependent, and programs found only as the command would find them."""
    tools = proj / "tools"
    tools.mkdir()
    for name in ("on-its-path", "local-tool"):
        (tools / name).write_text("#!/bin/sh\necho ran\n")
        (tools / name).chmod(0o755)
    nowhere = ["definitely-not-a-tool-xyz"]
    write_builds(
        proj,
        {
            "missing": {"platform": "command", "command": nowhere},
            "optional": {
                "platform": "command",
                "command": nowhere,
                "skip-if-unavailable": True,
            },
            "after": command(RECORD, rec, "after", **{"depends-on": ["optional"]}),
            "own-path": {
                "platform": "command",
                "command": ["on-its-path"],
                "env": {"PATH": f"{tools}:{os.environ['PATH']}"},
            },
            "relative": {"platform": "command", "command": ["./local-tool"], "cwd": "tools"},
        },
    )


def test_check_finds_a_command_build_s_missing_program(proj, rec):
    """For a command build its program is its toolchain (SPEC: check exits 1)."""
    missing_program_project(proj, rec)
    res = cli("check", cwd=proj)
    assert res.rc == 1, res
    lines = {line.split()[0]: line for line in res.out.splitlines() if " (command): " in line}
    assert "toolchain problem" in lines["missing"]
    assert "error[COMMAND_NOT_FOUND]: command not found: 'definitely-not-a-tool-xyz'" in res.out
    assert "would be skipped: toolchain unavailable" in lines["optional"]
    for name in ("after", "own-path", "relative"):
        assert lines[name].endswith(": ready"), res.out


def test_skip_if_unavailable_skips_a_command_build_whose_program_is_missing(proj, rec):
    missing_program_project(proj, rec)
    report = proj / "r.json"
    res = cli("build", "--report-json", report, cwd=proj)
    assert res.rc == 1, res  # `missing` may not be skipped: it fails
    results = by_name(read_json(report))
    assert statuses(read_json(report)) == {
        "missing": "failed",
        "optional": "skipped",
        "after": "skipped",
        "own-path": "succeeded",
        "relative": "succeeded",
    }
    assert results["missing"]["errors"][0]["code"] == "COMMAND_NOT_FOUND"
    assert results["missing"]["attempts"] == 1 and results["missing"]["log_path"]
    assert "toolchain unavailable: command not found" in results["optional"]["reason"]
    assert "dependency 'optional'" in results["after"]["reason"]
    assert not ran(rec, "after")


def test_check_exits_0_when_valid_and_2_when_invalid(proj, rec):
    simple_project(proj, rec)
    ok = cli("check", cwd=proj)
    assert ok.rc == 0, ok
    assert not any(ran(rec, n) for n in ("lib", "app", "tool"))

    write_builds(
        proj,
        {
            "lib": command(RECORD, rec, "lib"),
            "app": command(RECORD, rec, "app", **{"depends-on": ["lbi"]}),
        },
    )
    bad = cli("check", cwd=proj)
    assert bad.rc == 2, bad
    assert "did you mean 'lib'" in bad.err
    assert not ran(rec, "lib")


def test_plugins_lists_the_builtin_command_platform(tmp_path):
    res = cli("plugins", cwd=tmp_path)
    assert res.rc == 0, res
    assert re.search(r"^command \S+ \(built in\)", res.out, re.M), res.out
    assert "platform command" in res.out

    res = cli("plugins", "--json", cwd=tmp_path)
    assert res.rc == 0, res
    data = json.loads(res.out)
    command_plugin = next(p for p in data if p["name"] == "command")
    assert command_plugin["builtin"] is True
    assert command_plugin["error"] is None
    assert [p["name"] for p in command_plugin["platforms"]] == ["command"]
    assert command_plugin["version"] == importlib.metadata.version("buildsys")


# -- console output ----------------------------------------------------------------------


def test_verbose_streams_output_prefixed_with_the_build_name(proj, rec):
    code = """
n = sys.argv[2]
print(f"hello from {n}", flush=True)
print(f"second line of {n}", file=sys.stderr, flush=True)
"""
    write_builds(proj, {"one": command(code, rec, "one"), "two": command(code, rec, "two")})
    res = cli("build", "-v", cwd=proj)
    assert res.rc == 0, res
    for name in ("one", "two"):
        assert re.search(rf"^{name} \| hello from {name}$", res.out, re.M), res.out
        assert re.search(rf"^{name} \| second line of {name}$", res.out, re.M), res.out

    quiet = cli("build", cwd=proj)
    assert "hello from one" not in quiet.out


def test_state_directory_has_its_own_gitignore(proj, rec):
    simple_project(proj, rec)
    assert cli("build", "tool", cwd=proj).rc == 0
    ignore = proj / ".buildsys" / ".gitignore"
    assert ignore.is_file()
    assert "*" in ignore.read_text().split()


def test_plain_progress_shows_start_end_and_a_summary(proj, rec):
    simple_project(proj, rec)
    res = cli("build", "--progress", "plain", cwd=proj)
    assert res.rc == 0, res
    for name in ("lib", "app", "tool"):
        assert re.search(rf"^\[{name}\] started", res.out, re.M), res.out
        assert re.search(rf"^\[{name}\] ok", res.out, re.M), res.out
    # Each build ends after it starts.
    assert res.out.index("[lib] started") < res.out.index("[lib] ok")
    assert res.out.index("[lib] ok") < res.out.index("[app] started")
    assert re.search(r"^buildsys: ok: 3 succeeded", res.out, re.M), res.out


def test_plain_progress_shows_a_failure_with_error_hint_and_log_tail(proj, rec):
    write_builds(proj, {"bad": command(FAIL, rec, "bad", 7)})
    res = cli("build", "--progress", "plain", cwd=proj)
    assert res.rc == 1, res
    out = res.out
    assert re.search(r"^\[bad\] FAILED", out, re.M), out
    assert "exited with code 7" in out
    assert re.search(r"^error\[COMMAND_FAILED\]", out, re.M), out
    assert re.search(r"^\s+hint: ", out, re.M), out
    log = proj / ".buildsys" / "logs" / "bad.log"
    assert str(log) in out
    assert re.search(r"\| bad output line 30$", out, re.M), out  # the last line
    assert not re.search(r"\| bad output line 1$", out, re.M), out  # only the tail
    assert re.search(r"^buildsys: FAILED", out, re.M), out


def test_plain_progress_has_an_end_line_for_a_host_skipped_build(proj, rec):
    host_skip_project(proj, rec)
    res = cli("build", "--progress", "plain", cwd=proj)
    assert res.rc == 0, res
    assert re.search(r"^\[anywhere\] ok", res.out, re.M), res.out
    assert re.search(r"^\[winonly\] skipped", res.out, re.M), res.out


def test_failure_log_keeps_the_whole_output(proj, rec):
    write_builds(proj, {"bad": command(FAIL, rec, "bad", 1)})
    assert cli("build", cwd=proj).rc == 1
    log = (proj / ".buildsys" / "logs" / "bad.log").read_text()
    assert "bad output line 1\n" in log and "bad output line 30\n" in log


def test_keep_going_overrides_stop_on_failure_from_the_file(proj, rec):
    write_builds(
        proj,
        {"bad": command(FAIL, rec, "bad", 1), "good": command(RECORD, rec, "good")},
        run={"strategy": "stop-on-failure", "max-concurrency": 1},
    )
    report = proj / "r.json"
    stopped = cli("build", "--report-json", report, cwd=proj)
    assert stopped.rc == 1, stopped
    assert statuses(read_json(report)) == {"bad": "failed", "good": "cancelled"}
    assert not ran(rec, "good")

    kept = cli("build", "-k", "--report-json", report, cwd=proj)
    assert kept.rc == 1, kept
    assert statuses(read_json(report)) == {"bad": "failed", "good": "succeeded"}
    assert ran(rec, "good")


@pytest.mark.parametrize(
    "args",
    [["--timeout", "soon"], ["-j", "0"], ["--progress", "fancy"], ["--bogus"]],
    ids=["bad-timeout", "j0", "bad-progress", "unknown-option"],
)
def test_bad_command_line_values_exit_2_and_run_nothing(proj, rec, args):
    simple_project(proj, rec)
    res = cli("build", *args, cwd=proj)
    assert res.rc == 2, res
    assert "error" in res.err
    assert not any(ran(rec, n) for n in ("lib", "app", "tool"))


def test_builds_inherit_the_callers_environment_and_run_in_their_cwd(proj, rec):
    (proj / "sub").mkdir()
    code = """
d, n = sys.argv[1], sys.argv[2]
note(f"{d}/{n}.json", json.dumps({
    "caller": os.environ.get("CALLER_VAR"),
    "own": os.environ.get("OWN_VAR"),
    "cwd": os.getcwd(),
    "stdin": sys.stdin.read(),
}))
"""
    write_builds(proj, {"app": command(code, rec, "app", cwd="sub", env={"OWN_VAR": "own"})})
    # The CLI's own stdin has data: builds must not see it (stdin is /dev/null).
    proc = subprocess.run(
        [sys.executable, "-m", "buildsys", "build"],
        cwd=proj,
        env=cli_env(CALLER_VAR="from-caller"),
        input="typed at the terminal\n",
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        check=False,
    )
    assert proc.returncode == 0, proc
    seen = json.loads((rec / "app.json").read_text())
    assert seen == {
        "caller": "from-caller",
        "own": "own",
        "cwd": str((proj / "sub").resolve()),
        "stdin": "",
    }


# `buildsys ARGS` with the cgroup files it reads moved to a fake tree: argv is
# SELF_CGROUP CGROUP_ROOT ARGS.
CLI_IN_FAKE_CGROUPS = """
import sys
import buildsys.host.facts as host
host.SELF_CGROUP, host.CGROUP_ROOT = sys.argv[1], sys.argv[2]
del sys.argv[1:3]
from buildsys.__main__ import console
console()
"""


@pytest.mark.skipif(
    not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
    reason="needs CPU affinity control and two CPUs",
)
def test_default_concurrency_is_the_affinity_capped_by_the_cgroup_quota(proj, rec, tmp_path):
    simple_project(proj, rec)
    one, two = sorted(os.sched_getaffinity(0))[:2]
    trees = iter(range(100))

    def dry_run(cpus: set[int], parent_quota: str) -> int:
        """--dry-run's concurrency, run on `cpus` in a cgroup whose parent's cpu.max
        is `parent_quota` (the process's own cgroup has no limit)."""
        where = tmp_path / f"cgroups{next(trees)}"
        where.mkdir()
        files = {
            "build.slice/job.scope/cpu.max": "max 100000\n",
            "build.slice/cpu.max": parent_quota,
        }
        self_cgroup, root = fake_cgroups(where, "0::/build.slice/job.scope\n", files)
        proc = subprocess.run(
            [PY, "-c", CLI_IN_FAKE_CGROUPS, self_cgroup, root, "build", "--dry-run"],
            cwd=proj,
            env=cli_env(),
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT,
            check=False,
            preexec_fn=lambda: os.sched_setaffinity(0, cpus),
        )
        assert proc.returncode == 0, proc
        match = re.search(r"up to (\d+) at a time", proc.stdout)
        assert match, proc.stdout
        return int(match.group(1))

    assert dry_run({one, two}, "max 100000\n") == 2  # no quota: the affinity mask
    assert dry_run({one}, "max 100000\n") == 1
    assert dry_run({one, two}, "100000 100000\n") == 1  # one CPU's time, set by the parent
    assert dry_run({one, two}, "50000 100000\n") == 1  # half a CPU still runs one build
    assert dry_run({one}, "400000 100000\n") == 1  # a quota does not raise the mask
    write_builds(proj, {"a": command(RECORD, rec, "a")}, run={"max-concurrency": 7})
    assert dry_run({one}, "100000 100000\n") == 7  # the file wins


def test_cwd_outside_the_project_is_a_config_error(proj, rec):
    write_builds(proj, {"app": command(RECORD, rec, "app", cwd="../elsewhere")})
    res = cli("build", cwd=proj)
    assert res.rc == 2, res
    assert "'cwd'" in res.err and "outside" in res.err
    assert not ran(rec, "app")


def test_progress_none_still_says_what_failed(proj, rec):
    """No progress lines, no table; but a failure is named on stderr, with its log."""
    write_builds(proj, {"ok": command(RECORD, rec, "ok"), "bad": command(FAIL, rec, "bad")})
    res = cli("build", "--progress", "none", cwd=proj)
    assert res.rc == 1, res
    assert res.out == ""
    (line,) = [line for line in res.err.splitlines() if line.startswith("buildsys: error:")]
    assert line.startswith("buildsys: error: bad failed: ")
    assert str(proj / ".buildsys" / "logs" / "bad.log") in line


@pytest.mark.parametrize("args", [["list"], ["build", "--progress", "plain"]])
def test_a_reader_that_left_is_not_a_traceback(proj, rec, args):
    """`buildsys list | head -1`: stdout's reader is gone before buildsys writes."""
    simple_project(proj, rec)
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "buildsys", *args],
            cwd=proj,
            env=cli_env(),
            stdin=subprocess.DEVNULL,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=CLI_TIMEOUT,
            check=False,
        )
    finally:
        os.close(write_end)
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr, proc.stderr
    if args[0] == "build":  # the builds ran all the same
        assert proc.returncode == 0, proc.stderr
        assert all(ran(rec, name) for name in ("lib", "app", "tool"))
    else:
        assert proc.returncode == 1


# -- init and the cache ------------------------------------


def test_init_writes_a_starter_builds_toml(tmp_path):
    res = cli("init", cwd=tmp_path)
    assert res.rc == 0, res
    assert (tmp_path / "builds.toml").is_file()
    assert cli("check", cwd=tmp_path).rc in (0, 1)


def test_cache_info_and_clean_commands(proj, rec):
    simple_project(proj, rec)
    info = cli("cache", "info", cwd=proj)
    assert info.rc == 0, info
    # On a fresh project too, .buildsys/ comes with its own .gitignore.
    assert (proj / ".buildsys" / ".gitignore").is_file()
    clean = cli("cache", "clean", cwd=proj)
    assert clean.rc == 0, clean


def test_unchanged_build_is_served_from_the_cache(proj, rec):
    (proj / "src").mkdir()
    (proj / "src" / "main.txt").write_text("source")
    code = """
d, n = sys.argv[1], sys.argv[2]
with open(f"{d}/{n}.count", "a") as fh:
    fh.write("x")
os.makedirs("out", exist_ok=True)
with open("out/result.txt", "w") as fh:
    fh.write(open("src/main.txt").read().upper())
"""
    write_builds(proj, {"gen": command(code, rec, "gen", inputs=["src/**"], outputs=["out/**"])})
    report = proj / "r.json"
    assert cli("build", cwd=proj).rc == 0
    (proj / "out" / "result.txt").unlink()
    res = cli("build", "--report-json", report, cwd=proj)
    assert res.rc == 0, res
    assert (rec / "gen.count").read_text() == "x"  # ran once
    data = read_json(report)
    assert statuses(data) == {"gen": "cached"} and data["cached_count"] == 1
    assert (proj / "out" / "result.txt").read_text() == "SOURCE"  # restored
