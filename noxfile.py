"""Developer sessions: `nox -s tests`, `nox -s lint`, `nox -s build_all`, `nox -s bench`."""

from __future__ import annotations

from pathlib import Path

import nox

nox.options.sessions = ["tests", "lint"]
nox.options.default_venv_backend = "venv"

EXAMPLE = "examples/app/builds.toml"
# Each platform plugin is its own distribution, installed as a user would.
PLUGINS = sorted(str(p) for p in Path("plugins").glob("buildsys-plugin-*") if p.is_dir())


def _editable(*paths: str) -> list[str]:
    return [arg for path in paths for arg in ("-e", path)]


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite (the plugins installed through their entry points)."""
    session.install(*_editable(".[test]", *PLUGINS))
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff and mypy --strict (the engine and each plugin)."""
    session.install(*_editable(".[lint]", *PLUGINS))
    session.run("ruff", "check", ".")
    session.run("mypy", "--strict", "src")
    for plugin in PLUGINS:
        session.run("mypy", "--strict", f"{plugin}/src")


@nox.session
def build_all(session: nox.Session) -> None:
    """Build the example app for every platform (`-- ARGS` go to buildsys build)."""
    session.install(".", *PLUGINS)
    # buildsys shuts its builds down cleanly on Ctrl-C; nox must wait for that
    # instead of killing it 0.3 s after the signal.
    session.run("buildsys", "-f", EXAMPLE, "build", *session.posargs, interrupt_timeout=None)


@nox.session(default=False)
def bench(session: nox.Session) -> None:
    """Compare buildsys with make -j (and ninja) on the same workloads; not part of CI."""
    # As users have it: buildsys and the three platform plugins, not editable (the
    # `web` workload needs the web plugin); doit is the noop workload's Python peer.
    session.install(".", *PLUGINS, "doit")
    # Only buildsys and its dependencies, as issue 2 asks: setuptools' .pth
    # file would otherwise run at every start of every tool in this venv.
    session.run("python", "-m", "pip", "uninstall", "--yes", "--quiet", "setuptools")
    session.run("python", "benchmarks/bench.py", *session.posargs, interrupt_timeout=None)
