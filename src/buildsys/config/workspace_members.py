"""Members of a discovered workspace as ordinary builds (and its install as one more).

What `WorkspaceReader` found by discovery becomes `BuildConfig`s here: the
install build, then one build per member that is a build, with the table's
keys as defaults, its `overrides.<member>` over them, and what discovery fixes
(`cwd`, default `inputs`, member-relative `outputs`, `depends-on`) on top.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import attrs

from .builds import BuildReader, Layer, under
from .keys import WORKSPACE_KEYS, did_you_mean
from .model import BuildConfig
from .problems import ProblemLog

if TYPE_CHECKING:
    from ..plugin.workspace import Workspace, WorkspaceMember
    from .platform_options import Located

__all__ = ["OWN_KEYS", "MemberBuilds"]

# Keys of the table that discovery decides or reads itself, not passed on as build keys.
OWN_KEYS = (*WORKSPACE_KEYS, "cwd", "inputs", "outputs", "depends-on")
# Keys of the table the install build shares with the members: how it runs, not what.
_INSTALL_KEYS = (
    "timeout",
    "retries",
    "env",
    "key-env",
    "secret-env",
    "requires-os",
    "skip-if-unavailable",
)


class MemberBuilds:
    """The builds of one discovered workspace."""

    def __init__(self, log: ProblemLog, reader: BuildReader) -> None:
        self.log = log
        self.reader = reader

    def expand(
        self,
        name: str,
        table: dict[str, Any],
        defaults: dict[str, Any],
        root: str,
        workspace: Workspace,
    ) -> list[BuildConfig]:
        at = ("workspaces", name)
        overrides = self._overrides(name, table, workspace)
        shared = {k: v for k, v in table.items() if k not in OWN_KEYS}
        builds: list[BuildConfig] = []
        install = f"{name}.install" if workspace.install_argv else None
        if install is not None:
            fixed: Located = {
                "cwd": (root, (*at, "root")),
                "inputs": (list(_anchor(workspace.install_inputs, root)), at),
                "outputs": ([], at),
            }
            fixed.update({k: (v, at) for k, v in workspace.install_options.items()})
            own = {k: v for k, v in table.items() if k in (*_INSTALL_KEYS, "platform")}
            builds.append(self.reader.build(install, own, defaults, at=at, fixed=fixed))
        for member in workspace.builds():
            override = overrides.get(member.name, {})
            builds.append(
                self._member(
                    name, table, shared, defaults, root, workspace, member, override, install
                )
            )
        return builds

    def _overrides(
        self, name: str, table: dict[str, Any], workspace: Workspace
    ) -> dict[str, dict[str, Any]]:
        at = ("workspaces", name, "overrides")
        raw = self.log.table(table.get("overrides", {}), at)
        builds = [m.name for m in workspace.builds()]
        found: dict[str, dict[str, Any]] = {}
        for member, value in raw.items():
            where = (*at, member)
            known = workspace.member(member)
            if known is None or not known.is_build:
                why = (
                    f"member {member!r} ({known.directory}) is not a build (it lacks what makes "
                    "one, for `web` the script)"
                    if known is not None
                    else f"no member {member!r}{did_you_mean(member, builds)}"
                )
                self.log.add(
                    f"{why}; members that are builds: {', '.join(builds) or 'none'}",
                    at=where,
                    key=f"overrides.{member}",
                )
                continue
            value = self.log.table(value, where, build=f"{name}.{member}")
            for key in ("profiles", "platform", "cwd", *WORKSPACE_KEYS):
                if key in value:
                    self.log.add(
                        f"{key!r} cannot be set per member",
                        at=(*where, key),
                        build=f"{name}.{member}",
                        key=key,
                    )
            found[member] = {k: v for k, v in value.items() if k not in (*WORKSPACE_KEYS, "cwd")}
        return found

    def _member(
        self,
        name: str,
        table: dict[str, Any],
        shared: dict[str, Any],
        defaults: dict[str, Any],
        root: str,
        workspace: Workspace,
        member: WorkspaceMember,
        override: dict[str, Any],
        install: str | None,
    ) -> BuildConfig:
        at = ("workspaces", name)
        here = (*at, "overrides", member.name)
        build = f"{name}.{member.name}"
        directory = posixpath.normpath(posixpath.join(root, member.directory))

        def given(key: str) -> tuple[Any, tuple[str, ...]] | None:
            if key in override:
                return override[key], (*here, key)
            if key in table:
                return table[key], (*at, key)
            return None

        fixed: Located = {"cwd": (directory, (*at, "root"))}
        outputs = given("outputs")
        if outputs is None:
            fixed["outputs"] = (list(under(directory, member.outputs)), at)
        elif _strings(outputs[0]):
            if outputs[1][2:3] == ("overrides",):  # the table's went to discovery already
                member = member.with_outputs(outputs[0])
            fixed["outputs"] = (list(under(directory, member.outputs)), outputs[1])
        else:
            fixed["outputs"] = outputs  # reported as the build's key
        inputs = given("inputs")
        if inputs is None:
            fixed["inputs"] = (list(_anchor(member.inputs, root)), at)
        else:
            value, where = inputs
            fixed["inputs"] = (list(under(directory, value)) if _strings(value) else value, where)
        depends = [f"{name}.{dep}" for dep in member.depends_on]
        if install is not None:
            depends.append(install)
        extra = given("depends-on")
        if extra is None:
            fixed["depends-on"] = (depends, at)
        else:
            value, where = extra
            fixed["depends-on"] = ([*depends, *value] if _strings(value) else value, where)
        fixed.update({k: (v, at) for k, v in workspace.member_options.items()})
        layers: list[Layer] = [({k: v for k, v in override.items() if k not in OWN_KEYS}, here)]
        self.log.tables[build] = (here, at)
        config = self.reader.build(build, shared, defaults, at=at, above=layers, fixed=fixed)
        package = member.package
        return attrs.evolve(
            config,
            profiles={
                p: attrs.evolve(v, workspace=name, package=package)
                for p, v in config.profiles.items()
            },
            workspace=name,
            package=package,
        )


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _anchor(patterns: Sequence[str], root: str) -> tuple[str, ...]:
    from ..plugin.workspace import anchor_patterns

    return anchor_patterns(patterns, root)
