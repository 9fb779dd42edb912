"""The platform registry plugins fill through `buildsys_register_platforms`."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

import attrs

if TYPE_CHECKING:
    from ..host.context import BuildContext
    from ..host.facts import Host
    from ..results import BuildError
    from ..spec import BuildSpec

__all__ = ["Builder", "PlatformRegistry", "PluginError", "RegisteredPlatform", "takes_spec"]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")


class Builder(Protocol):
    """What a platform builder must have; see `buildsys_register_platforms` for the rest."""

    name: str

    def build(self, spec: BuildSpec, ctx: BuildContext) -> object: ...


class PluginError(Exception):
    """A plugin broke the plugin contract; the message names the plugin."""


@attrs.frozen
class RegisteredPlatform:
    """A builder and the plugin (and its version) that provided it."""

    name: str
    builder: Any
    plugin: str
    version: str

    def toolchain_problems(self, host: Host, spec: BuildSpec | None = None) -> list[BuildError]:
        """What the builder's check() reports, a plugin bug reported as a problem too.

        A builder whose check takes `spec` gets it; without a spec it is asked
        about the host alone.
        """
        check = getattr(self.builder, "check", None)
        if check is None:
            return []
        return self._ask("check()", lambda: check(host, spec) if takes_spec(check) else check(host))

    def build_problems(self, spec: BuildSpec, host: Host) -> list[BuildError]:
        """What the builder's optional check_build(spec, host) finds missing for one
        build about to run (the `command` platform: its program)."""
        check_build = getattr(self.builder, "check_build", None)
        if check_build is None:
            return []
        return self._ask("check_build()", lambda: check_build(spec, host))

    def _ask(self, method: str, call: Callable[[], Any]) -> list[BuildError]:
        from ..results import BuildError

        try:
            found = list(call() or [])
        except Exception as exc:  # noqa: BLE001 - a plugin bug fails its builds only
            return [
                BuildError(
                    f"plugin {self.plugin!r} raised in {method}: {type(exc).__name__}: {exc}",
                    code="PLUGIN_ERROR",
                    suggestions=(
                        f"report this to the authors of {self.plugin!r} (version {self.version})",
                    ),
                )
            ]
        bad = [p for p in found if not isinstance(p, BuildError)]
        if bad:
            return [
                BuildError(
                    f"plugin {self.plugin!r}: {method} must return BuildError objects, "
                    f"got {bad[0]!r}",
                    code="PLUGIN_ERROR",
                )
            ]
        return found


def takes_spec(check: Any) -> bool:
    """Whether a builder's check() wants the build (``check(host, spec=None)``)."""
    try:
        return "spec" in inspect.signature(check).parameters
    except (TypeError, ValueError):
        return False


class PlatformRegistry:
    """Platform name -> builder. Duplicates are rejected, naming both plugins.

    What a plugin adds is held apart until the plugin host commits that
    plugin (`_commit`), in registration order: pluggy calls the last plugin
    registered first, and on a name clash the plugin that came later must be
    the one reported broken, whatever order the hook reached them in.
    """

    def __init__(self) -> None:
        self._platforms: dict[str, RegisteredPlatform] = {}
        self._staged: dict[str, dict[str, Builder]] = {}
        self._plugin = "buildsys"

    def _registering_for(self, plugin: str) -> None:
        """Name the plugin whose code runs next (its `buildsys_register_platforms`)."""
        self._plugin = plugin

    def add(self, builder: Builder) -> None:
        """Register `builder` under `builder.name` (from `buildsys_register_platforms`)."""
        plugin = self._plugin
        name = getattr(builder, "name", None)
        if isinstance(builder, type):
            raise PluginError(
                f"plugin {plugin!r} registered the class {builder.__name__}; "
                "register an instance: registry.add(MyBuilder())"
            )
        if not isinstance(name, str) or not _NAME.match(name):
            raise PluginError(
                f"plugin {plugin!r} registered {builder!r}, whose `name` is {name!r}; "
                "a builder needs a `name` string such as 'web' ([A-Za-z0-9][A-Za-z0-9._-]*)"
            )
        if not callable(getattr(builder, "build", None)):
            raise PluginError(
                f"plugin {plugin!r} registered platform {name!r} without a build(spec, ctx) method"
            )
        options = getattr(builder, "options", None)
        if options is not None and not attrs.has(options):
            raise PluginError(
                f"plugin {plugin!r}: platform {name!r} has `options` = {options!r}, "
                "which is not an attrs class"
            )
        staged = self._staged.setdefault(plugin, {})
        if name in staged:
            raise PluginError(f"plugin {plugin!r} registered platform {name!r} twice")
        staged[name] = builder

    def _commit(self, plugin: str, version: str) -> None:
        """Make what `plugin` added available, all or nothing: a name another plugin
        already provides is its error."""
        staged = self._staged.pop(plugin, {})
        for name in staged:
            existing = self._platforms.get(name)
            if existing is not None:
                raise PluginError(
                    f"platform {name!r} is registered by both plugin {existing.plugin!r} and "
                    f"plugin {plugin!r}; uninstall one, or disable one with "
                    f"BUILDSYS_DISABLE_PLUGINS={plugin}"
                )
        for name, builder in staged.items():
            self._platforms[name] = RegisteredPlatform(name, builder, plugin, version)

    def _discard(self, plugin: str) -> None:
        """Forget what a plugin that failed added before it failed."""
        self._staged.pop(plugin, None)

    def get(self, name: str) -> RegisteredPlatform | None:
        return self._platforms.get(name)

    def names(self) -> list[str]:
        return sorted(self._platforms)

    def __iter__(self) -> Iterator[RegisteredPlatform]:
        return iter(self._platforms.values())

    def __contains__(self, name: object) -> bool:
        return name in self._platforms
