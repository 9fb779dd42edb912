"""``web``: the no-op of a project whose builds have a toolchain.

16 web builds (the ``web`` plugin with the real ``node`` and ``npm`` on
PATH): each package's ``build`` script is ``node build.js``, which writes
``dist/index.html``; no dependencies, so nothing is installed or fetched.
After a cold build (its own figure), the fully cached no-op is timed two
ways, interleaved: answered from ``.buildsys/replay`` (``replayed no-op``;
each is followed by an untimed run with Python's import log on, which must
show no engine, so nothing was left for the timed one to re-record) and
through the engine, with the journal deleted before each run (``engine
no-op``; it takes node's and npm's versions from what the last run kept,
asking neither). Each run's report must list every build ``cached``.
Skipped, with a note, without node and npm.  Target: replayed no-op
< 160 ms (half of the 320 ms Turborepo takes for the no-op of a 16-package
pnpm workspace, issue 15; a reference, not the same workload: the
``workspace`` workload measures both on one).
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from harness import (
    BUILDSYS,
    Bench,
    Figure,
    Target,
    ToolError,
    buildsys_progress_args,
    report_statuses,
    run_timed,
    status_problem,
    toml_string,
)

WEB_BUILDS = 16
NOOP_RUNS = 3  # replayed and engine no-ops per round
WEB_TURBO_NOOP_MS = 320.0  # issue 15: Turborepo's no-op of a 16-package pnpm workspace
WEB_BUILD_JS = """\
const fs = require("fs");
fs.mkdirSync("dist", { recursive: true });
fs.writeFileSync("dist/index.html", "<!doctype html><h1>" + process.argv[2] + "</h1>\\n");
"""
# npm quiet and offline: the packages have nothing to download.
WEB_NPM_ENV = {
    "npm_config_offline": "true",
    "npm_config_audit": "false",
    "npm_config_fund": "false",
    "npm_config_update_notifier": "false",
}


def write_web_project(directory: Path) -> Path:
    """``WEB_BUILDS`` packages, each a web build whose script runs ``node build.js``."""
    lines = []
    for i in range(WEB_BUILDS):
        name = f"pkg{i:02d}"
        package = directory / name
        package.mkdir(parents=True)
        scripts = {"build": f"node build.js {name}"}
        (package / "package.json").write_text(
            json.dumps({"name": name, "version": "1.0.0", "private": True, "scripts": scripts})
        )
        (package / "build.js").write_text(WEB_BUILD_JS)
        inputs = ", ".join(toml_string(f"{name}/{f}") for f in ("package.json", "build.js"))
        lines += [f"[builds.{name}]", 'platform = "web"', f'cwd = "{name}"']
        lines += [f"inputs = [{inputs}]", ""]
    path = directory / "builds.toml"
    path.write_text("\n".join(lines))
    return path


def was_replayed(argv: Sequence[str], cwd: Path, env: dict[str, str]) -> bool:
    """Run ``argv`` once with Python's import log on: a replay never imports the engine."""
    proc = subprocess.run(
        argv,
        cwd=cwd,
        env={**env, "PYTHONPROFILEIMPORTTIME": "1"},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise ToolError(argv, cwd, f"exit code {proc.returncode}:\n{proc.stderr[-3000:]}")
    return "buildsys.engine.runner" not in proc.stderr


def run(bench: Bench) -> list[Figure]:
    missing = [t for t in ("node", "npm") if shutil.which(t, path=bench.env.get("PATH")) is None]
    if missing:
        bench.notes.append(f"web: skipped, {' and '.join(missing)} not on PATH")
        return []
    env = {**bench.env, **WEB_NPM_ENV}
    directory = bench.root / "web"
    file = write_web_project(directory)
    report = bench.root / "web-report.json"
    argv = [str(bench.buildsys), "build", "-f", str(file), *buildsys_progress_args(bench)]
    argv += ["--report-json", str(report)]
    journal = directory / ".buildsys" / "replay"
    samples: dict[str, list[float]] = {"cold": [], "replayed no-op": [], "engine no-op": []}
    invalid: dict[str, str] = {}

    def timed(phase: str, record: bool) -> None:
        report.unlink(missing_ok=True)
        if phase == "engine no-op":
            journal.unlink(missing_ok=True)
        wall = run_timed(argv, directory, env)
        expected = "succeeded" if phase == "cold" else "cached"
        problem = status_problem(report_statuses(report), expected, WEB_BUILDS)
        if phase == "replayed no-op" and not was_replayed(argv, directory, env):
            problem = "the no-op was not answered from .buildsys/replay"
        if problem:
            print(f"ERROR: web {phase}: {problem}", file=sys.stderr, flush=True)
            bench.errors.append(f"web {phase}: {problem}\n  ({shlex.join(argv)})")
            if record:
                invalid.setdefault(phase, problem)
        if record:
            samples[phase].append(wall)

    try:
        for round_no in range(bench.repeat + 1):  # round 0: warm-up, not recorded
            record = round_no > 0
            shutil.rmtree(directory / ".buildsys", ignore_errors=True)
            for package in directory.glob("pkg*/dist"):
                shutil.rmtree(package)
            timed("cold", record)
            for _ in range(NOOP_RUNS):
                timed("replayed no-op", record)
                timed("engine no-op", record)
    except ToolError as exc:
        bench.errors.append(f"web failed:\n{exc}")
        bench.failed.append(("web", BUILDSYS))
        return []
    half = WEB_TURBO_NOOP_MS / 2
    targets = {"replayed no-op": Target(f"< {half:.0f} ms", "<", half)}
    figures = []
    for phase, values in samples.items():
        scale, unit = (1.0, "s") if phase == "cold" else (1000.0, "ms")
        figure = Figure("web", BUILDSYS, phase, unit, [v * scale for v in values])
        figure.target = targets.get(phase)
        figure.invalid = invalid.get(phase)
        figures.append(figure)
    bench.notes.append(
        f"web: {WEB_BUILDS} web builds with the real node and npm; `engine no-op` deletes "
        ".buildsys/replay before each run"
    )
    return figures
