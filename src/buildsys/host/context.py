"""The `ctx` a builder (or any callable run by buildsys) gets: run, warn, add artifacts."""

from __future__ import annotations

import contextlib
import contextvars
import os
import shlex
import signal
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType

import attrs

from ..errors import BuildFailed
from ..masking import Masker
from .output import OutputSink
from .process import Control, StopReason, run_process

__all__ = ["BuildContext", "CommandResult", "current_context"]

_current: contextvars.ContextVar[BuildContext] = contextvars.ContextVar("buildsys_context")


def current_context() -> BuildContext:
    """The context of the build running in this thread.

    Raises `LookupError` outside a build (i.e. not inside a callable that
    `ParallelExecutor.execute` or a builder call is running).
    """
    try:
        return _current.get()
    except LookupError:
        raise LookupError(
            "buildsys.current_context() called outside a build: call it from the function "
            "passed to ParallelExecutor.execute() or from a builder's build()"
        ) from None


@attrs.frozen
class CommandResult:
    """What `ctx.run` returns for a command that exited 0 (or any code, with check=False)."""

    argv: tuple[str, ...]
    returncode: int
    output_tail: tuple[str, ...]
    duration: float

    @property
    def tail(self) -> tuple[str, ...]:
        """The last lines of the command's output (same as `output_tail`)."""
        return self.output_tail


class _Stopped(BuildFailed):
    """A command buildsys itself stopped (timeout or cancel); the scheduler names the status."""


def _shorten(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with code {returncode}"


def _encode(env: Mapping[str, str]) -> dict[bytes, bytes]:
    return {os.fsencode(k): os.fsencode(v) for k, v in env.items()}


class SharedEnvironment:
    """The environment every build of a run starts from, encoded for spawning once.

    subprocess encodes a str environment variable by variable on every spawn;
    with this, a build only encodes its own few variables.
    """

    def __init__(self, env: Mapping[str, str]) -> None:
        self.text: Mapping[str, str] = MappingProxyType(dict(env))
        self._encoded: dict[bytes, bytes] | None = None

    @property
    def encoded(self) -> dict[bytes, bytes]:
        if self._encoded is None:  # a race only computes it twice
            self._encoded = _encode(self.text)
        return self._encoded


class BuildContext:
    """Per-build (per-attempt) handle given to builders and executor callables.

    Thread-safe: a builder may run several commands from several threads.
    """

    def __init__(
        self,
        name: str,
        *,
        control: Control,
        sink: OutputSink,
        log_path: Path,
        env: Mapping[str, str] | SharedEnvironment,
        cwd: Path | None,
        masker: Masker,
        token: str,
        attempt: int = 1,
        env_overrides: Mapping[str, str] | None = None,
        on_commands_done: Callable[[], None] | None = None,
    ) -> None:
        self.name = name
        self.attempt = attempt
        self.log_path = log_path
        self.cwd = cwd
        self._control = control
        self._sink = sink
        # The run's shared environment plus this build's own variables.
        self._base = env if isinstance(env, SharedEnvironment) else SharedEnvironment(env)
        self._overrides = dict(env_overrides or {})
        self._masker = masker
        self._token = token
        self._lock = threading.Lock()
        self._warnings: list[str] = []
        self._artifacts: list[str] = []
        # Commands under way in `run`: while one is, a stop has a process to
        # kill and the kill grace is worth waiting for; without one, Python code
        # that ignores the stop is not worth waiting for long.
        self._commands = 0
        self._on_commands_done = on_commands_done

    @property
    def env(self) -> Mapping[str, str]:
        """The environment commands get: the caller's plus the build's `env` (read-only)."""
        if not self._overrides:
            return self._base.text
        return MappingProxyType({**self._base.text, **self._overrides})

    @property
    def cancelled(self) -> threading.Event:
        """Set when the build must stop (timeout, cancel, Ctrl-C); poll it in long Python work."""
        return self._control.event

    @property
    def control(self) -> Control:
        return self._control

    @property
    def commands_running(self) -> int:
        """How many commands `run` has under way, from any thread."""
        with self._lock:
            return self._commands

    @contextlib.contextmanager
    def _command(self) -> Iterator[None]:
        """Count a command as under way; after a stop, say when the last one ended."""
        with self._lock:
            self._commands += 1
        try:
            yield
        finally:
            with self._lock:
                self._commands -= 1
                last = self._commands == 0
            if last and self._on_commands_done is not None and self._control.event.is_set():
                self._on_commands_done()

    def _shown(self, args: Sequence[str]) -> str:
        """The command as messages show it; built only when a message needs it."""
        # Mask before shortening: a cut could leave half a secret unrecognised.
        return _shorten(self._masker.text(shlex.join(args)))

    def _encoded_env(self, extra: Mapping[str, str] | None) -> dict[bytes, bytes]:
        """The command's environment as bytes: the shared part was encoded once per run."""
        encoded = self._base.encoded
        if self._overrides or extra:
            encoded = {**encoded, **_encode(self._overrides), **_encode(extra or {})}
        return encoded

    def log_note(self, text: str) -> None:
        """Append text of buildsys's own (not a command's output) to the build's log."""
        self._sink.note(text)

    @property
    def warnings(self) -> tuple[str, ...]:
        with self._lock:
            return tuple(self._warnings)

    @property
    def artifacts(self) -> tuple[str, ...]:
        with self._lock:
            return tuple(self._artifacts)

    def warn(self, message: str) -> None:
        """Record a warning for this build's result and the console."""
        with self._lock:
            self._warnings.append(self._masker.text(message))

    def add_artifact(self, path: str | os.PathLike[str]) -> None:
        """Report a file the build produced (relative paths are taken from the build's cwd)."""
        p = Path(path)
        if not p.is_absolute() and self.cwd is not None:
            p = self.cwd / p
        with self._lock:
            if str(p) not in self._artifacts:
                self._artifacts.append(str(p))

    def run(
        self,
        argv: Sequence[str | os.PathLike[str]],
        cwd: str | os.PathLike[str] | None = None,
        env: Mapping[str, str] | None = None,
        *,
        check: bool = True,
    ) -> CommandResult:
        """Run a command under supervision; its output goes to the build's log.

        The command gets the build's environment plus `env`, stdin from
        /dev/null, and its own process group, killed whole on timeout or
        cancel. Raises `BuildFailed` if it exits non-zero (unless `check` is
        false), cannot start, or is stopped.
        """
        if isinstance(argv, str | bytes | os.PathLike):
            # Iterating it would run each character as a command ('e' not found).
            raise TypeError(
                "ctx.run() takes a list of arguments, e.g. ['echo', 'hi']; "
                "for a shell, ['sh', '-c', '...']"
            )
        args = tuple(os.fspath(a) for a in argv)
        if not args:
            raise BuildFailed("ctx.run() was given an empty command", code="EMPTY_COMMAND")
        workdir = Path(cwd) if cwd is not None else self.cwd
        if workdir is not None and not workdir.is_absolute() and self.cwd is not None:
            workdir = self.cwd / workdir
        try:
            # Counted before the stop check: a stop either finds the command
            # counted or is seen here, so the scheduler never misses a live one.
            with self._command():
                if self._control.event.is_set():
                    raise _Stopped(
                        f"not started, the build is stopping: {self._shown(args)}", code="STOPPED"
                    )
                outcome = run_process(
                    args,
                    cwd=workdir,
                    env=self._encoded_env(env),
                    control=self._control,
                    sink=self._sink,
                    token=self._token,
                )
        except FileNotFoundError:
            if workdir is not None and not workdir.is_dir():
                raise BuildFailed(
                    f"the working directory {str(workdir)!r} does not exist "
                    f"(running {self._shown(args)})",
                    suggestions=["create it, or fix `cwd` in builds.toml or the ctx.run() call"],
                    code="CWD_NOT_FOUND",
                    context={"argv": list(args), "cwd": str(workdir)},
                ) from None
            # The working directory exists, so what is missing is the program.
            raise BuildFailed(
                f"command not found: {args[0]!r} (running {self._shown(args)})",
                suggestions=[
                    f"install {Path(args[0]).name!r} or put it on PATH",
                    "check the command in builds.toml for a typo",
                ],
                code="COMMAND_NOT_FOUND",
                context={"argv": list(args), "cwd": str(workdir or "")},
            ) from None
        except PermissionError:
            raise BuildFailed(
                f"permission denied running {self._shown(args)}",
                suggestions=[f"make it executable: chmod +x {args[0]}"],
                code="COMMAND_NOT_EXECUTABLE",
            ) from None
        if outcome.stopped is not None:
            what = "timed out" if outcome.stopped == StopReason.TIMEOUT else "was cancelled"
            raise _Stopped(f"{self._shown(args)} {what}", code="STOPPED")
        result = CommandResult(args, outcome.returncode, outcome.tail, outcome.duration)
        if outcome.pipe_held:
            self.warn(
                f"{self._shown(args)} exited while a background process still held its output; "
                "buildsys killed that process group"
            )
        if check and outcome.returncode != 0:
            program = Path(args[0]).name
            raise BuildFailed(
                f"{program} {describe_exit(outcome.returncode)} (command: {self._shown(args)})",
                suggestions=[f"see the full log: {self.log_path}"],
                code="COMMAND_FAILED",
                context={"argv": list(args), "returncode": outcome.returncode},
            )
        return result
