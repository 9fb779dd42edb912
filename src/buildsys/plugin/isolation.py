"""Guarding hook implementations, so that each plugin's failure is its own.

Hooks are called through pluggy (``pm.hook.<name>(...)``), so that hook
wrappers (``wrapper=True`` and the older ``hookwrapper=True``), `pm.trace`,
`enable_tracing()` and `add_hookcall_monitoring` work as pluggy documents
them. A pluggy call stops at the first implementation that raises, so each
implementation is guarded as its plugin registers (`IsolatingPluginManager`
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

from collections.abc import Callable, Generator, Mapping
from typing import TYPE_CHECKING, cast

import pluggy

from .marker import PROJECT

if TYPE_CHECKING:
    from pluggy import HookImpl

__all__ = ["HookFailure", "HookRules", "IsolatingPluginManager", "Report", "describe"]


def describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# HookFailure and HookRules are plain slotted classes, not attrs ones: every
# `buildsys` start imports this module, and an attrs class costs it 0.3 ms.


class HookFailure:
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
            return f"plugin {self.plugin!r} raised in {self.hook}{where}: {describe(self.problem)}"
        return f"plugin {self.plugin!r}: {self.hook}{where} {self.problem}"

    def for_plugin(self) -> str:
        """As `buildsys plugins` says it, under the plugin's name."""
        where = f" (a wrapper, {self.where})" if self.where else ""
        if isinstance(self.problem, BaseException):
            return f"{self.hook}{where} raised {describe(self.problem)}"
        return f"{self.hook}{where} {self.problem}"


Report = Callable[[HookFailure], None]
_Function = Callable[..., object]


class HookRules:
    """What a hook's guards do beyond catching what its implementations raise."""

    __slots__ = ("enter", "returned")

    def __init__(
        self, enter: Callable[[str], None] | None = None, returned: str | None = None
    ) -> None:
        # Told the plugin whose code runs next: the registry attributes platforms by it.
        self.enter = enter
        # Said of a plain implementation that returns a value; None: values are results.
        self.returned = returned


_PLAIN = HookRules()

_NOT_A_LIST = "is a wrapper that returned {}, not a list of results; the result it wrapped is kept"


def _replacement(plugin: str, hook: str, report: Report, value: object, wrapped: object) -> object:
    """What a wrapper's return value makes of the result: a list replaces it; None
    (a wrapper that forgot to return it) keeps it; anything else is the plugin's error."""
    if isinstance(value, list):
        return value
    if value is not None:
        report(HookFailure(plugin, hook, _NOT_A_LIST.format(type(value).__name__)))
    return wrapped


def _guard(impl: HookImpl, hook: str, report: Report, rules: HookRules) -> _Function:
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
                report(HookFailure(plugin, hook, exc))
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
            report(HookFailure(plugin, hook, exc))
            return None
        if value is not None and returned is not None:
            report(HookFailure(plugin, hook, returned))
            return None
        return value

    return guarded_by_rules


def _guard_wrapper(
    function: _Function,
    plugin: str,
    hook: str,
    report: Report,
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
            report(HookFailure(plugin, hook, "is a wrapper that returned without yielding"))
            return (yield)
        except BaseException as exc:  # noqa: BLE001 - a plugin's failure is its own
            report(HookFailure(plugin, hook, exc, "before its yield"))
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
                    report(HookFailure(plugin, hook, raised, "after its yield"))
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
            report(HookFailure(plugin, hook, exc, "after its yield"))
            return wrapped
        teardown.close()
        report(HookFailure(plugin, hook, "is a wrapper that yielded twice"))
        return wrapped

    return guarded


def _guard_old_wrapper(
    function: _Function,
    plugin: str,
    hook: str,
    report: Report,
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
            report(HookFailure(plugin, hook, "is a wrapper that returned without yielding"))
            yield
            return
        except BaseException as exc:  # noqa: BLE001 - a plugin's failure is its own
            report(HookFailure(plugin, hook, exc, "before its yield"))
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
            report(HookFailure(plugin, hook, exc, "after its yield"))
        else:
            teardown.close()
            report(HookFailure(plugin, hook, "is a wrapper that yielded twice"))
        if outcome.exception is None:
            value = outcome.get_result()
            if value is not wrapped:
                outcome.force_result(_replacement(plugin, hook, report, value, wrapped))

    return guarded


class IsolatingPluginManager(pluggy.PluginManager):
    """pluggy's manager, with every hook implementation guarded as its plugin registers,
    whoever registers it: built-ins, entry points, the run's reporters, a host's own."""

    def __init__(self, report: Report, rules: Mapping[str, HookRules]) -> None:
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
