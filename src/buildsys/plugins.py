"""Loading plugins: built-ins first, then each `buildsys` entry point on its own.

The order follows pluggy's canonical one: add the hookspecs, register the
built-in plugins, load the entry points, then ask every plugin for its
platforms. Each step that runs plugin code does so for one plugin at a time
and catches what it raises, because pluggy's `load_setuptools_entrypoints`
stops at the first broken plugin and a hook call stops at the first raising
implementation; here a broken plugin costs only the builds that need it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import attrs
import pluggy

from . import hookspecs
from .hooks import PROJECT
from .registry import PlatformRegistry, PluginError

__all__ = ["DISABLE_VAR", "ENTRY_POINT_GROUP", "PluginHost", "PluginInfo"]

ENTRY_POINT_GROUP = "buildsys"
DISABLE_VAR = "BUILDSYS_DISABLE_PLUGINS"


@attrs.frozen
class PluginInfo:
    """One plugin as `buildsys plugins` shows it."""

    name: str
    version: str
    distribution: str | None
    builtin: bool
    platforms: tuple[str, ...] = ()
    error: str | None = None
    disabled: bool = False


def _provider(infos: Iterable[PluginInfo], platform: str) -> PluginInfo | None:
    """The plugin among `infos` named for `platform`, or by its distribution's name."""
    for info in infos:
        if info.name == platform or info.distribution in (
            f"buildsys-plugin-{platform}",
            f"buildsys_plugin_{platform}",
        ):
            return info
    return None


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _builtin_plugins() -> list[tuple[str, object]]:
    from .platforms import command

    return [("command", command)]


def disabled_from_env(environ: os._Environ[str] | dict[str, str] | None = None) -> set[str]:
    value = (environ if environ is not None else os.environ).get(DISABLE_VAR, "")
    return {part.strip() for part in value.split(",") if part.strip()}


class PluginHost:
    """The plugin manager of one process: plugins, their platforms and their errors."""

    def __init__(self, *, disabled: Iterable[str] | None = None, entry_points: bool = True) -> None:
        self.pm = pluggy.PluginManager(PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.registry = PlatformRegistry()
        self._disabled = set(disabled) if disabled is not None else disabled_from_env()
        self._load_entry_points = entry_points
        self._infos: dict[str, PluginInfo] = {}
        self._versions: dict[str, str] = {}
        # Errors raised by plugins in observer hooks during a run.
        self.hook_errors: list[str] = []

    # -- loading -------------------------------------------------------------

    def load(self) -> PluginHost:
        """Register built-ins and installed plugins, then collect their platforms."""
        from . import __version__

        for name, module in _builtin_plugins():
            self._register(name, module, version=__version__, dist="buildsys", builtin=True)
        if self._load_entry_points:
            self._load_installed()
        self._collect_platforms()
        return self

    def _load_installed(self) -> None:
        from ._entrypoints import entry_points, load

        all_disabled = "all" in self._disabled
        for name, value, dist, version in entry_points(ENTRY_POINT_GROUP):
            if all_disabled or name in self._disabled or (dist and dist in self._disabled):
                self._infos[name] = PluginInfo(
                    name,
                    version,
                    dist,
                    builtin=False,
                    disabled=True,
                    error=f"disabled by {DISABLE_VAR}",
                )
                continue
            if name in self._infos:
                self._fail(name, f"another plugin is already registered as {name!r}")
                continue
            try:
                plugin = load(value)
            except BaseException as exc:
                if isinstance(exc, KeyboardInterrupt):
                    raise
                self._infos[name] = PluginInfo(
                    name,
                    version,
                    dist,
                    builtin=False,
                    error=f"failed to import {value!r}: {_describe(exc)}",
                )
                continue
            self._register(name, plugin, version=version, dist=dist, builtin=False)

    def _register(
        self, name: str, plugin: object, *, version: str, dist: str | None, builtin: bool
    ) -> None:
        self._versions[name] = version
        try:
            self.pm.register(plugin, name=name)
            unknown = [
                hook for hook in self.pm.get_hookcallers(plugin) or [] if not hook.has_spec()
            ]
            if unknown:
                names = ", ".join(h.name for h in unknown)
                raise PluginError(f"implements unknown hooks: {names} (see buildsys.hookspecs)")
        except (pluggy.PluginValidationError, PluginError, ValueError) as exc:
            if self.pm.is_registered(plugin):
                self.pm.unregister(plugin)
            self._infos[name] = PluginInfo(name, version, dist, builtin, error=_describe(exc))
            return
        self._infos[name] = PluginInfo(name, version, dist, builtin)

    def _collect_platforms(self) -> None:
        hook = self.pm.hook.buildsys_register_platforms
        # In registration order (built-ins first), so that on a name clash the
        # plugin that came later is the one reported broken.
        for impl in hook.get_hookimpls():
            name = impl.plugin_name
            self.registry._registering_for(name, self._versions.get(name, "unknown"))
            try:
                returned = impl.function(registry=self.registry)
                if returned is not None:
                    raise PluginError(
                        "buildsys_register_platforms returned a value; it must call "
                        "registry.add(builder) and return None"
                    )
            except BaseException as exc:
                if isinstance(exc, KeyboardInterrupt):
                    raise
                self.registry._remove_plugin(name)
                self._fail(name, f"buildsys_register_platforms raised {_describe(exc)}")
        for name, info in self._infos.items():
            platforms = tuple(sorted(p.name for p in self.registry if p.plugin == name))
            self._infos[name] = attrs.evolve(info, platforms=platforms)

    def _fail(self, name: str, error: str) -> None:
        info = self._infos.get(name)
        if info is None:
            info = PluginInfo(name, self._versions.get(name, "unknown"), None, builtin=False)
        self._infos[name] = attrs.evolve(info, error=error if not info.error else info.error)
        plugin = self.pm.get_plugin(name)
        if plugin is not None:
            self.pm.unregister(plugin)

    # -- queries -------------------------------------------------------------

    @property
    def plugins(self) -> list[PluginInfo]:
        return list(self._infos.values())

    def broken_provider(self, platform: str) -> PluginInfo | None:
        """An installed plugin that failed to load and probably provides `platform`."""
        return _provider(self.broken(), platform)

    def disabled_provider(self, platform: str) -> PluginInfo | None:
        """An installed plugin disabled by BUILDSYS_DISABLE_PLUGINS that probably
        provides `platform`."""
        return _provider((i for i in self._infos.values() if i.disabled), platform)

    def broken(self) -> list[PluginInfo]:
        """Plugins that failed to load (not those disabled on purpose)."""
        return [i for i in self._infos.values() if i.error is not None and not i.disabled]

    # -- calling observer hooks, one plugin at a time -------------------------

    def has_impl(self, hook_name: str) -> bool:
        return bool(getattr(self.pm.hook, hook_name).get_hookimpls())

    def call(self, hook_name: str, **kwargs: Any) -> list[Any]:
        """Call every implementation of a hook, each isolated; returns non-None results."""
        results: list[Any] = []
        for impl in reversed(getattr(self.pm.hook, hook_name).get_hookimpls()):
            args = {k: v for k, v in kwargs.items() if k in impl.argnames}
            try:
                value = impl.function(**args)
            except BaseException as exc:
                if isinstance(exc, KeyboardInterrupt):
                    raise
                self.hook_errors.append(
                    f"plugin {impl.plugin_name!r} raised in {hook_name}: {_describe(exc)}"
                )
                continue
            if value is not None:
                results.append(value)
        return results

    def register_reporter(self, plugin: object, name: str) -> None:
        """Register a run-scoped observer (the console and JSON reporters use this)."""
        self.pm.register(plugin, name=name)
