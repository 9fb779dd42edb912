"""``board``: what the live board costs a run.

The 2000 builds of ``true`` at ``-j 2`` of ``true``, run by buildsys with
its stdout and stderr on a pseudo-terminal (``pty.openpty``, 120 x 40,
``TERM=xterm-256color``; the bench drains the master side as a terminal
would), with ``--progress rich`` and with ``--progress none``, interleaved.
A rich run must have written control sequences (a board was drawn).
Figures: the wall time of each; the board's cost, ``rich / none - 1`` per
pair of runs (the median of the pairs).  Target: under 2 % of the run.
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import termios
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from harness import BUILDSYS, Bench, Figure, Target, ToolError, write_builds_toml

from .true import TRUE_BUILDS, TRUE_JOBS, true_builds

BOARD_SIZE = (40, 120)  # rows, columns
BOARD_MODES = ("none", "rich")
BOARD_TARGET = 2.0  # percent of the run


def run_on_pty(argv: Sequence[str], cwd: Path, env: Mapping[str, str]) -> tuple[float, bytes]:
    """Run ``argv`` with a pseudo-terminal as its stdout and stderr.

    Returns the wall time until it exited and what it wrote to the terminal;
    a thread drains the master side meanwhile, so the child never blocks on a
    full terminal buffer.
    """
    master, slave = pty.openpty()
    rows, columns = BOARD_SIZE
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    received: list[bytes] = []
    exited = threading.Event()

    def drain() -> None:
        while True:
            readable, _, _ = select.select([master], [], [], 0.05)
            if not readable:
                if exited.is_set():
                    return
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: every slave side is closed
                return
            if not chunk:
                return
            received.append(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    try:
        start = time.perf_counter()
        proc = subprocess.Popen(
            argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave
        )
        os.close(slave)
        slave = -1
        reader.start()
        returncode = proc.wait()
        elapsed = time.perf_counter() - start
        exited.set()
        reader.join()
    finally:
        if slave >= 0:
            os.close(slave)
        os.close(master)
    output = b"".join(received)
    if returncode != 0:
        tail = output.decode(errors="replace")[-3000:]
        raise ToolError(argv, cwd, f"exit code {returncode}; terminal output (tail):\n{tail}")
    return elapsed, output


def run(bench: Bench) -> list[Figure]:
    env = {**bench.env, "TERM": "xterm-256color"}
    for name in ("COLUMNS", "LINES"):
        env.pop(name, None)
    argvs = {}
    for mode in BOARD_MODES:
        directory = bench.root / "board" / mode
        directory.mkdir(parents=True)
        file = write_builds_toml(directory, true_builds(directory))
        argv = [str(bench.buildsys), "build", "-f", str(file), "-j", str(TRUE_JOBS)]
        argvs[mode] = ([*argv, "--progress", mode], directory)
    walls: dict[str, list[float]] = {mode: [] for mode in BOARD_MODES}
    written: dict[str, list[int]] = {mode: [] for mode in BOARD_MODES}
    invalid = None
    try:
        for round_no in range(bench.repeat + 1):  # round 0: warm-up
            for mode, (argv, directory) in argvs.items():
                wall, output = run_on_pty(argv, directory, env)
                if mode == "rich" and b"\x1b[" not in output:
                    invalid = "--progress rich wrote no control sequence: no board was drawn"
                if round_no:
                    walls[mode].append(wall)
                    written[mode].append(len(output))
    except ToolError as exc:
        bench.errors.append(f"board failed:\n{exc}")
        bench.failed.append(("board", BUILDSYS))
        return []
    per_build = 1e6 / TRUE_BUILDS
    figures = [
        Figure(
            "board", f"buildsys --progress {mode}", "wall", "us/build", [w * per_build for w in ws]
        )
        for mode, ws in walls.items()
    ]
    cost = [
        (rich / none - 1) * 100 for none, rich in zip(walls["none"], walls["rich"], strict=True)
    ]
    target = Target(f"< {BOARD_TARGET:g} %", "<", BOARD_TARGET)
    figures.append(
        Figure("board", BUILDSYS, "board cost", "%", cost, target=target, invalid=invalid)
    )
    if invalid:
        bench.errors.append(f"board: {invalid}")
    sizes = ", ".join(f"{mode} {max(sizes) // 1024} KiB" for mode, sizes in written.items())
    bench.notes.append(
        f"board: {TRUE_BUILDS} x true at -j {TRUE_JOBS} on a {BOARD_SIZE[1]}x{BOARD_SIZE[0]}"
        f" pseudo-terminal; written to it at most: {sizes}"
    )
    return figures
