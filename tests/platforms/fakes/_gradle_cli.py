# FAKE for tests: the command line the fake gradle/gradlew accept, and what they print for one
# they reject; not a tool itself. Imported by the fakes and by the android tests.
"""Gradle's command line as the fake understands it.

Options are Gradle 8's built-in ones (`gradle --help`,
https://docs.gradle.org/current/userguide/command_line_interface.html): flags,
options with a value (`--console=plain`, `--console plain`, `-Pkey=value`,
`-P key=value`), and `--` ending the options. Tasks are Gradle's own help and
setup tasks and the Android Gradle plugin's: lifecycle tasks (`assemble`,
`build`, `clean`, ...) and variant tasks for the two build types a new Android
project has (`assembleRelease`, `bundleFreeDebug`, `lintPaidRelease`, ...), bare
or by path in the `:app` project (`:app:bundleRelease`). Camel-case abbreviations
(`aR`) are not understood: real Gradle takes them, the builder never writes them.

What a rejected command line prints is Gradle's own text, quoted from:
- an unknown option before any task, "Unknown command-line option '--x'." and the
  usage line, on stderr, exit 1: CommandLineActionFactory.CommandLineParseFailureAction
  in https://github.com/gradle/gradle (subprojects/launcher), as quoted in
  https://github.com/openimsdk/open-im-android-demo/issues/38; the option list that
  follows the usage line is left out;
- a value given to a flag, "Command-line option '--x' does not take an argument."
  (https://github.com/gradle/gradle/issues/13243);
- an unknown option after a task, which Gradle hands to that task, "Problem
  configuring task :t from command line." (https://github.com/cdxgen/cdxgen/issues/383);
- an unknown task, "Task 't' not found in root project 'p'." and the Try section of
  Gradle 7.2 (https://github.com/orkes-io/orkesworkers/issues/21).
Only the task, option, project and launcher names are filled in. Messages for
mistakes no public log was found for start with "fake gradle:".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

FLAGS = frozenset(
    {
        "-?", "-h", "--help", "-v", "--version", "-V", "--show-version",
        "-a", "--no-rebuild", "--build-cache", "--no-build-cache",
        "--configuration-cache", "--no-configuration-cache",
        "--configure-on-demand", "--no-configure-on-demand",
        "--continue", "--no-continue", "-d", "--debug", "--daemon", "--no-daemon",
        "--export-keys", "--foreground", "-i", "--info", "-m", "--dry-run",
        "--offline", "--parallel", "--no-parallel", "--profile",
        "--problems-report", "--no-problems-report", "-q", "--quiet",
        "--refresh-keys", "-U", "--refresh-dependencies", "--rerun-tasks",
        "-S", "--full-stacktrace", "-s", "--stacktrace", "--scan", "--no-scan",
        "--status", "--stop", "-t", "--continuous", "--update-locks",
        "-w", "--warn", "--watch-fs", "--no-watch-fs", "--write-locks",
    }
)  # fmt: skip
VALUED = frozenset(
    {
        "-b", "--build-file", "-c", "--settings-file", "--configuration-cache-problems",
        "--console", "--continuous-build-quiet-period", "-D", "--system-prop",
        "-F", "--dependency-verification", "-g", "--gradle-user-home",
        "-I", "--init-script", "--include-build", "-M", "--write-verification-metadata",
        "--max-workers", "-P", "--project-prop", "-p", "--project-dir", "--priority",
        "--project-cache-dir", "--warning-mode", "-x", "--exclude-task",
    }
)  # fmt: skip
CONSOLES = ("plain", "colored", "auto", "rich", "verbose")

BUILT_IN_TASKS = frozenset(
    {
        "help", "tasks", "projects", "properties", "dependencies", "dependencyInsight",
        "buildEnvironment", "outgoingVariants", "resolvableConfigurations",
        "javaToolchains", "init", "wrapper", "updateDaemonJvm",
    }
)  # fmt: skip
ANDROID_TASKS = frozenset(
    {
        "assemble", "build", "buildNeeded", "buildDependents", "bundle", "clean",
        "check", "connectedCheck", "deviceCheck", "lint", "lintFix", "lintVital",
        "test", "connectedAndroidTest", "signingReport", "sourceSets",
        "androidDependencies", "uninstallAll",
    }
)  # fmt: skip
BUILD_TYPES = ("Debug", "Release")  # what a new Android Studio project has
PROJECTS = ("app",)  # the module the fake writes its outputs into
_TYPES = "|".join(BUILD_TYPES)
_FLAVORS = r"(?:[A-Z][A-Za-z0-9]*)*?"
_VARIANT_TASK = re.compile(
    rf"(?:assemble|bundle|lint|lintFix|lintVital|install|uninstall|compile|package)"
    rf"{_FLAVORS}(?:{_TYPES})(?:UnitTest|AndroidTest)?"
    rf"|test{_FLAVORS}(?:{_TYPES})UnitTest|connected{_FLAVORS}(?:{_TYPES})AndroidTest"
)


@dataclass(frozen=True)
class Invocation:
    """An accepted command line: what Gradle would run."""

    tasks: tuple[str, ...]  # as given: `assembleRelease`, `:app:bundleRelease`
    options: tuple[str, ...]  # the built-in options, in order, each with its value
    version: bool = False  # `--version`: print the version and run nothing


@dataclass(frozen=True)
class Rejection:
    """What Gradle prints (to stderr) for a command line it refuses, and its exit status."""

    message: str
    status: int


def parse(argv: list[str], launcher: str, root_project: str) -> Invocation | Rejection:
    """Check `argv` as `launcher` (gradle or gradlew) run in `root_project` would."""
    tasks: list[str] = []
    options: list[str] = []
    index = 0
    only_tasks = False
    while index < len(argv):
        arg = argv[index]
        index += 1
        if only_tasks or not arg.startswith("-") or arg == "-":
            tasks.append(arg)
            continue
        if arg == "--":
            only_tasks = True
            continue
        name, has_value, value = _split(arg)
        if name in FLAGS:
            if has_value:
                usage = f"USAGE: {launcher} [option...] [task...]"
                message = f"\nCommand-line option '{name}' does not take an argument.\n\n"
                return Rejection(f"{message}{usage}\n\n", 1)
            options.append(name)
            continue
        if name in VALUED:
            if not has_value:
                if index == len(argv):
                    return Rejection(f"fake gradle: option '{name}' needs a value\n", 1)
                value = argv[index]
                index += 1
            if name == "--console" and value not in CONSOLES:
                return Rejection(
                    f"fake gradle: --console takes one of {', '.join(CONSOLES)}; got {value!r}\n",
                    1,
                )
            options.append(f"{name}={value}")
            continue
        if tasks:
            return _task_option_rejection(tasks[-1], name, launcher)
        usage = f"USAGE: {launcher} [option...] [task...]"
        return Rejection(f"\nUnknown command-line option '{name}'.\n\n{usage}\n\n", 1)
    if "--version" in options or "-v" in options:
        return Invocation(tuple(tasks), tuple(options), version=True)
    for task in tasks:
        problem = _task_problem(task, launcher, root_project)
        if problem is not None:
            return problem
    return Invocation(tuple(tasks), tuple(options))


def task_name(task: str) -> str:
    """`:app:bundleRelease` -> `bundleRelease`."""
    return task.rsplit(":", 1)[-1]


def _split(arg: str) -> tuple[str, bool, str]:
    """`--console=plain` -> (--console, True, plain); `-Pci=1` -> (-P, True, ci=1)."""
    if arg.startswith("--"):
        name, eq, value = arg.partition("=")
        return name, bool(eq), value
    if len(arg) > 2 and arg[:2] in VALUED:
        return arg[:2], True, arg[2:]
    return arg, False, ""


def _known(name: str) -> bool:
    return name in BUILT_IN_TASKS or name in ANDROID_TASKS or bool(_VARIANT_TASK.fullmatch(name))


def _task_problem(task: str, launcher: str, root_project: str) -> Rejection | None:
    project, _, name = task.rpartition(":")
    project = project.lstrip(":")
    if project and project not in PROJECTS:
        return Rejection(
            f"fake gradle: no project '{project}' in root project '{root_project}' "
            f"(the fake has {', '.join(':' + p for p in PROJECTS)})\n",
            1,
        )
    if task.startswith(":") and not project and name not in BUILT_IN_TASKS:
        # `:assembleRelease` names the root project, which has only Gradle's own tasks.
        return _not_found(name, launcher, root_project)
    if not _known(name):
        return _not_found(name, launcher, root_project)
    return None


def _not_found(name: str, launcher: str, root_project: str) -> Rejection:
    return Rejection(
        "\nFAILURE: Build failed with an exception.\n\n"
        f"* What went wrong:\nTask '{name}' not found in root project '{root_project}'.\n\n"
        f"* Try:\nRun {launcher} tasks to get a list of available tasks. Run with --stacktrace "
        "option to get the stack trace. Run with --info or --debug option to get more log "
        "output. Run with --scan to get full insights.\n\n"
        "* Get more help at https://help.gradle.org\n\nBUILD FAILED in 6s\n",
        1,
    )


def _task_option_rejection(task: str, option: str, launcher: str) -> Rejection:
    name = task_name(task)
    if task.startswith(":"):
        path = task
    else:  # Gradle names the task it resolved: Android tasks live in :app
        path = f":{name}" if name in BUILT_IN_TASKS else f":app:{name}"
    return Rejection(
        "\nFAILURE: Build failed with an exception.\n\n"
        f"* What went wrong:\nProblem configuring task {path} from command line.\n"
        f"> Unknown command-line option '{option}'.\n\n"
        f"* Try:\nRun {launcher} help --task {path} to get task usage details.\n"
        "Run with --stacktrace option to get the stack trace.\n"
        "Run with --info or --debug option to get more log output.\n"
        "Run with --scan to get full insights.\n\n"
        "* Get more help at https://help.gradle.org\nBUILD FAILED in 837ms\n",
        1,
    )
