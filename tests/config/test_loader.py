"""builds.toml validation: the invalid/valid corpus through the CLI, and `load_config` directly.

Corpus (tests/config_corpus/):
  invalid/<case>.toml   a builds.toml that `buildsys check` must reject (exit 2, nothing run)
  invalid/<case>.errors one expected substring per line; each must appear in one of the
                        `error: ...` lines, and there must be exactly as many error lines
  valid/<case>.toml     must pass `buildsys check` (exit 0)

Each case file is copied into tmp_path and checked there with `-f <case>.toml`, so
messages read `<case>.toml:LINE: ...` and nothing is ever written into the repository.
Cases whose expected messages describe what buildsys *should* say (a bug today) are
listed in INVALID_BUGS / VALID_BUGS and run as strict xfails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import attrs
import pytest

import buildsys
from buildsys.config.keys import BUILD_KEYS, did_you_mean
from buildsys.config.model import RunSettings
from buildsys.errors import Problem
from buildsys.plugin.command import CommandOptions
from buildsys.plugin.manager import PluginHost

CORPUS = Path(__file__).parent / "config_corpus"
INVALID = CORPUS / "invalid"
VALID = CORPUS / "valid"

INVALID_BUGS: dict[str, str] = {}

VALID_BUGS: dict[str, str] = {}


# -- helpers -------------------------------------------------------------------------------


def _buildsys_argv() -> list[str]:
    script = Path(sys.executable).with_name("buildsys")
    return [str(script)] if script.exists() else [sys.executable, "-m", "buildsys"]


def run_check(folder: Path, name: str) -> subprocess.CompletedProcess[str]:
    """`buildsys check -f NAME` run in `folder`, with only the built-in plugins."""
    env = {**os.environ, "BUILDSYS_DISABLE_PLUGINS": "all"}
    return subprocess.run(
        [*_buildsys_argv(), "check", "-f", name],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _cases(folder: Path, bugs: dict[str, str]) -> list[object]:
    params: list[object] = []
    for path in sorted(folder.glob("*.toml")):
        marks = []
        if path.stem in bugs:
            marks.append(pytest.mark.xfail(reason=bugs[path.stem], strict=True))
        params.append(pytest.param(path.stem, id=path.stem, marks=marks))
    return params


def load(tmp_path: Path, text: str, *, host_os: str = "linux", name: str = "builds.toml"):
    """load_config on `text`, with only the built-in plugins and a fixed host OS."""
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return buildsys.load_config(path, PluginHost(entry_points=False).load(), host_os=host_os)


def problems(tmp_path: Path, text: str, **kwargs) -> tuple[Problem, ...]:
    with pytest.raises(buildsys.ConfigError) as info:
        load(tmp_path, text, **kwargs)
    return info.value.problems


# -- the corpus ----------------------------------------------------------------------------


def test_corpus_files_are_paired():
    tomls = {p.stem for p in INVALID.glob("*.toml")}
    errors = {p.stem for p in INVALID.glob("*.errors")}
    assert tomls == errors, f"unpaired: {sorted(tomls ^ errors)}"
    for stem in errors:
        lines = (INVALID / f"{stem}.errors").read_text().splitlines()
        assert lines and all(line.strip() for line in lines), f"{stem}.errors: empty lines"
    assert set(INVALID_BUGS) <= tomls
    assert set(VALID_BUGS) <= {p.stem for p in VALID.glob("*.toml")}
    assert len(tomls) >= 20 and len(list(VALID.glob("*.toml"))) >= 3


@pytest.mark.parametrize("case", _cases(INVALID, INVALID_BUGS))
def test_invalid_config(case, tmp_path):
    shutil.copy(INVALID / f"{case}.toml", tmp_path / f"{case}.toml")
    expected = (INVALID / f"{case}.errors").read_text().splitlines()

    proc = run_check(tmp_path, f"{case}.toml")

    error_lines = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    shown = "\n".join(error_lines) or proc.stdout + proc.stderr
    missing = [e for e in expected if not any(e in line for line in error_lines)]
    assert not missing, f"missing from stderr:\n  {missing}\ngot:\n{shown}"
    assert len(error_lines) == len(expected), f"expected {len(expected)} errors, got:\n{shown}"
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "nothing was run" in proc.stderr
    assert not (tmp_path / ".buildsys" / "logs").exists()
    assert "ready" not in proc.stdout


@pytest.mark.parametrize("case", _cases(VALID, VALID_BUGS))
def test_valid_config(case, tmp_path):
    shutil.copy(VALID / f"{case}.toml", tmp_path / f"{case}.toml")
    proc = run_check(tmp_path, f"{case}.toml")
    # Valid; exit 1 only says a command's program (ruff, go...) is not installed here.
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    assert "error" not in proc.stderr
    assert f"{case}.toml: valid" in proc.stdout
    problems = [line for line in proc.stdout.splitlines() if "error[" in line]
    assert all("error[COMMAND_NOT_FOUND]" in line for line in problems), proc.stdout


@pytest.mark.parametrize(
    "case", [p.stem for p in sorted(VALID.glob("*.toml")) if p.stem not in VALID_BUGS]
)
def test_valid_corpus_loads_through_the_api(case):
    config = buildsys.load_config(
        VALID / f"{case}.toml", PluginHost(entry_points=False).load(), host_os="linux"
    )
    assert config.builds
    for build in config.builds:
        assert build.platform == "command"
        assert isinstance(config.line_of(build.name), int)


# -- load_config: values -----------------------------------------------------------------------

APP = """
    [builds.app]
    platform = "command"
    command = ["make"]
"""


def test_minimal_build_and_run_defaults(tmp_path):
    config = load(tmp_path, APP)
    assert isinstance(config, buildsys.Config)
    assert config.run == RunSettings()
    assert config.run.strategy == "parallel" and config.run.cache is True
    assert config.run.max_concurrency is None and config.run.kill_grace == 5.0
    (app,) = config.builds
    assert app.name == "app" and app.platform == "command"
    assert app.depends_on == () and app.tags == () and app.cwd == "."
    assert app.timeout is None and app.retries is None
    assert app.inputs is None and app.outputs is None and app.requires_os is None
    assert app.skip_if_unavailable is False and app.profile is None
    assert dict(app.env) == {}
    assert config.path == (tmp_path / "builds.toml").absolute()
    assert config.root == tmp_path.absolute()


def test_run_table(tmp_path):
    config = load(
        tmp_path,
        """
        [run]
        strategy = "stop-on-failure"
        max-concurrency = 1
        timeout = "20m"
        kill-grace = "500ms"
        retries = 3
        cache = false
        """
        + APP,
    )
    assert config.run == RunSettings(
        strategy="stop-on-failure",
        max_concurrency=1,
        timeout=1200.0,
        kill_grace=0.5,
        retries=3,
        cache=False,
    )


def test_defaults_are_inherited_and_overridden(tmp_path):
    config = load(
        tmp_path,
        """
        [run]
        timeout = "1h"

        [defaults]
        timeout = "15m"
        retries = 1
        tags = ["all"]
        command = ["make", "default"]
        skip-if-unavailable = true

        [builds.a]
        platform = "command"

        [builds.b]
        platform = "command"
        timeout = "10m"
        retries = 0
        tags = ["b"]
        command = ["make", "b"]
        skip-if-unavailable = false
        """,
    )
    a, b = config.builds
    assert (a.timeout, a.retries, a.tags, a.skip_if_unavailable) == (900.0, 1, ("all",), True)
    assert a.options.command == ("make", "default")
    assert (b.timeout, b.retries, b.tags, b.skip_if_unavailable) == (600.0, 0, ("b",), False)
    assert b.options.command == ("make", "b")
    assert config.run.timeout == 3600.0  # [run] stays the run-wide default
    where = tmp_path / "builds.toml"
    assert a.timeout_source == f"timeout in [defaults] of {where}, line 6"
    assert b.timeout_source == f"timeout in [builds.b] of {where}, line 17"


def test_env_merges_defaults_build_and_profile(tmp_path):
    config = load(
        tmp_path,
        """
        [defaults]
        env = { A = "defaults", B = "defaults" }

        [builds.app]
        platform = "command"
        command = ["make"]
        env = { B = "build", C = "build" }

        [builds.app.profiles.release]
        env = { C = "release", D = "release" }

        [builds.plain]
        platform = "command"
        command = ["make"]
        """,
    )
    app = config.get("app")
    assert dict(app.env) == {"A": "defaults", "B": "build", "C": "build"}
    assert dict(app.for_profile("release").env) == {
        "A": "defaults",
        "B": "build",
        "C": "release",
        "D": "release",
    }
    assert dict(config.get("plain").env) == {"A": "defaults", "B": "defaults"}
    with pytest.raises(TypeError):
        app.env["X"] = "y"  # frozen


def test_profiles(tmp_path):
    config = load(
        tmp_path,
        """
        [builds.app]
        platform = "command"
        command = ["make"]
        timeout = "10m"
        tags = ["web"]

        [builds.app.profiles.release]
        timeout = "30m"
        command = ["make", "release"]

        [builds.app.profiles.ci]
        retries = 2

        [builds.lib]
        platform = "command"
        command = ["make", "lib"]

        [builds.lib.profiles.debug]
        env = { DEBUG = "1" }
        """,
    )
    assert config.profiles == ("ci", "debug", "release")
    app = config.get("app")
    assert set(app.profiles) == {"release", "ci"}
    release = app.for_profile("release")
    assert release.profile == "release" and release.name == "app"
    assert release.timeout == 1800.0 and release.tags == ("web",)
    assert release.options.command == ("make", "release")
    assert app.timeout == 600.0 and app.options.command == ("make",)
    assert app.for_profile("ci").retries == 2 and app.for_profile("ci").timeout == 600.0
    assert app.for_profile(None) is app
    assert app.for_profile("nope") is app
    assert release.timeout_source == (
        f"timeout in [builds.app.profiles.release] of {tmp_path / 'builds.toml'}, line 9"
    )

    variants = config.builds_for("release")
    assert [b.name for b in variants] == ["app", "lib"]
    assert variants[0].profile == "release"
    assert variants[1] is config.get("lib")  # no such profile: the build as is
    assert config.builds_for(None) == config.builds
    with pytest.raises(KeyError):
        config.get("nope")


@pytest.mark.parametrize(
    ("written", "seconds"),
    [
        ('"90s"', 90.0),
        ('"20m"', 1200.0),
        ('"1h30m"', 5400.0),
        ('"500ms"', 0.5),
        ('"45"', 45.0),
        ("45", 45.0),
        ("2.5", 2.5),
    ],
)
def test_durations_in_config(tmp_path, written, seconds):
    config = load(
        tmp_path, f"[run]\nkill-grace = {written}\n[defaults]\ntimeout = {written}\n" + APP
    )
    assert config.run.kill_grace == seconds
    assert config.get("app").timeout == seconds
    assert isinstance(config.get("app").timeout, float)


@pytest.mark.parametrize("written", ["0", '"0s"', "0.0", '"-0"'])
def test_kill_grace_may_be_zero_but_a_timeout_may_not(tmp_path, written):
    config = load(tmp_path, f"[run]\nkill-grace = {written}\n" + APP)
    assert config.run.kill_grace == 0.0
    found = problems(tmp_path, f"[run]\ntimeout = {written}\n" + APP)
    assert [(p.line, p.key) for p in found] == [(2, "timeout")]
    assert "must be greater than zero" in found[0].message


@pytest.mark.parametrize(
    ("written", "normalised"),
    [
        (["linux"], ("linux",)),
        (["macos"], ("darwin",)),
        (["MacOS", "Linux"], ("darwin", "linux")),
        (["darwin", "windows"], ("darwin", "windows")),
    ],
)
def test_requires_os_is_normalised(tmp_path, written, normalised):
    config = load(tmp_path, APP + f"requires-os = {written!r}\n".replace("'", '"'))
    assert config.get("app").requires_os == normalised


def test_requires_os_other_host_is_not_an_error(tmp_path):
    text = APP + 'requires-os = ["macos"]\n'
    assert load(tmp_path, text, host_os="linux").get("app").requires_os == ("darwin",)
    assert load(tmp_path, text, host_os="darwin").get("app").requires_os == ("darwin",)


def test_options_are_resolved_by_the_platform(tmp_path):
    app = load(tmp_path, APP).get("app")
    assert isinstance(app.options, CommandOptions)
    assert app.options.command == ("make",)
    assert isinstance(app.options.command, tuple)


def test_lists_become_tuples_and_lose_duplicates(tmp_path):
    config = load(
        tmp_path,
        """
        [builds.lib]
        platform = "command"
        command = ["true"]

        [builds.app]
        platform = "command"
        command = ["true"]
        depends-on = ["lib", "lib"]
        tags = ["x", "y", "x"]
        key-env = ["API_URL"]
        secret-env = ["NPM_TOKEN"]
        inputs = ["src/**", "!**/*.test.ts"]
        outputs = []
        cwd = "frontend"
        """,
    )
    app = config.get("app")
    assert app.depends_on == ("lib",)
    assert app.tags == ("x", "y")
    assert app.key_env == ("API_URL",) and app.secret_env == ("NPM_TOKEN",)
    assert app.inputs == ("src/**", "!**/*.test.ts")
    assert app.outputs == ()  # declared empty on purpose, unlike None (not declared)
    assert config.get("lib").outputs is None
    assert app.cwd == "frontend"


def test_file_order_is_preserved(tmp_path):
    config = load(
        tmp_path,
        """
        [builds.zeta]
        platform = "command"
        command = ["true"]

        [builds.alpha]
        platform = "command"
        command = ["true"]
        depends-on = ["zeta"]

        [builds.mid]
        platform = "command"
        command = ["true"]
        """,
    )
    assert config.names == ("zeta", "alpha", "mid")
    assert [config.line_of(b.name) for b in config.builds] == [2, 6, 11]


def test_file_order_with_dotted_and_inline_builds(tmp_path):
    config = load(
        tmp_path,
        """
        [builds]
        b.platform = "command"
        b.command = ["true"]
        a = { platform = "command", command = ["true"] }
        c.platform = "command"
        c.command = ["true"]
        """,
    )
    assert config.names == ("b", "a", "c")


def test_load_config_default_plugins_and_host(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "builds.toml").write_text(textwrap.dedent(APP))
    config = buildsys.load_config()
    assert config.display_path == "builds.toml"
    assert config.get("app").options.command == ("make",)


# -- load_config: problems ---------------------------------------------------------------------


def test_missing_file(tmp_path):
    path = tmp_path / "nope.toml"
    with pytest.raises(buildsys.ConfigError) as info:
        buildsys.load_config(path, PluginHost(entry_points=False).load())
    (problem,) = info.value.problems
    assert problem.file == str(path)
    assert problem.line is None and problem.build is None and problem.key is None
    assert "no such file" in problem.message and "buildsys init" in problem.message
    assert str(info.value) == str(problem)


def test_problem_fields_for_an_unknown_key(tmp_path):
    (problem,) = problems(tmp_path, APP + 'timout = "1m"\n')
    assert problem == Problem(
        "unknown key (did you mean 'timeout'?); platform 'command' options are: command",
        file=str(tmp_path / "builds.toml"),
        line=5,
        column=None,
        build="app",
        key="timout",
    )
    assert str(problem).startswith(f"{tmp_path / 'builds.toml'}:5: build 'app', key 'timout': ")


def test_platform_of_the_wrong_type(tmp_path):
    found = problems(tmp_path, '[builds.app]\nplatform = 1\ncommand = ["true"]\n')
    assert any(
        (p.line, p.build, p.key, p.message)
        == (2, "app", "platform", "expected a string, got the number 1")
        for p in found
    ), found


def test_problem_str():
    assert str(Problem("boom", file="b.toml")) == "b.toml: boom"
    assert str(Problem("boom", file="b.toml", line=3, column=7)) == "b.toml:3:7: boom"
    assert str(Problem("boom", file="b.toml", column=7)) == "b.toml: boom"
    assert (
        str(Problem("boom", file="b.toml", line=3, build="web", key="env"))
        == "b.toml:3: build 'web', key 'env': boom"
    )
    assert str(Problem("boom", file="b.toml", key="run")) == "b.toml: key 'run': boom"


def test_all_problems_are_raised_together_sorted_by_line(tmp_path):
    found = problems(
        tmp_path,
        """
        [builds.b]
        platform = "command"
        command = ["true"]
        depends-on = ["a"]

        [builds.a]
        platform = "command"
        command = ["true"]
        depends-on = ["b"]
        retries = "x"

        [run]
        timout = 1
        """,
    )
    assert [(p.line, p.key) for p in found] == [(5, "depends-on"), (11, "retries"), (14, "timout")]
    assert "dependency cycle: b -> a -> b" in found[0].message


def test_toml_syntax_error_has_line_and_column(tmp_path):
    (problem,) = problems(tmp_path, '[builds.app]\nplatform = "command"\nplatform = "command"\n')
    assert (problem.line, problem.column) == (3, 21)
    assert problem.message.startswith("invalid TOML: ")
    assert "(at line" not in problem.message  # moved into line/column
    assert problem.build is None and problem.key is None


def test_toml_syntax_error_at_end_of_document_without_final_newline(tmp_path):
    (problem,) = problems(tmp_path, '[builds.app]\ncommand = ["make"')
    assert problem.line == 2 and problem.column is None
    assert "Unclosed array" in problem.message


def test_toml_syntax_error_at_end_of_document_names_an_existing_line(tmp_path):
    (problem,) = problems(tmp_path, '[builds.app]\ncommand = ["make"\n')
    assert problem.line == 2


def test_line_numbers_of_dotted_keys(tmp_path):
    found = problems(
        tmp_path,
        """
        [builds]
        web.platform = "command"
        web.command = ["true"]
        web.timout = "1m"
        web.retries = "2"
        """,
    )
    assert [(p.line, p.build, p.key) for p in found] == [
        (5, "web", "timout"),
        (6, "web", "retries"),
    ]


def test_line_numbers_of_inline_table_keys(tmp_path):
    found = problems(
        tmp_path,
        """
        [builds]
        lib = { platform = "command", command = ["true"] }
        web = { platform = "command", command = ["true"], depends-on = ["lbi"] }

        [builds.app]
        platform = "command"
        command = ["true"]
        env = { GOOD = "x", BAD = 1 }
        """,
    )
    assert [(p.line, p.build, p.key) for p in found] == [
        (4, "web", "depends-on"),
        (9, "app", "env"),
    ]
    assert "(did you mean 'lib'?)" in found[0].message


def test_line_numbers_after_multiline_arrays_and_strings(tmp_path):
    found = problems(
        tmp_path,
        '''
        [builds.app]
        platform = "command"
        command = [
          "sh", "-c",  # a comment: retries = 1
          """
        [builds.fake]
        timout = 1
        """,
        ]
        timout = "1m"
        ''',
    )
    (problem,) = found
    assert (problem.line, problem.key) == (11, "timout")


def test_defaults_problem_is_reported_once(tmp_path):
    found = problems(
        tmp_path,
        """
        [defaults]
        retries = "2"

        [builds.a]
        platform = "command"
        command = ["true"]

        [builds.b]
        platform = "command"
        command = ["true"]
        """,
    )
    assert [(p.line, p.build, p.key) for p in found] == [(3, None, "retries")]


def test_defaults_option_every_build_overrides_is_checked_in_defaults(tmp_path):
    found = problems(
        tmp_path,
        """
        [defaults]
        command = "echo"

        [builds.a]
        platform = "command"
        command = ["true"]
        """,
    )
    assert [(p.line, p.build, p.key) for p in found] == [(3, None, "command")]
    assert found[0].message.startswith("expected a list of arguments, got the string 'echo'")


@attrs.frozen
class _ScriptOptions:
    command: str
    shell: bool = False


class _ScriptBuilder:
    name = "script"
    options = _ScriptOptions

    def build(self, spec, ctx):
        raise NotImplementedError


class _ScriptPlugin:
    @buildsys.hookimpl
    def buildsys_register_platforms(self, registry):
        registry.add(_ScriptBuilder())


def _with_script_platform() -> PluginHost:
    host = PluginHost(entry_points=False)
    host.pm.register(_ScriptPlugin(), name="script")
    return host.load()


def test_defaults_option_is_checked_against_each_platform_that_takes_it(tmp_path):
    path = tmp_path / "builds.toml"
    path.write_text(
        textwrap.dedent(
            """
            [defaults]
            command = "echo"        # fine for script, not for command
            shell = "yes"           # only script takes it: command builds ignore it

            [builds.a]
            platform = "command"
            command = ["true"]

            [builds.b]
            platform = "script"
            command = "true"
            shell = true

            [builds.c]
            platform = "script"
            """
        )
    )
    with pytest.raises(buildsys.ConfigError) as info:
        buildsys.load_config(path, _with_script_platform(), host_os="linux")
    assert [(p.line, p.build, p.key, p.message[:60]) for p in info.value.problems] == [
        (3, None, "command", "for platform 'command': expected a list of arguments, got th"),
        (4, None, "shell", "expected true or false, got the string 'yes'"),
    ]


def test_defaults_option_of_a_platform_that_cannot_be_checked(tmp_path):
    # `msi` is not installed (and the build is skipped on this host): its options
    # cannot be checked, so only a near miss of a known key is reported.
    text = """
        [defaults]
        product-code = "X"
        timout = "1m"

        [builds.app]
        platform = "command"
        command = ["true"]

        [builds.installer]
        platform = "msi"
        requires-os = ["windows"]
        """
    found = problems(tmp_path, text)
    assert [(p.line, p.key) for p in found] == [(4, "timout")]
    assert "(did you mean 'timeout'?)" in found[0].message


def test_every_unknown_requires_os_value_is_reported(tmp_path):
    found = problems(tmp_path, APP + 'requires-os = ["freebsd", "OSX", "linux", "solaris"]\n')
    assert [(p.line, p.key) for p in found] == [(5, "requires-os")] * 3
    assert [p.message.split(";")[0] for p in found] == [
        "unknown OS 'freebsd'",
        "unknown OS 'OSX' (did you mean 'darwin'?)",
        "unknown OS 'solaris'",
    ]


def test_build_line_of_a_dotted_build(tmp_path):
    config = load(
        tmp_path,
        """
        [builds]
        web.platform = "command"
        web.command = ["true"]
        api.platform = "command"
        api.command = ["true"]
        """,
    )
    assert [config.line_of(b.name) for b in config.builds] == [3, 5]


def test_validity_does_not_depend_on_the_host(tmp_path):
    text = APP + 'requires-os = ["darwin"]\ntimout = "1m"\n'
    on_darwin = problems(tmp_path, text, host_os="darwin")
    assert [p.key for p in on_darwin] == ["timout"]
    on_linux = problems(tmp_path, text, host_os="linux")
    assert [p.key for p in on_linux] == ["timout"]


# -- did_you_mean -------------------------------------------------------------------------------


def test_did_you_mean():
    assert did_you_mean("timout", list(BUILD_KEYS)) == " (did you mean 'timeout'?)"
    assert did_you_mean("depends_on", list(BUILD_KEYS)) == " (did you mean 'depends-on'?)"
    assert did_you_mean("TAGS", list(BUILD_KEYS)) == " (did you mean 'tags'?)"
    assert did_you_mean("zzzz", list(BUILD_KEYS)) == ""
    assert did_you_mean("x", []) == ""


def test_config_errors_mask_secrets_for_library_callers_too(tmp_path, monkeypatch):
    """`load_config`'s ConfigError quotes the file; secrets it names are masked there."""
    monkeypatch.setenv("DEPLOY_CREDENTIAL", "caller-credential-1234")  # secret by secret-env
    monkeypatch.setenv("GH_TOKEN", "ghp_caller_token_5678")  # secret by its name
    path = tmp_path / "builds.toml"
    path.write_text(
        textwrap.dedent(
            """\
            [builds.deploy]
            platform = "command"
            secret-env = ["DEPLOY_CREDENTIAL"]
            command = "deploy caller-credential-1234 ghp_caller_token_5678 file-secret-9012"
            env = { API_KEY = "file-secret-9012" }

            [builds.other]
            platform = "command"
            command = "another-file-secret-3456"
            env = { API_KEY = "another-file-secret-3456" }
            """
        )
    )
    with pytest.raises(buildsys.ConfigError) as caught:
        buildsys.load_config(path)
    text = str(caught.value)
    assert "command" in text and "***" in text
    secrets = ("caller-credential-1234", "ghp_caller_token_5678", "file-secret-9012")
    for secret in (*secrets, "another-file-secret-3456"):  # one name, two values: both
        assert secret not in text


# -- patterns as gitignore reads them ------------------------------------------------------------


def test_inputs_respect_gitignore_is_on_unless_turned_off(tmp_path):
    assert load(tmp_path, APP).run.inputs_respect_gitignore is True
    config = load(tmp_path, "[run]\ninputs-respect-gitignore = false\n" + APP)
    assert config.run.inputs_respect_gitignore is False
    found = problems(tmp_path, '[run]\ninputs-respect-gitignore = "no"\n' + APP)
    assert [(p.key, p.message) for p in found] == [
        ("inputs-respect-gitignore", "expected true or false, got the string 'no'")
    ]
    (typo,) = problems(tmp_path, "[run]\ninput-respect-gitignore = true\n" + APP)
    assert "did you mean 'inputs-respect-gitignore'?" in typo.message


def test_anchored_and_dotted_patterns_are_inside_the_project(tmp_path):
    config = load(
        tmp_path,
        APP
        + """
        inputs = ["/pnpm-lock.yaml", "./src/**", "!./src/*.test.ts"]
        outputs = ["/dist/**"]
        """,
    )
    assert config.get("app").inputs == ("/pnpm-lock.yaml", "./src/**", "!./src/*.test.ts")
    assert config.get("app").outputs == ("/dist/**",)


@pytest.mark.parametrize(
    ("a", "b"),
    [("/dist/**", "./dist/app/**"), ("./out/x.txt", "out/x.txt"), ("/gen", "gen/a.js")],
)
def test_outputs_overlap_however_they_are_written(tmp_path, a, b):
    found = problems(
        tmp_path,
        f"""
        [builds.a]
        platform = "command"
        command = ["true"]
        outputs = ["{a}"]

        [builds.b]
        platform = "command"
        command = ["true"]
        outputs = ["{b}"]
        """,
    )
    assert [(p.build, p.key) for p in found] == [("b", "outputs")]
    assert f"outputs {b!r} overlap outputs {a!r} of build 'a'" in found[0].message


def test_anchored_outputs_apart_do_not_overlap(tmp_path):
    load(
        tmp_path,
        """
        [builds.a]
        platform = "command"
        command = ["true"]
        outputs = ["/dist/a/**"]

        [builds.b]
        platform = "command"
        command = ["true"]
        outputs = ["./dist/b/**", "!/dist/a/**"]
        """,
    )
