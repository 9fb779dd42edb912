"""Loading plugins, and calling their hooks through pluggy, each plugin's failure its own.

The order follows pluggy's canonical one: add the hookspecs, register the
built-in plugins, load the entry points, then ask every plugin for its
platforms. Each entry point is loaded on its own, and what it raises caught,
because pluggy's `load_setuptools_entrypoints` stops at the first broken
plugin; here a broken plugin costs only the builds that need it.

Hooks are called through pluggy (``pm.hook.<name>(...)``), so that hook
wrappers (``wrapper=True`` and the older ``hookwrapper=True``), `pm.trace`,
`enable_tracing()` and `add_hookcall_monitoring` work as pluggy documents
them. A pluggy call stops at the first implementation that raises, so each
implementation is guarded as its plugin registers (`_IsolatingPluginManager`
replaces its `HookImpl.function`): a plain one that raises is recorded and
contributes nothing; a wrapper runs as a generator that drives the plugin's
own, so one raising before its yield still lets the call go on inside it,
and one raising after its yield leaves the result it was given. Only
KeyboardInterrupt goes through, as before.

Why guard each implementation rather than make one subset hook caller per
plugin: a wrapper must wrap the other plugins' implementations (a
`buildsys_error_suggestions` wrapper rewrites everyone's suggestions), which
a call per plugin cannot give it; tracing and monitoring would see a call per
plugin instead of one per hook; and a call per plugin pays pluggy's call
overhead once per plugin, where a guard costs one Python frame per
implementation. Results keep pluggy's order, which is what 0.1 called
"plugin order": the last plugin registered first.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator, Iterable, Mapping
from typing import TYPE_CHECKING, Any, cast

import attrs
import pluggy

from . import hookspecs
from .marker import PROJECT
from .registry import PlatformRegistry, PluginError

if TYPE_CHECKING:
    from pluggy import HookImpl

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


_REGISTER = "buildsys_register_platforms"


# _HookFailure and _HookRules are plain slotted classes, not attrs ones: every
# `buildsys` start imports this module, and an attrs class costs it 0.3 ms.


class _HookFailure:
    """One implementation that failed during a hook call."""

    __slots__ = ("hook", "plugin", "problem", "where")

    def __init__(
        self, plugin: str, hook: str, problem: BaseException | str, where: str = ""
    ) -> None:
        self.plugin = plugin
        self.hook = hook
        self.problem = problem  # what it raised, or what it did wrong
        self.where = where  # a wrapper's: "before its yield" or "after its yield"

    def for_run(self) -> str:
        """As `hook_errors`, and so the console, say it."""
        where = f" (a wrapper, {self.where})" if self.where else ""
        if isinstance(self.problem, BaseException):
            return f"plugin {self.plugin!r} raised in {self.hook}{where}: {_describe(self.problem)}"
        return f"plugin {self.plugin!r}: {self.hook}{where} {self.problem}"

    def for_plugin(self) -> str:
        """As `buildsys plugins` says it, under the plugin's name."""
        where = f" (a wrapper, {self.where})" if self.where else ""
        if isinstance(self.problem, BaseException):
            return f"{self.hook}{where} raised {_describe(self.problem)}"
        return f"{self.hook}{where} {self.problem}"


_Report = Callable[[_HookFailure], None]
_Function = Callable[..., object]


class _HookRules:
    """What a hook's guards do beyond catching what its implementations raise."""

    __slots__ = ("enter", "returned")

    def __init__(
        self, enter: Callable[[str], None] | None = None, returned: str | None = None
    ) -> None:
        # Told the plugin whose code runs next: the registry attributes platforms by it.
        self.enter = enter
        # Said of a plain implementation that returns a value; None: values are results.
        self.returned = returned


_PLAIN = _HookRules()

_NOT_A_LIST = "is a wrapper that returned {}, not a list of results; the result it wrapped is kept"


def _replacement(plugin: str, hook: str, report: _Report, value: object, wrapped: object) -> object:
    """What a wrapper's return value makes of the result: a list replaces it; None
    (a wrapper that forgot to return it) keeps it; anything else is the plugin's error."""
    if isinstance(value, list):
        return value
    if value is not None:
        report(_HookFailure(plugin, hook, _NOT_A_LIST.format(type(value).__name__)))
    return wrapped


def _guard(impl: HookImpl, hook: str, report: _Report, rules: _HookRules) -> _Function:
    """`impl.function`, changed so that what it raises or does wrong is reported and
    costs only its own part of the call."""
    function: _Function = impl.function
    plugin = impl.plugin_name
    if impl.wrapper:
        return _guard_wrapper(function, plugin, hook, report, rules.enter)
    if impl.hookwrapper:
        return _guard_old_wrapper(function, plugin, hook, report, rules.enter)
    enter, returned = rules.enter, rules.returned
    if enter is None and returned is None:
        # The common case, on every observer call: as little as possible around the call.
        def guarded(*args: object, **kwargs: object) -> object:
            try:
                return function(*args, **kwargs)
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # noqa: BLE001 - a plugin's failure is its own
                report(_HookFailure(plugin, hook, exc))
                return None

        return guarded

    def guarded_by_rules(*args: object, **kwargs: object) -> object:
        if enter is not None:
            enter(plugin)
        try:
            value = function(*args, **kwargs)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # noqa: BLE001 - a plugin's failure is its own
            report(_HookFailure(plugin, hook, exc))
            return None
        if value is not None and returned is not None:
            report(_HookFailure(plugin, hook, returned))
            return None
        return value

    return guarded_by_rules


def _guard_wrapper(
    function: _Function,
    plugin: str,
    hook: str,
    report: _Report,
    enter: Callable[[str], None] | None,
) -> _Function:
    """A ``wrapper=True`` implementation: a generator driving the plugin's own, which
    pluggy drives in its place."""

    def guarded(*args: object, **kwargs: object) -> Generator[None, object, object]:
        if enter is not None:
            enter(plugin)
        try:
            teardown = cast(Generator[None, object, object], function(*args, **kwargs))
            next(teardown)
        except KeyboardInterrupt:
            raise
        except StopIteration:
            report(_HookFailure(plugin, hook, "is a wrapper that returned without yielding"))
            return (yield)
        except BaseException as exc:  # noqa: BLE001 - a plugin's failure is its own
            report(_HookFailure(plugin, hook, exc, "before its yield"))
            return (yield)
        try:
            wrapped = yield
        except GeneratorExit:
            teardown.close()
            raise
        except BaseException as exc:
            # The implementations inside are guarded: only KeyboardInterrupt (or a
            # bug of ours) gets here. The plugin's generator sees it, as pluggy
            # promises, and its finally runs; it cannot stop it.
            if enter is not None:
                enter(plugin)
            try:
                teardown.throw(exc)
            except KeyboardInterrupt:
                raise
            except BaseException as raised:  # noqa: BLE001 - exc is raised below
                if raised is not exc and not isinstance(raised, StopIteration):
                    report(_HookFailure(plugin, hook, raised, "after its yield"))
            else:
                teardown.close()
            raise
        if enter is not None:
            enter(plugin)
        try:
            teardown.send(wrapped)
        except StopIteration as stop:
            return _replacement(plugin, hook, report, stop.value, wrapped)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # noqa: BLE001 - a plugin's failure is its own
            report(_HookFailure(plugin, hook, exc, "after its yield"))
            return wrapped
        teardown.close()
        report(_HookFailure(plugin, hook, "is a wrapper that yielded twice"))
        return wrapped

    return guarded


def _guard_old_wrapper(
    function: _Function,
    plugin: str,
    hook: str,
    report: _Report,
    enter: Callable[[str], None] | None,
) -> _Function:
    """A ``hookwrapper=True`` implementation: pluggy sends it a `pluggy.Result`."""

    def guarded(*args: object, **kwargs: object) -> Generator[None, object, None]:
        if enter is not None:
            enter(plugin)
        try:
            teardown = cast(Generator[None, object, None], function(*args, **kwargs))
            next(teardown)
        except KeyboardInterrupt:
            raise
        except StopIteration:
            report(_HookFailure(plugin, hook, "is a wrapper that returned without yielding"))
            yield
            return
        except BaseException as exc:  # noqa: BLE001 - a plugin's failure is its own
            report(_HookFailure(plugin, hook, exc, "before its yield"))
            yield
            return
        try:
            outcome = cast("pluggy.Result[object]", (yield))
        except GeneratorExit:
            teardown.close()
            raise
        wrapped = outcome.get_result() if outcome.exception is None else None
        if enter is not None:
            enter(plugin)
        try:
            teardown.send(outcome)
        except StopIteration:
            pass
        except BaseException as exc:
            if exc is outcome.exception:
                return  # the call's own error (a KeyboardInterrupt): pluggy raises it
            if isinstance(exc, KeyboardInterrupt):
                raise
            report(_HookFailure(plugin, hook, exc, "after its yield"))
        else:
            teardown.close()
            report(_HookFailure(plugin, hook, "is a wrapper that yielded twice"))
        if outcome.exception is None:
            value = outcome.get_result()
            if value is not wrapped:
                outcome.force_result(_replacement(plugin, hook, report, value, wrapped))

    return guarded


class _IsolatingPluginManager(pluggy.PluginManager):
    """pluggy's manager, with every hook implementation guarded as its plugin registers,
    whoever registers it: built-ins, entry points, the run's reporters, a host's own."""

    def __init__(self, report: _Report, rules: Mapping[str, _HookRules]) -> None:
        super().__init__(PROJECT)
        self._report = report
        self._rules = rules

    def register(self, plugin: object, name: str | None = None) -> str | None:
        registered = super().register(plugin, name)
        if registered is not None:
            for caller in self.get_hookcallers(plugin) or []:
                rules = self._rules.get(caller.name, _PLAIN)
                for impl in caller.get_hookimpls():
                    if impl.plugin is plugin:
                        # pluggy types it Final, but calls whatever is there; argnames,
                        # read from the plugin's function at registration, stay right.
                        guarded = _guard(impl, caller.name, self._report, rules)
                        setattr(impl, "function", guarded)  # noqa: B010
        return registered


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
        register = _HookRules(
            enter=self.registry._registering_for,
            returned="returned a value; it must call registry.add(builder) and return None",
        )
        self.pm: pluggy.PluginManager = _IsolatingPluginManager(
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
                    error = f"{_REGISTER} raised {_describe(exc)}"
            self.registry._discard(name)
            self._fail(name, error)
        self._registration_errors.clear()
        for name, info in self._infos.items():
            platforms = tuple(sorted(p.name for p in self.registry if p.plugin == name))
            self._infos[name] = attrs.evolve(info, platforms=platforms)

    def _hook_failed(self, failure: _HookFailure) -> None:
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
