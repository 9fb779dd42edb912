"""Reading one `[builds.<name>]` table: defaults and profiles merged in, values
checked, the platform looked up, paths kept inside the project."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from .._prefix import prefix_patterns
from .keys import BUILD_KEYS, NAME_RE, Invalid, did_you_mean
from .model import BuildConfig
from .platform_options import Located, OptionChecker
from .problems import ProblemLog, owner

if TYPE_CHECKING:
    from ..plugin.manager import PluginHost

__all__ = ["BuildReader", "Layer", "under"]

# A table of keys and the TOML path where it is written.
Layer = tuple[dict[str, Any], tuple[str, ...]]


class BuildReader:
    """Builds of the file at `path` for a host running `host_os`."""

    def __init__(
        self,
        path: Path,
        plugins: PluginHost,
        host_os: str,
        log: ProblemLog,
        options: OptionChecker,
    ) -> None:
        self.path = path
        self.plugins = plugins
        self.host_os = host_os
        self.log = log
        self.options = options

    def build(
        self,
        name: str,
        table: dict[str, Any],
        defaults: dict[str, Any],
        *,
        at: tuple[str, ...] | None = None,
        above: Sequence[Layer] = (),
        fixed: Located | None = None,
    ) -> BuildConfig:
        """The build `name` with its profiles; returned even when invalid, so that
        graph checks still see it (the loader raises before it can be used).

        `table` is written at `at` (default `[builds.<name>]`); a workspace member
        also has the layers `above` it (its `overrides` table) and values `fixed`
        by discovery (its cwd, inputs, outputs, dependencies), which win over all.
        """
        at = ("builds", name) if at is None else at
        profiles_raw = self.log.table(
            table.get("profiles", {}), (*at, "profiles"), build=owner(name, at)
        )
        layers: list[Layer] = [(defaults, ("defaults",)), (table, at), *above]
        base = self._variant(name, at, layers, None, fixed or {})
        variants: dict[str, BuildConfig] = {}
        for profile, overrides in profiles_raw.items():
            where = (*at, "profiles", profile)
            who = owner(name, where)
            if not NAME_RE.match(profile):
                self.log.add("invalid profile name", at=where, build=who)
                continue
            overrides = self.log.table(overrides, where, build=who)
            for key in ("profiles", "platform"):
                if key in overrides:
                    self.log.add(
                        f"{key!r} cannot be set per profile", at=(*where, key), build=who, key=key
                    )
            variants[profile] = self._variant(
                name, at, [*layers, (overrides, where)], profile, fixed or {}
            )
        return attrs.evolve(base, profiles=variants)

    def _variant(
        self,
        name: str,
        at: tuple[str, ...],
        layers: Sequence[Layer],
        profile: str | None,
        fixed: Located,
    ) -> BuildConfig:
        merged = {**_merge(layers, profile is not None), **fixed}
        values: dict[str, Any] = {}
        options_raw: Located = {}
        for key, (value, where) in merged.items():
            check = BUILD_KEYS.get(key)
            if check is None:
                options_raw[key] = (value, where)
                continue
            try:
                values[key] = check(value)
            except Invalid as exc:
                if where[0] != "defaults":  # reported once, with [defaults]
                    for message in exc.messages:
                        self.log.add(message, at=where, build=owner(name, where), key=key)

        platform = values.get("platform", name)
        platform_invalid = "platform" in merged and "platform" not in values
        requires_os = values.get("requires-os")
        host_skipped = requires_os is not None and self.host_os not in requires_os
        options: Any = {k: v for k, (v, _) in options_raw.items()}
        broken: str | None = None
        # Validated whatever the host, so that a file is valid everywhere or nowhere.
        registered = None if platform_invalid else self.plugins.registry.get(platform)
        if not host_skipped and not platform_invalid and registered is None:
            broken = self._broken(platform)
            if broken is None and profile is None:
                self._unknown_platform(name, platform, merged)
        if registered is not None:
            builder = registered.builder
            if requires_os is None:
                default_os = getattr(builder, "requires_os", None)
                requires_os = tuple(default_os) if default_os else None
            options = self.options.check_build(
                name, platform, registered.plugin, builder, options_raw, at
            )
            # A builder's defaults speak of its package: relative to the build's cwd.
            for key, attr in (("inputs", "default_inputs"), ("outputs", "default_outputs")):
                default = getattr(builder, attr, None)
                if key not in values and default is not None:
                    values[key] = under(values.get("cwd", "."), default)
        else:
            self.options.check_unknown_platform(name, options_raw)
        for key in ("depends-on", "tags"):
            if key in values and len(set(values[key])) != len(values[key]):
                values[key] = tuple(dict.fromkeys(values[key]))
        self._check_paths(name, values, merged)
        return BuildConfig(
            name=name,
            platform=platform,
            depends_on=values.get("depends-on", ()),
            timeout=values.get("timeout"),
            timeout_source=self._timeout_source(merged),
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

    def _timeout_source(self, merged: Located) -> str | None:
        if "timeout" not in merged:
            return None
        where = merged["timeout"][1][:-1]
        source = f"timeout in [{'.'.join(where)}] of {self.log.display}"
        line = self.log.quick_line(where, "timeout")
        return source if line is None else f"{source}, line {line}"

    def _broken(self, platform: str) -> str | None:
        """Why the unregistered `platform` may come from a plugin that failed to load,
        which makes this build fail, not the whole file; None if none did."""
        provider = self.plugins.broken_provider(platform)
        if provider is not None:
            return (
                f"platform {platform!r} comes from plugin {provider.name!r}, which failed "
                f"to load: {provider.error}"
            )
        suspects = self.plugins.broken()
        if not suspects:
            return None
        names = ", ".join(repr(i.name) for i in suspects)
        return (
            f"platform {platform!r} is not available: no installed plugin provides "
            f"it, and {names} failed to load and may be the one "
            f"({'; '.join(f'{i.name}: {i.error}' for i in suspects)}); otherwise "
            f"install it: pip install buildsys-plugin-{platform}"
        )

    def _unknown_platform(self, name: str, platform: str, merged: Located) -> None:
        known = self.plugins.registry.names()
        at = merged["platform"][1] if "platform" in merged else ("builds", name)
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
        self.log.add(
            f"unknown platform {platform!r}{hint}; {how}. Installed platforms: "
            f"{', '.join(known) or 'none'}",
            at=at,
            build=name,
            key="platform",
        )

    def _check_paths(self, name: str, values: dict[str, Any], merged: Located) -> None:
        root = self.path.parent
        cwd = values.get("cwd")
        if cwd is not None:
            at = merged["cwd"][1]
            try:
                target = (root / cwd).resolve()  # an absolute cwd replaces root here
                outside = not target.is_relative_to(root.resolve())
            except (OSError, RuntimeError, ValueError) as exc:  # too long, a symlink loop
                self.log.add(
                    f"cwd {cwd!r} cannot be resolved: {exc}",
                    at=at,
                    build=owner(name, at),
                    key="cwd",
                )
                outside = False
            if outside:
                self.log.add(
                    f"cwd {cwd!r} is outside the project ({root}); builds run inside the "
                    "directory holding builds.toml",
                    at=at,
                    build=owner(name, at),
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
                    self.log.add(
                        f"pattern {pattern!r} is an absolute path; patterns are relative to "
                        "the directory holding builds.toml, and a leading '/' means that "
                        f"directory (did you mean {relative!r}?)",
                        at=merged[key][1],
                        build=owner(name, merged[key][1]),
                        key=key,
                    )


def _merge(layers: Sequence[Layer], in_profile: bool) -> Located:
    """The layers in order, later ones winning: each key with where it was set.

    [defaults], then the build's table (and a member's overrides), then its
    profile when `in_profile` (the last layer), whose `platform` is reported in
    build() and ignored; `env` tables are merged key by key.
    """
    merged: Located = {}
    for index, (layer, at) in enumerate(layers):
        profile_layer = in_profile and index == len(layers) - 1
        for key, value in layer.items():
            if key == "profiles" or (key == "platform" and profile_layer):
                continue
            if key == "env" and "env" in merged and isinstance(value, dict):
                previous = merged["env"][0]
                if isinstance(previous, dict):
                    value = {**previous, **value}
            merged[key] = (value, (*at, key))
    return merged


def under(cwd: str, patterns: Sequence[str]) -> tuple[str, ...]:
    """Patterns relative to `cwd` made relative to the project root."""
    return prefix_patterns(patterns, cwd, anchored=False)
