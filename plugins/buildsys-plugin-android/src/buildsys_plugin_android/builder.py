"""The `android` platform: one Gradle task per build, APK/AAB artifacts found afterwards.

    [builds.android]
    platform = "android"
    cwd = "android"              # the Gradle root (where gradlew lives)
    variant = "debug"            # the build type
    flavor = "free"              # optional product flavor
    format = "apk"               # or "aab"
    gradle-args = ["--stacktrace"]

    [builds.android.profiles.release]
    variant = "release"
    format = "aab"

The task is `assemble<Flavor><Variant>` (apk) or `bundle<Flavor><Variant>` (aab)
unless `task` names one. `./gradlew` is used when the build's directory has
one, else `gradle` from PATH.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from buildsys import BuildError, BuildFailed

if TYPE_CHECKING:
    from buildsys.context import BuildContext
    from buildsys.host import Host
    from buildsys.spec import BuildSpec

__all__ = ["AndroidBuilder", "AndroidOptions", "gradle_task"]

CATALOGUE = Path(__file__).with_name("catalogue.toml")
FORMATS = ("apk", "aab")
DOCS = "https://developer.android.com/build/building-cmdline"
_SDK_DOCS = "https://developer.android.com/tools/variables#envar"
_FALSE = ("", "0", "false", "no", "off")


def _format(value: object) -> str:
    if value not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(map(repr, FORMATS))}, got {value!r}")
    return str(value)


def _str_list(value: object) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise TypeError(f"expected a list of strings, e.g. ['--stacktrace'], got {value!r}")
    if not all(isinstance(item, str) for item in value):
        raise TypeError(f"expected a list of strings, got {value!r}")
    return tuple(value)


@attrs.frozen
class AndroidOptions:
    """Options of an `android` build (builds.toml keys are kebab-case)."""

    variant: str = "debug"
    task: str | None = None  # an explicit Gradle task; overrides variant, flavor and format
    flavor: str | None = None
    format: str = attrs.field(default="apk", converter=_format)
    gradle_args: tuple[str, ...] = attrs.field(default=(), converter=_str_list)
    daemon: bool | None = None  # None: off when CI is set, else on


def _cap(word: str) -> str:
    return word[:1].upper() + word[1:]


def gradle_task(options: AndroidOptions) -> str:
    """`assemble<Flavor><Variant>` or `bundle<Flavor><Variant>`, or the explicit `task`."""
    if options.task:
        return options.task
    verb = "bundle" if options.format == "aab" else "assemble"
    return verb + _cap(options.flavor or "") + _cap(options.variant)


def _outputs_glob(options: AndroidOptions) -> str:
    """Where the Android Gradle plugin writes the variant's outputs, below `<module>/build/`.

    APKs: `outputs/apk/[<flavor>/]<buildType>/*.apk`; bundles:
    `outputs/bundle/<variantName>/*.aab`, where the variant name is
    `<flavor><BuildType>` (or just `<buildType>`).
    """
    if options.format == "aab":
        variant = f"{options.flavor}{_cap(options.variant)}" if options.flavor else options.variant
        return f"outputs/bundle/{variant}/*.aab"
    flavor_dir = f"{options.flavor}/" if options.flavor else ""
    return f"outputs/apk/{flavor_dir}{options.variant}/*.apk"


_NOT_MODULES = frozenset({"build", ".gradle", ".git", ".idea", ".cxx", "node_modules"})


def _build_dirs(root: Path) -> list[Path]:
    """Every module's `build/` directory below the Gradle root, without walking into one."""
    found: list[Path] = []
    for dirpath, dirnames, _ in os.walk(root):
        if "build" in dirnames:
            found.append(Path(dirpath) / "build")
        dirnames[:] = [d for d in dirnames if d not in _NOT_MODULES]
    return found


def _artifacts(root: Path, options: AndroidOptions) -> list[Path]:
    pattern = _outputs_glob(options)
    return sorted(path for build in _build_dirs(root) for path in build.glob(pattern))


def _is_ci(env: Mapping[str, str]) -> bool:
    return env.get("CI", "").strip().lower() not in _FALSE


def _sdk_from_local_properties(cwd: Path) -> str | None:
    """`sdk.dir` from `local.properties` (Java properties: `\\:` and `\\\\` escapes)."""
    try:
        text = (cwd / "local.properties").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key.strip() == "sdk.dir":
            return value.strip().replace("\\:", ":").replace("\\\\", "\\") or None
    return None


def _sdk_env(env: Mapping[str, str]) -> tuple[str, str] | None:
    for name in ("ANDROID_HOME", "ANDROID_SDK_ROOT"):
        if env.get(name):
            return name, env[name]
    return None


def _java(env: Mapping[str, str]) -> str | None:
    """The java Gradle will use: $JAVA_HOME/bin/java when JAVA_HOME is set, else PATH's."""
    home = env.get("JAVA_HOME")
    if home:
        candidate = Path(home) / "bin" / "java"
        return str(candidate) if os.access(candidate, os.X_OK) else None
    return shutil.which("java", path=env.get("PATH", os.defpath))


class AndroidBuilder:
    """Runs one Gradle task; stateless, so one instance serves concurrent builds."""

    name = "android"
    options = AndroidOptions
    catalogue = CATALOGUE

    def check(self, host: Host) -> list[BuildError]:
        problems: list[BuildError] = []
        env = host.env
        if _java(env) is None:
            home = env.get("JAVA_HOME")
            problems.append(
                BuildError(
                    f"JAVA_HOME is {home!r}, which holds no bin/java"
                    if home
                    else "Java not found: no `java` on PATH and JAVA_HOME is not set",
                    code="ANDROID_JAVA_NOT_FOUND",
                    suggestions=(
                        "install a JDK 17 (the Android Gradle plugin 8.x needs 17): "
                        "`sudo apt-get install openjdk-17-jdk` on Debian/Ubuntu, "
                        "`brew install --cask temurin@17` on macOS, "
                        "or the JBR bundled with Android Studio",
                        "then point JAVA_HOME at it, e.g. "
                        "`export JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64` (Linux) or "
                        '`export JAVA_HOME="$(/usr/libexec/java_home -v 17)"` (macOS)',
                    ),
                )
            )
        found = _sdk_env(env)
        if found is None:
            problems.append(
                BuildError(
                    "Android SDK not found: ANDROID_HOME and ANDROID_SDK_ROOT are not set",
                    code="ANDROID_SDK_NOT_FOUND",
                    suggestions=(
                        *_sdk_suggestions(),
                        "sdk.dir in local.properties is not enough here: the toolchain check "
                        "runs before any build, without a project directory, so it needs "
                        "ANDROID_HOME",
                    ),
                )
            )
        elif not Path(found[1]).is_dir():
            problems.append(
                BuildError(
                    f"{found[0]} is {found[1]!r}, which is not a directory",
                    code="ANDROID_SDK_NOT_FOUND",
                    suggestions=_sdk_suggestions(),
                )
            )
        return problems

    def fingerprint(self, host: Host) -> str:
        java = _java(host.env)
        if java is None:
            return "java: not found"
        return f"java: {_first_line(_version_output([java, '-version'], host.env))}"

    def build(self, spec: BuildSpec, ctx: BuildContext) -> None:
        options: AndroidOptions = spec.options
        cwd = Path(spec.cwd)
        env = {**os.environ, **spec.env}
        if _sdk_env(env) is None and _sdk_from_local_properties(cwd) is None:
            raise BuildFailed(
                f"Android SDK not found: ANDROID_HOME and ANDROID_SDK_ROOT are not set and "
                f"{cwd / 'local.properties'} has no sdk.dir",
                suggestions=_sdk_suggestions(),
                code="ANDROID_SDK_NOT_FOUND",
            )
        argv = [
            self._gradle(cwd, env),
            gradle_task(options),
            "--console=plain",
            "--daemon" if self._daemon(options, env) else "--no-daemon",
            *options.gradle_args,
            *spec.args,
        ]
        ctx.run(argv, cwd=cwd)
        found = _artifacts(cwd, options)
        for path in found:
            ctx.add_artifact(path)
        if not found:
            ctx.warn(
                f"Gradle succeeded but no {options.format.upper()} matched "
                f"<module>/build/{_outputs_glob(options)} under {cwd}"
                + (
                    "; with an explicit `task`, set variant, flavor and format to match "
                    "what it produces"
                    if options.task
                    else ""
                )
            )

    @staticmethod
    def _daemon(options: AndroidOptions, env: Mapping[str, str]) -> bool:
        return options.daemon if options.daemon is not None else not _is_ci(env)

    @staticmethod
    def _gradle(cwd: Path, env: Mapping[str, str]) -> str:
        wrapper = cwd / "gradlew"
        if wrapper.is_file():
            if not os.access(wrapper, os.X_OK):
                raise BuildFailed(
                    f"{wrapper} is not executable",
                    suggestions=[
                        f"make it executable: chmod +x {wrapper}",
                        "and record the bit in git: git update-index --chmod=+x gradlew",
                    ],
                    code="ANDROID_GRADLEW_NOT_EXECUTABLE",
                )
            return str(wrapper)
        gradle = shutil.which("gradle", path=env.get("PATH", os.defpath))
        if gradle is None:
            raise BuildFailed(
                f"no Gradle: {cwd} has no gradlew and `gradle` is not on PATH",
                suggestions=[
                    "point the build's `cwd` at the Gradle root (the directory with gradlew)",
                    "or add a wrapper: `gradle wrapper` in that directory (and commit it)",
                    "or install Gradle: https://gradle.org/install/",
                ],
                code="ANDROID_GRADLE_NOT_FOUND",
            )
        return gradle


def _sdk_suggestions() -> tuple[str, ...]:
    return (
        "install the Android SDK (Android Studio, or the command-line tools from "
        "https://developer.android.com/studio#command-tools)",
        "then set ANDROID_HOME to it, e.g. `export ANDROID_HOME=$HOME/Android/Sdk` (Linux) or "
        "`export ANDROID_HOME=$HOME/Library/Android/sdk` (macOS)",
        f"docs: {_SDK_DOCS}",
    )


def _version_output(argv: list[str], env: Mapping[str, str]) -> str:
    """A tool's version text (stdout and stderr: `java -version` prints to stderr).

    check() and fingerprint() run outside any build, so there is no ctx.run here.
    """
    try:
        proc = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            env=dict(env),
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"({argv[0]} failed: {exc})"
    return (proc.stdout + proc.stderr).strip()


def _first_line(text: str) -> str:
    return text.splitlines()[0] if text else "unknown"
