"""Loading plugins, and calling their hooks through pluggy, each plugin's failure its own.

The order follows pluggy's canonical one: add the hookspecs, register the
built-in plugins, load the entry points, then ask every plugin for its
platforms. Each entry point is loaded on its own, and what it raises caught,
because pluggy's `load_setuptools_entrypoints` stops at the first broken
plugin; here a broken plugin costs only the builds that need it.

Each hook implementation is guarded as its plugin registers: `isolation.py`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

import attrs
import pluggy

from . import hookspecs
from .isolation import HookFailure, HookRules, IsolatingPluginManager, describe
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


_REGISTER = "buildsys_register_platforms"


def _builtin_plugins() -> list[tuple[str, object]]:
    from . import command

    return [("command", command)]


def disabled_from_env(environ: os._Environ[str] | dict[str, str] | None = None) -> set[str]:
    value = (environ if environ is not None else os.environ).get(DISABLE_VAR, "")
    return {part.strip() for part in value.split(",") if part.strip()}


class PluginHost:
    """The plugin manager of one process: plugins, their platforms and their errors."""

    def __init__(self, *, disabled: Iterable[str] | None = None, entry_points: bool = True) -> None:
        self.registry = PlatformRegistry()
        register = HookRules(
            enter=self.registry._registering_for,
            returned="returned a value; it must call registry.add(builder) and return None",
        )
        self.pm: pluggy.PluginManager = IsolatingPluginManager(
            self._hook_failed, {_REGISTER: register}
        )
        self.pm.add_hookspecs(hookspecs)
        self._disabled = set(disabled) if disabled is not None else disabled_from_env()
        self._load_entry_points = entry_points
        self._infos: dict[str, PluginInfo] = {}
        self._versions: dict[str, str] = {}
        # Errors raised by plugins in observer hooks during a run.
        self.hook_errors: list[str] = []
        # Plugins whose buildsys_register_platforms failed, while it is being called.
        self._registration_errors: dict[str, str] = {}

    # -- loading -------------------------------------------------------------

    def load(self) -> PluginHost:
        """Register built-ins and installed plugins, then collect their platforms."""
        from .._about import version_text

        for name, module in _builtin_plugins():
            self._register(name, module, version=version_text(), dist="buildsys", builtin=True)
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
                    error=f"failed to import {value!r}: {describe(exc)}",
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
            self._infos[name] = PluginInfo(name, version, dist, builtin, error=describe(exc))
            return
        self._infos[name] = PluginInfo(name, version, dist, builtin)

    def _collect_platforms(self) -> None:
        hook = self.pm.hook.buildsys_register_platforms
        hook(registry=self.registry)
        # Committed in registration order (built-ins first), the order pluggy lists
        # them in, so that on a name clash the plugin that came later is the one
        # reported broken.
        for name in dict.fromkeys(impl.plugin_name for impl in hook.get_hookimpls()):
            error = self._registration_errors.pop(name, None)
            if error is None:
                try:
                    self.registry._commit(name, self._versions.get(name, "unknown"))
                    continue
                except PluginError as exc:
                    error = f"{_REGISTER} raised {describe(exc)}"
            self.registry._discard(name)
            self._fail(name, error)
        self._registration_errors.clear()
        for name, info in self._infos.items():
            platforms = tuple(sorted(p.name for p in self.registry if p.plugin == name))
            self._infos[name] = attrs.evolve(info, platforms=platforms)

    def _hook_failed(self, failure: HookFailure) -> None:
        if failure.hook == _REGISTER:
            # The plugin is broken: `_collect_platforms` says so once the call is over.
            self._registration_errors.setdefault(failure.plugin, failure.for_plugin())
        else:
            self.hook_errors.append(failure.for_run())

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

    # -- calling hooks ----------------------------------------------------------

    def has_impl(self, hook_name: str) -> bool:
        return bool(getattr(self.pm.hook, hook_name).get_hookimpls())

    def call(self, hook_name: str, **kwargs: Any) -> list[Any]:
        """Call a hook through pluggy: the non-None results, the last plugin registered
        first. What an implementation raises is recorded in `hook_errors`."""
        results: list[Any] = getattr(self.pm.hook, hook_name)(**kwargs)
        return results

    def caller(self, hook_name: str) -> Callable[..., list[Any]]:
        """`call` for one hook, bound once for a hot path (a call per output line).
        It stays valid as plugins register and unregister."""
        hook: Callable[..., list[Any]] = getattr(self.pm.hook, hook_name)
        return hook

    def register_reporter(self, plugin: object, name: str) -> None:
        """Register a run-scoped observer (the console and JSON reporters use this);
        its hooks are guarded as every plugin's are."""
        self.pm.register(plugin, name=name)
