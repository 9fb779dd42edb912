"""`buildsys init`: write a starter builds.toml (what goes in it is `scaffold.py`)."""

from __future__ import annotations

import argparse

from ._shared import EXIT_OK

__all__ = ["init"]


def init(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .scaffold import write_starter

    path = Path(args.file)
    builds = write_starter(path, force=args.force)
    what = ", ".join(f"{b.name} ({b.platform})" for b in builds) or "an example command build"
    print(f"wrote {path}: {what}")
    print("next: review it, then run `buildsys check` and `buildsys build`")
    return EXIT_OK
