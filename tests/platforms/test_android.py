"""The `android` platform, installed as a distribution and driven through the CLI.

Gradle and java are fakes (tests/platforms/fakes): the fake Gradle checks its
command line as Gradle does, so a builder that passes a wrong flag or task
fails here, then replays real Gradle output (tests/platforms/transcripts, each
saying where it is from) and writes the APK/AAB files the Android Gradle
plugin would for the task it is given.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from _mobile_helpers import (
    FAKES,
    TRANSCRIPTS,
    base_env,
    calls,
    check_transcripts,
    ensure_installed,
    fake_cli,
    only_error,
    run_fake,
)

from _cli_helpers import render_toml

APP = """
[builds.app]
platform = "android"
cwd = "android"
"""


@pytest.fixture(scope="module", autouse=True)
def _installed() -> None:
    ensure_installed()


@pytest.fixture
def env(tmp_path):
    """Fakes on PATH, a JDK whose bin/java is the fake, an (empty) SDK directory."""
    sdk = tmp_path / "sdk"
    sdk.mkdir()
    jdk = tmp_path / "jdk"
    (jdk / "bin").mkdir(parents=True)
    (jdk / "bin" / "java").symlink_to(FAKES / "java")
    return {
        **base_env(tmp_path),
        "ANDROID_HOME": str(sdk),
        "ANDROID_SDK_ROOT": "",
        "JAVA_HOME": str(jdk),
    }


def project(buildsys_project, toml: str = APP, *, wrapper: str | None = "link"):
    """A project whose `android/` directory holds the fake gradlew (linked, copied or none)."""
    buildsys_project.write(toml)
    root = buildsys_project.path / "android"
    root.mkdir(exist_ok=True)
    if wrapper == "link":
        (root / "gradlew").symlink_to(FAKES / "gradlew")
    elif wrapper == "copy-not-executable":
        shutil.copyfile(FAKES / "gradlew", root / "gradlew")
        (root / "gradlew").chmod(0o644)
    return buildsys_project


def gradle_root(buildsys_project) -> Path:
    return (buildsys_project.path / "android").resolve()


def test_plugins_lists_the_installed_distribution(buildsys_project, env):
    outcome = buildsys_project.run("plugins", "--json", env=env)
    assert outcome.exit_code == 0, outcome.stderr
    (android,) = [p for p in json.loads(outcome.stdout) if p["name"] == "android"]
    assert android["distribution"] == "buildsys-plugin-android"
    assert android["version"] == "0.1.0"
    assert android["platforms"] == [
        {"name": "android", "toolchain_ok": True, "toolchain_problems": [], "toolchain_errors": []}
    ]


def test_debug_apk_by_default(buildsys_project, env):
    proj = project(buildsys_project)
    outcome = proj.build(env=env)
    assert outcome.exit_code == 0, outcome.stdout + outcome.stderr
    result = outcome.result("app")
    assert result["status"] == "succeeded"
    root = gradle_root(proj)
    assert calls(env, "gradlew") == [["assembleDebug", "--console=plain", "--daemon"]]
    # Only the variant's APK: not output-metadata.json, not intermediates.
    assert result["artifacts"] == [str(root / "app/build/outputs/apk/debug/app-debug.apk")]
    assert result["warnings"] == []
    assert "BUILD SUCCESSFUL" in proj.log("app")


def test_flavor_release_aab_with_gradle_args_and_extra_args(buildsys_project, env):
    proj = project(
        buildsys_project,
        APP
        + """
variant = "release"
flavor = "free"
format = "aab"
gradle-args = ["--stacktrace", "-Pci=1"]
""",
    )
    outcome = proj.build("app", args=["--offline"], env=env)
    assert outcome.exit_code == 0, outcome.stdout
    assert calls(env, "gradlew") == [
        ["bundleFreeRelease", "--console=plain", "--daemon", "--stacktrace", "-Pci=1", "--offline"]
    ]
    aab = gradle_root(proj) / "app/build/outputs/bundle/freeRelease/app-free-release.aab"
    assert outcome.result("app")["artifacts"] == [str(aab)]


def test_flavored_apk_is_found_under_its_flavor_directory(buildsys_project, env):
    proj = project(buildsys_project, APP + 'flavor = "paidAmd64"\n')
    outcome = proj.build(env=env)
    assert outcome.exit_code == 0, outcome.stdout
    assert calls(env, "gradlew")[0][0] == "assemblePaidAmd64Debug"
    apk = gradle_root(proj) / "app/build/outputs/apk/paidAmd64/debug/app-paidAmd64-debug.apk"
    assert outcome.result("app")["artifacts"] == [str(apk)]


@pytest.mark.parametrize(
    ("ci", "daemon", "flag"),
    [
        ("true", None, "--no-daemon"),
        ("1", None, "--no-daemon"),
        ("", None, "--daemon"),
        ("false", None, "--daemon"),
        ("true", "true", "--daemon"),
        ("", "false", "--no-daemon"),
    ],
)
def test_daemon_off_on_ci_unless_set(buildsys_project, env, ci, daemon, flag):
    toml = APP + (f"daemon = {daemon}\n" if daemon is not None else "")
    proj = project(buildsys_project, toml)
    outcome = proj.build(env={**env, "CI": ci})
    assert outcome.exit_code == 0, outcome.stdout
    assert calls(env, "gradlew")[0][2] == flag


def test_explicit_task_overrides_variant_and_warns_when_no_output_matches(buildsys_project, env):
    proj = project(buildsys_project, APP + 'task = "lintDebug"\nformat = "aab"\n')
    outcome = proj.build(env=env)
    assert outcome.exit_code == 0, outcome.stdout
    assert calls(env, "gradlew") == [["lintDebug", "--console=plain", "--daemon"]]
    result = outcome.result("app")
    assert result["status"] == "succeeded"
    assert result["artifacts"] == []
    (warning,) = result["warnings"]
    assert "no AAB matched <module>/build/outputs/bundle/debug/*.aab" in warning
    assert "explicit `task`" in warning


def test_gradle_from_path_without_a_wrapper(buildsys_project, env):
    proj = project(buildsys_project, wrapper=None)
    outcome = proj.build(env=env)
    assert outcome.exit_code == 0, outcome.stdout
    assert calls(env, "gradlew") == []
    assert calls(env, "gradle") == [["assembleDebug", "--console=plain", "--daemon"]]
    apk = gradle_root(proj) / "app/build/outputs/apk/debug/app-debug.apk"
    assert outcome.result("app")["artifacts"] == [str(apk)]


def test_gradlew_not_executable_fails_the_check(buildsys_project, env):
    proj = project(buildsys_project, wrapper="copy-not-executable")
    outcome = proj.build(env=env)
    assert outcome.exit_code == 1
    result = outcome.result("app")
    assert result["status"] == "failed"
    assert result["started_at"] is None  # decided by check(host, spec), before the run
    error = only_error(result)
    assert error["code"] == "ANDROID_GRADLEW_NOT_EXECUTABLE"
    assert f"chmod +x {gradle_root(proj) / 'gradlew'}" in error["suggestions"][0]
    assert calls(env, "gradlew") == []

    check = proj.run("check", env=env)
    assert check.exit_code == 1
    assert "is not executable" in check.stdout


def test_gradlew_not_executable_with_skip_if_unavailable_skips(buildsys_project, env):
    proj = project(
        buildsys_project, APP + "skip-if-unavailable = true\n", wrapper="copy-not-executable"
    )
    outcome = proj.build(env=env)
    assert outcome.exit_code == 0, outcome.stdout
    result = outcome.result("app")
    assert result["status"] == "skipped"
    assert f"{gradle_root(proj) / 'gradlew'} is not executable" in result["reason"]
    assert "chmod +x" in result["reason"]


def test_no_wrapper_and_no_gradle_fails_the_check(buildsys_project, env):
    proj = project(buildsys_project, wrapper=None)
    # The system's PATH without the fakes: it has no gradle either.
    outcome = proj.build(env={**env, "PATH": env["PATH"].split(":", 1)[1]})
    error = only_error(outcome.result("app"))
    assert error["code"] == "ANDROID_GRADLE_NOT_FOUND"
    assert "has no gradlew and `gradle` is not on PATH" in error["message"]
    assert outcome.result("app")["started_at"] is None


def test_release_profile_picks_its_variant(buildsys_project, env):
    proj = project(
        buildsys_project,
        APP
        + """
[builds.app.profiles.release]
variant = "release"

[builds.app.profiles.debug]
variant = "debug"
""",
    )
    outcome = proj.build(options=["--profile", "release"], env=env)
    assert outcome.exit_code == 0, outcome.stdout
    assert calls(env, "gradlew")[0][0] == "assembleRelease"
    apk = gradle_root(proj) / "app/build/outputs/apk/release/app-release.apk"
    assert outcome.result("app")["artifacts"] == [str(apk)]


CATALOGUED = [
    ("gradle-sdk-not-found.txt", "ANDROID_SDK_NOT_FOUND", "export ANDROID_HOME=", False),
    ("gradle-sdk-not-found-old-wording.txt", "ANDROID_SDK_NOT_FOUND", "sdk.dir=", False),
    ("gradle-licenses-not-accepted.txt", "ANDROID_LICENSES_NOT_ACCEPTED", "--licenses", False),
    ("gradle-licenses-old-wording.txt", "ANDROID_LICENSES_NOT_ACCEPTED", "--licenses", False),
    ("gradle-unsupported-class-file.txt", "ANDROID_WRONG_JDK", "JAVA_HOME", False),
    ("gradle-agp-requires-java17.txt", "ANDROID_WRONG_JDK", "org.gradle.java.home", False),
    # AGP's worker says only "> Java heap space"; the Kotlin daemon, "Not enough memory".
    ("gradle-out-of-memory.txt", "ANDROID_OUT_OF_MEMORY", "org.gradle.jvmargs", True),
    (
        "gradle-kotlin-daemon-out-of-memory.txt",
        "ANDROID_OUT_OF_MEMORY",
        "kotlin.daemon.jvmargs",
        True,
    ),
    ("gradle-daemon-disappeared.txt", "ANDROID_GRADLE_DAEMON_CRASHED", "retry", True),
    ("gradle-daemon-has-disappeared.txt", "ANDROID_GRADLE_DAEMON_CRASHED", "retry", True),
    ("gradle-download-failed.txt", "ANDROID_DEPENDENCY_DOWNLOAD_FAILED", "--offline", True),
    (
        "gradle-dependency-not-found.txt",
        "ANDROID_DEPENDENCY_RESOLUTION_FAILED",
        "dependencyResolutionManagement",
        False,
    ),
    ("gradle-aapt-resource-not-found.txt", "ANDROID_RESOURCE_LINKING_FAILED", "compileSdk", False),
]


@pytest.mark.parametrize(("transcript", "code", "hint", "transient"), CATALOGUED)
def test_catalogued_failures(buildsys_project, env, transcript, code, hint, transient):
    proj = project(buildsys_project)
    outcome = proj.build(env={**env, "FAKE_TRANSCRIPT": transcript})
    assert outcome.exit_code == 1
    result = outcome.result("app")
    assert result["status"] == "failed"
    assert result["artifacts"] == []
    error = only_error(result)
    assert error["code"] == code
    assert error["transient"] is transient
    assert any(hint in s for s in error["suggestions"]), error["suggestions"]
    assert any(s.startswith("docs: https://") for s in error["suggestions"])
    assert error["context"]["matched_lines"]
    assert error["context"]["error"].startswith("gradlew exited with code 1")
    # fingerprint(): the fake java's `java -version` first line, then Gradle's version.
    assert error["context"]["toolchain"].startswith('java: openjdk version "17.0.15" 2025-04-15, ')
    assert code in outcome.stdout


def test_uncatalogued_failure_keeps_the_generic_error(buildsys_project, env):
    proj = project(buildsys_project)
    outcome = proj.build(env={**env, "FAKE_TRANSCRIPT": "gradle-compile-error.txt"})
    error = only_error(outcome.result("app"))
    assert error["code"] == "COMMAND_FAILED"
    assert error["message"].startswith("gradlew exited with code 1")
    assert "Unresolved reference" in proj.log("app")


def test_missing_sdk_fails_the_check(buildsys_project, env):
    proj = project(buildsys_project)
    outcome = proj.build(env={**env, "ANDROID_HOME": ""})
    assert outcome.exit_code == 1
    result = outcome.result("app")
    assert result["status"] == "failed"
    error = only_error(result)
    assert error["code"] == "ANDROID_SDK_NOT_FOUND"
    assert "ANDROID_HOME and ANDROID_SDK_ROOT are not set" in error["message"]
    assert any("export ANDROID_HOME=" in s for s in error["suggestions"])
    assert calls(env, "gradlew") == []


def test_sdk_root_pointing_nowhere_fails_the_check(buildsys_project, env, tmp_path):
    proj = project(buildsys_project)
    gone = tmp_path / "no-sdk-here"
    outcome = proj.build(env={**env, "ANDROID_HOME": "", "ANDROID_SDK_ROOT": str(gone)})
    error = only_error(outcome.result("app"))
    assert error["code"] == "ANDROID_SDK_NOT_FOUND"
    assert f"ANDROID_SDK_ROOT is {str(gone)!r}, which is not a directory" in error["message"]


def test_missing_sdk_with_skip_if_unavailable_skips(buildsys_project, env):
    proj = project(buildsys_project, APP + "skip-if-unavailable = true\n")
    outcome = proj.build(env={**env, "ANDROID_HOME": ""})
    assert outcome.exit_code == 0, outcome.stdout
    result = outcome.result("app")
    assert result["status"] == "skipped"
    assert result["reason"].startswith("toolchain unavailable: Android SDK not found")
    assert calls(env, "gradlew") == []


def test_java_home_without_java_fails_the_check(buildsys_project, env, tmp_path):
    proj = project(buildsys_project)
    empty = tmp_path / "empty-jdk"
    empty.mkdir()
    outcome = proj.build(env={**env, "JAVA_HOME": str(empty)})
    error = only_error(outcome.result("app"))
    assert error["code"] == "ANDROID_JAVA_NOT_FOUND"
    assert "holds no bin/java" in error["message"]
    assert any("export JAVA_HOME=" in s for s in error["suggestions"])


def test_check_reads_sdk_dir_from_local_properties(buildsys_project, env, tmp_path):
    # The build's own env hides ANDROID_HOME from Gradle, and check(host, spec) sees that.
    toml = APP + '[builds.app.env]\nANDROID_HOME = ""\n'
    proj = project(buildsys_project, toml)
    outcome = proj.build(env=env)
    result = outcome.result("app")
    error = only_error(result)
    assert error["code"] == "ANDROID_SDK_NOT_FOUND"
    assert f"{gradle_root(proj) / 'local.properties'} has no sdk.dir" in error["message"]
    assert result["started_at"] is None
    assert calls(env, "gradlew") == []

    # Java properties escapes: `\:` is a colon (as in Windows paths), `\\` a backslash.
    sdk = tmp_path / "An:droid" / "Sdk"
    sdk.mkdir(parents=True)
    escaped = str(sdk).replace(":", "\\:")
    (gradle_root(proj) / "local.properties").write_text(
        f"# written by Android Studio\nsdk.dir={escaped}\n"
    )
    outcome = proj.build(env=env)
    assert outcome.result("app")["status"] == "succeeded", outcome.stdout


def test_local_properties_wins_over_android_home(buildsys_project, env, tmp_path):
    # Gradle prefers sdk.dir to ANDROID_HOME, so a bad ANDROID_HOME does not matter then.
    proj = project(buildsys_project)
    (gradle_root(proj) / "local.properties").write_text("sdk.dir : ../sdk-here\n")
    (gradle_root(proj).parent / "sdk-here").mkdir()
    outcome = proj.build(env={**env, "ANDROID_HOME": str(tmp_path / "nowhere")})
    assert outcome.result("app")["status"] == "succeeded", outcome.stdout


def test_local_properties_pointing_nowhere_fails_the_check(buildsys_project, env, tmp_path):
    proj = project(buildsys_project)
    props = gradle_root(proj) / "local.properties"
    gone = tmp_path / "deleted-sdk"
    props.write_text(f"sdk.dir={gone}\n")
    outcome = proj.build(env=env)
    error = only_error(outcome.result("app"))
    assert error["code"] == "ANDROID_SDK_NOT_FOUND"
    assert error["message"] == f"sdk.dir in {props} is {str(gone)!r}, which is not a directory"
    assert calls(env, "gradlew") == []


def test_plugins_without_a_project_needs_android_home(buildsys_project, env):
    outcome = buildsys_project.run("plugins", "--json", env={**env, "ANDROID_HOME": ""})
    assert outcome.exit_code == 0, outcome.stderr
    (android,) = [p for p in json.loads(outcome.stdout) if p["name"] == "android"]
    (platform,) = android["platforms"]
    (problem,) = platform["toolchain_problems"]
    assert problem.startswith("Android SDK not found: ANDROID_HOME and ANDROID_SDK_ROOT are not")
    assert "sdk.dir in local.properties" in problem
    # The same, structured: code and suggestions apart.
    assert not platform["toolchain_ok"]
    (error,) = platform["toolchain_errors"]
    assert error["code"] == "ANDROID_SDK_NOT_FOUND"
    assert problem.startswith(error["message"])
    assert any("sdk.dir in local.properties" in s for s in error["suggestions"])


def test_ci_in_the_builds_own_env_turns_the_daemon_off(buildsys_project, env):
    proj = project(buildsys_project, APP + '[builds.app.env]\nCI = "true"\n')
    outcome = proj.build(env={**env, "CI": ""})
    assert outcome.exit_code == 0, outcome.stdout
    assert calls(env, "gradlew")[0][2] == "--no-daemon"


def test_java_home_from_the_builds_own_env(buildsys_project, env, tmp_path):
    empty = tmp_path / "empty-jdk"
    empty.mkdir()
    proj = project(buildsys_project, APP + f'[builds.app.env]\nJAVA_HOME = "{empty}"\n')
    outcome = proj.build(env=env)
    error = only_error(outcome.result("app"))
    assert error["code"] == "ANDROID_JAVA_NOT_FOUND"
    assert f"JAVA_HOME is {str(empty)!r}, which holds no bin/java" == error["message"]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("sdk.dir=/opt/sdk\n", "/opt/sdk"),
        ("  sdk.dir = /opt/sdk  \n", "/opt/sdk  "),
        ("sdk.dir:/opt/sdk\n", "/opt/sdk"),
        ("sdk.dir /opt/sdk\n", "/opt/sdk"),
        ("#sdk.dir=/old\n! also a comment\nsdk.dir=/new\n", "/new"),
        ("sdk.dir=C\\:\\\\Android\\\\Sdk\n", "C:\\Android\\Sdk"),
        ("sdk.dir=/opt/\\\n    android-sdk\n", "/opt/android-sdk"),
        ("ndk.dir=/opt/ndk\n", None),
        ("sdk.dir\n", ""),
    ],
)
def test_local_properties_parsing(text, value):
    from buildsys_plugin_android.builder import _properties_value

    assert _properties_value(text, "sdk.dir") == value


def test_bad_format_is_a_config_error(buildsys_project, env):
    proj = project(buildsys_project, APP + 'format = "ipa"\n')
    outcome = proj.build(env=env)
    assert outcome.exit_code == 2
    assert "format must be one of 'apk', 'aab', got 'ipa'" in outcome.stderr + outcome.stdout


def test_transcripts_say_where_they_come_from():
    names = sorted(
        p.name for p in TRANSCRIPTS.glob("*.txt") if p.name.startswith(("gradle", "java"))
    )
    assert {t for t, *_ in CATALOGUED} <= set(names)
    check_transcripts(names)
    # Every Gradle transcript is quoted from a public log; java's is a capture of a package.
    assert all(
        (TRANSCRIPTS / n).read_text().startswith("# source: https://")
        for n in names
        if n != "java-version-17.txt"
    )


# -- the fake Gradle takes what Gradle takes ------------------------------------------

GRADLE_REJECTS = [
    # An unknown option after a task is handed to that task, which refuses it.
    (
        ["assembleRelease", "--no-deamon"],
        "Problem configuring task :app:assembleRelease from command line.\n"
        "> Unknown command-line option '--no-deamon'.",
    ),
    (
        ["--no-deamon", "assembleRelease"],
        "\nUnknown command-line option '--no-deamon'.\n\nUSAGE: gradlew [option...] [task...]\n",
    ),
    (["assemblerelease"], "Task 'assemblerelease' not found in root project 'android'."),
    (["assemble-release"], "Task 'assemble-release' not found in root project 'android'."),
    (["bundleReleaseAab"], "Task 'bundleReleaseAab' not found in root project 'android'."),
    (
        ["--offline=true", "assembleDebug"],
        "Command-line option '--offline' does not take an argument.",
    ),
]


@pytest.mark.parametrize(("argv", "message"), GRADLE_REJECTS)
def test_fake_gradle_rejects_what_gradle_rejects(tmp_path, argv, message):
    root = tmp_path / "android"
    root.mkdir()
    done = run_fake("gradlew", *argv, cwd=root, env={"FAKE_ARGV_LOG": ""})
    assert done.returncode == 1, done.stderr
    assert message in done.stderr
    assert not (root / "app").exists()  # nothing was built


@pytest.mark.parametrize(
    "argv",
    [
        ["assembleRelease"],
        [":app:bundleRelease"],
        ["assembleFreeDebug", "--console=plain", "--no-daemon", "--stacktrace", "-Pci=1"],
        ["bundlePaidAmd64Release", "--console", "plain", "--daemon", "-P", "ci=1", "--offline"],
        ["lintDebug", "--console=plain", "--daemon", "--", "testDebugUnitTest"],
        ["clean", "build", "-x", "lint", "--scan", "-Dorg.gradle.jvmargs=-Xmx2g"],
    ],
)
def test_fake_gradle_accepts_what_gradle_accepts(tmp_path, argv):
    root = tmp_path / "android"
    root.mkdir()
    done = run_fake("gradlew", *argv, cwd=root, env={"FAKE_ARGV_LOG": ""})
    assert done.returncode == 0, done.stderr
    assert "BUILD SUCCESSFUL" in done.stdout


def test_fake_gradle_version_is_a_real_one(tmp_path):
    done = run_fake("gradle", "--version", cwd=tmp_path, env={"FAKE_ARGV_LOG": ""})
    assert done.returncode == 0
    assert "\nGradle 8.1.1\n" in done.stdout
    assert not (tmp_path / "app").exists()


# Every option the builder has, in one project: each build's command line is parsed as
# the fake Gradle parsed it, and must name the task the options ask for.
MATRIX = [
    ({}, "assembleDebug"),
    ({"variant": "release"}, "assembleRelease"),
    ({"format": "aab"}, "bundleDebug"),
    ({"variant": "release", "flavor": "free", "format": "aab"}, "bundleFreeRelease"),
    ({"flavor": "paidAmd64"}, "assemblePaidAmd64Debug"),
    ({"task": "lintDebug"}, "lintDebug"),
    ({"daemon": False, "gradle-args": ["--stacktrace", "-Pci=1", "--offline"]}, "assembleDebug"),
    ({"daemon": True, "gradle-args": ["--build-cache", "--warning-mode=all"]}, "assembleDebug"),
]


def test_every_builder_option_gives_a_command_line_gradle_takes(buildsys_project, env):
    builds = {
        f"b{i}": {"platform": "android", "cwd": f"android{i}", **options}
        for i, (options, _) in enumerate(MATRIX)
    }
    buildsys_project.write(render_toml(builds))
    for i in range(len(MATRIX)):
        (buildsys_project.path / f"android{i}").mkdir()
        (buildsys_project.path / f"android{i}" / "gradlew").symlink_to(FAKES / "gradlew")
    outcome = buildsys_project.build(args=["--refresh-dependencies"], env=env)
    assert outcome.exit_code == 0, outcome.stdout + outcome.stderr
    gradle = fake_cli("_gradle_cli")
    by_cwd = {Path(e["cwd"]).name: e["argv"] for e in _entries(env) if e["tool"] == "gradlew"}
    for i, (_, task) in enumerate(MATRIX):
        assert outcome.result(f"b{i}")["status"] == "succeeded"
        argv = by_cwd[f"android{i}"]
        parsed = gradle.parse(argv, "gradlew", f"android{i}")
        assert isinstance(parsed, gradle.Invocation), parsed
        assert parsed.tasks == (task,)
        assert "--console=plain" in parsed.options
        assert "--refresh-dependencies" in parsed.options


def _entries(env):
    path = Path(env["FAKE_ARGV_LOG"])
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_wrong_gradle_flag_fails_the_build(buildsys_project, env):
    proj = project(buildsys_project, APP + 'gradle-args = ["--no-deamon"]\n')
    outcome = proj.build(env=env)
    assert outcome.exit_code == 1
    error = only_error(outcome.result("app"))
    assert error["code"] == "COMMAND_FAILED"
    assert error["message"].startswith("gradlew exited with code 1")
    assert "> Unknown command-line option '--no-deamon'." in proj.log("app")
    assert outcome.result("app")["artifacts"] == []
