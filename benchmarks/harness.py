"""What every workload shares: running tools, timing them, figures and targets, printing.

A workload (a module of ``workloads/``) writes its files under ``bench.root``,
runs each tool through `measure` (or its own loop when its phases depend on
one another), and returns `Figure` objects: the median of their samples,
with a ratio to make (or another peer) and the target buildsys must meet.
Nothing here imports buildsys: it is always run as a subprocess, through its
console script, from whatever virtualenv it is installed in.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

BUILDSYS = "buildsys"
MAKE = "make"
NINJA = "ninja"
DOIT = "doit"  # measured in `noop` only, when installed (nox -s bench installs it)

# Variables that make a tool (or its console/reporting layer) behave differently
# from an interactive run on a developer's machine.
ODD_VARIABLES = (
    "CI",
    "CONTINUOUS_INTEGRATION",
    "GITHUB_ACTIONS",
    "GITLAB_CI",
    "BUILDKITE",
    "CIRCLECI",
    "TRAVIS",
    "JENKINS_URL",
    "TF_BUILD",
    "TEAMCITY_VERSION",
    "FORCE_COLOR",
    "NO_COLOR",
    "MAKEFLAGS",
    "MFLAGS",
    "MAKELEVEL",
    "MAKEFILES",
    "GNUMAKEFLAGS",
    "PYTHONDONTWRITEBYTECODE",  # else an editable install recompiles its source every run
    "PYTHONDEVMODE",
    "PYTHONTRACEMALLOC",
    "PYTHONPROFILEIMPORTTIME",
    "PYTHONASYNCIODEBUG",
    "PYTHONWARNINGS",
)

# Run by bash where it has $EPOCHREALTIME (no process spawned for a time stamp),
# else by sh, where each time stamp costs a `date` process.
JOB_SCRIPT = """\
# usage: job.sh STAMP SECONDS -- records start and end times around a sleep
echo "${EPOCHREALTIME:-$(date +%s.%N)}" > "$1.start"
sleep "$2"
echo "${EPOCHREALTIME:-$(date +%s.%N)}" > "$1.end"
"""

# A core-holding loop that also ends by itself once the bench that started it
# (its argument) is no longer its parent, so that not even a killed bench
# leaves it behind.
BUSY_LOOP = """\
import os, sys
bench = int(sys.argv[1])
while os.getppid() == bench:
    for _ in range(200000):
        pass
"""


# --------------------------------------------------------------------------- model


@dataclass(frozen=True)
class Target:
    """A goal for a figure: ``value`` (or ``ratio`` to make) ``op`` ``bound``."""

    text: str
    op: str
    bound: float
    on: str = "value"

    def met(self, value: float | None, ratio: float | None) -> bool | None:
        subject = ratio if self.on == "ratio" else value
        if subject is None:
            return None
        if self.op == "<":
            return subject < self.bound
        if self.op == "<=":
            return subject <= self.bound
        if self.op == ">":
            return subject > self.bound
        return subject >= self.bound


@dataclass(frozen=True)
class AllOf:
    """Several goals for one figure, met when every one is."""

    parts: tuple[Target, ...]

    @property
    def text(self) -> str:
        return "; ".join(part.text for part in self.parts)

    def met(self, value: float | None, ratio: float | None) -> bool | None:
        each = [part.met(value, ratio) for part in self.parts]
        return None if None in each else all(each)


@dataclass
class Figure:
    """One measured figure: the median of ``samples``.

    ``invalid`` says why the samples do not measure what they claim (e.g. a
    no-op run that did not serve every build from the cache): such a figure
    never meets its target. ``ratio`` is to ``ratio_to``'s figure of the same
    metric (make's, unless a workload has another peer).
    """

    workload: str
    tool: str
    metric: str
    unit: str
    samples: list[float]
    ratio: float | None = None
    target: Target | AllOf | None = None
    invalid: str | None = None
    ratio_to: str = MAKE

    @property
    def value(self) -> float:
        return statistics.median(self.samples)

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        return False if self.invalid else self.target.met(self.value, self.ratio)

    def as_json(self) -> dict[str, object]:
        data = asdict(self)
        data["value"] = self.value
        data["target"] = None if self.target is None else self.target.text
        data["met"] = self.met
        return data


@dataclass(frozen=True)
class Build:
    """One build: a name, the argv every tool runs for it, the builds it needs first."""

    name: str
    argv: tuple[str, ...]
    depends: tuple[str, ...] = ()


@dataclass(frozen=True)
class Invocation:
    """How one tool runs one workload (``warmup``: one untimed run first)."""

    tool: str
    argv: tuple[str, ...]
    cwd: Path
    before: Callable[[], None] = lambda: None
    after: Callable[[], dict[str, float]] = dict
    warmup: bool = True


class ToolError(RuntimeError):
    """A tool exited non-zero or did not run every build."""

    def __init__(self, argv: Sequence[str], cwd: Path, detail: str) -> None:
        self.command = f"(cd {shlex.quote(str(cwd))} && {shlex.join(argv)})"
        super().__init__(f"{self.command}\n{detail}")


@dataclass
class Bench:
    """Settings and shared state of one benchmark run."""

    root: Path
    buildsys: Path
    python: Path
    env: dict[str, str]
    peers: dict[str, str]
    repeat: int
    startup_runs: int
    progress: list[str] | None = None
    probe_error: ToolError | None = None
    doit: str | None = None  # the doit script, if installed
    quick: bool = False
    repeat_given: bool = False  # --repeat was on the command line
    members: int = 200  # workspace: members of the generated pnpm workspace
    scale: float | None = None  # chain16: duration factor (None: 1.0, or 0.1 with --quick)
    cache: Path = field(default_factory=lambda: cache_home() / "buildsys-bench")
    accepted: dict[str, str | None] = field(default_factory=dict)
    accepted_noted: set[str] = field(default_factory=set)
    versions: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)


def cache_home() -> Path:
    """Where tools fetched for a workload are kept between runs."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")


# --------------------------------------------------------------------- processes


def clean_env(root: Path) -> dict[str, str]:
    """The caller's environment without CI markers or inherited make state.

    Bytecode is allowed (an editable install would otherwise recompile its
    source on every run) and written under ``root``, not into the source tree.
    """
    env = {k: v for k, v in os.environ.items() if k not in ODD_VARIABLES}
    env = {k: v for k, v in env.items() if not k.startswith("BUILDSYS_")}
    env.setdefault("PYTHONPYCACHEPREFIX", str(root / "pycache"))
    return env


def run_output(argv: Sequence[str], cwd: Path, env: Mapping[str, str]) -> tuple[float, str]:
    """Run ``argv`` to completion; return its wall time in seconds and its output."""
    start = time.perf_counter()
    proc = subprocess.run(
        argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        check=False,
    )
    elapsed = time.perf_counter() - start
    output = proc.stdout.decode(errors="replace")
    if proc.returncode != 0:
        tail = output[-3000:]
        raise ToolError(argv, cwd, f"exit code {proc.returncode}; output (tail):\n{tail}")
    return elapsed, output


def run_timed(argv: Sequence[str], cwd: Path, env: Mapping[str, str]) -> float:
    """Run ``argv`` to completion; return its wall time in seconds."""
    return run_output(argv, cwd, env)[0]


def run_rusage(argv: Sequence[str], cwd: Path, env: Mapping[str, str]) -> tuple[float, float]:
    """Run ``argv``; return its wall time (s) and its peak resident memory (MB).

    The peak is ``ru_maxrss`` from `os.wait4`: the process itself, or the
    largest of its waited-for children. Output goes to a file, never a pipe,
    so that nothing but the process has to be waited for.
    """
    with tempfile.TemporaryFile() as output:
        start = time.perf_counter()
        proc = subprocess.Popen(
            argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=output, stderr=output
        )
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            output.seek(0)
            tail = output.read().decode(errors="replace")[-3000:]
            raise ToolError(argv, cwd, f"exit code {proc.returncode}; output (tail):\n{tail}")
    # Linux gives kilobytes, macOS bytes.
    per_mb = 1024 * 1024 if sys.platform == "darwin" else 1024
    return elapsed, usage.ru_maxrss / per_mb


@contextlib.contextmanager
def busy_loops(count: int, python: str = sys.executable) -> Iterator[list[int]]:
    """``count`` processes that each keep a core busy until the block ends.

    They are killed and reaped on the way out, however the block ends; should
    this process die first, each loop notices its new parent and exits.
    """
    loops: list[subprocess.Popen[bytes]] = []
    try:
        for _ in range(count):
            argv = [python, "-c", BUSY_LOOP, str(os.getpid())]
            loops.append(subprocess.Popen(argv, stdin=subprocess.DEVNULL))
        yield [loop.pid for loop in loops]
    finally:
        for loop in loops:
            loop.kill()
        for loop in loops:
            loop.wait()


def interpreter_of(script: Path) -> Path:
    """The Python that runs a console script (its shebang), else this one."""
    try:
        with script.open("rb") as handle:
            first = handle.readline().decode(errors="replace").strip()
    except OSError:
        return Path(sys.executable)
    if first.startswith("#!") and "python" in Path(first[2:].split()[0]).name:
        return Path(first[2:].split()[0])
    return Path(sys.executable)


def tool_version(argv: Sequence[str], env: Mapping[str, str]) -> str:
    try:
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    except OSError as exc:
        return f"unavailable ({exc})"
    lines = (proc.stdout or proc.stderr).strip().splitlines()
    if proc.returncode != 0 or not lines:
        return f"unavailable (`{shlex.join(argv)}` exit {proc.returncode})"
    return lines[0]


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS
        return os.cpu_count() or 1


def reset_dir(directory: Path) -> None:
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)


# ------------------------------------------------------------- build descriptions


def toml_string(text: str) -> str:
    return json.dumps(text)  # a JSON string is a valid TOML basic string


def toml_list(items: Sequence[str]) -> str:
    return "[" + ", ".join(toml_string(item) for item in items) + "]"


def write_builds_toml(directory: Path, builds: Sequence[Build], header: str = "") -> Path:
    """``builds.toml`` with one ``command`` build per build; ``header`` goes first."""
    lines = [header] if header else []
    for build in builds:
        lines += [f"[builds.{build.name}]", 'platform = "command"']
        lines.append(f"command = {toml_list(build.argv)}")
        if build.depends:
            lines.append(f"depends-on = {toml_list(build.depends)}")
        lines.append("")
    path = directory / "builds.toml"
    path.write_text("\n".join(lines))
    return path


def write_makefile(directory: Path, builds: Sequence[Build]) -> Path:
    names = " ".join(build.name for build in builds)
    lines = [f".PHONY: all {names}", f"all: {names}", ""]
    for build in builds:
        lines += [f"{' '.join((f'{build.name}:', *build.depends))}"]
        lines += ["\t" + shlex.join(build.argv).replace("$", "$$"), ""]
    path = directory / "Makefile"
    path.write_text("\n".join(lines))
    return path


def write_build_ninja(directory: Path, builds: Sequence[Build]) -> Path:
    # Outputs are never created, so ninja runs every build on every invocation.
    lines = ["rule run", "  command = $cmd", ""]
    for build in builds:
        needs = f" | {' '.join(build.depends)}" if build.depends else ""
        lines += [
            f"build {build.name}: run{needs}",
            "  cmd = " + shlex.join(build.argv).replace("$", "$$"),
        ]
    lines += ["", "build all: phony " + " ".join(build.name for build in builds), "default all", ""]
    path = directory / "build.ninja"
    path.write_text("\n".join(lines))
    return path


def buildsys_progress_args(bench: Bench) -> list[str]:
    """``["--progress", "none"]`` if this buildsys accepts it, else ``[]``.

    Raises `ToolError` if buildsys cannot build a one-build file at all; the
    probe runs once per benchmark run.
    """
    if bench.progress is not None:
        return bench.progress
    if bench.probe_error is not None:
        raise bench.probe_error
    probe = bench.root / "probe"
    probe.mkdir(exist_ok=True)
    file = write_builds_toml(probe, [Build("probe", ("true",))])
    base = [str(bench.buildsys), "build", "-f", str(file), "-j", "1"]
    try:
        run_timed([*base, "--progress", "none"], probe, bench.env)
        bench.progress = ["--progress", "none"]
    except ToolError as with_flag:
        try:
            run_timed(base, probe, bench.env)
        except ToolError:
            bench.probe_error = with_flag
            bench.errors.append(f"buildsys cannot build (probe of a 1-build file):\n{with_flag}")
            raise with_flag from None
        bench.notes.append(f"--progress none was rejected; ran without it:\n{with_flag}")
        bench.progress = []
    return bench.progress


def buildsys_accepts(bench: Bench, feature: str, files: Mapping[str, str]) -> str | None:
    """None if ``buildsys list`` accepts the project made of ``files``, else its complaint.

    For features a later version adds (a ``[run]`` key, ``[workspaces.*]``):
    this version's config error (exit 2) is the answer, once per run.
    """
    if feature in bench.accepted:
        return bench.accepted[feature]
    probe = bench.root / "probe" / feature
    for relative, text in files.items():
        (probe / relative).parent.mkdir(parents=True, exist_ok=True)
        (probe / relative).write_text(text)
    argv = [str(bench.buildsys), "list", "-f", str(probe / "builds.toml")]
    proc = subprocess.run(
        argv,
        cwd=probe,
        env=bench.env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode not in (0, 2):
        raise ToolError(argv, probe, f"exit code {proc.returncode}:\n{proc.stderr[-3000:]}")
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error")]
    complaint = None if proc.returncode == 0 else "; ".join(lines) or proc.stderr.strip()
    if complaint is not None:
        complaint = complaint.replace(f"{probe}{os.sep}", "")
    bench.accepted[feature] = complaint
    return complaint


HISTORY_PROBE = """\
[run]
history = true

[builds.probe]
platform = "command"
command = ["true"]
"""


def history_key(bench: Bench) -> bool:
    """Whether this buildsys has ``[run] history`` (issue 16), noting it once when not."""
    complaint = buildsys_accepts(bench, "history", {"builds.toml": HISTORY_PROBE})
    if complaint is not None and "history" not in bench.accepted_noted:
        bench.accepted_noted.add("history")
        bench.notes.append(
            f"buildsys has no `[run] history` key yet ({complaint}): it starts ready builds in"
            " file order"
        )
    return complaint is None


def invocations(
    bench: Bench,
    workload: str,
    jobs: int,
    builds_for: Callable[[Path], list[Build]],
    after_for: Callable[[Path, list[Build]], Callable[[], dict[str, float]]],
    tools: Sequence[str] | None = None,
    header: str = "",
) -> list[Invocation]:
    """Write the workload for every tool (buildsys and ``tools``, default the peers).

    ``header`` opens buildsys's builds.toml (a ``[run]`` table).
    """
    result = []
    for tool in (BUILDSYS, *(bench.peers if tools is None else tools)):
        directory = bench.root / workload / tool
        directory.mkdir(parents=True)
        builds = builds_for(directory)
        if tool == BUILDSYS:
            file = write_builds_toml(directory, builds, header)
            argv = [str(bench.buildsys), "build", "-f", str(file), "-j", str(jobs)]
            try:
                argv += buildsys_progress_args(bench)
            except ToolError:
                bench.failed.append((workload, BUILDSYS))
                continue
        elif tool == MAKE:
            write_makefile(directory, builds)
            argv = [bench.peers[MAKE], "-j", str(jobs), "-f", "Makefile"]
        else:
            write_build_ninja(directory, builds)
            argv = [bench.peers[NINJA], "-j", str(jobs), "-C", str(directory)]
        stamps = directory / "stamps"
        result.append(
            Invocation(
                tool,
                tuple(argv),
                directory,
                before=functools.partial(reset_dir, stamps),
                after=after_for(stamps, builds),
            )
        )
    return result


def no_metrics(_stamps: Path, _builds: list[Build]) -> Callable[[], dict[str, float]]:
    return dict


# ---------------------------------------------------------------------- measuring


def measure(
    bench: Bench, workload: str, runs: Sequence[Invocation], repeat: int
) -> dict[str, dict[str, list[float]]]:
    """Warm up, then run every invocation ``repeat`` times, interleaved.

    Returns ``{tool: {metric: samples}}``; the metric ``wall`` is always there.
    A tool that fails is reported in ``bench.errors`` and left out.
    """
    samples: dict[str, dict[str, list[float]]] = {run.tool: {} for run in runs}
    live = list(runs)
    for round_no in range(repeat + 1):
        for run in list(live):
            if round_no == 0 and not run.warmup:
                continue
            try:
                run.before()
                wall = run_timed(run.argv, run.cwd, bench.env)
                metrics = {"wall": wall, **run.after()}
            except ToolError as exc:
                bench.errors.append(f"{run.tool} failed:\n{exc}")
                bench.failed.append((workload, run.tool))
                live.remove(run)
                samples.pop(run.tool)
                continue
            if round_no == 0:
                continue  # warm-up
            for metric, value in metrics.items():
                samples[run.tool].setdefault(metric, []).append(value)
    return samples


def figures_with_ratios(
    workload: str,
    samples: dict[str, dict[str, list[float]]],
    metric: str,
    unit: str,
    scale: float,
    target: Target | AllOf | None,
    peer: str = MAKE,
) -> list[Figure]:
    """One figure per tool for ``metric`` (values multiplied by ``scale``), ratios to ``peer``."""
    figures = [
        Figure(workload, tool, metric, unit, [v * scale for v in metrics[metric]], ratio_to=peer)
        for tool, metrics in samples.items()
        if metric in metrics
    ]
    reference = next((f for f in figures if f.tool == peer), None)
    for figure in figures:
        if reference is not None and reference.value > 0:
            figure.ratio = figure.value / reference.value
        if figure.tool == BUILDSYS:
            figure.target = target
    return figures


def report_statuses(report: Path) -> dict[str, str]:
    """``{build: status}`` from a buildsys ``--report-json`` file."""
    data = json.loads(report.read_text())
    return {result["name"]: result["status"] for result in data["results"]}


def status_problem(statuses: dict[str, str], expected: str, builds: int) -> str | None:
    """Why ``statuses`` is not ``builds`` builds, all with status ``expected``."""
    counts: dict[str, int] = {}
    for status in statuses.values():
        counts[status] = counts.get(status, 0) + 1
    if len(statuses) == builds and counts == {expected: builds}:
        return None
    found = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "none"
    return f"expected {builds} builds {expected}, the report lists {found}"


def statuses_problem(
    statuses: Mapping[str, str], expected: Mapping[str, str], others: Collection[str]
) -> str | None:
    """Why ``statuses`` is not ``expected`` (build: status) plus other builds in ``others``.

    For projects where buildsys may add builds of its own (a workspace's
    install): those may have any status in ``others``.
    """
    wrong = [
        f"{name} {status}"
        for name, status in statuses.items()
        if name not in expected and status not in others
    ]
    wrong += [
        f"{name} {statuses.get(name, 'missing')} (expected {status})"
        for name, status in expected.items()
        if statuses.get(name) != status
    ]
    if not wrong:
        return None
    shown = "; ".join(wrong[:5]) + (f"; and {len(wrong) - 5} more" if len(wrong) > 5 else "")
    return f"{len(wrong)} builds not as expected: {shown}"


def read_report(report: Path) -> dict[str, str]:
    """`report_statuses`, or one pseudo-entry saying why the report could not be read."""
    try:
        return report_statuses(report)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return {"(unreadable report)": f"{type(exc).__name__}: {exc}"}


def job_shell(env: Mapping[str, str]) -> str:
    """``bash`` if it has ``$EPOCHREALTIME`` (bash 5), else ``sh``."""
    bash = shutil.which("bash", path=env.get("PATH"))
    if bash:
        probe = [bash, "-c", 'echo "$EPOCHREALTIME"']
        out = subprocess.run(probe, capture_output=True, text=True, check=False).stdout
        if out.strip():
            return "bash"
    return "sh"


def read_stamp(path: Path) -> float:
    text = path.read_text().strip()
    try:
        return float(text)
    except ValueError:  # BSD date has no %N: fall back to the file's mtime
        return path.stat().st_mtime_ns / 1e9


# ----------------------------------------------------------------------- reporting


def format_value(figure: Figure) -> str:
    value = figure.value
    if figure.unit == "s":
        return f"{value:.3f} s"
    if figure.unit in ("ms", "ms/build"):
        return f"{value:.1f} {figure.unit}"
    if figure.unit == "us/build":
        return f"{value:.0f} us/build"
    if figure.unit in ("MB", "%"):
        return f"{value:.1f} {figure.unit}"
    if figure.unit == "x":
        return f"{value:.2f}x"
    return f"{value:.3f}"


def format_met(met: bool | None) -> str:
    return "-" if met is None else ("yes" if met else "NO")


def describe(figure: Figure) -> str:
    metric = "" if figure.metric == "wall" and figure.unit != "s" else f"{figure.metric} "
    invalid = " INVALID (see ERROR)" if figure.invalid else ""
    return f"{metric}{format_value(figure)}{invalid}"


def format_ratio(figure: Figure) -> str:
    return "-" if figure.ratio is None else f"{figure.ratio:.2f}x {figure.ratio_to}"


def print_figures(figures: Sequence[Figure]) -> None:
    for figure in figures:
        ratio = "" if figure.ratio is None else f"  ({format_ratio(figure)})"
        spread = f"  [min {min(figure.samples):.4g}, max {max(figure.samples):.4g}]"
        print(f"  {figure.workload:<9} {figure.tool:<30} {describe(figure)}{ratio}{spread}")
    sys.stdout.flush()


def print_table(figures: Sequence[Figure], failed: Sequence[tuple[str, str]]) -> None:
    header = ("workload", "tool", "figure", "ratio", "target", "met?")
    rows = [
        (
            f.workload,
            f.tool,
            describe(f),
            format_ratio(f),
            "-" if f.target is None else f.target.text,
            format_met(f.met),
        )
        for f in figures
    ]
    rows += [(workload, tool, "FAILED (see below)", "-", "-", "NO") for workload, tool in failed]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = " | ".join("{:<%d}" % w for w in widths)  # noqa: UP031
    print()
    print(line.format(*header))
    print("-+-".join("-" * w for w in widths))
    for row in rows:
        print(line.format(*row))


def machine_info(bench: Bench) -> dict[str, object]:
    bench.versions[BUILDSYS] = tool_version([str(bench.buildsys), "--version"], bench.env)
    for tool, path in bench.peers.items():
        bench.versions[tool] = tool_version([path, "--version"], bench.env)
    if bench.doit:
        bench.versions[DOIT] = tool_version([bench.doit, "--version"], bench.env)
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "platform": platform.platform(),
        "usable_cpus": usable_cpus(),
        "load_average": os.getloadavg(),
        "python": str(bench.python),
        "buildsys": str(bench.buildsys),
        "versions": bench.versions,
        "repeat": bench.repeat,
        "startup_runs": bench.startup_runs,
    }


def write_json(
    path: Path, info: dict[str, object], figures: Sequence[Figure], bench: Bench
) -> None:
    """Every figure with its samples, the versions and the machine, as JSON."""
    info["load_average_after"] = os.getloadavg()
    data = {
        "machine": info,
        "figures": [f.as_json() for f in figures],
        "notes": bench.notes,
        "errors": bench.errors,
    }
    path.write_text(json.dumps(data, indent=2) + "\n")
