"""Asking a tool a quick question outside any build: `node --version`, `xcode-select -p`.

Builders' `check()` and `fingerprint()` run before any build exists, so they
have no `ctx.run`; this is the one way they should run a command: no stdin, a
timeout, both output streams, never an exception for a missing or hung tool.

During a run, each distinct question (the same argv, environment and timeout)
is asked once: a thousand builds fingerprinted in one environment run
`node --version` once (see `_memo`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import attrs

__all__ = ["Probe", "probe"]


@attrs.frozen
class Probe:
    """What a quick command said: its exit code (-1 if it could not run) and output."""

    returncode: int
    output: str  # stdout then stderr, stripped (`java -version` prints to stderr)

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def first_line(self) -> str:
        return self.output.splitlines()[0] if self.output else ""


def probe(
    argv: Sequence[str], *, env: Mapping[str, str] | None = None, timeout: float = 30.0
) -> Probe:
    """Run `argv` briefly and return what it said; a failure to run is a result, not an error.

    Within a run, the answer to the same `argv` in the same `env` is reused.
    """
    from ._memo import memoised, note_probe

    note_probe()
    argv = list(argv)
    key = ("probe", tuple(argv), None if env is None else tuple(sorted(env.items())), timeout)
    return memoised(key, lambda: _ask(argv, env, timeout))


def _ask(argv: list[str], env: Mapping[str, str] | None, timeout: float) -> Probe:
    import subprocess  # when a plugin checks its toolchain, not when it is imported

    try:
        done = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            env=dict(env) if env is not None else None,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return Probe(-1, f"{argv[0]} did not answer within {timeout:g}s")
    except OSError as exc:
        return Probe(-1, f"{argv[0]} could not run: {exc}")
    return Probe(done.returncode, (done.stdout + done.stderr).strip())
