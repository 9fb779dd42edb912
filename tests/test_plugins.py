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

from _cli_helpers import (
    ACME_PLUGIN,
    BROKEN_IMPORT_PLUGIN,
    CRASHY_PLUGIN,
    DUPLICATE_PLUGIN,
    OBSERVER_PLUGIN,
    RAISING_OBSERVER_PLUGIN,
    RECORD,
    REGISTER_RAISES_PLUGIN,
    by_name,
    cli,
    cli_env,
    command,
    install_plugin,
    read_json,
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
time.sleep(60)
"""
    write_builds(proj, {"stuck": {**command(stuck, rec, "stuck"), "timeout": "1s"}})
    report = proj / "r.json"
    res = cli("build", "--report-json", report, cwd=proj, env=env_for(site))
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
