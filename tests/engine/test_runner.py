"""The Python API (SPEC section 4): load_config, run, results, ParallelExecutor."""

from __future__ import annotations

import json
import signal

import attrs
import pytest

import buildsys
from _cli_helpers import FAIL, RECORD, command, write_builds
from conftest import ran


def test_load_config_reads_builds_in_file_order(proj, rec):
    path = write_builds(
        proj,
        {
            "lib": command(RECORD, rec, "lib"),
            "app": command(RECORD, rec, "app", **{"depends-on": ["lib"], "tags": ["mobile"]}),
        },
        run={"max-concurrency": 3, "kill-grace": "2s"},
    )
    config = buildsys.load_config(path)
    assert isinstance(config, buildsys.Config)
    assert config.names == ("lib", "app")
    assert config.get("app").depends_on == ("lib",)
    assert config.get("app").tags == ("mobile",)
    assert config.get("app").platform == "command"
    assert config.run.max_concurrency == 3
    assert config.run.kill_grace == 2.0
    assert config.root == proj.absolute()


def test_load_config_raises_config_error_with_every_problem(proj, rec):
    path = write_builds(
        proj,
        {
            "a": command(RECORD, rec, "a", **{"depends-on": ["nope"]}),
            "b": command(RECORD, rec, "b", tgas=["x"]),
        },
    )
    with pytest.raises(buildsys.ConfigError) as info:
        buildsys.load_config(path)
    text = str(info.value)
    assert len(info.value.problems) == 2
    assert "'nope'" in text and "did you mean 'tags'" in text


def test_run_returns_a_frozen_execution_result(proj, rec, capsys):
    path = write_builds(
        proj,
        {
            "lib": command(RECORD, rec, "lib"),
            "app": command(RECORD, rec, "app", **{"depends-on": ["lib"]}),
            "tool": command(RECORD, rec, "tool"),
        },
    )
    config = buildsys.load_config(path)
    result = buildsys.run(config)

    assert isinstance(result, buildsys.ExecutionResult)
    assert result.ok and result.all_completed
    assert result.success_count == 3
    assert (result.failure_count, result.skipped_count, result.cancelled_count) == (0, 0, 0)
    assert result.cached_count == 0
    assert result.total_duration >= 0
    assert [r.name for r in result.results] == ["lib", "app", "tool"]
    for r in result.results:
        assert isinstance(r, buildsys.BuildResult)
        assert r.status is buildsys.Status.SUCCEEDED
        assert r.started_at is not None and r.finished_at is not None
        assert r.started_at <= r.finished_at
        assert r.attempts == 1 and r.flaky is False and r.errors == ()
    assert result.results[0].finished_at <= result.results[1].started_at  # lib before app
    assert all(ran(rec, n) for n in ("lib", "app", "tool"))

    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        result.total_duration = 0.0  # type: ignore[misc]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        result.results[0].status = buildsys.Status.FAILED  # type: ignore[misc]
    # A library run prints nothing by default.
    assert capsys.readouterr().out == ""


def test_run_builds_named_builds_and_their_dependencies(proj, rec):
    path = write_builds(
        proj,
        {
            "lib": command(RECORD, rec, "lib"),
            "app": command(RECORD, rec, "app", **{"depends-on": ["lib"]}),
            "tool": command(RECORD, rec, "tool"),
        },
    )
    result = buildsys.run(buildsys.load_config(path), names=["app"], max_concurrency=1)
    assert [r.name for r in result.results] == ["lib", "app"]
    assert ran(rec, "lib") and ran(rec, "app") and not ran(rec, "tool")


def test_run_accepts_overrides_and_writes_reports(proj, rec):
    path = write_builds(proj, {"lib": command(RECORD, rec, "lib")})
    report = proj / "out" / "r.json"
    result = buildsys.run(
        buildsys.load_config(path), report_json=str(report), strategy="stop-on-failure"
    )
    assert result.ok
    assert json.loads(report.read_text())["results"][0]["status"] == "succeeded"


def test_run_rejects_an_unknown_override(proj, rec):
    path = write_builds(proj, {"lib": command(RECORD, rec, "lib")})
    config = buildsys.load_config(path)
    with pytest.raises(TypeError, match="max_concurency"):
        buildsys.run(config, max_concurency=2)
    assert not ran(rec, "lib")


def test_status_values():
    assert {s.value for s in buildsys.Status} == {
        "succeeded",
        "failed",
        "timed_out",
        "cancelled",
        "skipped",
        "cached",
    }
    assert buildsys.Status.TIMED_OUT.value == "timed_out"
    assert buildsys.Status("cancelled") is buildsys.Status.CANCELLED


def test_public_names_are_importable():
    from buildsys import (  # noqa: F401
        BuildError,
        BuildFailed,
        BuildResult,
        ExecutionResult,
        ParallelExecutor,
        Status,
        current_context,
        hookimpl,
        load_config,
        run,
    )

    assert ParallelExecutor is buildsys.ParallelExecutor
    assert callable(ParallelExecutor(max_concurrency=1).execute)
    assert callable(ParallelExecutor(max_concurrency=1).cancel)


def test_parallel_executor_runs_callables(tmp_path):
    def fn(name):
        if name == "raises":
            raise ValueError("plain failure")
        if name == "build_failed":
            raise buildsys.BuildFailed("nope", suggestions=["try again"], code="MY_CODE")
        if name == "returns":
            return buildsys.BuildResult(
                name=name, platform="x", status=buildsys.Status.SKIPPED, reason="decided by fn"
            )
        assert buildsys.current_context().name == name
        return 42  # anything else: success

    ex = buildsys.ParallelExecutor(max_concurrency=2)
    result = ex.execute(["ok", "raises", "build_failed", "returns"], fn)
    got = {r.name: r for r in result.results}
    assert got["ok"].status is buildsys.Status.SUCCEEDED
    assert got["raises"].status is buildsys.Status.FAILED
    assert "plain failure" in got["raises"].errors[0].message
    assert got["build_failed"].status is buildsys.Status.FAILED
    assert got["build_failed"].errors[0].code == "MY_CODE"
    assert got["build_failed"].errors[0].suggestions == ("try again",)
    assert got["returns"].reason == "decided by fn"
    assert not result.ok


def test_dependents_of_a_failed_build_are_skipped_naming_it(proj, rec):
    path = write_builds(
        proj,
        {
            "base": command(FAIL, rec, "base", 1),
            "mid": command(RECORD, rec, "mid", **{"depends-on": ["base"]}),
            "top": command(RECORD, rec, "top", **{"depends-on": ["mid"]}),
            "other": command(RECORD, rec, "other"),
        },
    )
    result = buildsys.run(buildsys.load_config(path))
    assert not result.ok
    assert result["base"].status is buildsys.Status.FAILED
    for name in ("mid", "top"):
        r = result[name]
        assert r.status is buildsys.Status.SKIPPED, name
        assert "base" in r.reason, (name, r.reason)
        assert r.started_at is None and r.finished_at is None
        assert not ran(rec, name)
    assert result["other"].status is buildsys.Status.SUCCEEDED
    assert result.failure_count == 1 and result.skipped_count == 2


def test_host_skip_is_carried_to_dependents_with_the_os(proj, rec):
    path = write_builds(
        proj,
        {
            "winlib": command(RECORD, rec, "winlib", **{"requires-os": ["windows"]}),
            "winapp": command(RECORD, rec, "winapp", **{"depends-on": ["winlib"]}),
            "macapp": command(RECORD, rec, "macapp", **{"requires-os": ["macos"]}),
        },
    )
    config = buildsys.load_config(path)
    assert config.get("macapp").requires_os == ("darwin",)  # macos is read as darwin
    result = buildsys.run(config)
    assert result.ok  # skipped for the host: not a failure
    assert result["winlib"].status is buildsys.Status.SKIPPED
    assert "windows" in result["winlib"].reason
    dependent = result["winapp"]
    assert dependent.status is buildsys.Status.SKIPPED
    assert "winlib" in dependent.reason and "windows" in dependent.reason
    assert not ran(rec, "winlib") and not ran(rec, "winapp")


def test_the_library_installs_no_signal_handlers(proj, rec):
    path = write_builds(proj, {"lib": command(RECORD, rec, "lib")})
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    buildsys.run(buildsys.load_config(path))
    assert {sig: signal.getsignal(sig) for sig in before} == before


def test_run_accepts_the_command_line_spellings(proj, rec):
    write_builds(
        proj,
        {
            "bad": command(FAIL, rec, "bad", 1),
            "later": command(RECORD, rec, "later", tags=["t"]),
        },
    )
    config = buildsys.load_config(proj / "builds.toml")
    kept = buildsys.run(config, keep_going=True, max_concurrency=1)
    assert kept["later"].status is buildsys.Status.SUCCEEDED
    stopped = buildsys.run(config, fail_fast=True, max_concurrency=1)
    assert stopped["later"].status is buildsys.Status.CANCELLED
    tagged = buildsys.run(config, tag="t", no_cache=True, timeout="1m")
    assert [r.name for r in tagged.results] == ["later"]
    with pytest.raises(buildsys.UsageError):
        buildsys.run(config, keep_going=True, fail_fast=True)


def test_run_takes_a_single_str_tag_or_arg_as_one_item(proj, rec):
    write_builds(
        proj,
        {
            "one": command(RECORD, rec, "one", tags=["t1"]),
            "other": command(RECORD, rec, "other", tags=["t"]),
        },
    )
    config = buildsys.load_config(proj / "builds.toml")
    result = buildsys.run(config, tags="t1", args="xy", no_cache=True)
    assert [r.name for r in result.results] == ["one"]
    assert json.loads((rec / "one.ran").read_text()) == ["xy"]
    assert not ran(rec, "other")
    assert [r.name for r in buildsys.run(config, names="other").results] == ["other"]


@pytest.mark.parametrize(
    ("overrides", "error", "match"),
    [
        ({"max_concurrency": 0}, ValueError, "max_concurrency must be at least 1"),
        ({"max_concurrency": -2}, ValueError, "max_concurrency"),
        ({"max_concurrency": True}, TypeError, "max_concurrency"),
        ({"max_concurrency": "4"}, TypeError, "max_concurrency"),
        ({"timeout": 0}, ValueError, "timeout must be more than zero"),
        ({"timeout": "0s"}, ValueError, "timeout"),
        ({"timeout": -1}, ValueError, "timeout"),
        ({"timeout": "later"}, ValueError, "timeout"),
    ],
)
def test_run_rejects_overrides_the_command_line_would(proj, rec, overrides, error, match):
    path = write_builds(proj, {"lib": command(RECORD, rec, "lib")})
    with pytest.raises(error, match=match):
        buildsys.run(buildsys.load_config(path), **overrides)
    assert not ran(rec, "lib")


def test_run_options_read_a_duration_string():
    from buildsys.engine.run_options import RunOptions

    assert RunOptions(timeout="10s").timeout == 10.0
    assert RunOptions(timeout=2).timeout == 2.0
    assert RunOptions(max_concurrency=3).max_concurrency == 3


@pytest.mark.parametrize(
    ("make", "says"), [(False, "does not exist"), (True, "is not a directory")]
)
def test_a_build_s_cwd_that_is_not_a_directory_fails_it_saying_which(proj, rec, make, says):
    if make:
        (proj / "tools").write_text("a file where a directory should be")
    write_builds(proj, {"t": command(RECORD, rec, "t", cwd="tools")})
    result = buildsys.run(buildsys.load_config(proj / "builds.toml"))
    (error,) = result["t"].errors
    assert error.code == "CWD_NOT_FOUND"
    assert error.message.endswith(f"{proj / 'tools'} {says}")
    assert not ran(rec, "t")
