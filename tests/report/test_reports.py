"""`--report-json`, `--junit-xml` and secret masking, through the real CLI."""

from __future__ import annotations

import json
import os
import signal
import stat
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path

import pytest

from _cli_helpers import (
    FAIL,
    PY,
    RECORD,
    SLEEPER,
    Spawned,
    assert_all_dead,
    by_name,
    cli,
    cli_env,
    command,
    kill_quietly,
    read_json,
    statuses,
    wait_until,
    write_builds,
)
from conftest import EXECUTION_FIELDS

BUILD_FIELDS = {
    "name",
    "platform",
    "status",
    "reason",
    "duration",
    "started_at",
    "finished_at",
    "attempts",
    "flaky",
    "artifacts",
    "warnings",
    "errors",
    "log_path",
}
ERROR_FIELDS = {"message", "code", "suggestions", "context", "transient"}
STATUSES = {"succeeded", "failed", "timed_out", "cancelled", "skipped", "cached"}


def iso(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    assert value.tzinfo is not None, f"{text} has no time zone"
    return value


def mixed_project(proj: Path, rec: Path) -> None:
    """One build per outcome a parallel run can have: ok, failed, timed out, two skips."""
    write_builds(
        proj,
        {
            "ok": command(RECORD, rec, "ok"),
            "bad": command(FAIL, rec, "bad", 4),
            "after_bad": command(RECORD, rec, "after_bad", **{"depends-on": ["bad"]}),
            "winonly": command(RECORD, rec, "winonly", **{"requires-os": ["windows"]}),
            "hang": command(SLEEPER, rec, "hang", timeout="0.5s"),
        },
        run={"kill-grace": "0.2s", "max-concurrency": 4},
    )


@pytest.fixture
def mixed_run(proj, rec):
    mixed_project(proj, rec)
    report, junit = proj / "out" / "report.json", proj / "out" / "junit.xml"
    try:
        res = cli("build", "--report-json", report, "--junit-xml", junit, cwd=proj)
    finally:
        if (rec / "hang.pid").exists():
            kill_quietly([int((rec / "hang.pid").read_text())])
    return res, report, junit


# -- JSON --------------------------------------------------------------------------------


@pytest.mark.slow
def test_json_report_has_every_field_and_is_written_when_the_run_fails(mixed_run):
    res, report, _ = mixed_run
    assert res.rc == 1, res
    data = read_json(report)
    assert data["version"] == 1
    assert set(data) >= EXECUTION_FIELDS | {"results"}
    assert statuses(data) == {
        "ok": "succeeded",
        "bad": "failed",
        "after_bad": "skipped",
        "winonly": "skipped",
        "hang": "timed_out",
    }
    assert [r["name"] for r in data["results"]] == ["ok", "bad", "after_bad", "winonly", "hang"]
    assert data["success_count"] == 1
    assert data["failure_count"] == 2
    assert data["skipped_count"] == 2
    assert data["cancelled_count"] == 0
    assert data["cached_count"] == 0
    assert data["all_completed"] is True
    assert data["ok"] is False
    assert isinstance(data["total_duration"], float) and data["total_duration"] >= 0

    for result in data["results"]:
        assert set(result) >= BUILD_FIELDS, result["name"]
        assert result["status"] in STATUSES
        assert result["platform"] == "command"
        assert isinstance(result["duration"], int | float) and result["duration"] >= 0
        assert isinstance(result["attempts"], int)
        assert isinstance(result["flaky"], bool)
        for key in ("artifacts", "warnings", "errors"):
            assert isinstance(result[key], list), (result["name"], key)
        for error in result["errors"]:
            assert set(error) >= ERROR_FIELDS
            assert isinstance(error["message"], str) and isinstance(error["code"], str)
            assert isinstance(error["suggestions"], list)
            assert isinstance(error["context"], dict)
            assert isinstance(error["transient"], bool)

    results = by_name(data)
    for started in ("ok", "bad", "hang"):
        r = results[started]
        assert iso(r["started_at"]) <= iso(r["finished_at"]), started
        assert r["attempts"] == 1
        assert r["log_path"] and Path(r["log_path"]).is_file()
        assert r["reason"] is None
    for never in ("after_bad", "winonly"):
        r = results[never]
        assert r["started_at"] is None and r["finished_at"] is None, never
        assert r["attempts"] == 0
        assert r["errors"] == []
        assert r["reason"]
    assert "bad" in results["after_bad"]["reason"]
    assert "windows" in results["winonly"]["reason"]
    assert results["ok"]["errors"] == []
    bad_error = results["bad"]["errors"][0]
    assert bad_error["code"] == "COMMAND_FAILED"
    assert "4" in bad_error["message"]
    assert bad_error["suggestions"]
    assert bad_error["transient"] is False
    assert results["hang"]["errors"][0]["code"] == "BUILD_TIMEOUT"
    # Builds that ran in order: the dependency finished before anything after it.
    assert iso(results["ok"]["started_at"]) <= iso(results["ok"]["finished_at"])


def test_json_report_when_everything_succeeds(proj, rec):
    write_builds(
        proj,
        {
            "a": command(RECORD, rec, "a"),
            "b": command(RECORD, rec, "b", **{"depends-on": ["a"]}),
        },
    )
    report = proj / "r.json"
    res = cli("build", "--report-json", report, cwd=proj)
    assert res.rc == 0, res
    data = read_json(report)
    assert data["version"] == 1 and data["ok"] is True and data["all_completed"] is True
    assert data["success_count"] == 2 and data["failure_count"] == 0
    a, b = by_name(data)["a"], by_name(data)["b"]
    assert iso(a["finished_at"]) <= iso(b["started_at"])


def test_json_and_junit_report_cancelled_builds_under_fail_fast(proj, rec):
    write_builds(
        proj,
        {
            "slow": command(SLEEPER, rec, "slow"),
            "bad": command(
                "d = sys.argv[1]\n"
                "while not os.path.exists(f'{d}/slow.pid'):\n"
                "    time.sleep(0.01)\n"
                "sys.exit(1)\n",
                rec,
                "bad",
            ),
            "later": command(RECORD, rec, "later", **{"depends-on": ["slow"]}),
        },
        run={"max-concurrency": 2},
    )
    report, junit = proj / "r.json", proj / "j.xml"
    try:
        res = cli("build", "--fail-fast", "--report-json", report, "--junit-xml", junit, cwd=proj)
    finally:
        if (rec / "slow.pid").exists():
            kill_quietly([int((rec / "slow.pid").read_text())])
    assert res.rc == 1, res
    data = read_json(report)
    assert statuses(data) == {"slow": "cancelled", "bad": "failed", "later": "cancelled"}
    assert data["cancelled_count"] == 2 and data["all_completed"] is False
    results = by_name(data)
    assert results["later"]["started_at"] is None
    assert results["slow"]["started_at"] is not None and results["slow"]["reason"]

    cases = {c.get("name"): c for c in ET.parse(junit).getroot().iter("testcase")}
    for name in ("slow", "later"):
        skipped = cases[name].find("skipped")
        assert skipped is not None, name
        assert "bad" in skipped.get("message", ""), name
        assert cases[name].find("failure") is None
    assert cases["bad"].find("failure") is not None


# -- JUnit -------------------------------------------------------------------------------


@pytest.mark.slow
def test_junit_xml_one_testcase_per_build(mixed_run):
    res, _, junit = mixed_run
    assert res.rc == 1, res
    root = ET.parse(junit).getroot()
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert sorted(cases) == sorted(["ok", "bad", "after_bad", "winonly", "hang"])
    assert len(list(root.iter("testcase"))) == 5

    ok = cases["ok"]
    assert ok.find("failure") is None and ok.find("skipped") is None and ok.find("error") is None

    for failed in ("bad", "hang"):
        failure = cases[failed].find("failure")
        assert failure is not None, failed
        assert failure.get("message"), failed
        assert cases[failed].find("skipped") is None
    assert "4" in cases["bad"].find("failure").get("message")
    assert "timed out" in cases["hang"].find("failure").get("message")
    # The failure's body carries the suggestions.
    assert "hint" in (cases["bad"].find("failure").text or "")

    for skipped in ("after_bad", "winonly"):
        element = cases[skipped].find("skipped")
        assert element is not None, skipped
        assert cases[skipped].find("failure") is None
    assert "windows" in cases["winonly"].find("skipped").get("message")
    assert "bad" in cases["after_bad"].find("skipped").get("message")

    suites = list(root.iter("testsuite"))
    assert len(suites) == 1
    assert suites[0].get("tests") == "5"
    assert suites[0].get("failures") == "2"


# -- interrupted -------------------------------------------------------------------------


@pytest.mark.slow
def test_reports_are_written_when_the_run_is_interrupted(proj, rec, tmp_path):
    write_builds(
        proj,
        {
            "sleepy": command(SLEEPER, rec, "sleepy"),
            "after": command(RECORD, rec, "after", **{"depends-on": ["sleepy"]}),
        },
        run={"kill-grace": "0.5s"},
    )
    report, junit = proj / "r.json", proj / "j.xml"
    run = Spawned(
        ["build", "--report-json", str(report), "--junit-xml", str(junit)],
        proj,
        cli_env(),
        tmp_path / "cli",
    )
    try:
        wait_until((rec / "sleepy.pid").exists, "the build to start")
        run.signal_group(signal.SIGINT)
        assert run.wait() == 130, run.stderr
        data = read_json(report)
        assert data["ok"] is False and data["all_completed"] is False
        assert statuses(data) == {"sleepy": "cancelled", "after": "cancelled"}
        cases = {c.get("name"): c for c in ET.parse(junit).getroot().iter("testcase")}
        assert cases["sleepy"].find("skipped") is not None
        assert cases["after"].find("skipped") is not None
        assert_all_dead({"sleepy": int((rec / "sleepy.pid").read_text())})
    finally:
        run.kill()
        if (rec / "sleepy.pid").exists():
            kill_quietly([int((rec / "sleepy.pid").read_text())])


# -- secrets -----------------------------------------------------------------------------

TOKEN = "supersecretvalue123"
PLAIN = "plainsecretvalue456"

LEAK = """
d, n = sys.argv[1], sys.argv[2]
token, plain = os.environ["MY_TOKEN"], os.environ["PLAIN_VAR"]
print(f"token is {token}", flush=True)
print(f"plain is {plain}", file=sys.stderr, flush=True)
note(f"{d}/{n}.env", token + " " + plain)  # proves the build saw the real values
sys.exit(int(sys.argv[3]))
"""


def assert_masked(text: str, where: str) -> None:
    assert TOKEN not in text, f"MY_TOKEN's value leaked into {where}"
    assert PLAIN not in text, f"PLAIN_VAR's value leaked into {where}"


def test_secrets_are_masked_in_logs_console_json_and_junit(proj, rec):
    write_builds(
        proj,
        {
            "leaky_ok": command(LEAK, rec, "leaky_ok", 0, **{"secret-env": ["PLAIN_VAR"]}),
            # Fails, so its log tail reaches the console summary and the JUnit failure.
            "leaky_bad": command(LEAK, rec, "leaky_bad", 1, **{"secret-env": ["PLAIN_VAR"]}),
            # The secret in its own argv: the error message quotes the command.
            "argv_bad": {
                "platform": "command",
                "command": [PY, "-c", "import sys; sys.exit(2)", TOKEN],
            },
        },
    )
    report, junit = proj / "r.json", proj / "j.xml"
    env = cli_env(MY_TOKEN=TOKEN, PLAIN_VAR=PLAIN)
    res = cli("build", "-v", "--report-json", report, "--junit-xml", junit, cwd=proj, env=env)
    assert res.rc == 1, res
    # The builds saw the real values.
    assert (rec / "leaky_ok.env").read_text() == f"{TOKEN} {PLAIN}"

    assert_masked(res.out, "stdout")
    assert_masked(res.err, "stderr")
    assert "leaky_ok | token is ***" in res.out
    assert "leaky_ok | plain is ***" in res.out
    assert "***" in res.out  # argv_bad's error quotes its command
    for name in ("leaky_ok", "leaky_bad", "argv_bad"):
        log = (proj / ".buildsys" / "logs" / f"{name}.log").read_text()
        assert_masked(log, f"{name}.log")
    assert "token is ***" in (proj / ".buildsys" / "logs" / "leaky_bad.log").read_text()
    json_text = report.read_text()
    assert_masked(json_text, "the JSON report")
    argv_error = by_name(json.loads(json_text))["argv_bad"]["errors"][0]
    assert "***" in argv_error["message"]
    junit_text = junit.read_text()
    assert_masked(junit_text, "the JUnit report")
    ET.fromstring(junit_text)  # still well-formed
    assert "***" in junit_text


def test_secret_names_mask_values_even_without_secret_env(proj, rec):
    # MY_TOKEN is secret by its name alone; PLAIN_VAR is not, without secret-env.
    write_builds(proj, {"leaky": command(LEAK, rec, "leaky", 0)})
    env = cli_env(MY_TOKEN=TOKEN, PLAIN_VAR=PLAIN)
    res = cli("build", "-v", cwd=proj, env=env)
    assert res.rc == 0, res
    assert TOKEN not in res.out and "token is ***" in res.out
    assert f"plain is {PLAIN}" in res.out


def test_secrets_are_masked_in_config_and_usage_errors(proj, rec):
    """Error messages quote builds.toml and the command line: a secret there is masked too."""
    (proj / "builds.toml").write_text(
        f'[builds.deploy]\nplatform = "command"\ncommand = "deploy --token {TOKEN}"\n'
        f'depends-on = ["{TOKEN}"]\n'
    )
    env = cli_env(MY_TOKEN=TOKEN)
    for args in (["check"], ["build"]):
        res = cli(*args, cwd=proj, env=env)
        assert res.rc == 2, res
        assert TOKEN not in res.err and "***" in res.err, res.err
    write_builds(proj, {"deploy": command(RECORD, rec, "deploy")})
    res = cli("build", TOKEN, cwd=proj, env=env)
    assert res.rc == 2, res
    assert TOKEN not in res.err and "***" in res.err, res.err


def test_short_secret_produces_a_warning(proj, rec):
    write_builds(proj, {"quiet": command(RECORD, rec, "quiet")})
    env = cli_env(SHORT_TOKEN="abc12")
    res = cli("build", "--progress", "plain", cwd=proj, env=env)
    assert res.rc == 0, res
    warning = [line for line in res.text.splitlines() if "SHORT_TOKEN" in line]
    assert warning, res
    assert "8" in warning[0] and "warning" in warning[0].lower()
    assert "abc12" not in res.text  # the warning names the variable, not its value


def test_short_secret_warning_survives_a_secret_in_a_build_env(proj, rec):
    write_builds(
        proj,
        {"quiet": command(RECORD, rec, "quiet", env={"NPM_TOKEN": "a-long-enough-token"})},
    )
    env = cli_env(SHORT_TOKEN="abc12")
    res = cli("build", "--progress", "plain", cwd=proj, env=env)
    assert res.rc == 0, res
    assert "SHORT_TOKEN" in res.text, res


def test_secret_in_a_build_env_table_is_masked_in_run_output(proj, rec):
    value = "tablesecretvalue789"
    code = """
print("npm token", os.environ["NPM_TOKEN"], flush=True)
"""
    write_builds(proj, {"npm": command(code, rec, "npm", env={"NPM_TOKEN": value})})
    report = proj / "r.json"
    res = cli("build", "-v", "--report-json", report, cwd=proj)
    assert res.rc == 0, res
    assert value not in res.out and "npm | npm token ***" in res.out
    assert value not in (proj / ".buildsys" / "logs" / "npm.log").read_text()


def test_list_json_masks_secret_values_of_a_build_env(proj, rec):
    value = "tablesecretvalue789"
    write_builds(proj, {"npm": command(RECORD, rec, "npm", env={"NPM_TOKEN": value})})
    res = cli("list", "--json", cwd=proj)
    assert res.rc == 0, res
    assert value not in res.out


def test_json_report_artifacts_warnings_attempts_and_flaky(proj, rec):
    make_dist = """
os.makedirs("dist/sub", exist_ok=True)
for path in ("dist/sub/app.txt", "dist/.hidden"):
    with open(path, "w") as fh:
        fh.write("built")
"""
    # Fails on its first attempt, succeeds on the second.
    flaky = """
d, n = sys.argv[1], sys.argv[2]
first = not os.path.exists(f"{d}/{n}.tried")
note(f"{d}/{n}.tried", "1")
print("attempt", "one" if first else "two", flush=True)
sys.exit(1 if first else 0)
"""
    write_builds(
        proj,
        {
            "dist": command(make_dist, rec, "dist", outputs=["dist/**"]),
            "flaky": command(flaky, rec, "flaky", retries=1, outputs=["nothing/**"]),
        },
    )
    report = proj / "r.json"
    res = cli("build", "--report-json", report, cwd=proj)
    assert res.rc == 0, res
    results = by_name(read_json(report))
    dist = results["dist"]
    assert sorted(Path(p).relative_to(proj).as_posix() for p in dist["artifacts"]) == [
        "dist/.hidden",
        "dist/sub/app.txt",
    ]
    assert dist["attempts"] == 1 and dist["flaky"] is False
    flaky_result = results["flaky"]
    assert flaky_result["status"] == "succeeded"
    assert flaky_result["attempts"] == 2 and flaky_result["flaky"] is True
    assert any("matched no files" in w for w in flaky_result["warnings"])
    assert "attempt two" in Path(flaky_result["log_path"]).read_text()


def test_unwritable_report_path_fails_the_command(proj, rec, tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the report's directory should be")
    write_builds(proj, {"a": command(RECORD, rec, "a")})
    res = cli("build", "--report-json", blocker / "r.json", cwd=proj)
    assert res.rc != 0, res


def test_a_report_that_cannot_be_written_at_the_end_is_an_error_not_a_crash(proj, tmp_path):
    """The reports' directory is checked before the run; a build puts a file in its place."""
    reports = tmp_path / "reports"
    reports.mkdir()
    remove = "import shutil, sys; shutil.rmtree(sys.argv[1]); open(sys.argv[1], 'w').close()"
    write_builds(proj, {"a": {"platform": "command", "command": [PY, "-c", remove, str(reports)]}})
    res = cli(
        "build",
        "--report-json",
        reports / "r.json",
        "--junit-xml",
        reports / "r.xml",
        cwd=proj,
    )
    assert res.rc == 1, res
    assert f"could not write the JSON report to {reports / 'r.json'}" in res.err
    assert f"could not write the JUnit report to {reports / 'r.xml'}" in res.err
    assert "Traceback" not in res.err


def test_junit_xml_stays_well_formed_with_ansi_colours_in_the_log(proj, rec):
    code = """
print("\\x1b[31merror\\x1b[0m: it broke", flush=True)
sys.exit(1)
"""
    write_builds(proj, {"colourful": command(code, rec, "colourful")})
    junit = proj / "j.xml"
    res = cli("build", "--junit-xml", junit, cwd=proj)
    assert res.rc == 1, res
    root = ET.parse(junit).getroot()
    assert root.find(".//testcase[@name='colourful']/failure") is not None


def test_secret_variable_names_in_any_case(proj, rec):
    secret_names = ["GITHUB_TOKEN", "db_password", "Api_Key", "CLIENT_SECRET_ID", "SMTP_PASSWD"]
    plain_names = ["KEYBOARD_LAYOUT", "MONKEY", "TOKE_N"]
    values = {name: f"value-of-{name.lower()}-0123456789" for name in secret_names + plain_names}
    code = """
for name in sys.argv[3:]:
    print(name, "=", os.environ[name], flush=True)
"""
    write_builds(proj, {"show": command(code, rec, "show", *values)})
    report = proj / "r.json"
    res = cli("build", "-v", "--report-json", report, cwd=proj, env=cli_env(values))
    assert res.rc == 0, res
    log = (proj / ".buildsys" / "logs" / "show.log").read_text()
    for name in secret_names:
        assert values[name] not in res.out and values[name] not in log, name
        assert f"{name} = ***" in log, name
    for name in plain_names:
        assert f"{name} = {values[name]}" in log, name


def test_console_writes_a_lone_surrogate_escaped_rather_than_failing(tmp_path):
    """A plugin's warning with an undecodable byte (a lone surrogate) is still shown."""
    import io

    from buildsys.masking import Masker
    from buildsys.report.console import ConsoleReporter

    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="utf-8", write_through=True)
    console = ConsoleReporter(
        stream=stream, verbose=False, progress=True, root=tmp_path, named=(), masker=Masker()
    )
    console.write("warning: bad byte \udcff here")
    assert raw.getvalue() == b"warning: bad byte \\udcff here\n"


def test_reports_get_the_mode_new_files_get(proj, rec):
    """0666 less the umask (0644 here), as a CI step running as another user reads them."""
    write_builds(proj, {"a": command(RECORD, rec, "a")})
    old = os.umask(0o022)
    try:
        res = cli("build", "--report-json", "r.json", "--junit-xml", "r.xml", cwd=proj)
    finally:
        os.umask(old)
    assert res.rc == 0, res
    for name in ("r.json", "r.xml"):
        assert stat.S_IMODE((proj / name).stat().st_mode) == 0o644, name
