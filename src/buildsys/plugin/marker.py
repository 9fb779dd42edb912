"""The pluggy markers of buildsys.

A plugin distribution points an entry point of group ``buildsys`` at a module
(or object) holding hook implementations::

    [project.entry-points.buildsys]
    acme = "buildsys_plugin_acme"

and marks each implementation with ``@buildsys.hookimpl``. The hooks it may
implement, and what each must do, are documented in `buildsys.hookspecs`.
"""

from __future__ import annotations

import pluggy

__all__ = ["PROJECT", "hookimpl", "hookspec"]

PROJECT = "buildsys"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)
