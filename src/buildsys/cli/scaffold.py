"""`buildsys init`: a commented starter builds.toml for what the directory holds.

It looks (in the directory and its immediate subdirectories) for a Node
package, a Gradle (Android) project, an Xcode project or workspace and a
Makefile, and writes one build for each, with tomlkit so the file keeps its
comments. A JavaScript workspace (pnpm-workspace.yaml, or package.json
"workspaces") becomes one `[workspaces.<name>]` table instead, whose packages
are discovered at load time; the packages inside a workspace at the top get
no build of their own. It never overwrites an existing builds.toml unless
asked to. Beside it, it writes `.buildsys/builds.schema.json` (`buildsys
schema`), which the file's first line, taplo's `#:schema` directive, points
editors at: a path relative to builds.toml.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from ..errors import UsageError
from ._shared import EXIT_OK

if TYPE_CHECKING:
    import argparse

__all__ = ["Detected", "detect", "init", "render", "write_starter"]


@attrs.frozen
class Detected:
    """One build `init` proposes."""

    name: str
    platform: str
    cwd: str
    options: dict[str, Any] = attrs.field(factory=dict)
    comment: str = ""
    # "build": a [builds.<name>] table; "workspace": a [workspaces.<name>] table.
    kind: str = "build"


def _is_workspace(directory: Path) -> bool:
    if (directory / "pnpm-workspace.yaml").is_file():
        return True
    import json  # only for a directory holding a package.json

    try:
        package = json.loads((directory / "package.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(package, dict) and bool(package.get("workspaces"))


def _candidates(root: Path) -> list[Path]:
    dirs = [root]
    try:
        children = sorted(p for p in root.iterdir() if p.is_dir())
    except OSError:
        children = []
    skip = {"node_modules", ".git", ".buildsys", "build", "dist", "venv", ".venv"}
    dirs.extend(p for p in children if p.name not in skip and not p.name.startswith("."))
    return dirs


def _rel(root: Path, path: Path) -> str:
    rel = path.relative_to(root).as_posix()
    return rel or "."


def detect(root: Path) -> list[Detected]:
    """Builds for what `root` holds, in a stable order."""
    found: list[Detected] = []
    names: set[str] = set()

    def add(
        name: str, platform: str, cwd: str, comment: str, kind: str = "build", **options: Any
    ) -> None:
        base, n = name, 2
        while name in names:
            name, n = f"{base}-{n}", n + 1
        names.add(name)
        found.append(Detected(name, platform, cwd, dict(options), comment, kind))

    in_workspace = False  # a workspace at the top: its packages are its members
    for directory in _candidates(root):
        cwd = _rel(root, directory)
        label = directory.name if cwd != "." else ""
        if (directory / "package.json").is_file() and _is_workspace(directory):
            add(
                label or "js",
                "web",
                cwd,
                "a JavaScript workspace: each package with a `build` script is a build "
                "<name>.<package>, after one frozen install <name>.install",
                kind="workspace",
                script="build",
            )
            in_workspace = in_workspace or cwd == "."
        elif (directory / "package.json").is_file() and not in_workspace:
            add(
                label or "web",
                "web",
                cwd,
                "a Node package: runs its `build` script",
                script="build",
            )
        if any(
            (directory / f).exists()
            for f in (
                "gradlew",
                "build.gradle",
                "build.gradle.kts",
                "settings.gradle",
                "settings.gradle.kts",
            )
        ):
            add(label or "android", "android", cwd, "a Gradle (Android) project", variant="debug")
        workspaces = sorted(directory.glob("*.xcworkspace"))
        projects = sorted(directory.glob("*.xcodeproj"))
        if workspaces or projects:
            chosen = workspaces[0] if workspaces else projects[0]
            key = "workspace" if workspaces else "project"
            add(
                label or "ios",
                "ios",
                cwd,
                "an Xcode project: set the scheme to build",
                **{key: chosen.name, "scheme": chosen.stem},
            )
        if (directory / "Makefile").is_file():
            add(label or "make", "command", cwd, "a Makefile: runs `make`", command=["make"])
    return found


def _plugin_note(platform: str) -> str:
    if platform == "command":
        return ""
    return f" (needs buildsys-plugin-{platform})"


def _detected_table(build: Detected, *, directory_key: str) -> Any:
    """What was found, as a table: a comment, its platform, its directory under
    `directory_key` (`cwd` for a build, `root` for a workspace), its options."""
    import tomlkit

    table = tomlkit.table()
    table.add(tomlkit.comment(build.comment + _plugin_note(build.platform)))
    table.add("platform", build.platform)
    if build.cwd != ".":
        table.add(directory_key, build.cwd)
    for key, value in build.options.items():
        table.add(key, value)
    return table


def render(builds: list[Detected], schema: str | None = None) -> str:
    """The starter file for `builds`; with `schema`, its first line points editors there."""
    import tomlkit

    doc = tomlkit.document()
    doc.add(tomlkit.comment("builds.toml: how this project builds, for `buildsys build`."))
    doc.add(tomlkit.comment("Every key is optional unless marked; see `buildsys --help`."))
    doc.add(tomlkit.nl())
    run = tomlkit.table()
    run.add(tomlkit.comment('strategy = "parallel"   # or "stop-on-failure"'))
    run.add(tomlkit.comment("max-concurrency = 4     # default: usable CPUs"))
    run.add("timeout", "20m")
    run["timeout"].comment("per build, per attempt")
    run.add(tomlkit.comment('kill-grace = "5s"       # SIGTERM, wait, then SIGKILL'))
    doc.add("run", run)
    builds_table = tomlkit.table(is_super_table=True)
    if not builds:  # nothing recognised
        example = tomlkit.table()
        example.add(tomlkit.comment("Nothing recognised here: a command build to start from."))
        example.add("platform", "command")
        example.add("command", ["echo", "hello from buildsys"])
        builds_table.add("hello", example)
    workspaces_table = tomlkit.table(is_super_table=True)
    for build in builds:
        if build.kind != "workspace":
            continue
        table = _detected_table(build, directory_key="root")
        table.add(tomlkit.comment('members = ["packages/*"]   # only these member directories'))
        table.add(tomlkit.comment('exclude = ["packages/legacy"]'))
        table.add(tomlkit.comment('outputs = ["dist/**"]      # relative to each member'))
        table.add(tomlkit.comment("Per member, by its build name:"))
        table.add(tomlkit.comment(f"[workspaces.{build.name}.overrides.<member>]"))
        table.add(tomlkit.comment('timeout = "5m"'))
        workspaces_table.add(build.name, table)
    for build in builds:
        if build.kind == "workspace":
            continue
        table = _detected_table(build, directory_key="cwd")
        table.add(tomlkit.comment('depends-on = ["..."]   # builds that must succeed first'))
        builds_table.add(build.name, table)
    if workspaces_table:
        doc.add("workspaces", workspaces_table)
    if builds_table or not workspaces_table:
        doc.add("builds", builds_table)
    # Not a tomlkit comment, which would be "# :schema": taplo reads "#:schema" only.
    directive = f"#:schema ./{schema}\n" if schema is not None else ""
    return directive + tomlkit.dumps(doc)


def write_starter(path: Path, *, force: bool = False) -> list[Detected]:
    """Write a starter builds.toml at `path`, and the schema it names; refuses to
    overwrite a builds.toml unless `force`."""
    if path.exists() and not force:
        raise UsageError(f"{path} already exists; edit it, or pass --force to replace it")
    if not path.parent.is_dir():
        raise UsageError(
            f"cannot write {path}: there is no directory {path.parent}; "
            f"create it first (mkdir -p {path.parent})"
        )
    from ..config.schema import SCHEMA_FILE

    builds = detect(path.parent)
    try:
        path.write_text(render(builds, SCHEMA_FILE))
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    from ..engine.lock import state_dir
    from .schema import write_schema

    state_dir(path.parent)  # .buildsys/, with the .gitignore that keeps it out of git
    write_schema(path.parent / SCHEMA_FILE)
    return builds


def init(args: argparse.Namespace) -> int:
    """The `buildsys init` command."""
    from ..config.schema import SCHEMA_FILE

    path = Path(args.file)
    builds = write_starter(path, force=args.force)
    what = ", ".join(f"{b.name} ({b.platform})" for b in builds) or "an example command build"
    print(f"wrote {path}: {what}")
    print(f"wrote {path.parent / SCHEMA_FILE}: the schema its first line points editors at")
    print("next: review it, then run `buildsys check` and `buildsys build`")
    return EXIT_OK
