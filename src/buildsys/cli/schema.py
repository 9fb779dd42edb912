"""`buildsys schema`: the JSON Schema of builds.toml, for editors that complete TOML.

It describes the core keys and the options of the platforms installed here;
`buildsys init` writes it to `.buildsys/builds.schema.json` and points
builds.toml at it with taplo's `#:schema` line.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import UsageError
from ._shared import EXIT_OK, err

if TYPE_CHECKING:
    import argparse

    from ..plugin.manager import PluginHost

__all__ = ["schema", "write_schema"]


def _installed() -> PluginHost:
    """The installed plugins; a warning for each that failed to load, as its options
    are missing from the schema."""
    from ..plugin.manager import PluginHost

    plugins = PluginHost().load()
    for broken in plugins.broken():
        err(
            f"buildsys: warning: plugin {broken.name!r} failed to load ({broken.error}); "
            "its platforms are not in the schema"
        )
    return plugins


def write_schema(path: Path, plugins: PluginHost | None = None) -> None:
    """Write the schema at `path`, creating nothing but the file."""
    from ..config.schema import schema_text

    text = schema_text(plugins or _installed())
    if not path.parent.is_dir():
        raise UsageError(
            f"cannot write {path}: there is no directory {path.parent}; "
            f"create it first (mkdir -p {path.parent})"
        )
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None


def schema(args: argparse.Namespace) -> int:
    """The `buildsys schema` command."""
    if args.output is None:
        import sys

        from ..config.schema import schema_text

        sys.stdout.write(schema_text(_installed()))
        return EXIT_OK
    write_schema(Path(args.output))
    print(f"wrote {args.output}")
    return EXIT_OK
