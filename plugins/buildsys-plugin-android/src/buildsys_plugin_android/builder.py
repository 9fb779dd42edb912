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

Before any build runs, `check(host, spec)` looks at what that build's Gradle
will see: Java (JAVA_HOME or PATH), the SDK (`sdk.dir` in the Gradle root's
local.properties, which Gradle prefers, else ANDROID_HOME or ANDROID_SDK_ROOT),
and the wrapper (present but not executable, or no Gradle at all), with the
build's own `env` applied. The Gradle daemon is off when the build's
environment (`ctx.env`) has CI set, unless `daemon` says otherwise.

`fingerprint(host, spec)` is the JDK's `java -version` and the Gradle version
(the wrapper's `distributionUrl` in gradle/wrapper/gradle-wrapper.properties,
else `gradle --version`), with the files and variables that vouch for them and
for what `check()` looks at: java and gradle on PATH (or JAVA_HOME), the
wrapper, local.properties and the SDK directory.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from buildsys import BuildError, BuildFailed, Fingerprint, find_tool, probe

if TYPE_CHECKING:
    from buildsys import BuildContext, BuildSpec, Host

__all__ = ["AndroidBuilder", "AndroidOptions", "gradle_task", "gradle_version"]

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


def _properties_value(text: str, wanted: str) -> str | None:
    """One key's value in a Java properties file (`=`, `:` or blank separators;
    `#`/`!` comments; `\\` escapes; continuation lines)."""
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.lstrip()
        if not pending and (not line or line[0] in "#!"):
            continue
        trailing = len(line) - len(line.rstrip("\\"))
        if trailing % 2 == 1:  # an odd number of backslashes continues the line
            pending += line[:-1]
            continue
        logical.append(pending + line)
        pending = ""
    if pending:
        logical.append(pending)
    for line in logical:
        key, value = _split_property(line)
        if key == wanted:
            return value
    return None


def _split_property(line: str) -> tuple[str, str]:
    key: list[str] = []
    i = 0
    while i < len(line):
        char = line[i]
        if char == "\\" and i + 1 < len(line):
            key.append(line[i + 1])
            i += 2
            continue
        if char in "=: \t\f":
            break
        key.append(char)
        i += 1
    rest = line[i:].lstrip(" \t\f")
    if rest[:1] in ("=", ":"):
        rest = rest[1:].lstrip(" \t\f")
    return "".join(key), _unescape(rest)


def _unescape(text: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            out.append({"t": "\t", "n": "\n", "r": "\r", "f": "\f"}.get(nxt, nxt))
            i += 2
            continue
        out.append(char)
        i += 1
    return "".join(out)


def _sdk_from_local_properties(cwd: Path) -> str | None:
    """`sdk.dir` from `local.properties` in the Gradle root, resolved against it.

    The Android Gradle plugin prefers it to ANDROID_HOME, so buildsys does too.
    """
    try:
        text = (cwd / "local.properties").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    value = (_properties_value(text, "sdk.dir") or "").strip()
    if not value:
        return None
    return str(cwd / value) if not Path(value).is_absolute() else value


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
    return find_tool("java", env).path


def _sdk(env: Mapping[str, str], cwd: Path | None) -> tuple[str, str] | None:
    """Where the SDK is, as Gradle finds it: (what said so, the path), or None.

    The Android Gradle plugin reads `sdk.dir` in local.properties first, then
    ANDROID_HOME, then the deprecated ANDROID_SDK_ROOT.
    """
    if cwd is not None:
        found = _sdk_from_local_properties(cwd)
        if found is not None:
            return f"sdk.dir in {cwd / 'local.properties'}", found
    return _sdk_env(env)


def _sdk_problem(env: Mapping[str, str], cwd: Path | None) -> BuildError | None:
    found = _sdk(env, cwd)
    if found is None:
        if cwd is None:
            return BuildError(
                "Android SDK not found: ANDROID_HOME and ANDROID_SDK_ROOT are not set",
                code="ANDROID_SDK_NOT_FOUND",
                suggestions=(
                    *_sdk_suggestions(),
                    "a build whose Gradle root has sdk.dir in local.properties uses that "
                    "instead: `buildsys check` looks there",
                ),
            )
        return BuildError(
            "Android SDK not found: ANDROID_HOME and ANDROID_SDK_ROOT are not set and "
            f"{cwd / 'local.properties'} has no sdk.dir",
            code="ANDROID_SDK_NOT_FOUND",
            suggestions=_sdk_suggestions(),
        )
    where, path = found
    if not Path(path).is_dir():
        return BuildError(
            f"{where} is {path!r}, which is not a directory",
            code="ANDROID_SDK_NOT_FOUND",
            suggestions=_sdk_suggestions(),
        )
    return None


def _java_problem(env: Mapping[str, str]) -> BuildError | None:
    if _java(env) is not None:
        return None
    home = env.get("JAVA_HOME")
    return BuildError(
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


class AndroidBuilder:
    """Runs one Gradle task; stateless, so one instance serves concurrent builds."""

    name = "android"
    options = AndroidOptions
    catalogue = CATALOGUE

    def check(self, host: Host, spec: BuildSpec | None = None) -> list[BuildError]:
        """Java, the SDK and (per build) Gradle, in the environment the build will have.

        With a `spec`, the build's own `env` counts, `sdk.dir` in the Gradle
        root's local.properties counts (Gradle prefers it to ANDROID_HOME), and
        the wrapper is checked. Without one (`buildsys plugins`), only the
        host's environment is.
        """
        env: Mapping[str, str] = host.env if spec is None else {**host.env, **spec.env}
        cwd = Path(spec.cwd) if spec is not None else None
        if cwd is not None and not cwd.is_dir():
            cwd = None  # the engine reports a missing directory itself, as the build's error
        problems = [p for p in (_java_problem(env), _sdk_problem(env, cwd)) if p is not None]
        if cwd is not None:
            try:
                self._gradle(cwd, env)
            except BuildFailed as exc:
                problems.append(BuildError(exc.message, code=exc.code, suggestions=exc.suggestions))
        return problems

    def fingerprint(self, host: Host, spec: BuildSpec | None = None) -> Fingerprint:
        """The JDK and (per build) the Gradle version, in the build's environment."""
        env: Mapping[str, str] = host.env if spec is None else {**host.env, **spec.env}
        cwd = Path(spec.cwd) if spec is not None else None
        parts = [_java_fingerprint(env), _sdk_witnesses(env, cwd)]
        if cwd is not None:
            parts.append(_gradle_fingerprint(cwd, env))
        return Fingerprint.join(*parts)

    def build(self, spec: BuildSpec, ctx: BuildContext) -> None:
        options: AndroidOptions = spec.options
        cwd = Path(spec.cwd)
        env = ctx.env  # the caller's environment plus the build's `env`, as Gradle gets it
        problem = _sdk_problem(env, cwd)
        if problem is not None:  # check() said so already, unless the build ran without it
            raise BuildFailed(problem.message, problem.suggestions, code=problem.code)
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
        gradle = find_tool("gradle", env).path
        if gradle is None:
            raise BuildFailed(
                f"no Gradle: {cwd} has no gradlew and `gradle` is not on PATH",
                suggestions=[
                    "install Gradle (https://gradle.org/install/), or add the wrapper: "
                    "`gradle wrapper` in that directory, and commit it",
                    "if the wrapper is elsewhere, point the build's `cwd` at the Gradle root "
                    "(the directory with gradlew)",
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


def _java_fingerprint(env: Mapping[str, str]) -> Fingerprint:
    """`java -version`'s first line, from the java Gradle will use."""
    home = env.get("JAVA_HOME")
    if home:
        java = str(Path(home) / "bin" / "java")
        lookup = Fingerprint("", files=(java,), env=("JAVA_HOME",))
        if not os.access(java, os.X_OK):
            return Fingerprint.join(Fingerprint("java: not found"), lookup)
    else:
        found = find_tool("java", env)
        lookup = Fingerprint.join(found.fingerprint(""), Fingerprint("", env=("JAVA_HOME",)))
        if found.path is None:
            return Fingerprint.join(Fingerprint("java: not found"), lookup)
        java = found.path
    text = f"java: {_first_line(_version_output([java, '-version'], env))}"
    return Fingerprint.join(Fingerprint(text), lookup)


_DISTRIBUTION = re.compile(r"gradle-(\d[^/]*?)-(?:bin|all)\.zip$")


def gradle_version(properties: str) -> str | None:
    """The Gradle version a wrapper's gradle-wrapper.properties downloads, if it says."""
    url = _properties_value(properties, "distributionUrl")
    if url is None:
        return None
    found = _DISTRIBUTION.search(url.strip())
    return found.group(1) if found else url.strip()


def _gradle_fingerprint(cwd: Path, env: Mapping[str, str]) -> Fingerprint:
    """The wrapper's Gradle version (read, never run: a first run downloads it), else
    `gradle --version` of the gradle on PATH."""
    wrapper = cwd / "gradlew"
    properties = cwd / "gradle" / "wrapper" / "gradle-wrapper.properties"
    files = Fingerprint("", files=(str(wrapper), str(properties)))
    if wrapper.is_file():
        try:
            version = gradle_version(properties.read_text(encoding="utf-8", errors="replace"))
        except OSError:
            version = None
        text = f"gradle {version} (wrapper)" if version else "gradle wrapper: version unknown"
        return Fingerprint.join(Fingerprint(text), files)
    found = find_tool("gradle", env)
    if found.path is None:
        return Fingerprint.join(found.fingerprint("gradle: not found"), files)
    said = probe([found.path, "--version"], env=env, timeout=120)
    line = next((x for x in said.output.splitlines() if x.startswith("Gradle ")), "")
    text = f"gradle {line.removeprefix('Gradle ').strip()}" if line else "gradle: version unknown"
    return Fingerprint.join(found.fingerprint(text), files)


def _sdk_witnesses(env: Mapping[str, str], cwd: Path | None) -> Fingerprint:
    """What check() reads to find the SDK: no version of its own (the build's Gradle
    files pin build tools and platforms), but a removed SDK must be noticed."""
    files = [str(cwd / "local.properties")] if cwd is not None else []
    found = _sdk(env, cwd)
    if found is not None:
        files.append(found[1])
    return Fingerprint("", files=files, env=("ANDROID_HOME", "ANDROID_SDK_ROOT"))


def _version_output(argv: list[str], env: Mapping[str, str]) -> str:
    """A tool's version text (check() and fingerprint() run outside any build: no ctx.run)."""
    return probe(argv, env=env).output


def _first_line(text: str) -> str:
    return text.splitlines()[0] if text else "unknown"
