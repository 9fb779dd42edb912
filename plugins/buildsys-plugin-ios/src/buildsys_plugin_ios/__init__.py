"""buildsys-plugin-ios: the `ios` platform (xcodebuild), found through its entry point.

# pyproject.toml
[project.entry-points.buildsys]
ios = "buildsys_plugin_ios"
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from buildsys import hookimpl

from .builder import IosBuilder, IosOptions, Layout, xcodebuild_argvs

if TYPE_CHECKING:
    from buildsys import PlatformRegistry

__all__ = ["IosBuilder", "IosOptions", "Layout", "buildsys_register_platforms", "xcodebuild_argvs"]


@hookimpl
def buildsys_register_platforms(registry: PlatformRegistry) -> None:
    registry.add(IosBuilder())
