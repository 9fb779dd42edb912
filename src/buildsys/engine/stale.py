"""Whether a build's cached result still stands: the builder's optional `stale(spec)`.

A cache key covers what a build reads; some builds also leave state the key
cannot see. A workspace's install is keyed on its lockfile and package.json
files, and what it wrote is `node_modules`, too big to keep in the cache: when
`node_modules` is gone, a cached install must run again, under the same key,
so that the builds depending on it keep theirs. A builder says so by returning
the reason from `stale(spec)`; None (or no such method) lets the cache serve it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..plugin.manager import PluginHost
    from ..spec import BuildSpec

__all__ = ["stale_reason"]


def stale_reason(plugins: PluginHost, spec: BuildSpec) -> str | None:
    """Why the cache must not serve `spec` this run, or None."""
    registered = plugins.registry.get(spec.platform)
    method = getattr(registered.builder, "stale", None) if registered is not None else None
    if method is None:
        return None
    try:
        reason = method(spec)
    except Exception as exc:  # noqa: BLE001 - a plugin's bug: running again is always safe
        return f"stale() of platform {spec.platform!r} raised {type(exc).__name__}: {exc}"
    return str(reason) if reason else None
