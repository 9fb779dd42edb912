"""`buildsys` and `python -m buildsys`.

`--version` is answered before anything else is imported: it must be fast and
must work whatever state the config and the installed plugins are in. A
`build` that changes nothing is answered by `replay` before the engine loads.

`console()` is the program (the `buildsys` script and `python -m buildsys`):
once the command is done it runs the `atexit` handlers, flushes, and leaves
without tearing the interpreter down, which would only free memory the
operating system frees anyway, and costs about ten milliseconds per run.
Like Python's own exit, it first waits for non-daemon threads (a plugin's).
`main()` returns the exit code instead, for calling buildsys in a process,
which it leaves as it found it (the program keeps the child subreaper flag
until it exits, so that daemons builds leave are handed on to init).
"""

from __future__ import annotations

import atexit
import gc
import os
import sys

__all__ = ["console", "main"]


def main(argv: list[str] | None = None, *, standalone: bool = False) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] in (["--version"], ["-V"]):
        from ._about import version_text

        print(f"buildsys {version_text()}")
        return 0
    if "build" in args:
        # A no-op run answered from the last run's journal, before the engine loads.
        from .engine.replay import replay

        code = replay(args)
        if code is not None:
            return code
    from .cli.main import main as cli_main

    return cli_main(args, standalone=standalone)


def console() -> None:
    # Start-up allocates tens of thousands of objects (modules, attrs classes,
    # the parsed builds.toml) and frees almost none: collecting every 700
    # allocations costs milliseconds for nothing. A run's own garbage is small.
    gc.set_threshold(100_000, 50, 50)
    code: int | str | None
    try:
        code = main(standalone=True)
    except SystemExit as exc:  # argparse's --help and usage errors
        code = exc.code
    except BrokenPipeError:  # `buildsys list | head -1`: the reader left; say nothing
        code = 1
    _join_threads()
    atexit._run_exitfuncs()
    if isinstance(code, str):
        print(code, file=sys.stderr)
        code = 1
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed pipe: nothing left to tell anyone
        code = code or 1
    os._exit(code or 0)


def _join_threads() -> None:
    """What the interpreter's exit does first: wait for every non-daemon thread."""
    threading = sys.modules.get("threading")
    if threading is None:  # never imported: no thread but this one
        return
    current = threading.current_thread()
    for thread in threading.enumerate():
        if thread is not current and not thread.daemon:
            thread.join()


if __name__ == "__main__":
    console()
