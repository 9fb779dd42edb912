"""buildsys-plugin-android: the `android` platform (Gradle), found through its entry point.

# pyproject.toml
[project.entry-points.buildsys]
android = "buildsys_plugin_android"
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from buildsys import hookimpl

from .builder import AndroidBuilder, AndroidOptions, gradle_task

if TYPE_CHECKING:
    from buildsys import PlatformRegistry

__all__ = ["AndroidBuilder", "AndroidOptions", "buildsys_register_platforms", "gradle_task"]


@hookimpl
def buildsys_register_platforms(registry: PlatformRegistry) -> None:
    registry.add(AndroidBuilder())
