"""Reading builds.toml into frozen config objects, with every problem found in one pass.

`load_config` parses with tomllib, then checks the whole file before anything
runs: unknown keys and wrong types (core keys and platform options), unknown
`depends-on` names and cycles, `requires-os` values, unknown platforms, paths
that leave the project, overlapping `outputs`. Each problem names the file,
line, build and key, with a "did you mean" where a close name exists; all of
them are raised together as one `ConfigError`.
"""

from __future__ import annotations

import functools
import os
import posixpath
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import attrs

from .._durations import parse_duration
from .._toml import describe, literal
from ..errors import ConfigError, Problem
from ..host.facts import KNOWN_OS, os_name
from ._locate import KeyLines, quick_line

if TYPE_CHECKING:
    from ..masking import Masker
    from ..plugin.manager import PluginHost

__all__ = [
    "BUILD_KEYS",
    "RUN_KEYS",
    "BuildConfig",
    "Config",
    "RunSettings",
    "did_you_mean",
    "load_config",
]

NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_GLOB_CHARS = re.compile(r"[*?\[]")
STRATEGIES = ("parallel", "stop-on-failure")
TOP_LEVEL = ("run", "defaults", "builds")


def did_you_mean(word: str, candidates: Sequence[str], cutoff: float = 0.6) -> str:
    """' (did you mean 'x'?)' for the closest candidate (difflib's ratio at least
    `cutoff`), or ''."""
    normalised = {c.replace("_", "-").lower(): c for c in candidates}
    import difflib  # only when there is a mistake to explain

    close = difflib.get_close_matches(word.replace("_", "-").lower(), list(normalised), 1, cutoff)
    return f" (did you mean {normalised[close[0]]!r}?)" if close else ""


# How close an unchecked key must be to a core key to be called a typo of it:
# `timout`, `tag`, `input`, `dependson` are; `target`, `tasks` are not.
_NEAR_MISS = 0.8


class _Invalid(Exception):
    """A value that does not fit its key; each message completes 'key: ...'."""

    def __init__(self, *messages: str) -> None:
        super().__init__(*messages)
        self.messages = messages


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise _Invalid(f"expected a string, got {describe(value)}")
    return value


def _str_list(value: Any, what: str = "strings") -> tuple[str, ...]:
    if isinstance(value, str):
        raise _Invalid(f"expected an array of {what}, got {describe(value)}; write [{value!r}]")
    if not isinstance(value, list):
        raise _Invalid(f"expected an array of {what}, got {describe(value)}")
    for item in value:
        if not isinstance(item, str):
            raise _Invalid(f"expected an array of {what}, but it holds {describe(item)}")
    return tuple(value)


_NUL = "contains a NUL character, which no file system allows in a path"


def _path(value: Any) -> str:
    """A path: a string the file system can take."""
    text = _str(value)
    if "\x00" in text:
        raise _Invalid(_NUL)
    return text


def _directory(value: Any) -> str:
    text = _path(value)
    if not text.strip():
        raise _Invalid('is empty; name a directory, such as ".buildsys/cache"')
    return text


def _patterns(value: Any) -> tuple[str, ...]:
    from .patterns import pattern_problem

    patterns = _str_list(value, "patterns")
    messages = [
        f"pattern {pattern!r} {problem}"
        for pattern in patterns
        if (problem := pattern_problem(pattern)) is not None
    ]
    if messages:  # each of them, as unknown `depends-on` names are
        raise _Invalid(*messages)
    return patterns


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Invalid(f"expected true or false, got {describe(value)}")
    return value


def _count(value: Any, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Invalid(f"expected a whole number, got {describe(value)}")
    if value < minimum:
        raise _Invalid(f"expected a number of at least {minimum}, got {value}")
    return value


def _duration(value: Any) -> float:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise _Invalid(str(exc)) from None


def _timeout(value: Any) -> float:
    seconds = _duration(value)
    if seconds <= 0:  # zero is not "no timeout": every attempt would stop as it starts
        raise _Invalid(f"a timeout must be greater than zero, got {describe(value)}")
    return seconds


def _env_names(value: Any) -> tuple[str, ...]:
    names = _str_list(value, "variable names")
    for name in names:
        if not _ENV_NAME.match(name):
            raise _Invalid(f"{name!r} is not a valid environment variable name")
    return names


def _env_table(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise _Invalid(
            'expected a table of strings such as { NODE_ENV = "production" }, '
            f"got {describe(value)}"
        )
    for key, item in value.items():
        if not _ENV_NAME.match(key):
            raise _Invalid(f"{key!r} is not a valid environment variable name")
        if not isinstance(item, str):
            raise _Invalid(
                f'{key} must be a string, got {describe(item)}; quote it: {key} = "{literal(item)}"'
            )
    return dict(value)


# SPEC reads `macos` as `darwin`, and no other alias: a name outside the
# contract is refused, so every tool reading builds.toml agrees on its meaning.
_OS_ALIASES = {"macos": "darwin"}
# Aliases accepted before SPEC was followed, now refused with the name to write.
_OS_HINTS = {"osx": "darwin", "mac": "darwin", "win32": "windows"}


def _os_list(value: Any) -> tuple[str, ...]:
    names = _str_list(value, "OS names")
    out: list[str] = []
    unknown: list[str] = []
    for name in names:
        lowered = _OS_ALIASES.get(name.lower(), name.lower())
        if lowered in KNOWN_OS:
            out.append(lowered)
            continue
        hint = _OS_HINTS.get(lowered)
        unknown.append(
            f"unknown OS {name!r}"
            + (f" (did you mean {hint!r}?)" if hint else did_you_mean(name, [*KNOWN_OS, "macos"]))
            + f"; use {', '.join(KNOWN_OS)} (macos means darwin)"
        )
    if unknown:  # every one of them, as unknown `depends-on` names are
        raise _Invalid(*unknown)
    return tuple(out)


def _strategy(value: Any) -> str:
    text = _str(value)
    if text not in STRATEGIES:
        raise _Invalid(
            f"unknown strategy {text!r}{did_you_mean(text, STRATEGIES)}; "
            f"use one of {', '.join(STRATEGIES)}"
        )
    return text


# Per-build keys; `profiles` is handled apart. Values: validator.
BUILD_KEYS: dict[str, Callable[[Any], Any]] = {
    "platform": _str,
    "depends-on": lambda v: _str_list(v, "build names"),
    "timeout": _timeout,
    "retries": _count,
    "cwd": _path,
    "env": _env_table,
    "key-env": _env_names,
    "secret-env": _env_names,
    "inputs": _patterns,
    "outputs": _patterns,
    "requires-os": _os_list,
    "skip-if-unavailable": _bool,
    "tags": _str_list,
}
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([kmgt]i?b?|b)?", re.IGNORECASE)


def _size(value: Any) -> int:
    """Bytes: a whole number, or "500MB", "2GiB", "1.5g"."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    match = _SIZE.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise _Invalid(f'expected a size such as "500MB" or "2GiB", got {describe(value)}')
    unit = (match.group(2) or "").lower()
    base = 1024 if "i" in unit else 1000
    power = "bkmgt".index(unit[0]) if unit else 0
    size = int(float(match.group(1)) * base**power)
    if size <= 0:
        raise _Invalid(f"expected a size above zero, got {describe(value)}")
    return size


RUN_KEYS: dict[str, Callable[[Any], Any]] = {
    "strategy": _strategy,
    "max-concurrency": lambda v: _count(v, 1),
    "timeout": _timeout,
    "kill-grace": _duration,  # 0 is valid: SIGKILL right after SIGTERM
    "retries": _count,
    "cache": _bool,
    "cache-dir": _directory,
    "cache-max-size": _size,
    "inputs-respect-gitignore": _bool,
}
_ALL_BUILD_KEYS = [*BUILD_KEYS, "profiles"]


@attrs.frozen
class RunSettings:
    """The `[run]` table."""

    strategy: str = "parallel"
    max_concurrency: int | None = None
    timeout: float | None = None
    kill_grace: float = 5.0
    retries: int = 0
    cache: bool = True
    cache_dir: str | None = None  # default: .buildsys/cache; may be shared between projects
    cache_max_size: int | None = None  # bytes; least recently used entries go first
    # Inside a git work tree, `inputs` leave out what git ignores (see _gitignore).
    inputs_respect_gitignore: bool = True


def _frozen(value: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(value))


@attrs.frozen
class BuildConfig:
    """One build as configured: defaults applied, and a profile if `profile` is set."""

    name: str
    platform: str
    depends_on: tuple[str, ...] = ()
    timeout: float | None = None
    # Where the effective timeout is set, so a timed-out build says where to raise it.
    timeout_source: str | None = None
    retries: int | None = None
    cwd: str = "."
    env: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen)
    key_env: tuple[str, ...] = ()
    secret_env: tuple[str, ...] = ()
    inputs: tuple[str, ...] | None = None
    outputs: tuple[str, ...] | None = None
    requires_os: tuple[str, ...] | None = None
    skip_if_unavailable: bool = False
    tags: tuple[str, ...] = ()
    options: Any = None
    profile: str | None = None
    profiles: Mapping[str, BuildConfig] = attrs.field(factory=dict, converter=_frozen)
    # Set when the plugin providing the platform failed to load: the build fails, alone.
    broken: str | None = None

    def for_profile(self, profile: str | None) -> BuildConfig:
        if profile is None:
            return self
        return self.profiles.get(profile, self)


@attrs.frozen(slots=False)  # slots=False: lets functools.cached_property store the index
class Config:
    """A validated builds.toml."""

    path: Path
    display_path: str
    run: RunSettings
    builds: tuple[BuildConfig, ...]

    @property
    def root(self) -> Path:
        """The directory holding builds.toml: paths in it are relative to this."""
        return self.path.parent

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(b.name for b in self.builds)

    @property
    def profiles(self) -> tuple[str, ...]:
        return tuple(sorted({p for b in self.builds for p in b.profiles}))

    def get(self, name: str) -> BuildConfig:
        """The build named `name` (no profile applied); raises KeyError."""
        return self._by_name[name]

    @functools.cached_property
    def _by_name(self) -> dict[str, BuildConfig]:
        return {b.name: b for b in self.builds}

    def line_of(self, name: str) -> int | None:
        """The line where build `name` is written (scans the file: for messages, not loops)."""
        return self._key_lines.line("builds", name)

    @functools.cached_property
    def _key_lines(self) -> KeyLines:
        try:
            return KeyLines(self.path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            return KeyLines("")

    def builds_for(self, profile: str | None) -> tuple[BuildConfig, ...]:
        return tuple(b.for_profile(profile) for b in self.builds)


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
    return _Loader(Path(path), plugins, host_os or os_name()).load()


class _Loader:
    def __init__(self, path: Path, plugins: PluginHost, host_os: str) -> None:
        self.display = str(path)
        self.path = path.absolute()
        self.plugins = plugins
        self.host_os = host_os
        self.text = ""
        self._lines: KeyLines | None = None
        self._quick_lines: dict[tuple[tuple[str, ...], str], int | None] = {}
        self.problems: list[Problem] = []
        self._seen: set[str] = set()
        # The platforms of this file's builds -> their options class (None: no options),
        # and whether some build's platform could not be looked up.
        self._platforms: dict[str, type | None] = {}
        self._unchecked_platform = False

    # -- problems ------------------------------------------------------------

    def line(self, *path: str) -> int | None:
        if self._lines is None:
            self._lines = KeyLines(self.text)
        return self._lines.line(*path)

    def _quick_line(self, table: tuple[str, ...], key: str) -> int | None:
        found = self._quick_lines.get((table, key), -1)
        if found == -1:
            found = self._quick_lines[(table, key)] = quick_line(self.text, table, key)
        return found

    def problem(
        self, message: str, *, at: Sequence[str], build: str | None = None, key: str | None = None
    ) -> None:
        found = Problem(message, file=self.display, line=self.line(*at), build=build, key=key)
        text = str(found)
        if text not in self._seen:
            self._seen.add(text)
            self.problems.append(found)

    # -- reading -------------------------------------------------------------

    def load(self) -> Config:
        try:
            self.text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(
                [
                    Problem(
                        "no such file; create one with `buildsys init`, or pass -f PATH",
                        file=self.display,
                    )
                ]
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError([Problem(f"cannot read: {exc}", file=self.display)]) from None
        try:
            data = tomllib.loads(self.text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError([self._syntax_problem(exc)]) from None
        except ValueError as exc:  # an integer of more digits than Python reads
            raise ConfigError([Problem(f"invalid TOML: {exc}", file=self.display)]) from None
        config = self._validate(data)
        if self.problems:
            self.problems.sort(key=lambda p: p.line or 0)
            mask = _masker_for(data).text
            raise ConfigError([attrs.evolve(p, message=mask(p.message)) for p in self.problems])
        assert config is not None
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

    def _validate(self, data: dict[str, Any]) -> Config | None:
        for key, value in data.items():
            if key in TOP_LEVEL:
                continue
            if isinstance(value, dict):
                self.problem(
                    f"unknown table{did_you_mean(key, TOP_LEVEL)}; builds.toml has "
                    "[run], [defaults] and [builds.<name>] tables",
                    at=(key,),
                    key=key,
                )
            else:
                where = [
                    t
                    for t, keys in (("[run]", RUN_KEYS), ("[defaults]", BUILD_KEYS))
                    if key in keys
                ]
                hint = (
                    f"; put it under {' or '.join(where)}"
                    if where
                    else "; settings go under [run], [defaults] or [builds.<name>]"
                )
                self.problem(
                    f"unknown key{did_you_mean(key, [*RUN_KEYS, *BUILD_KEYS])}{hint}",
                    at=(key,),
                    key=key,
                )
        run = self._run(data.get("run", {}))
        defaults = self._table(data.get("defaults", {}), ("defaults",))
        for key, value in defaults.items():
            if key == "profiles":
                self.problem(
                    "profiles belong to a build: [builds.<name>.profiles.<profile>]",
                    at=("defaults", key),
                    key=key,
                )
            elif key in BUILD_KEYS:
                try:
                    BUILD_KEYS[key](value)
                except _Invalid as exc:
                    for message in exc.messages:
                        self.problem(message, at=("defaults", key), key=key)
        builds_raw = self._table(data.get("builds", {}), ("builds",))
        if not builds_raw and "builds" not in data:
            self.problem(
                "no builds: add a table such as [builds.app] with a platform", at=(), key=None
            )
        builds: list[BuildConfig] = []
        for name, raw in builds_raw.items():
            if not NAME_RE.match(name):
                self.problem(
                    "invalid build name: use letters, digits, '.', '_' and '-', starting "
                    "with a letter or digit",
                    at=("builds", name),
                    build=name,
                )
                continue
            if not isinstance(raw, dict):
                self._table(raw, ("builds", name), build=name)
                continue
            builds.append(self._build(name, raw, defaults))
        self._check_default_options(defaults)
        self._check_graph(builds)
        for variant in self._variants(builds):
            self._check_outputs(variant)
        return Config(self.path, self.display, run, tuple(builds))

    def _table(self, value: Any, at: tuple[str, ...], build: str | None = None) -> dict[str, Any]:
        if isinstance(value, dict):
            return value
        # The key is what follows the build's own path: e.g. 'profiles.release'.
        key = ".".join(at[2:]) if build is not None else ".".join(at)
        self.problem(
            f"expected a table, got {describe(value)}", at=at, build=build, key=key or None
        )
        return {}

    def _run(self, raw: Any) -> RunSettings:
        table = self._table(raw, ("run",))
        values: dict[str, Any] = {}
        for key, value in table.items():
            check = RUN_KEYS.get(key)
            if check is None:
                hint = did_you_mean(key, list(RUN_KEYS))
                if not hint and key in BUILD_KEYS:
                    hint = f"; {key!r} is a per-build key: put it under [defaults]"
                self.problem(f"unknown key{hint}", at=("run", key), key=key)
                continue
            try:
                values[key.replace("-", "_")] = check(value)
            except _Invalid as exc:
                for message in exc.messages:
                    self.problem(message, at=("run", key), key=key)
        return RunSettings(**values)

    def _check_default_options(self, defaults: dict[str, Any]) -> None:
        """Check each platform option in [defaults] once, there, against every
        platform of this file that takes it, whether or not a build inherits it.

        Builds do not report problems of the values they inherit (see `_options`),
        so a bad default is one problem, not one per build.
        """
        from ..plugin.options import field_keys, structure_options

        for key, value in defaults.items():
            if key in BUILD_KEYS or key == "profiles":
                continue  # core keys are checked as [defaults] is read
            takers = [
                (platform, cls)
                for platform, cls in self._platforms.items()
                if cls is not None and key in field_keys(cls)
            ]
            if not takers:
                # A platform that could not be looked up may take it: only a near
                # miss is sure to be a mistake, as for a key of such a build.
                unsure = self._unchecked_platform
                known = [*BUILD_KEYS, *self._known_option_keys()]
                hint = did_you_mean(key, known, _NEAR_MISS if unsure else 0.6)
                if hint or not unsure:
                    self.problem(
                        f"unknown key{hint}; [defaults] takes per-build keys, or options of "
                        "a platform used in this file",
                        at=("defaults", key),
                        key=key,
                    )
                continue
            for platform, cls in takers:
                _, found = structure_options(cls, {key: value})
                # Problems of other keys (required, or checked together) belong to builds.
                for problem in (f for f in found if f.key == key):
                    which = f"for platform {platform!r}: " if len(takers) > 1 else ""
                    self.problem(which + problem.message, at=("defaults", key), key=key)

    def _known_option_keys(self) -> list[str]:
        from ..plugin.options import field_keys

        keys: set[str] = set()
        for registered in self.plugins.registry:
            options = getattr(registered.builder, "options", None)
            if options is not None:
                keys.update(field_keys(options))
        return sorted(keys)

    # -- one build -----------------------------------------------------------

    def _build(
        self,
        name: str,
        table: dict[str, Any],
        defaults: dict[str, Any],
    ) -> BuildConfig:
        profiles_raw = self._table(
            table.get("profiles", {}), ("builds", name, "profiles"), build=name
        )
        base = self._variant(name, table, defaults, None, {})
        variants: dict[str, BuildConfig] = {}
        for profile, overrides in profiles_raw.items():
            at = ("builds", name, "profiles", profile)
            if not NAME_RE.match(profile):
                self.problem("invalid profile name", at=at, build=name)
                continue
            overrides = self._table(overrides, at, build=name)
            for key in ("profiles", "platform"):
                if key in overrides:
                    self.problem(
                        f"{key!r} cannot be set per profile", at=(*at, key), build=name, key=key
                    )
            variants[profile] = self._variant(name, table, defaults, profile, overrides)
        return attrs.evolve(base, profiles=variants)

    def _variant(
        self,
        name: str,
        table: dict[str, Any],
        defaults: dict[str, Any],
        profile: str | None,
        overrides: dict[str, Any],
    ) -> BuildConfig:
        # key -> (value, TOML path of where it was written)
        merged: dict[str, tuple[Any, tuple[str, ...]]] = {}
        layers: list[tuple[dict[str, Any], tuple[str, ...]]] = [
            (defaults, ("defaults",)),
            (table, ("builds", name)),
        ]
        if profile is not None:
            layers.append((overrides, ("builds", name, "profiles", profile)))
        for layer, at in layers:
            for key, value in layer.items():
                in_profile = profile is not None and at == ("builds", name, "profiles", profile)
                if key == "profiles" or (key == "platform" and in_profile):
                    continue  # a profile's platform is reported in _build and ignored
                if key == "env" and "env" in merged and isinstance(value, dict):
                    previous = merged["env"][0]
                    if isinstance(previous, dict):
                        value = {**previous, **value}
                merged[key] = (value, (*at, key))

        values: dict[str, Any] = {}
        options_raw: dict[str, tuple[Any, tuple[str, ...]]] = {}
        for key, (value, at) in merged.items():
            check = BUILD_KEYS.get(key)
            if check is None:
                options_raw[key] = (value, at)
                continue
            try:
                values[key] = check(value)
            except _Invalid as exc:
                if at[0] != "defaults":  # reported once, with [defaults]
                    for message in exc.messages:
                        self.problem(message, at=at, build=name, key=key)

        platform = values.get("platform", name)
        platform_invalid = "platform" in merged and "platform" not in values
        build_at = ("builds", name)
        requires_os = values.get("requires-os")
        host_skipped = requires_os is not None and self.host_os not in requires_os
        options: Any = {k: v for k, (v, _) in options_raw.items()}
        broken: str | None = None
        # Validated whatever the host, so that a file is valid everywhere or nowhere.
        registered = None if platform_invalid else self.plugins.registry.get(platform)
        if not host_skipped and not platform_invalid and registered is None:
            provider = self.plugins.broken_provider(platform)
            suspects = self.plugins.broken()
            if provider is not None:
                broken = (
                    f"platform {platform!r} comes from plugin {provider.name!r}, which failed "
                    f"to load: {provider.error}"
                )
            elif suspects:
                # A plugin that failed to load may be the one providing it: only
                # this build fails, not the whole file.
                names = ", ".join(repr(i.name) for i in suspects)
                broken = (
                    f"platform {platform!r} is not available: no installed plugin provides "
                    f"it, and {names} failed to load and may be the one "
                    f"({'; '.join(f'{i.name}: {i.error}' for i in suspects)}); otherwise "
                    f"install it: pip install buildsys-plugin-{platform}"
                )
            elif profile is None:
                known = self.plugins.registry.names()
                at = merged["platform"][1] if "platform" in merged else build_at
                hint = did_you_mean(platform, known)
                how = f"install the plugin that provides it: pip install buildsys-plugin-{platform}"
                if "platform" not in merged:
                    how += " (or set `platform =`; it defaults to the build's name)"
                disabled = self.plugins.disabled_provider(platform)
                if disabled is not None:
                    from ..plugin.manager import DISABLE_VAR

                    dist = f" ({disabled.distribution})" if disabled.distribution else ""
                    how += (
                        f". But plugin {disabled.name!r}{dist} is installed, and disabled by "
                        f"{DISABLE_VAR}: take it out of that variable to build this"
                    )
                self.problem(
                    f"unknown platform {platform!r}{hint}; {how}. Installed platforms: "
                    f"{', '.join(known) or 'none'}",
                    at=at,
                    build=name,
                    key="platform",
                )
        if registered is not None:
            builder = registered.builder
            if requires_os is None:
                default_os = getattr(builder, "requires_os", None)
                requires_os = tuple(default_os) if default_os else None
            self._platforms.setdefault(platform, getattr(builder, "options", None))
            options = self._options(name, platform, registered.plugin, builder, options_raw)
            # A builder's defaults speak of its package: relative to the build's cwd.
            for key, attr in (("inputs", "default_inputs"), ("outputs", "default_outputs")):
                default = getattr(builder, attr, None)
                if key not in values and default is not None:
                    values[key] = _under(values.get("cwd", "."), default)
        else:
            self._unchecked_platform = True
            # The platform's options cannot be checked, but a near miss of a core key
            # can: a close one only, since `target` or `tasks` (near `tags`) may well
            # be options of this platform, and a plugin that failed to load must not
            # make the whole file invalid.
            for key, (_, at) in options_raw.items():
                hint = did_you_mean(key, _ALL_BUILD_KEYS, _NEAR_MISS)
                if hint and at[0] != "defaults":
                    self.problem(f"unknown key{hint}", at=at, build=name, key=key)
        for key in ("depends-on", "tags"):
            if key in values and len(set(values[key])) != len(values[key]):
                values[key] = tuple(dict.fromkeys(values[key]))
        self._check_paths(name, values, merged)
        # Returned even when invalid, so that graph checks still see this build;
        # load() raises before an invalid config can be used.
        timeout_source = None
        if "timeout" in merged:
            where = merged["timeout"][1][:-1]
            timeout_source = f"timeout in [{'.'.join(where)}] of {self.display}"
            line = self._quick_line(where, "timeout")
            if line is not None:
                timeout_source += f", line {line}"
        return BuildConfig(
            name=name,
            platform=platform,
            depends_on=values.get("depends-on", ()),
            timeout=values.get("timeout"),
            timeout_source=timeout_source,
            retries=values.get("retries"),
            cwd=values.get("cwd", "."),
            env=values.get("env", {}),
            key_env=values.get("key-env", ()),
            secret_env=values.get("secret-env", ()),
            inputs=values.get("inputs"),
            outputs=values.get("outputs"),
            requires_os=requires_os,
            skip_if_unavailable=values.get("skip-if-unavailable", False),
            tags=values.get("tags", ()),
            options=options,
            profile=profile,
            broken=broken,
        )

    def _options(
        self,
        name: str,
        platform: str,
        plugin: str,
        builder: Any,
        raw: dict[str, tuple[Any, tuple[str, ...]]],
    ) -> Any:
        from ..plugin.options import field_keys, structure_options

        cls = getattr(builder, "options", None)
        fields = field_keys(cls) if cls is not None else {}
        ok = True
        for key in fields:
            if key in BUILD_KEYS or key == "profiles":
                self.problem(
                    f"platform {platform!r} (plugin {plugin!r}) has an option {key!r} that "
                    "shadows the core key of the same name; the plugin must rename it",
                    at=("builds", name),
                    build=name,
                    key=key,
                )
                ok = False
        usable: dict[str, Any] = {}
        guessed: set[str] = set()  # options a typo probably meant: not also "missing"
        for key, (value, at) in raw.items():
            if key not in fields:
                if at[0] == "defaults":
                    continue  # a default for another platform's builds
                hint = did_you_mean(key, [*_ALL_BUILD_KEYS, *fields])
                guessed.update(f for f in fields if hint == did_you_mean(key, [f]))
                what = (
                    f"platform {platform!r} takes no options"
                    if cls is None
                    else f"platform {platform!r} options are: {', '.join(fields) or 'none'}"
                )
                self.problem(f"unknown key{hint}; {what}", at=at, build=name, key=key)
                ok = False
                continue
            usable[key] = value
        if cls is None:
            return usable
        # Checked even when other keys were wrong: every error of the file in one run.
        instance, problems = structure_options(cls, usable)
        for found in problems:
            if found.key in guessed and found.key not in usable:
                continue
            at = raw[found.key][1] if found.key in raw else ("builds", name)
            if at[0] == "defaults":
                continue  # reported once, with [defaults]: _check_default_options
            self.problem(found.message, at=at, build=name, key=found.key)
        return instance if ok else usable

    def _check_paths(
        self, name: str, values: dict[str, Any], merged: dict[str, tuple[Any, tuple[str, ...]]]
    ) -> None:
        root = self.path.parent
        cwd = values.get("cwd")
        if cwd is not None:
            at = merged["cwd"][1]
            try:
                target = (root / cwd).resolve()  # an absolute cwd replaces root here
                outside = not target.is_relative_to(root.resolve())
            except (OSError, RuntimeError, ValueError) as exc:  # too long, a symlink loop
                self.problem(
                    f"cwd {cwd!r} cannot be resolved: {exc}",
                    at=at,
                    build=None if at[0] == "defaults" else name,
                    key="cwd",
                )
                outside = False
            if outside:
                self.problem(
                    f"cwd {cwd!r} is outside the project ({root}); builds run inside the "
                    "directory holding builds.toml",
                    at=at,
                    build=None if at[0] == "defaults" else name,
                    key="cwd",
                )
        project = str(root.resolve())
        for key in ("inputs", "outputs"):
            for pattern in values.get(key) or ():
                body = pattern[1:] if pattern.startswith("!") else pattern
                # `/x` is anchored at the project; the project's own absolute path
                # written out is a mistake, not a directory inside it.
                if body.startswith(project + "/") or body.startswith(str(root) + "/"):
                    where = project if body.startswith(project + "/") else str(root)
                    relative = ("!" if pattern.startswith("!") else "") + body[len(where) + 1 :]
                    self.problem(
                        f"pattern {pattern!r} is an absolute path; patterns are relative to "
                        "the directory holding builds.toml, and a leading '/' means that "
                        f"directory (did you mean {relative!r}?)",
                        at=merged[key][1],
                        build=None if merged[key][1][0] == "defaults" else name,
                        key=key,
                    )

    # -- the whole graph -------------------------------------------------------

    @staticmethod
    def _variants(builds: list[BuildConfig]) -> list[list[BuildConfig]]:
        """The builds as each profile sees them, the base first."""
        profiles = sorted({p for b in builds for p in b.profiles})
        return [builds] + [[b.for_profile(p) for b in builds] for p in profiles]

    def _check_graph(self, builds: list[BuildConfig]) -> None:
        names = [b.name for b in builds]
        for variant in self._variants(builds):
            for build in variant:
                for dep in build.depends_on:
                    at = self._at_key(build, "depends-on")
                    if dep == build.name:
                        self.problem("depends on itself", at=at, build=build.name, key="depends-on")
                    elif dep not in names:
                        self.problem(
                            f"unknown build {dep!r}{did_you_mean(dep, names)}",
                            at=at,
                            build=build.name,
                            key="depends-on",
                        )
            for cycle in _cycles(variant):
                first = next(b for b in variant if b.name == cycle[0])
                self.problem(
                    f"dependency cycle: {' -> '.join([*cycle, cycle[0]])}",
                    at=self._at_key(first, "depends-on"),
                    build=cycle[0],
                    key="depends-on",
                )

    def _at_key(self, build: BuildConfig, key: str) -> tuple[str, ...]:
        if build.profile is not None:
            at = ("builds", build.name, "profiles", build.profile, key)
            if self._lines_has(*at):
                return at
        if self._lines_has("builds", build.name, key):
            return ("builds", build.name, key)
        if self._lines_has("defaults", key):
            return ("defaults", key)
        return ("builds", build.name)

    def _lines_has(self, *path: str) -> bool:
        if self._lines is None:
            self._lines = KeyLines(self.text)
        return self._lines.has(*path)

    def _check_outputs(self, builds: list[BuildConfig]) -> None:
        # Two patterns can only overlap when one's literal directory prefix
        # holds the other's, so each pattern is compared only with earlier
        # ones filed under an ancestor of its prefix (`exact`) or under its
        # prefix or a descendant of it (`below`), not with every other.
        # Each entry: the build, the pattern as compared, as read (`normalise`: `./x`
        # is `x`, `/x` is anchored), and as written (for the message).
        from .patterns import normalise

        Entry = tuple[BuildConfig, str, str, str]
        exact: dict[tuple[str, ...], list[Entry]] = {}
        below: dict[tuple[str, ...], list[Entry]] = {}
        read_outputs = {b.name: [normalise(p) for p in b.outputs or ()] for b in builds}
        for build in builds:
            mine: list[tuple[tuple[str, ...], str, str, str]] = []
            outputs = read_outputs[build.name]
            for written, read in zip(build.outputs or (), outputs, strict=True):
                if read.startswith("!"):
                    continue
                # As gitignore reads it: `app.js` or `dist` without a slash is at any depth.
                pattern = f"**/{read}" if _floats(read) else read
                prefix = tuple(_literal_prefix(pattern)[0])
                candidates = [
                    *(e for end in range(len(prefix)) for e in exact.get(prefix[:end], ())),
                    *below.get(prefix, ()),
                ]
                for other, other_pattern, other_read, other_written in candidates:
                    if (
                        other.name != build.name
                        and (
                            _floating_overlap(read, other_read)
                            if _floats(read) or _floats(other_read)
                            else _patterns_overlap(pattern, other_pattern)
                        )
                        and not _leaves_out(outputs, other_read)
                        and not _leaves_out(read_outputs[other.name], read)
                    ):
                        self.problem(
                            f"outputs {written!r} overlap outputs {other_written!r} of build "
                            f"{other.name!r}; two builds must not write the same files",
                            at=self._at_key(build, "outputs"),
                            build=build.name,
                            key="outputs",
                        )
                mine.append((prefix, pattern, read, written))
            for prefix, pattern, read, written in mine:
                entry = (build, pattern, read, written)
                exact.setdefault(prefix, []).append(entry)
                for end in range(len(prefix) + 1):
                    below.setdefault(prefix[:end], []).append(entry)


def _under(cwd: str, patterns: Sequence[str]) -> tuple[str, ...]:
    """Patterns relative to `cwd` made relative to the project root."""
    prefix = posixpath.normpath(cwd.strip("/"))
    if prefix in ("", "."):
        return tuple(patterns)
    out = []
    for pattern in patterns:
        negated = pattern.startswith("!")
        body = pattern[1:] if negated else pattern
        out.append(("!" if negated else "") + f"{prefix}/{body.lstrip('/')}")
    return tuple(out)


def _cycles(builds: Sequence[BuildConfig]) -> list[list[str]]:
    """Each dependency cycle once, members in dependency order, from its first build in the file."""
    deps = {b.name: [d for d in b.depends_on if d != b.name] for b in builds}
    order = {b.name: i for i, b in enumerate(builds)}
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    found: list[list[str]] = []
    seen_sets: set[frozenset[str]] = set()
    for build in builds:
        if build.name in state:
            continue
        # Iterative depth-first search: a chain of thousands of builds is fine.
        path: list[str] = []
        stack: list[tuple[str, int]] = [(build.name, 0)]
        while stack:
            node, index = stack.pop()
            if index == 0:
                state[node] = 1
                path.append(node)
            edges = [d for d in deps.get(node, ()) if d in deps]
            if index < len(edges):
                stack.append((node, index + 1))
                dep = edges[index]
                if state.get(dep) == 1:
                    cycle = path[path.index(dep) :]
                    key = frozenset(cycle)
                    if key not in seen_sets:
                        seen_sets.add(key)
                        start = min(range(len(cycle)), key=lambda i: order[cycle[i]])
                        found.append(cycle[start:] + cycle[:start])
                elif dep not in state:
                    stack.append((dep, 0))
            else:
                path.pop()
                state[node] = 2
    return found


def _literal_prefix(pattern: str) -> tuple[list[str], str | None]:
    """The directory parts before the first glob, and the rest (None if no glob)."""
    parts = posixpath.normpath(pattern.strip("/")).split("/")
    for i, part in enumerate(parts):
        if _GLOB_CHARS.search(part):
            return parts[:i], "/".join(parts[i:])
    return parts, None


def _patterns_overlap(a: str, b: str) -> bool:
    """Whether two output patterns can match a common file (conservative, by literal prefix)."""
    prefix_a, rest_a = _literal_prefix(a)
    prefix_b, rest_b = _literal_prefix(b)
    short, long_ = sorted([prefix_a, prefix_b], key=len)
    if long_[: len(short)] != short:
        return False
    if rest_a is None and rest_b is None:
        return True  # the same path, or one inside the other
    # Both end in distinct literal extensions (dist/*.js vs dist/*.css): no common file.
    ext_a = _literal_suffix(rest_a)
    ext_b = _literal_suffix(rest_b)
    if ext_a and ext_b and not (ext_a.endswith(ext_b) or ext_b.endswith(ext_a)):
        return False
    if rest_a is None or rest_b is None:
        literal_parts, glob_prefix = (
            (prefix_a, prefix_b) if rest_a is None else (prefix_b, prefix_a)
        )
        if len(literal_parts) <= len(glob_prefix):
            return True  # the literal is a directory holding everything the glob matches
        literal, pattern = (a, b) if rest_a is None else (b, a)
        return _glob_matches(pattern, literal)
    return True


def _floating_overlap(a: str, b: str) -> bool:
    """`_patterns_overlap` where one pattern has no slash and so names a file or
    directory at any depth: they overlap when that name can be one of the
    other's path components, or its file name."""
    name, other = (a, b) if _floats(a) else (b, a)
    name = name.rstrip("/")
    if _floats(other):
        return _names_overlap(name, other.rstrip("/"))
    *dirs, last = posixpath.normpath(other.strip("/")).split("/")
    if last == "**":
        return True  # any file below: one named `name` among them
    # Glob directories (`**`, `*`) are left out: a name there would be a
    # directory called like a file (`x.map/`), and reporting that is noise.
    return _names_overlap(name, last) or any(
        _names_overlap(name, part) for part in dirs if not _GLOB_CHARS.search(part)
    )


def _names_overlap(a: str, b: str) -> bool:
    """Whether two single path components (each literal or a glob) can name the same."""
    import fnmatch

    a_glob, b_glob = bool(_GLOB_CHARS.search(a)), bool(_GLOB_CHARS.search(b))
    if not a_glob or not b_glob:
        literal, other = (a, b) if not a_glob else (b, a)
        return fnmatch.fnmatchcase(literal, other)
    ext_a, ext_b = _literal_suffix(a), _literal_suffix(b)
    return not (ext_a and ext_b and not (ext_a.endswith(ext_b) or ext_b.endswith(ext_a)))


def _masker_for(data: dict[str, Any]) -> Masker:
    """What a run of this file would mask, as far as a file with errors tells: the
    caller's secrets, its `secret-env` names, and secret-named `env` values."""
    from ..masking import Masker

    builds = data.get("builds")
    tables = [data.get("defaults"), *(builds.values() if isinstance(builds, dict) else ())]
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


def _leaves_out(patterns: Sequence[str], pattern: str) -> bool:
    """Whether `patterns` exclude every file `pattern` can match, so that they
    cannot overlap it.

    Only the common case is understood: a `!dir/**` with a literal `dir`, which
    excludes every file below `dir`, and that no later pattern takes files back
    from. Other exclusions (`!**/*.map`, `!x/*/keep/**`, and `!dir`, which
    pathspec applies below dir or not depending on the pattern it undoes) are
    ignored: an overlap they would remove is still reported, never the reverse.
    """
    parts = _literal_prefix(pattern)[0]
    for index, negated in enumerate(patterns):
        subtree = _excluded_subtree(negated)
        # `pattern` equal to `dir` counts as inside it: `!dir/**` says dir is a directory.
        if subtree is None or tuple(parts[: len(subtree)]) != subtree or _floats(pattern):
            continue
        later = patterns[index + 1 :]
        if not any(not p.startswith("!") and _may_reach(p, subtree) for p in later):
            return True
    return False


def _excluded_subtree(pattern: str) -> tuple[str, ...] | None:
    """For `!dir/**` with a literal dir, dir's parts (every file below it is excluded)."""
    if not pattern.startswith("!"):
        return None
    prefix, rest = _literal_prefix(pattern[1:])
    return tuple(prefix) if rest == "**" else None


def _floats(pattern: str) -> bool:
    """A pattern with no slash but a trailing one (`*.js`, `dist`) matches at any depth."""
    return "/" not in pattern.rstrip("/")


def _may_reach(pattern: str, subtree: tuple[str, ...]) -> bool:
    """Whether `pattern` could match a file below `subtree` (conservative)."""
    if _floats(pattern):
        return True
    prefix = tuple(_literal_prefix(pattern)[0])
    shared = min(len(prefix), len(subtree))
    return prefix[:shared] == subtree[:shared]


def _literal_suffix(rest: str | None) -> str:
    if rest is None:
        return ""
    last = rest.rsplit("/", 1)[-1]
    match = re.search(r"[*?\]]([^*?\[\]]*)\Z", last)
    return match.group(1) if match else ""


def _glob_matches(pattern: str, path: str) -> bool:
    from .patterns import PatternSet

    spec = PatternSet([pattern])
    return spec.matches(path) or spec.matches(path.rstrip("/") + "/x")
