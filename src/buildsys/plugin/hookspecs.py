"""Hook specifications: the plugin author's reference.

Hooks are called through pluggy, so pluggy's hook wrappers
(``@buildsys.hookimpl(wrapper=True)``, and ``hookwrapper=True``) and tracing
work. Each implementation is isolated: an exception raised by one (a
wrapper's, before or after its yield) is reported (`buildsys plugins`, the
console, the build's errors) and does not stop the other implementations;
KeyboardInterrupt alone goes through. A wrapper gets the list of results of
what it wraps and returns the list the hook call gives; returning nothing
keeps that list, and anything but a list is its plugin's error.
Hooks only grow: a hook or parameter, once released, is never removed or
renamed, and new parameters are optional for implementations (pluggy passes
only the arguments an implementation names).

Observer hooks (`buildsys_run_started`, `buildsys_build_started`,
`buildsys_build_output`, `buildsys_build_finished`, `buildsys_run_finished`)
are how the built-in console and JSON reporters work too. `buildsys_build_output`
is called from build worker threads; the others from the scheduling thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .marker import hookspec

if TYPE_CHECKING:
    from ..results import BuildError, BuildResult, ExecutionResult
    from ..spec import BuildSpec
    from .registry import PlatformRegistry

__all__ = [
    "buildsys_build_finished",
    "buildsys_build_output",
    "buildsys_build_started",
    "buildsys_error_suggestions",
    "buildsys_register_platforms",
    "buildsys_run_finished",
    "buildsys_run_started",
]


@hookspec
def buildsys_register_platforms(registry: PlatformRegistry) -> None:
    """Register the platform builders this plugin provides.

    Call ``registry.add(builder)`` once per builder instance. A builder has a
    ``name`` (the value of ``platform =`` in builds.toml) and a
    ``build(spec, ctx)`` method, and optionally:

    - ``options``: an attrs class validating the build's platform keys
      (kebab-case keys map to snake_case fields; converter and validator
      errors become config errors naming the key);
    - ``check(host)`` returning ``BuildError`` objects for missing tools, run
      once per platform; declare ``check(host, spec=None)`` to be asked once
      per build instead (``buildsys plugins`` calls it without a spec);
    - ``check_build(spec, host)`` returning ``BuildError`` objects for what
      one build lacks (a missing program, the package manager it uses),
      asked only of a build about to run (not one served from the cache) and
      by ``buildsys check``;
    - ``fingerprint(host)``: the versions of the tools a build runs, part of
      its cache key. ``host.env`` is the environment the build will run with
      (the run's, with the build's own ``env`` applied: its ``PATH``,
      ``JAVA_HOME``, ``DEVELOPER_DIR``), and it is asked once per distinct
      environment; declare ``fingerprint(host, spec=None)`` to be asked once
      per build instead, when which tools run depends on the build (a web
      build's package manager). It returns a string, or a
      ``buildsys.Fingerprint`` (``text``, and the ``files``, ``env`` names
      and ``contents`` that vouch for it): while those files' stats and
      those variables' values are unchanged, buildsys reuses it between runs
      without asking the tools again, and a no-op run of its builds may be
      replayed. A builder that has ``check()`` is replayed only when its
      fingerprint is a ``Fingerprint`` whose ``files`` also cover what
      ``check()`` looks at. ``buildsys.find_tool(name, host.env)`` finds a
      tool and says what vouches for that lookup; ``buildsys.probe`` answers
      each question once per run;
    - ``default_inputs`` and ``default_outputs``: patterns relative to the
      build's ``cwd``, used when the build declares none;
    - ``requires_os``: e.g. ``("darwin",)``;
    - ``catalogue``: the path of a known-error catalogue (see
      `buildsys.catalogue`).

    One instance serves many builds at once: it must be thread-safe.
    Registering a name another plugin registered is an error naming both
    plugins.

    :param registry: the run's platform registry.

    .. versionadded:: 0.1
    .. versionchanged:: 0.2
       ``fingerprint(host, spec=None)``, a ``Fingerprint`` as its result, and
       ``host.env`` as the build's environment.
    """


@hookspec
def buildsys_run_started(builds: Sequence[BuildSpec], max_concurrency: int) -> None:
    """Called once before the first build starts.

    :param builds: every build selected for this run, in file order, including
        those that will be skipped.
    :param max_concurrency: how many builds may run at once.

    .. versionadded:: 0.1
    """


@hookspec
def buildsys_build_started(build: BuildSpec, attempt: int) -> None:
    """Called when an attempt of a build starts.

    :param build: the build.
    :param attempt: which attempt, counting from 1 (retries add more).

    .. versionadded:: 0.1
    """


@hookspec
def buildsys_build_output(build: BuildSpec, line: str) -> None:
    """Called for each line a build's commands print, already masked and decoded.

    Called from the build's worker thread; lines longer than 64 KiB arrive cut.
    Only called when at least one plugin implements it, so that quiet runs do
    not pay for line splitting.

    :param build: the build whose command printed the line.
    :param line: the line, without its line ending.

    .. versionadded:: 0.1
    """


@hookspec
def buildsys_build_finished(build: BuildSpec, result: BuildResult) -> None:
    """Called once per build with its final result, including builds that never
    started (skipped, cancelled) and builds served from the cache.

    :param build: the build.
    :param result: its final result.

    .. versionadded:: 0.1
    """


@hookspec
def buildsys_run_finished(result: ExecutionResult) -> None:
    """Called once when the run is over, also when it failed or was interrupted.

    :param result: the run's result.

    .. versionadded:: 0.1
    """


@hookspec
def buildsys_error_suggestions(
    build: BuildSpec, error: BuildError, log_tail: Sequence[str]
) -> Sequence[str] | None:
    """Return extra suggestions for a failed build's error, or ``None``.

    Suggestions from every plugin are appended, in plugin order, after the
    builder's own, without duplicates. Also called for a build that timed
    out (they follow the timeout's own); not for one that failed before
    running (a failed ``check()`` carries its own suggestions).

    :param build: the failed build.
    :param error: the error as the builder reported it.
    :param log_tail: the last lines of the build's log.

    .. versionadded:: 0.1
    """
