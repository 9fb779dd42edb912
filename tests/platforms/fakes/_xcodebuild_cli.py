# FAKE for tests: the command line the fake xcodebuild accepts, and what it prints for one it
# rejects; not a tool itself. Imported by the fake and by the ios tests.
"""xcodebuild's command line as the fake understands it.

Options are single-dash words, some taking the next argument as their value
(`-scheme App`), as in xcodebuild(1) and its usage text (Xcode 15.4's is quoted in
https://github.com/kivy/buildozer/issues/1808); bare words are build actions
(`build`, `archive`, ...); `NAME=value` words are build settings. `-sdk` must name
an SDK the installed Xcode has: one `xcodebuild -showsdks` lists (the transcript
in FAKE_SHOWSDKS_TRANSCRIPT), or its platform without the version (`iphoneos`).

What a rejected command line prints is xcodebuild's own text, quoted from:
- "xcodebuild: error: invalid option '-x'" and the usage, exit 64 (EX_USAGE, which
  xcodebuild(1) documents for malformed options; the man page's Exit Codes section is
  quoted in https://github.com/onmyway133/blog/issues/544): the message from
  https://github.com/flutter/flutter/issues/45676, the first usage line from
  https://github.com/nacuteodor/ProcessTestSummaries/issues/1 (the rest left out);
- "xcodebuild: error: Unknown build action 'x'.", exit 65
  (https://github.com/peripheryapp/periphery/issues/669);
- both -workspace and -project: https://github.com/lionheart/openradar-mirror/issues/11100;
- -workspace without -scheme: https://github.com/facebookarchive/xcbuild/issues/23;
- -exportArchive without -exportOptionsPlist, exit 64:
  https://github.com/microsoft/appcenter-sdk-apple/issues/860 (the -archivePath case is
  assumed to read the same);
- an SDK that is not installed, exit 64: https://github.com/actions/runner-images/issues/6660.
Where the fake is stricter than xcodebuild, because the ios builder relies on a path
it passes (`archive` without -archivePath, -exportArchive without -exportPath), the
message starts with "fake xcodebuild:" and says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

VALUED = frozenset(
    {
        "-project", "-target", "-workspace", "-scheme", "-configuration", "-xcconfig",
        "-arch", "-sdk", "-toolchain", "-destination", "-destination-timeout",
        "-parallel-testing-enabled", "-parallel-testing-worker-count",
        "-maximum-parallel-testing-workers", "-maximum-concurrent-test-device-destinations",
        "-maximum-concurrent-test-simulator-destinations", "-resultBundlePath",
        "-resultStreamPath", "-resultBundleVersion", "-derivedDataPath", "-archivePath",
        "-exportPath", "-exportOptionsPlist", "-xctestrun", "-testProductsPath", "-testPlan",
        "-only-testing", "-skip-testing", "-only-test-configuration",
        "-skip-test-configuration", "-test-iterations", "-test-timeouts-enabled",
        "-default-test-execution-time-allowance", "-maximum-test-execution-time-allowance",
        "-enableCodeCoverage", "-enableAddressSanitizer", "-enableThreadSanitizer",
        "-enableUndefinedBehaviorSanitizer", "-testLanguage", "-testRegion",
        "-clonedSourcePackagesDirPath", "-packageCachePath", "-jobs",
        "-authenticationKeyPath", "-authenticationKeyID", "-authenticationKeyIssuerID",
        "-scmProvider", "-localizationPath", "-exportLanguage", "-defaultLanguage",
        "-collect-test-diagnostics", "-downloadPlatform", "-importPlatform",
    }
)  # fmt: skip
FLAGS = frozenset(
    {
        "-version", "-showsdks", "-list", "-showBuildSettings", "-showBuildSettingsForIndex",
        "-showdestinations", "-showTestPlans", "-showBuildTimingSummary",
        "-allowProvisioningUpdates", "-allowProvisioningDeviceRegistration",
        "-exportArchive", "-exportNotarizedApp", "-exportLocalizations",
        "-importLocalizations", "-resolvePackageDependencies", "-create-xcframework",
        "-quiet", "-verbose", "-json", "-usage", "-help", "-license",
        "-checkFirstLaunchStatus", "-runFirstLaunch", "-downloadAllPlatforms", "-alltargets",
        "-parallelizeTargets", "-hideShellScriptEnvironment", "-skipUnavailableActions",
        "-disableAutomaticPackageResolution", "-onlyUsePackageVersionsFromResolvedFile",
        "-skipPackagePluginValidation", "-skipMacroValidation", "-skipPackageUpdates",
        "-disablePackageRepositoryCache", "-retry-tests-on-failure",
        "-run-tests-until-failure", "-includeScreenshots", "-mergeImport",
    }
)  # fmt: skip
ACTIONS = frozenset(
    {
        "build", "build-for-testing", "analyze", "archive", "test", "test-without-building",
        "docbuild", "installsrc", "install", "clean",
    }
)  # fmt: skip
_SETTING = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\[[^\]=]*\])*=.*", re.DOTALL)
_USAGE = (
    "Usage: xcodebuild [-project <projectname>] [[-target <targetname>]...|-alltargets] "
    "[-configuration <configurationname>] [-arch <architecture>]... "
    "[-sdk [<sdkname>|<sdkpath>]] [-showBuildSettings] [<buildsetting>=<value>]... "
    "[<buildaction>]...\n"
)


@dataclass(frozen=True)
class Invocation:
    """An accepted command line."""

    actions: tuple[str, ...]
    values: dict[str, str] = field(default_factory=dict)  # -scheme -> App (the last one wins)
    flags: frozenset[str] = frozenset()
    settings: tuple[str, ...] = ()  # NAME=value build settings, in order

    def value(self, option: str) -> str | None:
        return self.values.get(option)


@dataclass(frozen=True)
class Rejection:
    """What xcodebuild prints (to stderr) for a command line it refuses, and its exit status."""

    message: str
    status: int


def sdk_names(showsdks_output: str) -> frozenset[str]:
    """The SDKs `xcodebuild -showsdks` lists, with and without their version."""
    found = re.findall(r"-sdk (\S+)", showsdks_output)
    bases = {re.sub(r"[\d.]+$", "", name) for name in found}
    return frozenset(found) | frozenset(bases)


def parse(argv: list[str], sdks: frozenset[str]) -> Invocation | Rejection:
    """Check `argv` as xcodebuild would, with `sdks` installed."""
    actions: list[str] = []
    values: dict[str, str] = {}
    flags: set[str] = set()
    settings: list[str] = []
    index = 0
    while index < len(argv):
        arg = argv[index]
        index += 1
        if arg.startswith("-"):
            if arg in FLAGS:
                flags.add(arg)
            elif arg in VALUED and index < len(argv):
                values[arg] = argv[index]
                index += 1
            elif arg in VALUED:
                return Rejection(f"fake xcodebuild: option '{arg}' needs a value\n", 64)
            else:
                return Rejection(f"xcodebuild: error: invalid option '{arg}'\n\n{_USAGE}", 64)
        elif _SETTING.fullmatch(arg):
            settings.append(arg)
        elif arg in ACTIONS:
            actions.append(arg)
        else:
            return Rejection(f"xcodebuild: error: Unknown build action '{arg}'.\n", 65)
    parsed = Invocation(tuple(actions), values, frozenset(flags), tuple(settings))
    return _pairing_problem(parsed, sdks) or parsed


def _pairing_problem(parsed: Invocation, sdks: frozenset[str]) -> Rejection | None:
    if "-workspace" in parsed.values and "-project" in parsed.values:
        return Rejection(
            "xcodebuild: error: You cannot specify both an Xcode 3 project and a workspace.\n", 64
        )
    if "-workspace" in parsed.values and "-scheme" not in parsed.values:
        return Rejection(
            "xcodebuild: error: If you specify a workspace then you must also specify a "
            "scheme.  Use -list to see the schemes in this workspace.\n",
            64,
        )
    sdk = parsed.value("-sdk")
    if sdk is not None and not sdk.startswith("/") and sdk not in sdks:
        return Rejection(f'xcodebuild: error: SDK "{sdk}" cannot be located.\n', 64)
    if "-exportArchive" in parsed.flags:
        for required in ("-archivePath", "-exportOptionsPlist"):
            if required not in parsed.values:
                return Rejection(
                    f"xcodebuild: error: The flag {required} is required when specifying "
                    "-exportArchive.\n",
                    64,
                )
        if "-exportPath" not in parsed.values:
            return Rejection(
                "fake xcodebuild: -exportArchive without -exportPath: xcodebuild would export "
                "into the current directory, where the ios builder does not look for the .ipa\n",
                64,
            )
    if "archive" in parsed.actions and "-archivePath" not in parsed.values:
        return Rejection(
            "fake xcodebuild: archive without -archivePath: xcodebuild would write the archive "
            "under ~/Library/Developer/Xcode/Archives/, where the ios builder does not look\n",
            64,
        )
    return None
