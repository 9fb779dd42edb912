"""Discovering pnpm, npm, yarn (classic and berry) and bun workspaces: `discover`.

The package manager is the one the root package.json pins (`packageManager`,
as corepack reads it), else the `package-manager` option, else the first
lockfile found at the root (in `builder.LOCKFILES` order), else
pnpm-workspace.yaml names pnpm and `.yarnrc.yml` yarn; npm otherwise. yarn is
berry (`yarn install --immutable`) when `packageManager` pins 2 or later, or
without a pin when yarn.lock has a `__metadata` entry or `.yarnrc.yml`
exists; classic (`--frozen-lockfile`) otherwise.

The members are listed by `packages:` in pnpm-workspace.yaml for pnpm (which,
as pnpm does, never looks in `test`, `tests` or `bower_components`), by
package.json "workspaces" (a list, or `{"packages": [...]}`) for the others.
Each is a directory holding a package.json; `package.yaml` and `package.json5`
manifests are not read. A member's workspace dependencies are the names in its
dependencies, devDependencies, optionalDependencies and peerDependencies that
name another package of the workspace, whatever the version (`workspace:*`,
`^1.0.0`), with `workspace:<name>@<range>` aliases and `link:`/`file:` paths to
a member followed; `npm:` aliases name registry packages and are not.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from buildsys import (
    Workspace,
    WorkspaceError,
    WorkspaceOptions,
    WorkspacePackage,
    WorkspaceProblem,
    assemble_members,
    find_workspace_packages,
)

from .builder import LOCKFILES, WebBuilder, WebOptions

__all__ = [
    "DEPENDENCY_FIELDS",
    "discover",
    "frozen_install",
    "install_argv_at",
    "package_manager_pin",
]

DEPENDENCY_FIELDS = ("dependencies", "devDependencies", "optionalDependencies", "peerDependencies")
_MANAGERS = ("npm", "pnpm", "yarn", "bun")
_PNPM_SKIP = ("node_modules", "bower_components", "test", "tests")
# Files at the root that change what an install does, besides lockfile and manifests.
_INSTALL_SETTINGS = (".npmrc", ".yarnrc", ".yarnrc.yml", "bunfig.toml", ".pnpmfile.cjs")
_PIN = re.compile(r"(?P<manager>[a-z]+)@(?P<version>[0-9][^+\s]*)(?:\+\S+)?\Z")
_ALIAS = re.compile(r"(?P<name>(?:@[^/@\s]+/)?[^/@\s]+)@")


def package_manager_pin(value: Any) -> tuple[str, str] | None:
    """(manager, version) from a `packageManager` value (`pnpm@10.2.0+sha512...`), or None."""
    match = _PIN.match(value) if isinstance(value, str) else None
    if match is None or match["manager"] not in _MANAGERS:
        return None
    return match["manager"], match["version"]


def frozen_install(manager: str, lockfile: str | None, *, berry: bool = False) -> tuple[str, ...]:
    """The install that keeps the lockfile as it is; a plain install without one."""
    if lockfile is None:
        return (manager, "install")
    if manager == "npm":
        return ("npm", "ci")
    if manager == "yarn" and berry:
        return ("yarn", "install", "--immutable")
    return (manager, "install", "--frozen-lockfile")


def install_argv_at(root: Path, manager: str) -> tuple[str, ...]:
    """The frozen install of the workspace at `root` with `manager`, as `discover` gives it.

    The `<workspace>.install` build runs this: yarn's flavour (berry or classic)
    is read again from the root, as the run finds it.
    """
    lockfile = next(
        (name for name, owner in LOCKFILES if owner == manager and (root / name).is_file()), None
    )
    version = None
    if manager == "yarn":
        try:
            package = json.loads((root / "package.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            package = None
        pin = (
            package_manager_pin(package.get("packageManager"))
            if isinstance(package, dict)
            else None
        )
        version = pin[1] if pin is not None and pin[0] == "yarn" else None
    berry = manager == "yarn" and _is_berry(root, version, lockfile)
    return frozen_install(manager, lockfile, berry=berry)


def _line_of(text: str, needle: str) -> int | None:
    at = text.find(needle)
    return None if at == -1 else text.count("\n", 0, at) + 1


def _read_json(path: Path, problems: list[WorkspaceProblem]) -> dict[str, Any] | None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        problems.append(WorkspaceProblem(f"cannot be read: {exc}", file=str(path)))
        return None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        problems.append(
            WorkspaceProblem(
                f"is not valid JSON: {exc.msg} at column {exc.colno}",
                file=str(path),
                line=exc.lineno,
            )
        )
        return None
    if not isinstance(data, dict):
        problems.append(WorkspaceProblem("must hold a JSON object", file=str(path), line=1))
        return None
    return data


def _pnpm_globs(path: Path) -> list[tuple[str, int | None]]:
    """The `packages:` globs of pnpm-workspace.yaml, each with its line."""
    import yaml  # only when a pnpm workspace is discovered: it costs tens of milliseconds

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        text = path.read_text(encoding="utf-8")
        node = yaml.compose(text, Loader=loader)
    except FileNotFoundError:
        raise WorkspaceError.one(
            "is missing: a pnpm workspace lists its members in pnpm-workspace.yaml "
            "(packages: ['packages/*'])",
            file=str(path),
        ) from None
    except OSError as exc:
        raise WorkspaceError.one(f"cannot be read: {exc}", file=str(path)) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise WorkspaceError.one(
            f"is not valid YAML: {getattr(exc, 'problem', None) or exc}",
            file=str(path),
            line=None if mark is None else mark.line + 1,
        ) from None
    globs = None
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == "packages":
                globs = value
    if globs is None or not isinstance(globs, yaml.SequenceNode) or not globs.value:
        raise WorkspaceError.one(
            "has no `packages:` list of member globs (packages: ['packages/*'])",
            file=str(path),
            line=None if globs is None else globs.start_mark.line + 1,
        )
    found = []
    for item in globs.value:
        if not isinstance(item, yaml.ScalarNode) or not isinstance(item.value, str):
            raise WorkspaceError.one(
                "`packages:` must list globs (strings)",
                file=str(path),
                line=item.start_mark.line + 1,
            )
        found.append((item.value, item.start_mark.line + 1))
    return found


def _package_json_globs(
    path: Path, package: Mapping[str, Any] | None
) -> list[tuple[str, int | None]]:
    """The "workspaces" globs of the root package.json, each with its line."""
    field = None if package is None else package.get("workspaces")
    if isinstance(field, Mapping):
        field = field.get("packages")  # yarn classic's and bun's {"packages": [...]}
    if not isinstance(field, list) or not field or not all(isinstance(g, str) for g in field):
        what = "there is no package.json" if package is None else 'it has no "workspaces" list'
        raise WorkspaceError.one(
            f"is not a workspace root: {what} (and no pnpm-workspace.yaml); "
            'add "workspaces": ["packages/*"], or point `root` at the workspace',
            file=str(path),
        )
    text = path.read_text(encoding="utf-8")
    return [(glob, _line_of(text, json.dumps(glob))) for glob in field]


def _manager(
    root: Path, package: Mapping[str, Any] | None, options: object, warnings: list[str]
) -> tuple[str, str | None, str | None]:
    """(package manager, the version pinned, the lockfile relative to the root)."""
    found = [(name, manager) for name, manager in LOCKFILES if (root / name).is_file()]
    pin_value = None if package is None else package.get("packageManager")
    pin = package_manager_pin(pin_value)
    if pin_value is not None and pin is None:
        raise WorkspaceError.one(
            f'"packageManager" is {pin_value!r}; expected <manager>@<version> with manager one '
            f"of {', '.join(_MANAGERS)} (e.g. pnpm@10.2.0)",
            file=str(root / "package.json"),
            line=_line_of((root / "package.json").read_text(encoding="utf-8"), '"packageManager"'),
        )
    chosen = getattr(options, "package_manager", "auto")
    if pin is not None:
        manager, version = pin
    elif chosen != "auto":
        manager, version = chosen, None
    elif found:
        manager, version = found[0][1], None
    elif (root / "pnpm-workspace.yaml").is_file():
        manager, version = "pnpm", None
    elif (root / ".yarnrc.yml").is_file():
        manager, version = "yarn", None
    else:
        manager, version = "npm", None
    own = [name for name, owner in found if owner == manager]
    lockfile = own[0] if own else None
    if len(found) > 1:
        warnings.append(
            f"several lockfiles in {root}: {', '.join(n for n, _ in found)}; using {manager}'s "
            f"({lockfile or 'none'}). Delete the stale ones"
        )
    if lockfile is None:
        others = f" (found {', '.join(n for n, _ in found)})" if found else ""
        warnings.append(
            f"no {manager} lockfile in {root}{others}: the install is not frozen; "
            f"run `{manager} install` and commit the lockfile"
        )
    return manager, version, lockfile


def _is_berry(root: Path, version: str | None, lockfile: str | None) -> bool:
    if version is not None:
        return not version.startswith("1.")
    if lockfile == "yarn.lock":
        with (root / lockfile).open(encoding="utf-8", errors="replace") as lock:
            head = lock.read(4096)
        if re.search(r"^__metadata:", head, re.M):
            return True
    return (root / ".yarnrc.yml").is_file()


def _dependency_names(
    manifest: Mapping[str, Any], directory: str, by_directory: Mapping[str, str]
) -> list[str]:
    names = []
    for field in DEPENDENCY_FIELDS:
        entries = manifest.get(field)
        if not isinstance(entries, Mapping):
            continue
        for name, spec in entries.items():
            if not isinstance(spec, str):
                continue
            if spec.startswith("npm:"):
                continue  # an alias of a registry package, not of a member
            if spec.startswith(("link:", "file:", "workspace:.", "workspace:/")):
                target = spec.partition(":")[2]
                resolved = posixpath.normpath(posixpath.join(directory, target))
                names.append(by_directory.get(resolved, name))
                continue
            if spec.startswith("workspace:"):
                alias = _ALIAS.match(spec, len("workspace:"))
                if alias is not None:
                    names.append(alias["name"])
                    continue
            names.append(name)
    return names


def discover(root: str | os.PathLike[str], options: WorkspaceOptions) -> Workspace:
    """The workspace at `root`, its members' builds those that have `options.options.script`.

    `options.options` is the table's `WebOptions` (None: the defaults);
    `options.outputs` None means the builder's `default_outputs`. Raises
    `buildsys.WorkspaceError` for a workspace that cannot be used.
    """
    base = Path(root).absolute()
    web: Any = options.options if options.options is not None else WebOptions()
    problems: list[WorkspaceProblem] = []
    warnings: list[str] = []
    root_manifest = base / "package.json"
    package = _read_json(root_manifest, problems)
    if problems:
        raise WorkspaceError(problems)
    manager, version, lockfile = _manager(base, package, web, warnings)
    berry = manager == "yarn" and _is_berry(base, version, lockfile)
    if manager == "pnpm":
        workspace_file = "pnpm-workspace.yaml"
        globs = _pnpm_globs(base / workspace_file)
        skip: Sequence[str] = _PNPM_SKIP
    else:
        workspace_file = "package.json"
        globs = _package_json_globs(root_manifest, package)
        skip = ("node_modules",)
    try:
        directories, unmatched = find_workspace_packages(base, [g for g, _ in globs], skip=skip)
    except ValueError as exc:
        raise WorkspaceError.one(str(exc), file=str(base / workspace_file)) from None
    lines = dict(globs)
    for glob in unmatched:
        problems.append(
            WorkspaceProblem(
                f"workspace glob {glob!r} matches no package (no directory with a package.json)",
                file=str(base / workspace_file),
                line=lines.get(glob),
            )
        )
    manifests = {d: _read_json(base / d / "package.json", problems) or {} for d in directories}
    if problems:
        raise WorkspaceError(problems)
    by_directory = {
        d: name for d, m in manifests.items() if isinstance(name := m.get("name"), str) and name
    }
    packages = []
    for directory, manifest in manifests.items():
        scripts = manifest.get("scripts")
        scripts = scripts if isinstance(scripts, Mapping) else {}
        packages.append(
            WorkspacePackage(
                directory=directory,
                package=by_directory.get(directory),
                dependencies=_dependency_names(manifest, directory, by_directory),
                scripts=[name for name in scripts if isinstance(name, str)],
                is_build=web.script in scripts,
            )
        )
    shared = [p for p in (lockfile, "package.json") if p is not None and (base / p).is_file()]
    outputs = WebBuilder.default_outputs if options.outputs is None else options.outputs
    members = assemble_members(
        base, packages, attrs.evolve(options, outputs=outputs), shared=shared
    )
    install_files = [*shared, *([workspace_file] if workspace_file not in shared else [])]
    install_files += [f"{d}/package.json" for d in directories]
    install_files += [name for name in _INSTALL_SETTINGS if (base / name).is_file()]
    return Workspace(
        root=str(base),
        package_manager=manager,
        package_manager_version=version,
        workspace_file=workspace_file,
        lockfile=lockfile,
        install_argv=frozen_install(manager, lockfile, berry=berry),
        install_inputs=[f"/{path}" for path in install_files],
        members=members,
        warnings=warnings,
        member_options={"package-manager": manager, "install": "never"},
        install_options={"package-manager": manager, "install": "only"},
    )
