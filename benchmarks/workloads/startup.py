"""``startup``: what a user waits for on every command.

``buildsys --version`` and ``buildsys list -f FILE`` on a 100-build file,
next to ``python -c pass`` and ``python -c "import subprocess, argparse,
tomllib, threading, json"`` (the standard library an orchestrator needs)
and ``python -c "import buildsys"``, run by the interpreter that runs
buildsys.  Figure: the median of N runs.  Targets: ``--version`` < 60 ms;
``list`` < 150 ms.
"""

from __future__ import annotations

from harness import Bench, Build, Figure, Invocation, Target, measure, write_builds_toml

LIST_BUILDS = 100
ORCHESTRATOR_IMPORTS = "import subprocess, argparse, tomllib, threading, json"


def run(bench: Bench) -> list[Figure]:
    directory = bench.root / "startup"
    directory.mkdir()
    file = write_builds_toml(directory, [Build(f"b{i:03d}", ("true",)) for i in range(LIST_BUILDS)])
    python, buildsys = str(bench.python), str(bench.buildsys)
    cases = [
        ("python -c pass", [python, "-c", "pass"], None),
        ("python + orchestrator stdlib", [python, "-c", ORCHESTRATOR_IMPORTS], None),
        ("python -c 'import buildsys'", [python, "-c", "import buildsys"], None),
        ("buildsys --version", [buildsys, "--version"], Target("< 60 ms", "<", 60.0)),
        (
            f"buildsys list ({LIST_BUILDS} builds)",
            [buildsys, "list", "-f", str(file)],
            Target("< 150 ms", "<", 150.0),
        ),
    ]
    runs = [Invocation(name, tuple(argv), directory) for name, argv, _ in cases]
    samples = measure(bench, "startup", runs, bench.startup_runs)
    figures = []
    for name, _argv, target in cases:
        if name in samples:
            ms = [s * 1000 for s in samples[name]["wall"]]
            figures.append(Figure("startup", name, "wall", "ms", ms, target=target))
    return figures
