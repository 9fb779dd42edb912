"""Checking the platform options of builds and of [defaults] against the builders that take them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .keys import ALL_BUILD_KEYS, BUILD_KEYS, NEAR_MISS, did_you_mean
from .problems import ProblemLog, owner

if TYPE_CHECKING:
    from ..plugin.manager import PluginHost

__all__ = ["Located", "OptionChecker"]

# key -> (value, TOML path of where it was written)
Located = dict[str, tuple[Any, tuple[str, ...]]]


class OptionChecker:
    """The options of each build, then those of [defaults] once every build's
    platform is known."""

    def __init__(self, plugins: PluginHost, log: ProblemLog) -> None:
        self.plugins = plugins
        self.log = log
        # The platforms of this file's builds -> their options class (None: no options),
        # and whether some build's platform could not be looked up.
        self._platforms: dict[str, type | None] = {}
        self._unchecked_platform = False

    def check_unknown_platform(self, name: str, raw: Located) -> None:
        """Keys of a build whose platform could not be looked up: only near misses
        of core keys are sure to be mistakes."""
        self._unchecked_platform = True
        # A close one only, since `target` or `tasks` (near `tags`) may well be
        # options of this platform, and a plugin that failed to load must not
        # make the whole file invalid.
        for key, (_, at) in raw.items():
            hint = did_you_mean(key, ALL_BUILD_KEYS, NEAR_MISS)
            if hint and at[0] != "defaults":
                self.log.add(f"unknown key{hint}", at=at, build=owner(name, at), key=key)

    def check_build(
        self,
        name: str,
        platform: str,
        plugin: str,
        builder: Any,
        raw: Located,
        table: tuple[str, ...] | None = None,
    ) -> Any:
        """The build's options instance, or the raw values when some are wrong.

        `table` is where the build is written (default `[builds.<name>]`).
        """
        from ..plugin.options import field_keys, structure_options

        table = ("builds", name) if table is None else table

        cls = getattr(builder, "options", None)
        self._platforms.setdefault(platform, cls)
        fields = field_keys(cls) if cls is not None else {}
        ok = True
        for key in fields:
            if key in BUILD_KEYS or key == "profiles":
                self.log.add(
                    f"platform {platform!r} (plugin {plugin!r}) has an option {key!r} that "
                    "shadows the core key of the same name; the plugin must rename it",
                    at=table,
                    build=owner(name, table),
                    key=key,
                )
                ok = False
        usable: dict[str, Any] = {}
        guessed: set[str] = set()  # options a typo probably meant: not also "missing"
        for key, (value, at) in raw.items():
            if key not in fields:
                if at[0] == "defaults":
                    continue  # a default for another platform's builds
                hint = did_you_mean(key, [*ALL_BUILD_KEYS, *fields])
                guessed.update(f for f in fields if hint == did_you_mean(key, [f]))
                what = (
                    f"platform {platform!r} takes no options"
                    if cls is None
                    else f"platform {platform!r} options are: {', '.join(fields) or 'none'}"
                )
                self.log.add(f"unknown key{hint}; {what}", at=at, build=owner(name, at), key=key)
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
            at = raw[found.key][1] if found.key in raw else table
            if at[0] == "defaults":
                continue  # reported once, with [defaults]: check_defaults
            self.log.add(found.message, at=at, build=owner(name, at), key=found.key)
        return instance if ok else usable

    def check_defaults(self, defaults: dict[str, Any]) -> None:
        """Check each platform option in [defaults] once, there, against every
        platform of this file that takes it, whether or not a build inherits it.

        Builds do not report problems of the values they inherit (see `check_build`),
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
                hint = did_you_mean(key, known, NEAR_MISS if unsure else 0.6)
                if hint or not unsure:
                    self.log.add(
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
                    self.log.add(which + problem.message, at=("defaults", key), key=key)

    def _known_option_keys(self) -> list[str]:
        from ..plugin.options import field_keys

        keys: set[str] = set()
        for registered in self.plugins.registry:
            options = getattr(registered.builder, "options", None)
            if options is not None:
                keys.update(field_keys(options))
        return sorted(keys)
