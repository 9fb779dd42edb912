"""The installed buildsys version, for `--version`, plugin listings and the replay key.

Its own module, beneath every stage, so that the stages need not import the
`buildsys` facade to learn it.
"""

from __future__ import annotations

__all__ = ["version_text"]


def version_text() -> str:
    try:
        from ._version import __version__ as version
    except ImportError:  # a source tree that was never built or installed
        from importlib.metadata import PackageNotFoundError
        from importlib.metadata import version as dist_version

        try:
            return dist_version("buildsys")
        except PackageNotFoundError:
            return "0+unknown"
    return version
