"""Reading `[workspaces.<name>]` tables: discovery through the platform's builder,
expanded into ordinary builds at load time.

    [workspaces.js]
    platform = "web"          # the builder that discovers the members (default: the name)
    root = "."                # the workspace's directory, relative to builds.toml
    members = ["packages/*"]  # optional globs of member directories; exclude = [...]
    outputs = ["dist/**"]     # any build key or platform option: a default for every member
    [workspaces.js.overrides.ui]   # per member, by its build name
    timeout = "5m"

Each member that is a build becomes `<workspace>.<member>`: `cwd` its
directory; `depends-on` the members it depends on that are builds, the
install, and any `depends-on` of the table; `inputs` the member's defaults
(`WorkspaceMember.inputs`) unless the table or its override gives some;
`outputs` and any `inputs` given are relative to the member's directory. The
builder's `member_options` are set over the table's options (for `web`: the
workspace's package manager, and no install of its own).

When discovery gives an install (`Workspace.install_argv`), it is the build
`<workspace>.install`, run in the workspace root with the builder's
`install_options`, every member depending on it. It is keyed on the install's
inputs (lockfile, every package.json, package manager settings) and declares
`outputs = []`: it is cached on its success alone, so it runs again only when
those files changed since the last successful install, or when its builder
says what it installed is gone (`stale`, see `engine.stale`: for `web`,
`node_modules` missing).

This module reads the table and runs discovery; `workspace_members.py` turns
what discovery found into builds. Every problem is a `ConfigError` problem: in
builds.toml at the key's line, or in the workspace's own file (a
pnpm-workspace.yaml, a package.json) at its line.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import Problem
from .builds import BuildReader
from .keys import BUILD_KEYS, NAME_RE, Invalid, did_you_mean, str_list
from .model import BuildConfig
from .platform_options import Located, OptionChecker
from .problems import ProblemLog
from .workspace_members import OWN_KEYS, MemberBuilds

if TYPE_CHECKING:
    from ..plugin.manager import PluginHost
    from ..plugin.workspace import Workspace

__all__ = ["WorkspaceReader"]



class WorkspaceReader:
    """The builds of the `[workspaces]` tables of the file at `path`."""

    def __init__(
        self,
        path: Path,
        plugins: PluginHost,
        log: ProblemLog,
        options: OptionChecker,
        reader: BuildReader,
    ) -> None:
        self.root = path.parent
        self.plugins = plugins
        self.log = log
        self.options = options
        self.reader = reader

    def builds(
        self, tables: dict[str, Any], defaults: dict[str, Any], taken: Sequence[str]
    ) -> list[BuildConfig]:
        """Every workspace's builds, in file order; `taken` are the names of [builds.*]."""
        found: list[BuildConfig] = []
        names = set(taken)
        for name, table in tables.items():
            at = ("workspaces", name)
            if not NAME_RE.match(name):
                self.log.add(
                    "invalid workspace name: use letters, digits, '.', '_' and '-', starting "
                    "with a letter or digit",
                    at=at,
                )
                continue
            if not isinstance(table, dict):
                self.log.table(table, at)
                continue
            for build in self._workspace(name, table, defaults):
                if build.name in names:
                    self.log.add(
                        f"member build {build.name!r} ({build.cwd}) has the name of another "
                        "build; rename that build, or leave the member out with `exclude`",
                        at=at,
                        key="members",
                    )
                    continue
                names.add(build.name)
                found.append(build)
        return found

    # -- one table -------------------------------------------------------------------

    def _workspace(
        self, name: str, table: dict[str, Any], defaults: dict[str, Any]
    ) -> list[BuildConfig]:
        at = ("workspaces", name)
        for key, value in table.items():  # once here, whether or not there are members
            check = BUILD_KEYS.get(key)
            if check is None or key == "cwd":
                continue
            try:
                check(value)
            except Invalid as exc:
                for message in exc.messages:
                    self.log.add(message, at=(*at, key), key=key)
        if "cwd" in table:
            self.log.add(
                "a member's cwd is its own directory; set `root` to the workspace's directory",
                at=(*at, "cwd"),
                key="cwd",
            )
        platform = table.get("platform", name)
        if not isinstance(platform, str):
            self.log.add(
                f"expected a string, got {platform!r}", at=(*at, "platform"), key="platform"
            )
            return []
        registered = self.plugins.registry.get(platform)
        if registered is None:
            self._unknown_platform(name, platform, "platform" in table)
            return []
        builder = registered.builder
        discover = getattr(builder, "discover", None)
        if discover is None:
            self.log.add(
                f"platform {platform!r} (plugin {registered.plugin!r}) cannot discover workspace "
                "members: its builder has no discover(root, options); write its builds as "
                "[builds.<name>] tables",
                at=(*at, "platform") if "platform" in table else at,
                key="platform",
            )
            return []
        root = self._root(name, table)
        selection = self._selection(name, table)
        raw: Located = {
            key: (value, (*at, key))
            for key, value in table.items()
            if key not in BUILD_KEYS and key not in (*OWN_KEYS, "profiles")
        }
        options = self.options.check_build(name, platform, registered.plugin, builder, raw, at)
        cls = getattr(builder, "options", None)
        if root is None or selection is None or (cls is not None and not isinstance(options, cls)):
            return []  # what stops discovery is reported already
        from ..plugin.workspace import WorkspaceError, WorkspaceOptions

        members, exclude, outputs = selection
        try:
            workspace: Workspace = discover(
                str(self.root / root),
                WorkspaceOptions(
                    members=members, exclude=exclude, outputs=outputs, options=options
                ),
            )
        except WorkspaceError as exc:
            for problem in exc.problems:
                self._problem(name, table, problem.message, problem.file, problem.line, problem.key)
            return []
        except Exception as exc:  # noqa: BLE001 - a plugin's bug: the file cannot be used
            self.log.add(
                f"discover() of platform {platform!r} (plugin {registered.plugin!r}) raised "
                f"{type(exc).__name__}: {exc}",
                at=at,
            )
            return []
        return MemberBuilds(self.log, self.reader).expand(name, table, defaults, root, workspace)

    def _unknown_platform(self, name: str, platform: str, written: bool) -> None:
        known = self.plugins.registry.names()
        how = f"install the plugin that provides it: pip install buildsys-plugin-{platform}"
        if not written:
            how += " (or set `platform =`; it defaults to the workspace's name)"
        self.log.add(
            f"unknown platform {platform!r}{did_you_mean(platform, known)}; {how}. "
            f"Installed platforms: {', '.join(known) or 'none'}",
            at=("workspaces", name, "platform") if written else ("workspaces", name),
            key="platform",
        )

    def _root(self, name: str, table: dict[str, Any]) -> str | None:
        """The workspace root relative to the project (posix, "." for the project), or None."""
        value = table.get("root", ".")
        at = ("workspaces", name, "root")
        if not isinstance(value, str) or not value.strip() or "\x00" in value:
            self.log.add(f"expected a directory, got {value!r}", at=at, key="root")
            return None
        target = (self.root / value).resolve()
        if not target.is_relative_to(self.root.resolve()):
            self.log.add(
                f"root {value!r} is outside the project ({self.root}); a workspace lies "
                "inside the directory holding builds.toml",
                at=at,
                key="root",
            )
            return None
        if not target.is_dir():
            what = "is not a directory" if target.exists() else "does not exist"
            self.log.add(f"root {value!r} {what}", at=at, key="root")
            return None
        return Path(os.path.relpath(target, self.root.resolve())).as_posix()

    def _selection(
        self, name: str, table: dict[str, Any]
    ) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...] | None] | None:
        """`members`, `exclude` and `outputs` as discovery takes them, or None."""
        found: list[Any] = []
        ok = True
        for key, check in (
            ("members", lambda v: str_list(v, "globs")),
            ("exclude", lambda v: str_list(v, "globs")),
            ("outputs", BUILD_KEYS["outputs"]),
        ):
            if key not in table:
                found.append(None if key == "outputs" else ())
                continue
            try:
                found.append(check(table[key]))
            except Invalid as exc:
                ok = False
                for message in exc.messages:
                    self.log.add(message, at=("workspaces", name, key), key=key)
        return (found[0], found[1], found[2]) if ok else None

    def _problem(
        self,
        name: str,
        table: dict[str, Any],
        message: str,
        file: str | None,
        line: int | None,
        key: str | None,
    ) -> None:
        """A discovery problem: in the workspace's own file, or at the table's key."""
        if file is None:
            at = ("workspaces", name, key) if key and key in table else ("workspaces", name)
            self.log.add(f"workspace {name!r}: {message}", at=at, key=key)
            return
        try:
            shown = os.path.relpath(file)
        except ValueError:
            shown = file
        if shown.startswith(".."):
            shown = file
        self.log.problems.append(
            Problem(
                f"workspace {name!r} ([workspaces.{name}] of {self.log.display}): {message}",
                file=shown,
                line=line,
            )
        )
