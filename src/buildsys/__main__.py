"""`buildsys` and `python -m buildsys`.

`--version` is answered before anything else is imported: it must be fast and
must work whatever state the config and the installed plugins are in. A
`build` that changes nothing is answered by `replay` before the engine loads.
"""

from __future__ import annotations

import sys

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] in (["--version"], ["-V"]):
        from . import _version_text

        print(f"buildsys {_version_text()}")
        return 0
    if "build" in args:
        # A no-op run answered from the last run's journal, before the engine loads.
        from .replay import replay

        code = replay(args)
        if code is not None:
            return code
    from .cli import main as cli_main

    return cli_main(args)


if __name__ == "__main__":
    sys.exit(main())
