"""The values of workspace discovery: what a builder's `discover(root, options)` returns.

A `[workspaces.<name>]` table names a directory and a platform; that platform's
builder reads the workspace there (pnpm-workspace.yaml, package.json
"workspaces", settings.gradle, Cargo.toml) and returns a `Workspace`: the
package manager and its frozen install, and one `WorkspaceMember` per package.
Members that are builds become `<workspace>.<member>` builds.

Every path and pattern here is relative to the workspace root: directories
are posix paths without a leading `/` (`packages/ui`); input patterns are
gitignore-style and anchored with a leading `/` (`/packages/ui/**`,
`!/packages/ui/dist/**`, `/pnpm-lock.yaml`), so that a file name such as
`package.json` never matches at every depth. `anchor_patterns` re-anchors
them under the workspace root's path in the project.

The rules every builder shares (naming, dependencies, default inputs, cycles)
are `assemble_members` in `workspace_graph`; finding package directories by
glob is `find_workspace_packages` in `workspace_globs`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

import attrs

from .._converters import opt_strs, strs
from .._prefix import prefix_patterns

__all__ = [
    "Workspace",
    "WorkspaceError",
    "WorkspaceMember",
    "WorkspaceOptions",
    "WorkspacePackage",
    "WorkspaceProblem",
    "anchor_patterns",
]

# The rule builds.toml has for build names (config.loader's NAME_RE): the plugin
# stage may not import the config stage, and a member name is half a build name.
MEMBER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")


def _check_directory(_: object, attribute: attrs.Attribute[Any], value: str) -> None:
    parts = value.split("/")
    if (
        not value
        or value.startswith("/")
        or "\\" in value
        or any(p in ("", ".", "..") for p in parts)
    ):
        raise ValueError(
            f"{attribute.name} must be a posix path relative to the workspace root, "
            f"without '.', '..' or empty parts; got {value!r}"
        )


def _check_names(
    _: object, attribute: attrs.Attribute[tuple[str, ...]], value: tuple[str, ...]
) -> None:
    for name in value:
        if not isinstance(name, str) or not name:
            raise TypeError(f"{attribute.name} must hold non-empty strings, got {name!r}")


def _check_directories(
    instance: object, attribute: attrs.Attribute[tuple[str, ...]], value: tuple[str, ...]
) -> None:
    for directory in value:
        _check_directory(instance, attribute, directory)


def _check_member_name(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not MEMBER_NAME.match(value):
        raise ValueError(
            f"{attribute.name} {value!r} is not a build name: letters, digits, '.', '_' and '-', "
            "starting with a letter or digit"
        )


def _check_patterns(
    _: object, attribute: attrs.Attribute[tuple[str, ...]], value: tuple[str, ...]
) -> None:
    for pattern in value:
        if not pattern.removeprefix("!").startswith("/"):
            raise ValueError(
                f"{attribute.name}: {pattern!r} must be anchored at the workspace root ('/...')"
            )


@attrs.frozen
class WorkspaceOptions:
    """What the `[workspaces.<name>]` table asks of discovery.

    `members` and `exclude` are globs of member directories, relative to the
    workspace root (`packages/*`, `apps/**`); `members` empty means every
    package of the workspace file. `outputs` are the member-relative output
    patterns every member has (the table's `outputs`), None for the builder's
    `default_outputs`. `options` is the platform's validated options object
    (for `web`, a `WebOptions`: its `script` decides which members are builds).
    """

    members: tuple[str, ...] = attrs.field(default=(), converter=strs, validator=_check_names)
    exclude: tuple[str, ...] = attrs.field(default=(), converter=strs, validator=_check_names)
    outputs: tuple[str, ...] | None = attrs.field(default=None, converter=opt_strs)
    options: Any = None


@attrs.frozen
class WorkspacePackage:
    """One package as a builder read it, before the shared rules name and link it.

    `dependencies` are the package names it depends on (any that are not a
    package of the workspace are ignored); `is_build` says whether it has
    what makes it a build (for `web`, the script).
    """

    directory: str = attrs.field(validator=_check_directory)
    package: str | None = None
    dependencies: tuple[str, ...] = attrs.field(default=(), converter=strs, validator=_check_names)
    scripts: tuple[str, ...] = attrs.field(default=(), converter=strs)
    is_build: bool = False


@attrs.frozen
class WorkspaceMember:
    """One member of a workspace: a package, a build when `is_build`.

    - `name`: the `<member>` of its build name `<workspace>.<member>`.
    - `package`: its package name (package.json "name"), None if it has none.
    - `directory`: its directory, relative to the workspace root (posix).
    - `is_build`: whether it becomes a build (for `web`: it has the script).
    - `depends_on`: names of the members that are builds it depends on, directly
      or through workspace dependencies that are not builds; sorted.
    - `dependencies`: package names of its direct workspace dependencies,
      builds or not.
    - `scripts`: the names of its package.json scripts, sorted.
    - `outputs`: its output patterns, relative to `directory`.
    - `uses`: directories of the workspace dependencies that are not builds,
      reached directly or through other such dependencies (a shared tsconfig
      package): their files are its inputs.
    - `nested`: directories of other members inside its own, left out of its files.
    - `shared`: files of the workspace every member's key holds (the lockfile,
      the root package.json), relative to the workspace root.
    - `inputs` (computed): its default input patterns, anchored at the root.
    """

    name: str = attrs.field(validator=_check_member_name)
    package: str | None
    directory: str = attrs.field(validator=_check_directory)
    is_build: bool = True
    depends_on: tuple[str, ...] = attrs.field(default=(), converter=strs, validator=_check_names)
    dependencies: tuple[str, ...] = attrs.field(default=(), converter=strs, validator=_check_names)
    scripts: tuple[str, ...] = attrs.field(default=(), converter=strs)
    outputs: tuple[str, ...] = attrs.field(default=(), converter=strs)
    uses: tuple[str, ...] = attrs.field(default=(), converter=strs, validator=_check_directories)
    nested: tuple[str, ...] = attrs.field(default=(), converter=strs, validator=_check_directories)
    shared: tuple[str, ...] = attrs.field(default=(), converter=strs, validator=_check_directories)

    @property
    def inputs(self) -> tuple[str, ...]:
        """The member's files, its outputs, node_modules and nested members left out;
        then the files of `uses` and the `shared` files.

        node_modules is left out even where git does not ignore it: it is what the
        install wrote, and the install is a build of its own.
        """
        own = self.directory
        patterns = [f"/{own}/**", f"!/{own}/node_modules/**"]
        for output in self.outputs:
            if output.startswith("!"):
                continue  # "not an output" leaves the files inputs, as they already are
            body = output.lstrip("/")
            while body.startswith("./"):
                body = body[2:]
            if body:
                patterns.append(f"!/{own}/{body}")
        patterns.extend(f"!/{nested}/**" for nested in self.nested)
        for used in self.uses:
            patterns += [f"/{used}/**", f"!/{used}/node_modules/**"]
        patterns.extend(f"/{path}" for path in self.shared)
        return tuple(patterns)

    def with_outputs(self, outputs: Iterable[str]) -> WorkspaceMember:
        """This member with other outputs (a per-member override), its inputs following."""
        return attrs.evolve(self, outputs=tuple(outputs))


def _members(value: Iterable[WorkspaceMember]) -> tuple[WorkspaceMember, ...]:
    return tuple(value)


def _raw_options(value: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(value))


@attrs.frozen
class Workspace:
    """A discovered workspace.

    - `root`: the workspace root, an absolute path.
    - `package_manager`: `npm`, `pnpm`, `yarn` or `bun` (for other builders: their tool).
    - `package_manager_version`: the version `packageManager` pins, else None.
    - `workspace_file`: the file that lists the members (`pnpm-workspace.yaml`,
      `package.json`), relative to the root.
    - `lockfile`: the lockfile, relative to the root, or None.
    - `install_argv`: the install, run in `root` (frozen when there is a lockfile).
    - `install_inputs`: patterns of the files the install depends on (lockfile,
      workspace file, every package.json, package manager settings), anchored.
    - `members`: every member, builds or not, sorted by directory.
    - `warnings`: things to tell the user that do not stop discovery.
    - `member_options`: platform options (as builds.toml spells them) every
      member build gets, over what the table says: for `web`, the workspace's
      package manager and `install = "never"`, since members never install.
    - `install_options`: the platform options of the `<workspace>.install`
      build, which runs `install_argv` in `root` (for `web`, `install = "only"`);
      no install build when `install_argv` is empty.
    """

    root: str
    package_manager: str
    package_manager_version: str | None = None
    workspace_file: str = "package.json"
    lockfile: str | None = None
    install_argv: tuple[str, ...] = attrs.field(default=(), converter=strs)
    install_inputs: tuple[str, ...] = attrs.field(
        default=(), converter=strs, validator=_check_patterns
    )
    members: tuple[WorkspaceMember, ...] = attrs.field(default=(), converter=_members)
    warnings: tuple[str, ...] = attrs.field(default=(), converter=strs)
    member_options: Mapping[str, Any] = attrs.field(factory=dict, converter=_raw_options)
    install_options: Mapping[str, Any] = attrs.field(factory=dict, converter=_raw_options)

    def builds(self) -> tuple[WorkspaceMember, ...]:
        """The members that become builds."""
        return tuple(member for member in self.members if member.is_build)

    def member(self, name: str) -> WorkspaceMember | None:
        """The member named `name`, if there is one."""
        return next((member for member in self.members if member.name == name), None)


@attrs.frozen
class WorkspaceProblem:
    """One reason a workspace cannot be used.

    `file` is the absolute path of the workspace's own file at fault (a
    pnpm-workspace.yaml, a package.json), with its `line` when known; None when
    the fault is in the `[workspaces.*]` table, `key` then naming its key
    (`members`, `exclude`, `root`), for the loader to locate in builds.toml.
    """

    message: str
    file: str | None = None
    line: int | None = None
    key: str | None = None

    def __str__(self) -> str:
        where = self.file if self.file is not None else f"[workspaces] {self.key or ''}".rstrip()
        if self.line is not None:
            where += f":{self.line}"
        return f"{where}: {self.message}"


class WorkspaceError(Exception):
    """Discovery failed; `problems` holds every problem found in one pass.

    The config loader turns each into a `ConfigError` problem located in the
    workspace's file or in builds.toml (`WorkspaceProblem`).
    """

    def __init__(self, problems: Sequence[WorkspaceProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    @classmethod
    def one(
        cls,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        key: str | None = None,
    ) -> WorkspaceError:
        return cls([WorkspaceProblem(message, file=file, line=line, key=key)])


def anchor_patterns(patterns: Iterable[str], under: str) -> tuple[str, ...]:
    """Patterns anchored at the workspace root, re-anchored at the project root.

    `under` is the workspace root relative to the project root (posix; `.` or
    `""` for the project root itself): `/pnpm-lock.yaml` under `js` is
    `/js/pnpm-lock.yaml`, `!/packages/a/dist/**` is `!/js/packages/a/dist/**`.
    """
    return prefix_patterns(patterns, under, anchored=True)
