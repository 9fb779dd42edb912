"""The `ios` platform: xcodebuild with a derived data directory of the build's own.

    [builds.ios]
    platform = "ios"
    cwd = "ios"
    workspace = "App.xcworkspace"      # or project = "App.xcodeproj", or neither
    scheme = "App"
    configuration = "Debug"
    sdk = "iphonesimulator"
    destination = "generic/platform=iOS Simulator"

    [builds.ios.profiles.release]
    configuration = "Release"
    sdk = "iphoneos"
    destination = "generic/platform=iOS"
    export-options = "ExportOptions.plist"   # archive, then -exportArchive to an .ipa

Derived data goes to `<project>/.buildsys/derived-data/<build name>`, so two
Xcode builds never share one; archives and exports go beside it under
`.buildsys/archives/<build name>` and `.buildsys/exports/<build name>`.

`fingerprint(host, spec)` is the Xcode version (`xcodebuild -version`) and the
version of the SDK the build uses (`xcrun --sdk <sdk> --show-sdk-version`), in
the build's environment (its DEVELOPER_DIR picks an Xcode), with what vouches
for them: xcodebuild and xcrun on PATH, and the selected Xcode (DEVELOPER_DIR,
else xcode-select's choice) with its version.plist.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from buildsys import BuildError, Fingerprint, find_tool, probe

if TYPE_CHECKING:
    from buildsys import BuildContext, BuildSpec, Host

__all__ = ["IosBuilder", "IosOptions", "Layout", "xcodebuild_argvs"]

CATALOGUE = Path(__file__).with_name("catalogue.toml")
_XCODE_SUGGESTIONS = (
    "install Xcode from the Mac App Store or https://developer.apple.com/xcode/ "
    "(the Command Line Tools alone have no xcodebuild for iOS)",
    "select it: `sudo xcode-select --switch /Applications/Xcode.app/Contents/Developer`",
    "then accept the licence and finish set-up once: "
    "`sudo xcodebuild -license accept && xcodebuild -runFirstLaunch`",
)


# Where `xcode-select --switch` records the selected Xcode.
_XCODE_SELECT_LINK = "/var/db/xcode_select_link"


@attrs.frozen(kw_only=True)
class IosOptions:
    """Options of an `ios` build (builds.toml keys are kebab-case)."""

    scheme: str
    workspace: str | None = None
    project: str | None = None
    configuration: str = "Debug"
    sdk: str = "iphonesimulator"
    destination: str | None = None
    export_options: str | None = None  # an ExportOptions.plist: archive, then export an .ipa

    def __attrs_post_init__(self) -> None:
        if self.workspace is not None and self.project is not None:
            raise ValueError(
                "give `workspace` or `project`, not both: xcodebuild takes one "
                "(with CocoaPods or several projects, use the workspace)"
            )


@attrs.frozen
class Layout:
    """Where one build's Xcode output goes, all under `<root>/.buildsys/`."""

    derived_data: Path
    archive: Path
    export: Path

    @classmethod
    def of(cls, spec: BuildSpec) -> Layout:
        state = Path(spec.root) / ".buildsys"
        scheme = spec.options.scheme
        return cls(
            derived_data=state / "derived-data" / spec.name,
            archive=state / "archives" / spec.name / f"{scheme}.xcarchive",
            export=state / "exports" / spec.name,
        )

    def products(self, options: IosOptions) -> Path:
        # macOS products have no platform suffix: Build/Products/Release, not Release-macosx.
        suffix = "" if options.sdk.startswith("macosx") else f"-{options.sdk}"
        return self.derived_data / "Build" / "Products" / f"{options.configuration}{suffix}"


def xcodebuild_argvs(spec: BuildSpec, layout: Layout) -> list[list[str]]:
    """The xcodebuild commands of a build, in order (build; or archive then export)."""
    options: IosOptions = spec.options
    common = ["xcodebuild"]
    if options.workspace is not None:
        common += ["-workspace", options.workspace]
    elif options.project is not None:
        common += ["-project", options.project]
    common += [
        "-scheme",
        options.scheme,
        "-configuration",
        options.configuration,
        "-sdk",
        options.sdk,
    ]
    if options.destination is not None:
        common += ["-destination", options.destination]
    common += ["-derivedDataPath", str(layout.derived_data)]
    if options.export_options is None:
        return [[*common, "build", *spec.args]]
    plist = Path(spec.cwd) / options.export_options
    return [
        [*common, "archive", "-archivePath", str(layout.archive), *spec.args],
        [
            "xcodebuild",
            "-exportArchive",
            "-archivePath",
            str(layout.archive),
            "-exportOptionsPlist",
            str(plist),
            "-exportPath",
            str(layout.export),
        ],
    ]


class IosBuilder:
    """Runs xcodebuild; stateless, so one instance serves concurrent builds."""

    name = "ios"
    options = IosOptions
    catalogue = CATALOGUE
    requires_os = ("darwin",)

    def check(self, host: Host, spec: BuildSpec | None = None) -> list[BuildError]:
        """xcodebuild on PATH and a full Xcode selected, in the build's environment.

        With a `spec`, the build's own `env` counts: its PATH, and a
        DEVELOPER_DIR choosing an Xcode for this build (as on CI machines with
        several). Without one (`buildsys plugins`), the host's environment.
        """
        env: Mapping[str, str] = host.env if spec is None else {**host.env, **spec.env}
        if not find_tool("xcodebuild", env).found:
            return [
                BuildError(
                    "Xcode not found: no `xcodebuild` on PATH",
                    code="IOS_XCODE_NOT_FOUND",
                    suggestions=_XCODE_SUGGESTIONS,
                )
            ]
        developer_dir = env.get("DEVELOPER_DIR", "")
        if developer_dir:
            # xcodebuild and xcode-select obey DEVELOPER_DIR over the system's selection.
            if not Path(developer_dir).is_dir():
                return [
                    BuildError(
                        f"DEVELOPER_DIR is {developer_dir!r}, which is not a directory",
                        code="IOS_XCODE_NOT_FOUND",
                        suggestions=(
                            "point it at an Xcode's Developer directory, e.g. "
                            "DEVELOPER_DIR=/Applications/Xcode.app/Contents/Developer, "
                            "or unset it to use the one `xcode-select -p` prints",
                        ),
                    )
                ]
            text = developer_dir
        else:
            code, text = _selected(env)
            if code != 0:
                return [
                    BuildError(
                        f"no Xcode is selected: `xcode-select -p` failed: {text or f'exit {code}'}",
                        code="IOS_XCODE_NOT_FOUND",
                        suggestions=_XCODE_SUGGESTIONS,
                    )
                ]
        if "CommandLineTools" in text:
            return [
                BuildError(
                    f"the selected developer directory is the Command Line Tools ({text}), "
                    "which cannot build iOS apps",
                    code="IOS_XCODE_NOT_FOUND",
                    suggestions=_XCODE_SUGGESTIONS,
                )
            ]
        return []

    def fingerprint(self, host: Host, spec: BuildSpec | None = None) -> Fingerprint:
        """Xcode's and (per build) the SDK's versions, in the build's environment."""
        env: Mapping[str, str] = host.env if spec is None else {**host.env, **spec.env}
        xcodebuild = find_tool("xcodebuild", env)
        if xcodebuild.path is None:
            xcode = xcodebuild.fingerprint("xcodebuild not found")
        else:
            code, text = _output([xcodebuild.path, "-version"], env)
            xcode = xcodebuild.fingerprint(
                " ".join(text.split()) if code == 0 else f"xcodebuild -version failed: {text}"
            )
        parts = [xcode, _selection(env)]
        if spec is not None:
            parts.append(_sdk_version(spec.options.sdk, env))
        return Fingerprint.join(*parts)

    def build(self, spec: BuildSpec, ctx: BuildContext) -> None:
        options: IosOptions = spec.options
        layout = Layout.of(spec)
        layout.derived_data.mkdir(parents=True, exist_ok=True)
        if options.export_options is not None:
            if options.sdk == "iphonesimulator":
                ctx.warn(
                    "export-options is set but sdk is iphonesimulator: a simulator archive "
                    'cannot be exported to an .ipa; set sdk = "iphoneos" (e.g. in the profile)'
                )
            layout.archive.parent.mkdir(parents=True, exist_ok=True)
            layout.export.mkdir(parents=True, exist_ok=True)
        for argv in xcodebuild_argvs(spec, layout):
            ctx.run(argv)
        found = self._artifacts(options, layout)
        for path in found:
            ctx.add_artifact(path)
        if not found:
            where = (
                f"{layout.archive} and {layout.export}"
                if options.export_options is not None
                else str(layout.products(options))
            )
            ctx.warn(f"xcodebuild succeeded but no .app, .xcarchive or .ipa was found in {where}")

    @staticmethod
    def _artifacts(options: IosOptions, layout: Layout) -> list[Path]:
        if options.export_options is None:
            products = layout.products(options)
            return sorted(products.glob("*.app")) + sorted(products.glob("*.dSYM"))
        found = [layout.archive] if layout.archive.is_dir() else []
        found += sorted((layout.archive / "dSYMs").glob("*.dSYM"))
        return found + sorted(layout.export.glob("*.ipa"))


def _selected(env: Mapping[str, str]) -> tuple[int, str]:
    """`xcode-select -p`: the exit code and the developer directory it prints."""
    select = find_tool("xcode-select", env).path
    return _output([select or "xcode-select", "-p"], env)


def _selection(env: Mapping[str, str]) -> Fingerprint:
    """What chooses the Xcode that runs: DEVELOPER_DIR, else xcode-select's choice."""
    developer_dir = env.get("DEVELOPER_DIR", "")
    files: list[str] = []
    if not developer_dir:
        select = find_tool("xcode-select", env)
        files += [*select.witnesses, _XCODE_SELECT_LINK]
        code, text = _selected(env)
        developer_dir = text.strip() if code == 0 else ""
    if developer_dir:
        files += [developer_dir, str(Path(developer_dir).parent / "version.plist")]
    return Fingerprint("", files=files, env=("DEVELOPER_DIR", "PATH"))


def _sdk_version(sdk: str, env: Mapping[str, str]) -> Fingerprint:
    xcrun = find_tool("xcrun", env)
    if xcrun.path is None:
        return xcrun.fingerprint(f"{sdk} SDK unknown (no xcrun)")
    code, text = _output([xcrun.path, "--sdk", sdk, "--show-sdk-version"], env)
    version = text.strip().splitlines()[0] if code == 0 and text.strip() else "unknown"
    return xcrun.fingerprint(f"{sdk} SDK {version}")


def _output(argv: list[str], env: Mapping[str, str]) -> tuple[int, str]:
    """Exit code and output of a quick tool query (check and fingerprint have no ctx)."""
    said = probe(argv, env=env, timeout=60)
    return said.returncode, said.output
