"""buildsys-plugin-web: the `web` platform (npm, pnpm, yarn or bun package scripts)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import buildsys

from .builder import WebBuilder, WebOptions

if TYPE_CHECKING:
    from buildsys import PlatformRegistry

__all__ = ["WebBuilder", "WebOptions", "buildsys_register_platforms"]


@buildsys.hookimpl
def buildsys_register_platforms(registry: PlatformRegistry) -> None:
    registry.add(WebBuilder())
