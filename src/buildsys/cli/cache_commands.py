"""`buildsys cache info` and `buildsys cache clean`."""

from __future__ import annotations

import argparse

from ._shared import EXIT_OK, err, load

__all__ = ["cache_command", "format_age"]


def cache_command(args: argparse.Namespace) -> int:
    import time

    from ..cache.keys import cache_directory
    from ..cache.store import Cache
    from ..engine.lock import state_dir

    config, _ = load(args)
    state_dir(config.root)  # the cache creates its directory, which is usually in there
    cache = Cache(cache_directory(config.root, config.run.cache_dir))
    if args.cache_command == "clean":
        before = cache.info()
        cache.clean()
        print(
            f"emptied {before.directory}: removed {before.entries} entries, "
            f"{_size_text(before.size)}"
        )
    else:
        info = cache.info()
        limit = config.run.cache_max_size
        print(f"cache: {info.directory}")
        print(
            f"entries: {info.entries}, size: {_size_text(info.size)}"
            + (f" (limit {_size_text(limit)})" if limit else "")
        )
        now = time.time()
        for entry in sorted(cache.entries(), key=lambda e: -e.last_used):
            age = format_age(now - entry.last_used)
            print(f"  {entry.key[:16]}  {_size_text(entry.size):>9}  used {age} ago")
    for warning in cache.take_warnings():
        err(f"buildsys: warning: {warning}")
    return EXIT_OK


def _size_text(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def format_age(seconds: float) -> str:
    from .._durations import format_duration

    return format_duration(max(0.0, seconds))
