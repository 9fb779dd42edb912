"""The `ios` platform, installed as a distribution and driven through the CLI.

xcodebuild and xcode-select are fakes (tests/platforms/fakes): the fake
xcodebuild checks its command line as xcodebuild does, so a builder that
passes a wrong option fails here, then replays real xcodebuild output
(tests/platforms/transcripts, each saying where it is from). The platform
requires darwin; these tests override `requires-os` to run it on Linux with
the fakes.
"""

from __future__ import annotations

import json
import sys

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

ANY_OS = 'requires-os = ["linux", "darwin"]\n'
IOS = (
    """
[builds.ios]
platform = "ios"
cwd = "ios"
workspace = "App.xcworkspace"
scheme = "App"
"""
    + ANY_OS
)


@pytest.fixture(scope="module", autouse=True)
def _installed() -> None:
    ensure_installed()


@pytest.fixture
def env(tmp_path):
    return base_env(tmp_path)


def project(buildsys_project, toml: str = IOS):
    buildsys_project.write(toml)
    (buildsys_project.path / "ios").mkdir(exist_ok=True)
    return buildsys_project


def state(proj):
    return proj.path.resolve() / ".buildsys"


def with_only(tmp_path, env, *tools: str) -> dict[str, str]:
    """`env` whose PATH has only these fakes (plus the system's PATH, which has no Xcode)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in tools:
        (bin_dir / tool).symlink_to(FAKES / tool)
    path = env["PATH"].split(":", 1)[1]
    return {**env, "PATH": f"{bin_dir}:{path}"}


def test_plugins_lists_the_installed_distribution(buildsys_project, env):
    outcome = buildsys_project.run("plugins", "--json", env=env)
    assert outcome.exit_code == 0, outcome.stderr
    (ios,) = [p for p in json.loads(outcome.stdout) if p["name"] == "ios"]
    assert ios["distribution"] == "buildsys-plugin-ios"
    assert ios["platforms"] == [
        {"name": "ios", "toolchain_ok": True, "toolchain_problems": [], "toolchain_errors": []}
    ]


@pytest.mark.skipif(sys.platform == "darwin", reason="the default skip is for non-macOS hosts")
def test_skipped_on_linux_by_default(buildsys_project, env):
    proj = project(buildsys_project, IOS.replace(ANY_OS, ""))
    outcome = proj.build(env=env)
    result = outcome.result("ios")
    assert result["status"] == "skipped"
    assert result["reason"] == "requires darwin; this host is linux"
    assert calls(env) == []  # neither check() nor a build ran


def test_simulator_build_argv_and_app(buildsys_project, env):
    proj = project(buildsys_project)
    outcome = proj.build(env=env)
    assert outcome.exit_code == 0, outcome.stdout + outcome.stderr
    derived = state(proj) / "derived-data" / "ios"
    assert calls(env, "xcodebuild") == [
        [
            "-workspace",
            "App.xcworkspace",
            "-scheme",
            "App",
            "-configuration",
            "Debug",
            "-sdk",
            "iphonesimulator",
            "-derivedDataPath",
            str(derived),
            "build",
        ]
    ]
    result = outcome.result("ios")
    assert result["status"] == "succeeded"
    # Debug: no dSYM; the .swiftmodule beside the .app is not an artifact.
    products = derived / "Build/Products/Debug-iphonesimulator"
    assert result["artifacts"] == [str(products / "App.app")]
    assert result["warnings"] == []
    assert "** BUILD SUCCEEDED **" in proj.log("ios")


def test_project_destination_and_extra_args(buildsys_project, env):
    toml = IOS.replace('workspace = "App.xcworkspace"', 'project = "App.xcodeproj"')
    toml += 'destination = "platform=iOS Simulator,name=iPhone 16"\n'
    proj = project(buildsys_project, toml)
    outcome = proj.build("ios", args=["CODE_SIGNING_ALLOWED=NO"], env=env)
    assert outcome.exit_code == 0, outcome.stdout
    (argv,) = calls(env, "xcodebuild")
    assert argv[:2] == ["-project", "App.xcodeproj"]
    assert "-workspace" not in argv
    i = argv.index("-destination")
    assert argv[i + 1] == "platform=iOS Simulator,name=iPhone 16"
    assert argv[-2:] == ["build", "CODE_SIGNING_ALLOWED=NO"]


def test_neither_workspace_nor_project(buildsys_project, env):
    proj = project(buildsys_project, IOS.replace('workspace = "App.xcworkspace"\n', ""))
    outcome = proj.build(env=env)
    assert outcome.exit_code == 0, outcome.stdout
    assert calls(env, "xcodebuild")[0][:2] == ["-scheme", "App"]


def test_each_build_has_its_own_derived_data(buildsys_project, env):
    toml = IOS + "\n" + IOS.replace("[builds.ios]", "[builds.ios-widget]")
    proj = project(buildsys_project, toml)
    outcome = proj.build(env=env)
    assert outcome.exit_code == 0, outcome.stdout
    paths = {argv[argv.index("-derivedDataPath") + 1] for argv in calls(env, "xcodebuild")}
    assert paths == {
        str(state(proj) / "derived-data" / "ios"),
        str(state(proj) / "derived-data" / "ios-widget"),
    }


def test_release_profile_picks_its_configuration(buildsys_project, env):
    toml = (
        IOS
        + """
[builds.ios.profiles.release]
configuration = "Release"

[builds.ios.profiles.debug]
configuration = "Debug"
"""
    )
    proj = project(buildsys_project, toml)
    outcome = proj.build(options=["--profile", "release"], env=env)
    assert outcome.exit_code == 0, outcome.stdout
    (argv,) = calls(env, "xcodebuild")
    assert argv[argv.index("-configuration") + 1] == "Release"
    products = state(proj) / "derived-data/ios/Build/Products/Release-iphonesimulator"
    assert outcome.result("ios")["artifacts"] == [
        str(products / "App.app"),
        str(products / "App.app.dSYM"),
    ]


def test_archive_then_export(buildsys_project, env):
    toml = IOS + 'configuration = "Release"\nsdk = "iphoneos"\nexport-options = "Export.plist"\n'
    proj = project(buildsys_project, toml)
    outcome = proj.build("ios", args=["DEVELOPMENT_TEAM=ABCDE12345"], env=env)
    assert outcome.exit_code == 0, outcome.stdout + outcome.stderr
    archive = state(proj) / "archives" / "ios" / "App.xcarchive"
    export = state(proj) / "exports" / "ios"
    derived = state(proj) / "derived-data" / "ios"
    archive_argv, export_argv = calls(env, "xcodebuild")
    assert archive_argv == [
        "-workspace",
        "App.xcworkspace",
        "-scheme",
        "App",
        "-configuration",
        "Release",
        "-sdk",
        "iphoneos",
        "-derivedDataPath",
        str(derived),
        "archive",
        "-archivePath",
        str(archive),
        "DEVELOPMENT_TEAM=ABCDE12345",
    ]
    assert export_argv == [
        "-exportArchive",
        "-archivePath",
        str(archive),
        "-exportOptionsPlist",
        str(proj.path.resolve() / "ios" / "Export.plist"),
        "-exportPath",
        str(export),
    ]
    result = outcome.result("ios")
    assert result["status"] == "succeeded"
    assert result["artifacts"] == [
        str(archive),
        str(archive / "dSYMs" / "App.app.dSYM"),
        str(export / "App.ipa"),
    ]
    assert result["warnings"] == []


def test_export_of_a_simulator_archive_warns(buildsys_project, env):
    proj = project(buildsys_project, IOS + 'export-options = "Export.plist"\n')
    outcome = proj.build(env=env)
    assert outcome.exit_code == 0, outcome.stdout
    (warning,) = outcome.result("ios")["warnings"]
    assert 'set sdk = "iphoneos"' in warning


def test_failed_export_is_explained(buildsys_project, env):
    proj = project(buildsys_project, IOS + 'sdk = "iphoneos"\nexport-options = "Export.plist"\n')
    transcript = "xcodebuild-export-no-signing-certificate.txt"
    outcome = proj.build(env={**env, "FAKE_EXPORT_TRANSCRIPT": transcript})
    assert outcome.exit_code == 1
    error = only_error(outcome.result("ios"))
    assert error["code"] == "IOS_CODE_SIGNING"
    assert error["context"]["error"].startswith("xcodebuild exited with code 70")
    assert any(
        "error: exportArchive: No signing certificate" in x
        for x in error["context"]["matched_lines"]
    )
    assert len(calls(env, "xcodebuild")) == 3  # archive, export, then -version (fingerprint)


CATALOGUED = [
    ("xcodebuild-scheme-not-found.txt", "IOS_SCHEME_NOT_FOUND", "Shared", 65),
    ("xcodebuild-runtime-not-installed.txt", "IOS_RUNTIME_NOT_INSTALLED", "-downloadPlatform", 70),
    (
        "xcodebuild-runtime-not-installed-xcode26.txt",
        "IOS_RUNTIME_NOT_INSTALLED",
        "-downloadPlatform",
        70,
    ),
    ("xcodebuild-destination-not-found.txt", "IOS_DESTINATION_NOT_FOUND", "-showdestinations", 70),
    ("xcodebuild-no-profiles.txt", "IOS_PROVISIONING_PROFILE", "-allowProvisioningUpdates", 65),
    ("xcodebuild-requires-development-team.txt", "IOS_CODE_SIGNING", "DEVELOPMENT_TEAM=", 65),
    ("xcodebuild-pods-not-in-sync.txt", "IOS_PODS_NOT_IN_SYNC", "pod install", 65),
    ("xcodebuild-requires-xcode.txt", "IOS_XCODE_NOT_FOUND", "xcode-select --switch", 1),
    ("xcodebuild-compile-error.txt", "IOS_BUILD_FAILED", "`error:`", 65),
    ("xcodebuild-build-failed.txt", "IOS_BUILD_FAILED", "`error:`", 65),
]


@pytest.mark.parametrize(("transcript", "code", "hint", "exit_code"), CATALOGUED)
def test_catalogued_failures(buildsys_project, env, transcript, code, hint, exit_code):
    proj = project(buildsys_project)
    outcome = proj.build(env={**env, "FAKE_TRANSCRIPT": transcript})
    assert outcome.exit_code == 1
    result = outcome.result("ios")
    assert result["status"] == "failed"
    assert result["artifacts"] == []
    error = only_error(result)
    assert error["code"] == code
    assert error["transient"] is False
    assert any(hint in s for s in error["suggestions"]), error["suggestions"]
    assert any(s.startswith("docs: https://") for s in error["suggestions"])
    assert error["context"]["error"].startswith(f"xcodebuild exited with code {exit_code}")
    assert error["context"]["matched_lines"]
    # fingerprint(): Xcode's version (the fake's `xcodebuild -version`), then the SDK's.
    assert error["context"]["toolchain"].startswith("Xcode 15.0 Build version 15A240d, ")


@pytest.mark.parametrize(
    ("transcript", "line"),
    [
        (
            "xcodebuild-compile-error.txt",
            "CameraModel.swift:58:29: error: expansion of macro 'ObservationIgnored()'",
        ),
        ("xcodebuild-build-failed.txt", "** BUILD FAILED **"),
    ],
)
def test_a_failed_build_shows_the_error_lines(buildsys_project, env, transcript, line):
    proj = project(buildsys_project)
    outcome = proj.build(env={**env, "FAKE_TRANSCRIPT": transcript})
    error = only_error(outcome.result("ios"))
    assert "exit status 65" in error["message"]
    assert any(line in matched for matched in error["context"]["matched_lines"])


def test_no_xcodebuild_fails_the_check(buildsys_project, env, tmp_path):
    proj = project(buildsys_project)
    only = with_only(tmp_path, env, "xcode-select")
    outcome = proj.build(env=only)
    assert outcome.exit_code == 1
    error = only_error(outcome.result("ios"))
    assert error["code"] == "IOS_XCODE_NOT_FOUND"
    assert error["message"] == "Xcode not found: no `xcodebuild` on PATH"
    assert any("xcode-select --switch" in s for s in error["suggestions"])


def test_no_xcodebuild_with_skip_if_unavailable_skips(buildsys_project, env, tmp_path):
    proj = project(buildsys_project, IOS + "skip-if-unavailable = true\n")
    outcome = proj.build(env=with_only(tmp_path, env, "xcode-select"))
    assert outcome.exit_code == 0, outcome.stdout
    result = outcome.result("ios")
    assert result["status"] == "skipped"
    # The reason says what to install: the check's first suggestion.
    assert result["reason"].startswith(
        "toolchain unavailable: Xcode not found: no `xcodebuild` on PATH (install Xcode "
    )


@pytest.mark.parametrize(
    ("transcript", "words"),
    [
        ("xcode-select-error.txt", "unable to get active developer directory"),
        ("xcode-select-clt.txt", "is the Command Line Tools"),
    ],
)
def test_no_xcode_selected_fails_the_check(buildsys_project, env, transcript, words):
    proj = project(buildsys_project)
    outcome = proj.build(env={**env, "FAKE_XCODE_SELECT_TRANSCRIPT": transcript})
    error = only_error(outcome.result("ios"))
    assert error["code"] == "IOS_XCODE_NOT_FOUND"
    assert words in error["message"]
    assert calls(env, "xcodebuild") == []


def test_developer_dir_in_the_builds_env_selects_xcode(buildsys_project, env, tmp_path):
    developer = tmp_path / "Xcode_16.1.app" / "Contents" / "Developer"
    developer.mkdir(parents=True)
    proj = project(buildsys_project, IOS + f'[builds.ios.env]\nDEVELOPER_DIR = "{developer}"\n')
    # xcode-select's own answer would fail the check; DEVELOPER_DIR overrides it.
    outcome = proj.build(env={**env, "FAKE_XCODE_SELECT_TRANSCRIPT": "xcode-select-error.txt"})
    assert outcome.exit_code == 0, outcome.stdout
    assert outcome.result("ios")["status"] == "succeeded"
    assert calls(env, "xcode-select") == []


@pytest.mark.parametrize(
    ("where", "words"),
    [
        ("missing", "which is not a directory"),
        ("Library/Developer/CommandLineTools", "is the Command Line Tools"),
    ],
)
def test_bad_developer_dir_in_the_builds_env_fails_the_check(
    buildsys_project, env, tmp_path, where, words
):
    developer = tmp_path / where
    if where != "missing":
        developer.mkdir(parents=True)
    toml = IOS + f'[builds.ios.env]\nDEVELOPER_DIR = "{developer}"\n'
    toml += IOS.replace("[builds.ios]", "[builds.other]")  # the host's Xcode: fine
    proj = project(buildsys_project, toml)
    outcome = proj.build(env=env)
    assert outcome.exit_code == 1
    error = only_error(outcome.result("ios"))
    assert error["code"] == "IOS_XCODE_NOT_FOUND"
    assert words in error["message"]
    assert str(developer) in error["message"]
    assert outcome.result("other")["status"] == "succeeded"  # checked once per build


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ('project = "App.xcodeproj"\n', "give `workspace` or `project`, not both"),
        (None, "required option is missing"),
    ],
)
def test_option_errors(buildsys_project, env, change, message):
    toml = IOS + change if change else IOS.replace('scheme = "App"\n', "")
    proj = project(buildsys_project, toml)
    outcome = proj.build(env=env)
    assert outcome.exit_code == 2
    assert message in outcome.stdout + outcome.stderr


def test_transcripts_say_where_they_come_from():
    names = sorted(p.name for p in TRANSCRIPTS.glob("xcode*.txt"))
    assert {t for t, *_ in CATALOGUED} <= set(names)
    check_transcripts(names)
    synthetic = [n for n in names if "# source: synthetic: " in (TRANSCRIPTS / n).read_text()]
    assert synthetic == ["xcode-select-error.txt"]  # no public log of it was found


# -- the fake xcodebuild takes what xcodebuild takes ----------------------------------

XCODEBUILD_REJECTS = [
    (
        ["-scheme", "App", "-allowProvisioningUpdate", "build"],
        64,
        "invalid option '-allowProvisioningUpdate'",
    ),
    (
        ["--scheme", "App", "build"],
        64,
        "xcodebuild: error: invalid option '--scheme'\n\nUsage: xcodebuild ",
    ),
    (["-scheme", "App", "biuld"], 65, "xcodebuild: error: Unknown build action 'biuld'."),
    (
        ["-workspace", "App.xcworkspace", "-project", "App.xcodeproj", "-scheme", "App", "build"],
        64,
        "You cannot specify both an Xcode 3 project and a workspace.",
    ),
    (
        ["-workspace", "App.xcworkspace", "build"],
        64,
        "If you specify a workspace then you must also specify a scheme.",
    ),
    (
        ["-scheme", "App", "-sdk", "iOS", "build"],
        64,
        'xcodebuild: error: SDK "iOS" cannot be located.',
    ),
    (
        ["-scheme", "App", "-sdk", "iphoneos16.4", "build"],
        64,
        'SDK "iphoneos16.4" cannot be located.',
    ),
    (["-scheme", "App", "archive"], 64, "fake xcodebuild: archive without -archivePath"),
    (
        ["-exportArchive", "-archivePath", "App.xcarchive", "-exportPath", "out"],
        64,
        "xcodebuild: error: The flag -exportOptionsPlist is required when specifying "
        "-exportArchive.",
    ),
    (
        ["-exportArchive", "-exportOptionsPlist", "E.plist", "-exportPath", "out"],
        64,
        "The flag -archivePath is required when specifying -exportArchive.",
    ),
    (
        ["-exportArchive", "-archivePath", "App.xcarchive", "-exportOptionsPlist", "E.plist"],
        64,
        "fake xcodebuild: -exportArchive without -exportPath",
    ),
]


@pytest.mark.parametrize(("argv", "status", "message"), XCODEBUILD_REJECTS)
def test_fake_xcodebuild_rejects_what_xcodebuild_rejects(tmp_path, argv, status, message):
    done = run_fake("xcodebuild", *argv, cwd=tmp_path, env={"FAKE_ARGV_LOG": ""})
    assert done.returncode == status, done.stderr
    assert message in done.stderr
    assert list(tmp_path.iterdir()) == []  # nothing was built


def test_fake_xcodebuild_knows_the_sdks_of_its_xcode(tmp_path):
    argv = ["-scheme", "App", "-sdk", "iphoneos16.4", "-derivedDataPath", "dd", "build"]
    done = run_fake("xcodebuild", *argv, cwd=tmp_path, env={"FAKE_ARGV_LOG": ""})
    assert done.returncode == 64  # Xcode 15.0 has the iOS 17.0 SDK
    older = {"FAKE_ARGV_LOG": "", "FAKE_SHOWSDKS_TRANSCRIPT": "xcodebuild-showsdks-14.3.1.txt"}
    done = run_fake("xcodebuild", *argv, cwd=tmp_path, env=older)
    assert done.returncode == 0, done.stderr
    assert "** BUILD SUCCEEDED **" in done.stdout


@pytest.mark.parametrize(
    ("flag", "env_var", "transcript", "expected"),
    [
        ("-version", None, None, "Xcode 15.0\nBuild version 15A240d\n"),
        (
            "-version",
            "FAKE_XCODEBUILD_VERSION_TRANSCRIPT",
            "xcodebuild-version-14.3.1.txt",
            "Xcode 14.3.1\n",
        ),
        ("-showsdks", None, None, "\tiOS 17.0                      \t-sdk iphoneos17.0\n"),
        (
            "-showsdks",
            "FAKE_SHOWSDKS_TRANSCRIPT",
            "xcodebuild-showsdks-14.3.1.txt",
            "-sdk iphoneos16.4\n",
        ),
    ],
)
def test_fake_xcodebuild_version_and_sdks_are_real_ones(
    tmp_path, flag, env_var, transcript, expected
):
    extra = {env_var: transcript} if env_var else {}
    done = run_fake("xcodebuild", flag, cwd=tmp_path, env={"FAKE_ARGV_LOG": "", **extra})
    assert done.returncode == 0
    assert expected in done.stdout


OPTION_SETS = [
    {"workspace": "App.xcworkspace"},
    {"project": "App.xcodeproj", "destination": "platform=iOS Simulator,name=iPhone 15"},
    {"configuration": "Release", "sdk": "iphoneos", "destination": "generic/platform=iOS"},
    {"sdk": "iphoneos17.0", "export_options": "ExportOptions.plist"},
    {"workspace": "App.xcworkspace", "sdk": "iphoneos", "export_options": "ExportOptions.plist"},
    {"sdk": "macosx", "configuration": "Release"},
]
EXTRA_ARGS = [(), ("DEVELOPMENT_TEAM=ABCDE12345", "-allowProvisioningUpdates"), ("-quiet",)]


@pytest.mark.parametrize("options", OPTION_SETS)
@pytest.mark.parametrize("args", EXTRA_ARGS)
def test_every_builder_command_line_is_one_xcodebuild_takes(tmp_path, options, args):
    from buildsys_plugin_ios.builder import IosOptions, Layout, xcodebuild_argvs

    from buildsys.spec import BuildSpec

    xcode = fake_cli("_xcodebuild_cli")
    sdks = xcode.sdk_names((TRANSCRIPTS / "xcodebuild-showsdks.txt").read_text())
    spec = BuildSpec(
        name="ios",
        platform="ios",
        root=str(tmp_path),
        cwd=str(tmp_path / "ios"),
        options=IosOptions(scheme="App", **options),
        args=args,
    )
    argvs = xcodebuild_argvs(spec, Layout.of(spec))
    assert len(argvs) == (2 if "export_options" in options else 1)
    for argv in argvs:
        assert argv[0] == "xcodebuild"
        parsed = xcode.parse(argv[1:], sdks)
        assert isinstance(parsed, xcode.Invocation), (argv, parsed)


def test_an_sdk_xcode_lacks_fails_the_build(buildsys_project, env):
    proj = project(buildsys_project, IOS + 'sdk = "iphonesimulator16.1"\n')
    outcome = proj.build(env=env)
    error = only_error(outcome.result("ios"))
    assert error["code"] == "IOS_SDK_NOT_FOUND"
    assert error["context"]["error"].startswith("xcodebuild exited with code 64")
    assert error["context"]["matched_lines"] == [
        'xcodebuild: error: SDK "iphonesimulator16.1" cannot be located.'
    ]
    assert any("-showsdks" in s for s in error["suggestions"])


def test_a_wrong_xcodebuild_flag_fails_the_build(buildsys_project, env):
    proj = project(buildsys_project)
    outcome = proj.build("ios", args=["-allowProvisioningUpdate"], env=env)
    assert outcome.exit_code == 1
    error = only_error(outcome.result("ios"))
    assert error["code"] == "IOS_XCODEBUILD_USAGE"  # not IOS_BUILD_FAILED: nothing was built
    assert error["context"]["error"].startswith("xcodebuild exited with code 64")
    assert error["context"]["matched_lines"] == [
        "xcodebuild: error: invalid option '-allowProvisioningUpdate'"
    ]
    # The flag the catalogue suggests for provisioning is one xcodebuild takes.
    outcome = proj.build("ios", args=["-allowProvisioningUpdates"], env=env)
    assert outcome.result("ios")["status"] == "succeeded", outcome.stdout
