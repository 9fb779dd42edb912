"""The `web` platform: runs a package.json script with npm, pnpm, yarn or bun.

    [builds.web]
    platform = "web"
    cwd = "web"                 # the package directory (holding package.json)
    script = "build"            # default
    package-manager = "auto"    # auto | npm | pnpm | yarn | bun
    install = "auto"            # auto | always | never | only

Arguments after `buildsys build web -- ARGS` are passed to the script.

Toolchain: `check(host)` looks for node; `check_build(spec, host)` for the
package manager that build uses (the `package-manager` option, else the one
its lockfile names), in the build's environment. `fingerprint(host, spec)` is
node's version and that package manager's, taken in the build's environment,
with what vouches for them (where each was found on PATH, and the lockfiles
that chose the manager), so that a replayed no-op notices a tool upgraded,
installed earlier on PATH, or a lockfile that now names another manager.

Workspaces: `discover(root, options)` reads a pnpm, npm, yarn or bun workspace
(the `workspace` module) for a `[workspaces.<name>]` table. Its members run
with `install = "never"`; the workspace's one install is the build
`<workspace>.install`, with `install = "only"`: the frozen install in `cwd`
and no script. That build is cached on the install's inputs (lockfile,
package.json files, package manager settings); `stale(spec)` makes a cached
install run again when `node_modules` is missing (for a yarn Plug'n'Play
project, `.pnp.cjs`), and the fingerprint names both, so that deleting
`node_modules` is noticed by a replayed no-op as well.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from buildsys import BuildError, BuildFailed, Fingerprint, find_tool, probe

if TYPE_CHECKING:
    from buildsys import BuildContext, BuildSpec, Host, Workspace, WorkspaceOptions

__all__ = [
    "CATALOGUE",
    "INSTALL_MODES",
    "LOCKFILES",
    "PACKAGE_MANAGERS",
    "WebBuilder",
    "WebOptions",
    "detect_package_manager",
    "install_command",
    "install_reason",
    "package_manager_of",
    "script_command",
]

CATALOGUE = Path(__file__).with_name("catalogue.toml")
PACKAGE_MANAGERS = ("auto", "npm", "pnpm", "yarn", "bun")
# "only": the frozen install and no script (a workspace's `<workspace>.install`).
INSTALL_MODES = ("auto", "always", "never", "only")
# What an install leaves in the directory it ran in: one of them must be there.
_INSTALLED = ("node_modules", ".pnp.cjs")
# In detection order: the first lockfile found names the package manager.
LOCKFILES: tuple[tuple[str, str], ...] = (
    ("package-lock.json", "npm"),
    ("npm-shrinkwrap.json", "npm"),
    ("pnpm-lock.yaml", "pnpm"),
    ("yarn.lock", "yarn"),
    ("bun.lockb", "bun"),
    ("bun.lock", "bun"),
)
# Files a package manager rewrites at the end of an install, newer than node_modules itself.
_INSTALL_MARKERS = (".package-lock.json", ".modules.yaml", ".yarn-integrity", ".yarn-state.yml")
_DEPENDENCY_KEYS = (
    "dependencies",
    "devDependencies",
    "optionalDependencies",
    "peerDependencies",
    "workspaces",
)

_INSTALL_HINTS = {
    "node": [
        "install Node.js (which includes npm) from https://nodejs.org/",
        "or with your system's packages, e.g. `apt install nodejs npm` or `brew install node`",
        "or with a version manager: nvm (https://github.com/nvm-sh/nvm), fnm or volta",
    ],
    "npm": [
        "npm ships with Node.js: reinstall Node.js from https://nodejs.org/",
        "or `apt install npm` if your distribution packages it separately",
    ],
    "pnpm": ["`corepack enable pnpm`, or `npm install -g pnpm` (https://pnpm.io/installation)"],
    "yarn": [
        "`corepack enable yarn`, or `npm install -g yarn` (https://yarnpkg.com/getting-started)"
    ],
    "bun": ["install bun: https://bun.sh/docs/installation"],
}


def _one_of(allowed: Sequence[str]) -> Callable[[Any], str]:
    """A converter that accepts one of `allowed` strings and explains anything else.

    A converter rather than a validator: the engine reports a converter's error
    against the key that holds the bad value.
    """

    def convert(value: Any) -> str:
        if not isinstance(value, str):
            raise TypeError(f"expected a string, one of {', '.join(allowed)}; got {value!r}")
        if value not in allowed:
            import difflib

            close = difflib.get_close_matches(value.lower(), allowed, 1, 0.5)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"{value!r} is not one of {', '.join(allowed)}{hint}")
        return value

    return convert


def _package_manager(value: Any) -> str:
    return _one_of(PACKAGE_MANAGERS)(value)


def _install_mode(value: Any) -> str:
    return _one_of(INSTALL_MODES)(value)


def _script_name(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected the name of a package.json script, got {value!r}")
    if not value.strip():
        raise ValueError("the script name is empty; give a package.json script, e.g. 'build'")
    return value


@attrs.frozen
class WebOptions:
    """Options of a `web` build (kebab-case keys in builds.toml)."""

    script: str = attrs.field(default="build", converter=_script_name)
    package_manager: str = attrs.field(default="auto", converter=_package_manager)
    install: str = attrs.field(default="auto", converter=_install_mode)


# -- pure helpers (unit-tested directly) ---------------------------------------


def detect_package_manager(cwd: Path) -> tuple[str, Path | None, list[Path]]:
    """(package manager, its lockfile or None, every lockfile found) for a package directory."""
    found = [(cwd / name, manager) for name, manager in LOCKFILES if (cwd / name).is_file()]
    if not found:
        return "npm", None, []
    return found[0][1], found[0][0], [path for path, _ in found]


def lockfile_for(manager: str, cwd: Path) -> Path | None:
    """The lockfile `manager` respects in `cwd`, if there is one."""
    for name, owner in LOCKFILES:
        if owner == manager and (cwd / name).is_file():
            return cwd / name
    return None


def install_command(manager: str, lockfile: Path | None) -> list[str]:
    """The install that respects the lockfile (`npm ci`), or a plain install without one."""
    if lockfile is None:
        return [manager, "install"]
    if manager == "npm":
        return ["npm", "ci"]
    return [manager, "install", "--frozen-lockfile"]


def script_command(manager: str, script: str, args: Sequence[str]) -> list[str]:
    """Run `script` with `args` passed on to it."""
    if manager == "npm":
        return ["npm", "run", script, *(["--", *args] if args else [])]
    # pnpm, yarn and bun pass arguments after the script name to the script.
    return [manager, "run", script, *args]


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def install_reason(
    mode: str, cwd: Path, lockfile: Path | None, package: Mapping[str, Any]
) -> str | None:
    """Why dependencies must be installed before the script, or None to skip the install."""
    if mode == "never":
        return None
    if mode == "always":
        return 'install = "always"'
    modules = cwd / "node_modules"
    installed = _mtime(modules)
    if installed is None:
        if not any(package.get(key) for key in _DEPENDENCY_KEYS):
            return None  # nothing to install: no dependencies, no workspaces
        return "node_modules is missing"
    for marker in _INSTALL_MARKERS:
        stamp = _mtime(modules / marker)
        if stamp is not None:
            installed = max(installed, stamp)
    if lockfile is not None:
        locked = _mtime(lockfile)
        if locked is not None and locked > installed:
            return f"{lockfile.name} is newer than node_modules"
    return None


def read_package_json(cwd: Path) -> dict[str, Any]:
    path = cwd / "package.json"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BuildFailed(
            f"no package.json in {cwd}",
            suggestions=[
                "set `cwd` in builds.toml to the directory holding package.json",
                "or create one: `npm init -y`, then add a build script",
            ],
            code="WEB_NO_PACKAGE_JSON",
            context={"cwd": str(cwd)},
        ) from None
    except OSError as exc:
        raise BuildFailed(
            f"cannot read {path}: {exc}", code="WEB_BAD_PACKAGE_JSON", context={"path": str(path)}
        ) from None
    import json  # when a web build runs, not on every buildsys start

    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BuildFailed(
            f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
            suggestions=["fix the JSON syntax (a trailing comma or a missing quote?)"],
            code="WEB_BAD_PACKAGE_JSON",
            context={"path": str(path)},
        ) from None
    if not isinstance(data, dict):
        raise BuildFailed(
            f"{path} must hold a JSON object",
            code="WEB_BAD_PACKAGE_JSON",
            context={"path": str(path)},
        )
    return data


def missing_script(script: str, scripts: Mapping[str, Any], path: Path) -> BuildFailed:
    names = sorted(scripts)
    import difflib

    close = difflib.get_close_matches(script, names, 1, 0.5)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    available = ", ".join(names) if names else "none"
    suggestions = []
    if close:
        suggestions.append(f'set `script = "{close[0]}"` in builds.toml')
    suggestions.append(f'add a "{script}" script to the "scripts" of {path}')
    return BuildFailed(
        f"package.json has no script {script!r}{hint}; available scripts: {available}",
        suggestions=suggestions,
        code="WEB_MISSING_SCRIPT",
        context={"script": script, "available": names, "package_json": str(path)},
    )


def package_manager_of(spec: BuildSpec) -> tuple[str, Path | None, list[Path]]:
    """(package manager, its lockfile, every lockfile found) for a build, as `build()` decides."""
    options: WebOptions = spec.options
    cwd = Path(spec.cwd)
    if options.package_manager == "auto":
        return detect_package_manager(cwd)
    lockfile = lockfile_for(options.package_manager, cwd)
    return options.package_manager, lockfile, [lockfile] if lockfile else []


def _build_env(host: Host, spec: BuildSpec | None) -> Mapping[str, str]:
    return {**host.env, **spec.env} if spec is not None and spec.env else host.env


def _missing(tool: str, code: str, path: str) -> BuildError:
    return BuildError(
        f"{tool} is not installed or not on PATH",
        code=code,
        suggestions=_INSTALL_HINTS.get(tool, ()),
        context={"PATH": path},
    )


# -- the builder -----------------------------------------------------------------


class WebBuilder:
    """Installs dependencies when needed, then runs a package.json script.

    Stateless, so thread-safe: a build's state lives in local variables (and
    tool versions are asked once per run and environment by `buildsys.probe`).

    `default_outputs` speak of the package: the engine takes a builder's
    defaults relative to the build's cwd (`cwd = "web"` gives `web/dist/**`
    and `web/build/**`) and lists the files they match after a successful
    build as its artifacts. A build that sets `outputs` itself replaces them
    (its patterns are relative to the directory holding builds.toml).
    """

    name = "web"
    options = WebOptions
    default_outputs = ("dist/**", "build/**")
    catalogue = CATALOGUE

    # toolchain -------------------------------------------------------------

    def check(self, host: Host) -> list[BuildError]:
        """Node.js, which every web build needs (its package manager: `check_build`)."""
        if find_tool("node", host.env).found:
            return []
        return [_missing("node", "WEB_NODE_NOT_FOUND", host.env.get("PATH", ""))]

    def check_build(self, spec: BuildSpec, host: Host) -> list[BuildError]:
        """The package manager this build uses, on its PATH (a pnpm build needs no npm)."""
        env = _build_env(host, spec)
        manager, _, _ = package_manager_of(spec)
        if find_tool(manager, env).found:
            return []
        code = "WEB_NPM_NOT_FOUND" if manager == "npm" else "WEB_PACKAGE_MANAGER_NOT_FOUND"
        return [_missing(manager, code, env.get("PATH", ""))]

    def fingerprint(self, host: Host, spec: BuildSpec | None = None) -> Fingerprint:
        """node's and the build's package manager's versions (npm without a build)."""
        env = _build_env(host, spec)
        lockfiles: tuple[Path, ...] = ()
        manager = "npm"
        if spec is not None:
            manager = package_manager_of(spec)[0]
            if spec.options.package_manager == "auto":
                # Which lockfiles exist chose the manager: each one vouches, present or not.
                lockfiles = tuple(Path(spec.cwd) / name for name, _ in LOCKFILES)
        return Fingerprint.join(
            _tool_version("node", env),
            _tool_version(manager, env),
            Fingerprint("", files=[str(p) for p in lockfiles]),
            Fingerprint("", files=[str(p) for p in _installed_paths(spec)]),
        )

    def stale(self, spec: BuildSpec) -> str | None:
        """Why a cached install no longer stands: what it installed is gone."""
        paths = _installed_paths(spec)
        if not paths or any(p.exists() for p in paths):
            return None
        return f"node_modules is missing in {spec.cwd}"

    # workspaces --------------------------------------------------------------

    def discover(self, root: str | os.PathLike[str], options: WorkspaceOptions) -> Workspace:
        """The pnpm, npm, yarn or bun workspace at `root`: `workspace.discover`."""
        from .workspace import discover  # reads YAML: only for a [workspaces.*] table

        return discover(root, options)

    # build -------------------------------------------------------------------

    def build(self, spec: BuildSpec, ctx: BuildContext) -> None:
        options: WebOptions = spec.options
        cwd = Path(spec.cwd)
        if options.install == "only":
            self._install_only(spec, ctx)
            return
        package = read_package_json(cwd)
        scripts = package.get("scripts")
        if not isinstance(scripts, dict):
            scripts = {}
        if options.script not in scripts:
            raise missing_script(options.script, scripts, cwd / "package.json")

        manager, lockfile, lockfiles = package_manager_of(spec)
        if options.package_manager == "auto" and len(lockfiles) > 1:
            ctx.warn(
                f"several lockfiles in {cwd}: {', '.join(p.name for p in lockfiles)}; "
                f"using {manager} (from {lockfiles[0].name}). Delete the stale ones, "
                "or set `package-manager` in builds.toml"
            )
        program = self._program(manager, ctx.env)

        reason = install_reason(options.install, cwd, lockfile, package)
        if reason is not None:
            argv = install_command(manager, lockfile)
            ctx.log_note(f"buildsys web: installing dependencies ({reason}): {' '.join(argv)}\n")
            self._run(ctx, [program, *argv[1:]], "WEB_INSTALL_FAILED", "installing dependencies")
        argv = script_command(manager, options.script, spec.args)
        self._run(ctx, [program, *argv[1:]], "WEB_SCRIPT_FAILED", f"script {options.script!r}")

    def _install_only(self, spec: BuildSpec, ctx: BuildContext) -> None:
        """The frozen install of the workspace at the build's cwd, and nothing else."""
        from .workspace import install_argv_at

        cwd = Path(spec.cwd)
        read_package_json(cwd)  # a missing package.json says so, before the install does
        manager = package_manager_of(spec)[0]
        argv = install_argv_at(cwd, manager)
        program = self._program(manager, ctx.env)
        ctx.log_note(f"buildsys web: installing the workspace: {' '.join(argv)}\n")
        self._run(ctx, [program, *argv[1:]], "WEB_INSTALL_FAILED", "installing dependencies")

    @staticmethod
    def _program(manager: str, env: Mapping[str, str]) -> str:
        """The package manager on the build's own PATH (its `env` applied)."""
        program = find_tool(manager, env).path
        if program is None:
            raise BuildFailed(
                f"{manager} is not installed or not on PATH",
                suggestions=_INSTALL_HINTS.get(manager, []),
                code="WEB_PACKAGE_MANAGER_NOT_FOUND",
                context={"package_manager": manager, "PATH": env.get("PATH", "")},
            )
        return program

    @staticmethod
    def _run(ctx: BuildContext, argv: list[str], code: str, what: str) -> None:
        try:
            ctx.run(argv)
        except BuildFailed as exc:
            if exc.code != "COMMAND_FAILED":
                raise  # stopped (timeout, cancel) or could not start: keep the engine's error
            returncode = exc.context.get("returncode")
            shown = " ".join([Path(argv[0]).name, *argv[1:]])
            how = (
                f"was killed by signal {-returncode}"
                if isinstance(returncode, int) and returncode < 0
                else f"exited with code {returncode}"
            )
            raise BuildFailed(
                f"{what} failed: `{shown}` {how}",
                suggestions=[
                    f"run `{shown}` in {ctx.cwd} to reproduce",
                    f"see the full log: {ctx.log_path}",
                ],
                code=code,
                context=exc.context,
            ) from exc


def _installed_paths(spec: BuildSpec | None) -> tuple[Path, ...]:
    """Where an `install = "only"` build's install leaves its mark; () for other builds."""
    if spec is None or getattr(spec.options, "install", None) != "only":
        return ()
    return tuple(Path(spec.cwd) / name for name in _INSTALLED)


def _tool_version(tool: str, env: Mapping[str, str]) -> Fingerprint:
    """`tool`'s version (`node 20.11.1`), vouched for by where it was found."""
    found = find_tool(tool, env)
    if found.path is None:
        return found.fingerprint(f"{tool} not found")
    said = probe([found.path, "--version"], env=env, timeout=15)
    if not said.ok or not said.first_line:
        return found.fingerprint(f"{tool} unknown (exit {said.returncode})")
    return found.fingerprint(f"{tool} {said.first_line.removeprefix('v')}")
