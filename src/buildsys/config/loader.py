"""Reading builds.toml into frozen config objects, with every problem found in one pass.

`load_config` parses with tomllib, then checks the whole file before anything
runs: unknown keys and wrong types (core keys and platform options), unknown
`depends-on` names and cycles, `requires-os` values, unknown platforms, paths
that leave the project, overlapping `outputs`. Each problem names the file,
line, build and key, with a "did you mean" where a close name exists; all of
them are raised together as one `ConfigError`.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from ..errors import ConfigError, Problem
from ..host.facts import os_name
from .builds import BuildReader
from .dependencies import check_dependencies
from .keys import BUILD_KEYS, NAME_RE, RUN_KEYS, TOP_LEVEL, Invalid, did_you_mean
from .model import BuildConfig, Config, RunSettings
from .overlap import check_outputs
from .platform_options import OptionChecker
from .problems import ProblemLog
from .workspaces import WorkspaceReader

if TYPE_CHECKING:
    from ..masking import Masker
    from ..plugin.manager import PluginHost

__all__ = ["load_config"]


def load_config(
    path: str | os.PathLike[str] = "builds.toml",
    plugins: PluginHost | None = None,
    *,
    host_os: str | None = None,
) -> Config:
    """Read and validate a builds.toml; raises `ConfigError` listing every problem.

    Platform options are validated against the builders of `plugins` (by
    default, the installed plugins, loaded now).
    """
    if plugins is None:
        from ..plugin.manager import PluginHost

        plugins = PluginHost().load()
    path = Path(path)
    text = _read(path.absolute(), str(path))
    return _Loader(path, plugins, host_os or os_name(), text).load()


def _read(path: Path, display: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            [
                Problem(
                    "no such file; create one with `buildsys init`, or pass -f PATH",
                    file=display,
                )
            ]
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([Problem(f"cannot read: {exc}", file=display)]) from None


class _Loader:
    """The top of the file ([run], [defaults], the [builds] table) and the checks
    across builds; each build is read by a `BuildReader`."""

    def __init__(self, path: Path, plugins: PluginHost, host_os: str, text: str) -> None:
        self.display = str(path)
        self.path = path.absolute()
        self.text = text
        self.log = ProblemLog(self.display, text)
        self.options = OptionChecker(plugins, self.log)
        self.reader = BuildReader(self.path, plugins, host_os, self.log, self.options)
        self.workspaces = WorkspaceReader(self.path, plugins, self.log, self.options, self.reader)

    def load(self) -> Config:
        try:
            data = tomllib.loads(self.text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError([self._syntax_problem(exc)]) from None
        except ValueError as exc:  # an integer of more digits than Python reads
            raise ConfigError([Problem(f"invalid TOML: {exc}", file=self.display)]) from None
        config = self._validate(data)
        problems = self.log.problems
        if problems:
            problems.sort(key=lambda p: p.line or 0)
            mask = _masker_for(data).text
            raise ConfigError([attrs.evolve(p, message=mask(p.message)) for p in problems])
        return config

    def _syntax_problem(self, exc: tomllib.TOMLDecodeError) -> Problem:
        message = str(exc)
        match = re.search(r"\(at line (\d+), column (\d+)\)", message)
        line = column = None
        if match:
            line, column = int(match.group(1)), int(match.group(2))
            message = message[: match.start()].rstrip()
        elif "end of document" in message:
            # The last line that exists: a file ending in a newline has no line after it.
            line = max(1, self.text.count("\n") + (0 if self.text.endswith("\n") else 1))
        return Problem(f"invalid TOML: {message}", file=self.display, line=line, column=column)

    def _validate(self, data: dict[str, Any]) -> Config:
        self._check_top_level(data)
        run = self._run(data.get("run", {}))
        defaults = self._defaults(data.get("defaults", {}))
        builds_raw = self.log.table(data.get("builds", {}), ("builds",))
        workspaces_raw = self.log.table(data.get("workspaces", {}), ("workspaces",))
        if not builds_raw and "builds" not in data and not workspaces_raw:
            self.log.add("no builds: add a table such as [builds.app] with a platform", at=())
        builds: list[BuildConfig] = []
        for name, raw in builds_raw.items():
            if not NAME_RE.match(name):
                self.log.add(
                    "invalid build name: use letters, digits, '.', '_' and '-', starting "
                    "with a letter or digit",
                    at=("builds", name),
                    build=name,
                )
                continue
            if not isinstance(raw, dict):
                self.log.table(raw, ("builds", name), build=name)
                continue
            builds.append(self.reader.build(name, raw, defaults))
        if workspaces_raw:
            members = self.workspaces.builds(workspaces_raw, defaults, list(builds_raw))
            # File order: the table written first comes first.
            first = [*data].index("workspaces") < [*data].index("builds") if builds else False
            builds = [*members, *builds] if first else [*builds, *members]
        self.options.check_defaults(defaults)
        variants = _variants(builds)
        check_dependencies(variants, self.log)
        for variant in variants:
            check_outputs(variant, self.log)
        return Config(self.path, self.display, run, tuple(builds))

    def _check_top_level(self, data: dict[str, Any]) -> None:
        for key, value in data.items():
            if key in TOP_LEVEL:
                continue
            if isinstance(value, dict):
                self.log.add(
                    f"unknown table{did_you_mean(key, TOP_LEVEL)}; builds.toml has "
                    "[run], [defaults], [builds.<name>] and [workspaces.<name>] tables",
                    at=(key,),
                    key=key,
                )
                continue
            where = [
                t for t, keys in (("[run]", RUN_KEYS), ("[defaults]", BUILD_KEYS)) if key in keys
            ]
            hint = (
                f"; put it under {' or '.join(where)}"
                if where
                else "; settings go under [run], [defaults] or [builds.<name>]"
            )
            self.log.add(
                f"unknown key{did_you_mean(key, [*RUN_KEYS, *BUILD_KEYS])}{hint}",
                at=(key,),
                key=key,
            )

    def _run(self, raw: Any) -> RunSettings:
        table = self.log.table(raw, ("run",))
        values: dict[str, Any] = {}
        for key, value in table.items():
            check = RUN_KEYS.get(key)
            if check is None:
                hint = did_you_mean(key, list(RUN_KEYS))
                if not hint and key in BUILD_KEYS:
                    hint = f"; {key!r} is a per-build key: put it under [defaults]"
                self.log.add(f"unknown key{hint}", at=("run", key), key=key)
                continue
            try:
                values[key.replace("-", "_")] = check(value)
            except Invalid as exc:
                for message in exc.messages:
                    self.log.add(message, at=("run", key), key=key)
        return RunSettings(**values)

    def _defaults(self, raw: Any) -> dict[str, Any]:
        """[defaults], its core keys checked here, once; platform options are
        checked once every build's platform is known (`OptionChecker.check_defaults`)."""
        defaults = self.log.table(raw, ("defaults",))
        for key, value in defaults.items():
            if key == "profiles":
                self.log.add(
                    "profiles belong to a build: [builds.<name>.profiles.<profile>]",
                    at=("defaults", key),
                    key=key,
                )
            elif key in BUILD_KEYS:
                try:
                    BUILD_KEYS[key](value)
                except Invalid as exc:
                    for message in exc.messages:
                        self.log.add(message, at=("defaults", key), key=key)
        return defaults


def _variants(builds: list[BuildConfig]) -> list[list[BuildConfig]]:
    """The builds as each profile sees them, the base first."""
    profiles = sorted({p for b in builds for p in b.profiles})
    return [builds] + [[b.for_profile(p) for b in builds] for p in profiles]


def _masker_for(data: dict[str, Any]) -> Masker:
    """What a run of this file would mask, as far as a file with errors tells: the
    caller's secrets, its `secret-env` names, and secret-named `env` values."""
    from ..masking import Masker

    tables = [data.get("defaults")]
    for top in ("builds", "workspaces"):
        found = data.get(top)
        tables.extend(found.values() if isinstance(found, dict) else ())
    for table in list(tables):
        profiles = table.get("profiles") if isinstance(table, dict) else None
        if isinstance(profiles, dict):
            tables.extend(profiles.values())
    names: list[str] = []
    envs: list[tuple[str, dict[str, str]]] = []
    for index, table in enumerate(tables):
        if not isinstance(table, dict):
            continue
        secret_env = table.get("secret-env")
        if isinstance(secret_env, list):
            names.extend(n for n in secret_env if isinstance(n, str))
        env = table.get("env")
        if isinstance(env, dict):
            envs.append((str(index), {k: v for k, v in env.items() if isinstance(v, str)}))
    return Masker.for_builds(os.environ, names, envs)
