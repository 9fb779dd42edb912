"""Third-party plugins, installed as `pip install` would leave them, driven through the CLI.

Each test builds a `site/` directory holding `<dist>-<version>.dist-info/`
(METADATA and entry_points.txt, group `buildsys`) and the plugin's module
beside it, then runs the CLI with `PYTHONPATH=site`: importlib.metadata finds
the entry points there exactly as in site-packages.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

import buildsys
from _cli_helpers import (
    ACME_PLUGIN,
    BROKEN_IMPORT_PLUGIN,
    CRASHY_PLUGIN,
    DUPLICATE_PLUGIN,
    OBSERVER_PLUGIN,
    RAISING_OBSERVER_PLUGIN,
    READY_GATE,
    RECORD,
    REGISTER_RAISES_PLUGIN,
    by_name,
    cli,
    cli_env,
    command,
    install_plugin,
    read_json,
    ready_gate,
    statuses,
    write_builds,
)


@pytest.fixture
def site(tmp_path: Path) -> Path:
    return tmp_path / "site"


def install_acme(site: Path) -> None:
    install_plugin(
        site, "buildsys-plugin-acme", "2.3.4", {"acme": "acme_plugin"}, {"acme_plugin": ACME_PLUGIN}
    )


def install_broken(site: Path) -> None:
    install_plugin(
        site,
        "buildsys-plugin-broken",
        "0.9",
        {"broken": "broken_plugin"},
        {"broken_plugin": BROKEN_IMPORT_PLUGIN},
    )


def env_for(site: Path, **more: str) -> dict[str, str]:
    return cli_env(PYTHONPATH=str(site), **more)


def acme_build(**keys: object) -> dict[str, object]:
    return {"platform": "acme", **keys}


def fails_alone(
    proj: Path, rec: Path, env: dict[str, str], name: str, platform: str, **options: object
) -> tuple[Any, dict[str, Any]]:
    """Build `name` on `platform` (with `options`) beside an acme build and a command
    build; assert that only it fails (exit 1). The CLI's result and the build's
    first error in the report."""
    write_builds(
        proj,
        {
            name: {"platform": platform, **options},
            "game": acme_build(),
            "tool": command(RECORD, rec, "tool"),
        },
    )
    report = proj / "r.json"
    res = cli("build", "--report-json", report, cwd=proj, env=env)
    assert res.rc == 1, res
    data = read_json(report)
    assert statuses(data) == {name: "failed", "game": "succeeded", "tool": "succeeded"}
    return res, by_name(data)[name]["errors"][0]


def plugins_json(tmp_path: Path, env: dict[str, str]) -> dict[str, dict[str, object]]:
    res = cli("plugins", "--json", cwd=tmp_path, env=env)
    assert res.rc == 0, res
    return {p["name"]: p for p in json.loads(res.out)}


# -- a working plugin --------------------------------------------------------------------


def test_working_plugin_builds_and_is_listed_with_its_version(tmp_path, proj, rec, site):
    install_acme(site)
    env = env_for(site)
    write_builds(
        proj,
        {
            "game": acme_build(**{"build-target": "shipping", "output": "game.txt"}),
            "default": acme_build(output="default.txt"),
            "tool": command(RECORD, rec, "tool"),
        },
    )
    report = proj / "r.json"
    res = cli("build", "-v", "--report-json", report, cwd=proj, env=env)
    assert res.rc == 0, res
    # The kebab-case key reached the builder as options.build_target.
    assert (proj / "game.txt").read_text() == "shipping"
    assert (proj / "default.txt").read_text() == "release"  # the field's default
    assert "game | acme built shipping" in res.out
    assert statuses(read_json(report)) == {
        "game": "succeeded",
        "default": "succeeded",
        "tool": "succeeded",
    }
    assert by_name(read_json(report))["game"]["platform"] == "acme"

    listed = cli("plugins", cwd=tmp_path, env=env)
    assert listed.rc == 0, listed
    assert re.search(r"^acme 2\.3\.4 \(buildsys-plugin-acme\)", listed.out, re.M), listed.out
    assert "platform acme" in listed.out
    assert re.search(r"^command ", listed.out, re.M)

    data = plugins_json(tmp_path, env)
    assert data["acme"]["version"] == "2.3.4"
    assert data["acme"]["distribution"] == "buildsys-plugin-acme"
    assert data["acme"]["error"] is None and data["acme"]["builtin"] is False
    assert [p["name"] for p in data["acme"]["platforms"]] == ["acme"]

    options = {b["name"]: b for b in json.loads(cli("list", "--json", cwd=proj, env=env).out)}
    assert options["game"]["options"]["build-target"] == "shipping"


def test_unknown_option_of_a_plugin_platform_is_a_config_error(proj, site):
    install_acme(site)
    write_builds(proj, {"game": acme_build(**{"build-targt": "shipping"})})
    res = cli("build", cwd=proj, env=env_for(site))
    assert res.rc == 2, res
    assert "'build-targt'" in res.err
    assert "did you mean 'build-target'" in res.err
    assert not (proj / "acme-out.txt").exists()


def test_wrong_type_for_a_plugin_option_is_a_config_error(proj, site):
    install_acme(site)
    write_builds(proj, {"game": acme_build(**{"build-target": 3})})
    res = cli("build", cwd=proj, env=env_for(site))
    assert res.rc == 2, res
    assert "'build-target'" in res.err and "builds.toml" in res.err


def test_missing_toolchain_fails_check_with_exit_1(tmp_path, proj, site):
    install_acme(site)
    write_builds(proj, {"game": acme_build()})
    ok = cli("check", cwd=proj, env=env_for(site))
    assert ok.rc == 0, ok
    missing = cli("check", cwd=proj, env=env_for(site, ACME_MISSING="1"))
    assert missing.rc == 1, missing
    assert "the acme compiler is not installed" in missing.out
    listed = cli("plugins", cwd=tmp_path, env=env_for(site, ACME_MISSING="1"))
    assert "toolchain missing" in listed.out


def test_missing_toolchain_fails_the_build_or_skips_it_when_allowed(proj, rec, site):
    install_acme(site)
    write_builds(
        proj,
        {
            "strict": acme_build(output="strict.txt"),
            "lenient": acme_build(output="lenient.txt", **{"skip-if-unavailable": True}),
            "tool": command(RECORD, rec, "tool"),
        },
    )
    env = env_for(site, ACME_MISSING="1")
    report = proj / "r.json"
    res = cli("build", "--report-json", report, cwd=proj, env=env)
    assert res.rc == 1, res
    results = by_name(read_json(report))
    assert results["strict"]["status"] == "failed"
    error = results["strict"]["errors"][0]
    assert error["code"] == "ACME_NOT_FOUND" and error["suggestions"] == ["install acme"]
    assert results["lenient"]["status"] == "skipped"
    assert "the acme compiler is not installed" in results["lenient"]["reason"]
    assert results["tool"]["status"] == "succeeded"
    assert not (proj / "strict.txt").exists() and not (proj / "lenient.txt").exists()

    # Named on the command line and skipped: exit 1.
    named = cli("build", "lenient", "tool", cwd=proj, env=env)
    assert named.rc == 1, named
    # Skipped for a missing toolchain but not named: not a failure.
    write_builds(
        proj,
        {
            "lenient": acme_build(output="lenient.txt", **{"skip-if-unavailable": True}),
            "tool": command(RECORD, rec, "tool"),
        },
    )
    assert cli("build", cwd=proj, env=env).rc == 0


# -- broken plugins ----------------------------------------------------------------------


def test_plugin_failing_to_import_is_reported_beside_a_working_one(tmp_path, proj, rec, site):
    install_acme(site)
    install_broken(site)
    env = env_for(site)

    listed = cli("plugins", cwd=tmp_path, env=env)
    assert listed.rc == 0, listed
    assert "broken" in listed.out
    assert "cannot import its toolchain bindings" in listed.out
    assert "platform acme" in listed.out
    data = plugins_json(tmp_path, env)
    assert "RuntimeError" in data["broken"]["error"]
    assert data["broken"]["version"] == "0.9"
    assert data["acme"]["error"] is None

    # Nothing uses the broken platform: the run is fine.
    write_builds(proj, {"game": acme_build(), "tool": command(RECORD, rec, "tool")})
    res = cli("build", cwd=proj, env=env)
    assert res.rc == 0, res
    assert (proj / "acme-out.txt").read_text() == "release"


def test_build_of_a_platform_whose_plugin_failed_to_import_fails_alone(proj, rec, site):
    install_acme(site)
    install_broken(site)
    # Its options cannot be checked; ones that only resemble a core key (target
    # and tags, tasks and tags) must not make the whole file invalid.
    res, error = fails_alone(
        proj, rec, env_for(site), "needs_broken", "broken", target="release", tasks=["x"]
    )
    assert "'broken'" in error["message"]  # names the plugin
    assert "cannot import" in error["message"]
    assert (rec / "tool.ran").exists()
    assert "needs_broken" in res.out


SECRET_AT_IMPORT_PLUGIN = """
import os

raise ValueError("the server rejected token " + os.environ["ACME_TOKEN"])
"""


def test_plugin_load_error_is_masked_in_a_runs_output(proj, site):
    install_plugin(
        site,
        "buildsys-plugin-leaky",
        "1.0",
        {"leaky": "leaky_plugin"},
        {"leaky_plugin": SECRET_AT_IMPORT_PLUGIN},
    )
    write_builds(proj, {"app": {"platform": "leaky"}})
    report = proj / "r.json"
    secret = "verysecretvalue42"
    res = cli("build", "--report-json", report, cwd=proj, env=env_for(site, ACME_TOKEN=secret))
    assert res.rc == 1, res
    assert secret not in res.text and "rejected token ***" in res.out
    assert secret not in report.read_text()


def test_plugins_command_masks_secrets_in_load_errors(tmp_path, site):
    install_plugin(
        site,
        "buildsys-plugin-leaky",
        "1.0",
        {"leaky": "leaky_plugin"},
        {"leaky_plugin": SECRET_AT_IMPORT_PLUGIN},
    )
    secret = "verysecretvalue42"
    res = cli("plugins", cwd=tmp_path, env=env_for(site, ACME_TOKEN=secret))
    assert res.rc == 0, res
    assert "rejected token" in res.out
    assert secret not in res.out


def test_plugin_whose_register_hook_raises(tmp_path, proj, rec, site):
    install_acme(site)
    install_plugin(
        site,
        "buildsys-plugin-regfail",
        "1.0",
        {"regfail": "regfail_plugin"},
        {"regfail_plugin": REGISTER_RAISES_PLUGIN},
    )
    env = env_for(site)
    data = plugins_json(tmp_path, env)
    assert "registration went wrong" in data["regfail"]["error"]
    assert "buildsys_register_platforms" in data["regfail"]["error"]
    assert data["acme"]["error"] is None
    listed = cli("plugins", cwd=tmp_path, env=env)
    assert "registration went wrong" in listed.out

    _, error = fails_alone(proj, rec, env, "uses_regfail", "regfail")
    assert "regfail" in error["message"]


def test_two_plugins_registering_the_same_platform_are_both_named(tmp_path, proj, site):
    install_acme(site)
    install_plugin(
        site,
        "buildsys-plugin-acme-clone",
        "0.1",
        {"acmeclone": "acme_clone_plugin"},
        {"acme_clone_plugin": DUPLICATE_PLUGIN},
    )
    env = env_for(site)
    listed = cli("plugins", cwd=tmp_path, env=env)
    assert listed.rc == 0, listed
    data = plugins_json(tmp_path, env)
    errors = [data[name]["error"] for name in ("acme", "acmeclone") if data[name]["error"]]
    assert len(errors) == 1, errors
    assert "'acme'" in errors[0] and "'acmeclone'" in errors[0]
    assert "both" in errors[0]

    # One of them still provides the platform.
    write_builds(proj, {"game": acme_build()})
    res = cli("build", cwd=proj, env=env)
    assert res.rc == 0, res


def test_builder_raising_a_plain_exception_fails_only_its_build(proj, rec, site):
    install_acme(site)
    install_plugin(
        site,
        "buildsys-plugin-crashy",
        "3.1",
        {"crashy": "crashy_plugin"},
        {"crashy_plugin": CRASHY_PLUGIN},
    )
    _, error = fails_alone(proj, rec, env_for(site), "boom", "crashy")
    assert "'crashy'" in error["message"]
    assert "RuntimeError" in error["message"] and "crashy builder exploded" in error["message"]
    assert any("crashy" in s for s in error["suggestions"])
    assert error["context"].get("plugin") == "crashy"


def test_builder_exception_traceback_is_in_the_build_log(proj, site):
    install_plugin(
        site,
        "buildsys-plugin-crashy",
        "3.1",
        {"crashy": "crashy_plugin"},
        {"crashy_plugin": CRASHY_PLUGIN},
    )
    write_builds(proj, {"boom": {"platform": "crashy"}})
    report = proj / "r.json"
    res = cli("build", "--report-json", report, cwd=proj, env=env_for(site))
    assert res.rc == 1, res
    log = Path(by_name(read_json(report))["boom"]["log_path"]).read_text()
    assert "Traceback" in log and "crashy builder exploded" in log


REPORTING_PLUGIN = """
import os

import buildsys


class Reporting:
    name = "reporting"

    def build(self, spec, ctx):
        ctx.add_artifact(os.environ["REPORTED_ARTIFACT"])


@buildsys.hookimpl
def buildsys_register_platforms(registry):
    registry.add(Reporting())
"""


@pytest.mark.parametrize("where", ["outside", "through a symlinked directory", "inside"])
def test_an_artifact_outside_the_project_fails_its_build(tmp_path, proj, site, where):
    """SPEC: an artifact that resolves outside the project is an error."""
    install_plugin(
        site,
        "buildsys-plugin-reporting",
        "1.0",
        {"reporting": "reporting_plugin"},
        {"reporting_plugin": REPORTING_PLUGIN},
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "out.bin").write_text("x")
    (proj / "inside.bin").write_text("x")
    (proj / "link").symlink_to(elsewhere)
    artifact = {
        "outside": elsewhere / "out.bin",
        "through a symlinked directory": proj / "link" / "out.bin",
        "inside": proj / "inside.bin",
    }[where]
    write_builds(proj, {"r": {"platform": "reporting"}})
    report = proj / "r.json"
    env = env_for(site, REPORTED_ARTIFACT=str(artifact))
    res = cli("build", "--report-json", report, cwd=proj, env=env)
    result = by_name(read_json(report))["r"]
    if where == "inside":
        assert res.rc == 0, res
        assert result["artifacts"] == [str(artifact)]
        return
    assert res.rc == 1, res
    assert result["status"] == "failed"
    (error,) = result["errors"]
    assert error["code"] == "ARTIFACT_OUTSIDE_PROJECT"
    assert str(artifact) in error["message"] and "outside the project" in error["message"]
    assert any("'reporting'" in s for s in error["suggestions"])


PICKY_PLUGIN = """
import buildsys


class Picky:
    name = "picky"

    def check_build(self, spec, host):
        if spec.name == "broken-check":
            raise RuntimeError("picky's check exploded")
        if spec.name == "lacking":
            return [buildsys.BuildError("no frobnicator here", code="FROB_MISSING")]
        return []

    def build(self, spec, ctx):
        pass


@buildsys.hookimpl
def buildsys_register_platforms(registry):
    registry.add(Picky())
"""


def test_check_build_problems_fail_the_build_and_a_raising_one_is_a_plugin_error(proj, site):
    install_plugin(
        site,
        "buildsys-plugin-picky",
        "1.0",
        {"picky": "picky_plugin"},
        {"picky_plugin": PICKY_PLUGIN},
    )
    write_builds(
        proj,
        {name: {"platform": "picky"} for name in ("fine", "lacking", "broken-check")},
    )
    report = proj / "r.json"
    res = cli("build", "--report-json", report, cwd=proj, env=env_for(site))
    assert res.rc == 1, res
    results = by_name(read_json(report))
    assert statuses(read_json(report)) == {
        "fine": "succeeded",
        "lacking": "failed",
        "broken-check": "failed",
    }
    assert results["lacking"]["errors"][0]["code"] == "FROB_MISSING"
    (error,) = results["broken-check"]["errors"]
    assert error["code"] == "PLUGIN_ERROR"
    assert "raised in check_build()" in error["message"] and "exploded" in error["message"]


SUGGESTING_PLUGIN = """
import buildsys


@buildsys.hookimpl
def buildsys_error_suggestions(build, error, log_tail):
    if any("disk full" in line for line in log_tail):
        return [f"free some disk space before building {build.name}"]
    return None
"""

RAISING_SUGGESTER_PLUGIN = """
import buildsys


@buildsys.hookimpl
def buildsys_error_suggestions(build, error, log_tail):
    raise RuntimeError("suggester broke")
"""


def _install_hints(site):
    install_plugin(
        site,
        "buildsys-plugin-hints",
        "1.0",
        {"hints": "hints_plugin"},
        {"hints_plugin": SUGGESTING_PLUGIN},
    )


def test_error_suggestions_hook_adds_suggestions_to_failures(proj, rec, site):
    _install_hints(site)
    install_plugin(
        site,
        "buildsys-plugin-badhints",
        "1.0",
        {"badhints": "badhints_plugin"},
        {"badhints_plugin": RAISING_SUGGESTER_PLUGIN},
    )
    disk_full = """
print("writing objects...", flush=True)
print("fatal: disk full", flush=True)
sys.exit(1)
"""
    write_builds(
        proj,
        {
            "full": command(disk_full, rec, "full"),
            "other_bad": command("sys.exit(2)", rec, "other_bad"),
            "fine": command(RECORD, rec, "fine"),
        },
    )
    report = proj / "r.json"
    res = cli("build", "--report-json", report, cwd=proj, env=env_for(site))
    assert res.rc == 1, res
    results = by_name(read_json(report))
    suggestions = results["full"]["errors"][0]["suggestions"]
    assert "free some disk space before building full" in suggestions
    assert any("log" in s for s in suggestions)  # the builder's own come first, kept
    assert not any("disk space" in s for s in results["other_bad"]["errors"][0]["suggestions"])
    assert results["fine"]["status"] == "succeeded"
    assert "hint: free some disk space before building full" in res.out
    assert "'badhints'" in res.err


def test_error_suggestions_hook_adds_suggestions_to_a_timed_out_build(proj, rec, site):
    _install_hints(site)
    stuck = """
print("fatal: disk full", flush=True)
note(f"{sys.argv[1]}/stuck.up", 1)
time.sleep(60)
"""
    gate, env = ready_gate(site, rec, rec / "stuck.up")  # it has printed before it times out
    write_builds(
        proj,
        {"stuck": {**command(stuck, rec, "stuck"), "timeout": "1s"}, READY_GATE: gate},
        run={"max-concurrency": 2},
    )
    report = proj / "r.json"
    res = cli("build", "--report-json", report, cwd=proj, env=cli_env(env))
    assert res.rc == 1, res
    (error,) = by_name(read_json(report))["stuck"]["errors"]
    assert error["code"] == "BUILD_TIMEOUT"
    assert error["suggestions"][0].startswith("if the build needs longer, raise its timeout")
    assert "free some disk space before building stuck" in error["suggestions"]


# -- disabling ---------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["acme", "all", "buildsys-plugin-acme", "other,acme"])
def test_disabled_plugin_is_skipped_and_its_platform_unknown(tmp_path, proj, site, value):
    install_acme(site)
    env = env_for(site, BUILDSYS_DISABLE_PLUGINS=value)
    data = plugins_json(tmp_path, env)
    assert data["acme"]["disabled"] is True
    assert data["acme"]["platforms"] == []

    write_builds(proj, {"game": acme_build()})
    res = cli("build", cwd=proj, env=env)
    assert res.rc == 2, res
    assert "buildsys-plugin-acme" in res.err
    assert "'acme'" in res.err
    # Not only "install it": it is installed, and disabled.
    disabled = "plugin 'acme' (buildsys-plugin-acme) is installed, and disabled by"
    assert f"{disabled} BUILDSYS_DISABLE_PLUGINS" in res.err
    assert not (proj / "acme-out.txt").exists()


def test_disable_all_skips_a_broken_plugin_too(tmp_path, site):
    install_broken(site)
    data = plugins_json(tmp_path, env_for(site, BUILDSYS_DISABLE_PLUGINS="all"))
    assert data["broken"]["disabled"] is True
    assert "RuntimeError" not in (data["broken"]["error"] or "")
    assert data["command"]["disabled"] is False


# -- observer hooks ----------------------------------------------------------------------


def test_observer_hooks_are_called(proj, rec, site, tmp_path):
    install_plugin(
        site,
        "buildsys-plugin-watch",
        "1.0",
        {"watch": "watch_plugin"},
        {"watch_plugin": OBSERVER_PLUGIN},
    )
    observed = tmp_path / "observed.txt"
    write_builds(
        proj,
        {
            "ok": command(RECORD, rec, "ok"),
            "bad": command("sys.exit(1)", rec, "bad"),
            "after_bad": command(RECORD, rec, "after_bad", **{"depends-on": ["bad"]}),
        },
    )
    res = cli("build", "-j", "1", cwd=proj, env=env_for(site, OBSERVER_FILE=str(observed)))
    assert res.rc == 1, res
    lines = observed.read_text().splitlines()
    assert "started ok 1" in lines and "started bad 1" in lines
    assert "finished ok succeeded" in lines
    assert "finished bad failed" in lines
    assert "finished after_bad skipped" in lines  # never started, still reported
    assert lines[-1] == "run_finished ok=False builds=3"
    assert lines.index("started ok 1") < lines.index("finished ok succeeded")
    assert sum(line.startswith("run_finished") for line in lines) == 1


def test_build_finished_hook_is_called_for_host_skipped_builds(proj, rec, site, tmp_path):
    install_plugin(
        site,
        "buildsys-plugin-watch",
        "1.0",
        {"watch": "watch_plugin"},
        {"watch_plugin": OBSERVER_PLUGIN},
    )
    observed = tmp_path / "observed.txt"
    write_builds(
        proj,
        {
            "winonly": command(RECORD, rec, "winonly", **{"requires-os": ["windows"]}),
            "tool": command(RECORD, rec, "tool"),
        },
    )
    res = cli("build", cwd=proj, env=env_for(site, OBSERVER_FILE=str(observed)))
    assert res.rc == 0, res
    lines = observed.read_text().splitlines()
    assert "finished tool succeeded" in lines
    assert "finished winonly skipped" in lines


def test_plugin_raising_in_observer_hooks_does_not_break_the_run(proj, rec, site, tmp_path):
    install_plugin(
        site,
        "buildsys-plugin-noisy",
        "1.0",
        {"noisy": "noisy_plugin"},
        {"noisy_plugin": RAISING_OBSERVER_PLUGIN},
    )
    install_plugin(
        site,
        "buildsys-plugin-watch",
        "1.0",
        {"watch": "watch_plugin"},
        {"watch_plugin": OBSERVER_PLUGIN},
    )
    observed = tmp_path / "observed.txt"
    write_builds(
        proj,
        {
            "a": command(RECORD, rec, "a"),
            "b": command(RECORD, rec, "b", **{"depends-on": ["a"]}),
        },
    )
    report, junit = proj / "r.json", proj / "j.xml"
    res = cli(
        "build",
        "--report-json",
        report,
        "--junit-xml",
        junit,
        cwd=proj,
        env=env_for(site, OBSERVER_FILE=str(observed)),
    )
    assert res.rc == 0, res
    assert (rec / "a.ran").exists() and (rec / "b.ran").exists()
    # The other observers and the reporters still got every call.
    assert statuses(read_json(report)) == {"a": "succeeded", "b": "succeeded"}
    assert junit.is_file()
    lines = observed.read_text().splitlines()
    assert "finished b succeeded" in lines and lines[-1].startswith("run_finished ok=True")
    # The broken observer is reported, naming the plugin.
    assert "'noisy'" in res.err and "observer broke" in res.err


# -- hooks through pluggy: wrappers, tracing ----------------------------------------------

# Wraps the other plugins' implementations (new-style pluggy wrappers): what it saw
# goes to $OBSERVER_FILE, and it rewrites every plugin's suggestions.
WRAPPING_PLUGIN = """
import os

import buildsys


def _say(text):
    with open(os.environ["OBSERVER_FILE"], "a") as fh:
        fh.write(text + "\\n")


@buildsys.hookimpl(wrapper=True)
def buildsys_build_finished(build, result):
    _say(f"wrapper before {build.name} {result.status.value}")
    results = yield
    _say(f"wrapper after {build.name} results={results!r}")
    return results


@buildsys.hookimpl(wrapper=True)
def buildsys_error_suggestions(build, error, log_tail):
    answers = yield
    rewritten = [[f"{s} (checked by the wrapper)" for s in answer] for answer in answers]
    return [*rewritten, [f"the wrapper saw {len(answers)} answer(s) for {build.name}"]]
"""

# The same, as an old-style wrapper (hookwrapper=True: it gets a pluggy Result).
OLD_STYLE_WRAPPING_PLUGIN = """
import os

import buildsys


def _say(text):
    with open(os.environ["OBSERVER_FILE"], "a") as fh:
        fh.write(text + "\\n")


@buildsys.hookimpl(hookwrapper=True)
def buildsys_build_finished(build, result):
    _say(f"old wrapper before {build.name}")
    outcome = yield
    _say(f"old wrapper after {build.name} results={outcome.get_result()!r}")
"""

# Wrappers that break, before or after their yield, in either style ({style}).
EARLY_BREAKING_PLUGIN = """
import buildsys


@buildsys.hookimpl({style})
def buildsys_build_finished(build, result):
    raise RuntimeError("early wrapper broke")
    yield


@buildsys.hookimpl({style})
def buildsys_error_suggestions(build, error, log_tail):
    raise RuntimeError("early suggester broke")
    yield
"""

LATE_BREAKING_PLUGIN = """
import buildsys


@buildsys.hookimpl({style})
def buildsys_build_finished(build, result):
    yield
    raise RuntimeError("late wrapper broke")


@buildsys.hookimpl({style})
def buildsys_error_suggestions(build, error, log_tail):
    yield
    raise RuntimeError("late suggester broke")
"""

DISK_FULL = """
print("fatal: disk full", flush=True)
sys.exit(1)
"""


def _install(site: Path, name: str, source: str) -> None:
    install_plugin(
        site, f"buildsys-plugin-{name}", "1.0", {name: f"{name}_plugin"}, {f"{name}_plugin": source}
    )


def test_wrapper_runs_around_the_other_plugins_and_rewrites_their_result(proj, rec, site, tmp_path):
    _install(site, "watch", OBSERVER_PLUGIN)
    _install(site, "wrapping", WRAPPING_PLUGIN)
    _install_hints(site)
    observed = tmp_path / "observed.txt"
    write_builds(
        proj,
        {"full": command(DISK_FULL, rec, "full"), "fine": command(RECORD, rec, "fine")},
    )
    report = proj / "r.json"
    res = cli(
        "build", "--report-json", report, cwd=proj, env=env_for(site, OBSERVER_FILE=str(observed))
    )
    assert res.rc == 1, res
    lines = observed.read_text().splitlines()
    for name, status in (("full", "failed"), ("fine", "succeeded")):
        # Around the observer's implementation, which returns nothing.
        assert lines.index(f"wrapper before {name} {status}") < lines.index(
            f"finished {name} {status}"
        )
        assert lines.index(f"finished {name} {status}") < lines.index(
            f"wrapper after {name} results=[]"
        )
    suggestions = by_name(read_json(report))["full"]["errors"][0]["suggestions"]
    assert "free some disk space before building full (checked by the wrapper)" in suggestions
    assert "free some disk space before building full" not in suggestions
    assert "the wrapper saw 1 answer(s) for full" in suggestions
    assert any("log" in s for s in suggestions)  # the builder's own, untouched
    assert "raised" not in res.err, res


def test_old_style_hookwrapper_runs_around_the_other_plugins(proj, rec, site, tmp_path):
    _install(site, "watch", OBSERVER_PLUGIN)
    _install(site, "oldwrapping", OLD_STYLE_WRAPPING_PLUGIN)
    observed = tmp_path / "observed.txt"
    write_builds(proj, {"fine": command(RECORD, rec, "fine")})
    res = cli("build", cwd=proj, env=env_for(site, OBSERVER_FILE=str(observed)))
    assert res.rc == 0, res
    lines = observed.read_text().splitlines()
    before = lines.index("old wrapper before fine")
    assert (
        before
        < lines.index("finished fine succeeded")
        < lines.index("old wrapper after fine results=[]")
    )


@pytest.mark.parametrize("style", ["wrapper=True", "hookwrapper=True"])
def test_wrappers_raising_before_or_after_their_yield_fail_only_themselves(
    proj, rec, site, tmp_path, style
):
    _install(site, "early", EARLY_BREAKING_PLUGIN.format(style=style))
    _install(site, "late", LATE_BREAKING_PLUGIN.format(style=style))
    _install(site, "watch", OBSERVER_PLUGIN)
    _install(site, "wrapping", WRAPPING_PLUGIN)
    _install_hints(site)
    observed = tmp_path / "observed.txt"
    write_builds(
        proj,
        {"full": command(DISK_FULL, rec, "full"), "fine": command(RECORD, rec, "fine")},
    )
    report, junit = proj / "r.json", proj / "j.xml"
    env = env_for(site, OBSERVER_FILE=str(observed))
    res = cli("build", "--report-json", report, "--junit-xml", junit, cwd=proj, env=env)
    assert res.rc == 1, res
    # The built-in reporters still got every call.
    assert statuses(read_json(report)) == {"full": "failed", "fine": "succeeded"}
    assert 'name="full"' in junit.read_text() and 'name="fine"' in junit.read_text()
    assert "hint: free some disk space before building full" in res.out
    # So did the other plugins' implementations and the working wrapper.
    lines = observed.read_text().splitlines()
    assert {"finished full failed", "finished fine succeeded"} <= set(lines)
    assert "wrapper after fine results=[]" in lines
    assert lines[-1] == "run_finished ok=False builds=2"
    suggestions = by_name(read_json(report))["full"]["errors"][0]["suggestions"]
    assert "free some disk space before building full (checked by the wrapper)" in suggestions
    # Each broken wrapper is reported, naming its plugin and where it broke.
    for plugin, when, what in (
        ("early", "before", "early wrapper broke"),
        ("late", "after", "late wrapper broke"),
        ("early", "before", "early suggester broke"),
        ("late", "after", "late suggester broke"),
    ):
        hook = "buildsys_build_finished" if "wrapper" in what else "buildsys_error_suggestions"
        assert f"plugin {plugin!r} raised in {hook} (a wrapper, {when} its yield)" in res.err, res
        assert what in res.err


# Registers its platform after the other plugins did, from its wrapper's teardown.
LATE_REGISTERING_PLUGIN = """
import buildsys


class Late:
    name = "latereg"

    def build(self, spec, ctx):
        pass


@buildsys.hookimpl(wrapper=True)
def buildsys_register_platforms(registry):
    result = yield
    registry.add(Late())
    return result
"""


def test_wrapper_of_register_platforms_registers_as_its_own_plugin(tmp_path, proj, site):
    install_acme(site)
    install_plugin(
        site,
        "buildsys-plugin-latereg",
        "4.5",
        {"latereg": "latereg_plugin"},
        {"latereg_plugin": LATE_REGISTERING_PLUGIN},
    )
    data = plugins_json(tmp_path, env_for(site))
    assert data["latereg"]["error"] is None
    assert [p["name"] for p in data["latereg"]["platforms"]] == ["latereg"]
    assert [p["name"] for p in data["acme"]["platforms"]] == ["acme"]
    write_builds(proj, {"late": {"platform": "latereg"}, "game": acme_build()})
    report = proj / "r.json"
    res = cli("build", "--report-json", report, cwd=proj, env=env_for(site))
    assert res.rc == 0, res
    assert statuses(read_json(report)) == {"late": "succeeded", "game": "succeeded"}


def test_pluggy_tracing_and_monitoring_see_every_hook_call(monkeypatch, tmp_path, proj, rec, site):
    from buildsys.plugin.manager import PluginHost

    # Loaded in this process through its entry point, as the CLI would load it.
    _install(site, "tracedwatch", OBSERVER_PLUGIN)
    _install(site, "tracedwrapping", WRAPPING_PLUGIN)
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("OBSERVER_FILE", str(tmp_path / "observed.txt"))
    host = PluginHost(disabled={"android", "ios", "web"})
    traced: list[str] = []
    host.pm.trace.root.setwriter(traced.append)
    host.pm.enable_tracing()
    calls: list[tuple[str, list[str]]] = []
    outcomes: list[tuple[str, object]] = []
    host.pm.add_hookcall_monitoring(
        lambda name, impls, kwargs: calls.append((name, [i.plugin_name for i in impls])),
        lambda outcome, name, impls, kwargs: outcomes.append((name, outcome.get_result())),
    )
    host.load()
    assert {p.name for p in host.plugins if p.error is None} >= {"tracedwatch", "tracedwrapping"}
    write_builds(proj, {"full": command(DISK_FULL, rec, "full")})
    config = buildsys.load_config(proj / "builds.toml", host)
    result = buildsys.run(config, plugins=host, report_json=str(proj / "r.json"))
    assert not result.ok

    names = [name for name, _ in calls]
    assert names[0] == "buildsys_register_platforms"
    for hook in (
        "buildsys_run_started",
        "buildsys_build_started",
        "buildsys_build_finished",
        "buildsys_error_suggestions",
        "buildsys_run_finished",
    ):
        assert names.count(hook) == 1, (hook, names)
        assert any(hook in line and "[hook]" in line for line in traced), (hook, traced)
    impls = dict(calls)
    assert {"tracedwatch", "tracedwrapping"} <= set(impls["buildsys_build_finished"])
    assert {"tracedwatch", "buildsys.json"} <= set(impls["buildsys_run_finished"])
    assert "command" in impls["buildsys_register_platforms"]
    # The monitor sees the call's outcome: the wrapper's rewrite of the suggestions.
    (answers,) = [value for name, value in outcomes if name == "buildsys_error_suggestions"]
    assert answers == [["the wrapper saw 0 answer(s) for full"]]
    assert host.hook_errors == []


def _host_with(*plugins: tuple[str, object]) -> Any:
    from buildsys.plugin.manager import PluginHost

    host = PluginHost(entry_points=False).load()
    for name, plugin in plugins:
        host.register_reporter(plugin, name)
    return host


def test_keyboard_interrupt_in_a_hook_propagates_through_the_wrappers():
    seen: list[str] = []

    class Wrapping:
        @buildsys.hookimpl(wrapper=True)
        def buildsys_run_finished(self, result):
            try:
                return (yield)
            finally:
                seen.append("wrapper cleaned up")

    class Interrupting:
        @buildsys.hookimpl
        def buildsys_run_finished(self, result):
            raise KeyboardInterrupt

    host = _host_with(("wrapping", Wrapping()), ("interrupting", Interrupting()))
    with pytest.raises(KeyboardInterrupt):
        host.call("buildsys_run_finished", result=None)
    assert seen == ["wrapper cleaned up"]
    assert host.hook_errors == []


def test_results_come_in_pluggy_order_last_registered_first():
    """The "plugin order" of buildsys_error_suggestions, as 0.1 called them."""

    def suggester(text: str) -> object:
        class Suggester:
            @buildsys.hookimpl
            def buildsys_error_suggestions(self, build, error, log_tail):
                return [text]

        return Suggester()

    class Silent:
        @buildsys.hookimpl
        def buildsys_error_suggestions(self, build, error, log_tail):
            return None

    host = _host_with(("a", suggester("from a")), ("quiet", Silent()), ("b", suggester("from b")))
    found = host.call("buildsys_error_suggestions", build=None, error=None, log_tail=())
    assert found == [["from b"], ["from a"]]


def test_a_wrapper_returning_something_else_than_a_list_keeps_the_result():
    class Answering:
        @buildsys.hookimpl
        def buildsys_error_suggestions(self, build, error, log_tail):
            return ["kept"]

    class Forgetful:  # forgets to return what it wrapped
        @buildsys.hookimpl(wrapper=True)
        def buildsys_error_suggestions(self, build, error, log_tail):
            yield

    class Wrong:
        @buildsys.hookimpl(wrapper=True)
        def buildsys_error_suggestions(self, build, error, log_tail):
            yield
            return "not a list"

    host = _host_with(("answering", Answering()), ("forgetful", Forgetful()), ("wrong", Wrong()))
    found = host.call("buildsys_error_suggestions", build=None, error=None, log_tail=())
    assert found == [["kept"]]
    (problem,) = host.hook_errors
    assert "'wrong'" in problem and "buildsys_error_suggestions" in problem and "str" in problem


def test_wrappers_that_do_not_yield_once_are_reported_and_the_call_goes_on():
    seen: list[str] = []

    class Observing:
        @buildsys.hookimpl
        def buildsys_run_finished(self, result):
            seen.append("observed")

    class NeverYields:
        @buildsys.hookimpl(wrapper=True)
        def buildsys_run_finished(self, result):
            return
            yield

    class YieldsTwice:
        @buildsys.hookimpl(hookwrapper=True)
        def buildsys_run_finished(self, result):
            yield
            yield

    host = _host_with(
        ("observing", Observing()), ("never", NeverYields()), ("twice", YieldsTwice())
    )
    assert host.call("buildsys_run_finished", result=None) == []
    assert seen == ["observed"]
    assert sorted(host.hook_errors) == [
        "plugin 'never': buildsys_run_finished is a wrapper that returned without yielding",
        "plugin 'twice': buildsys_run_finished is a wrapper that yielded twice",
    ]
