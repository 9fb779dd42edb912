"""`inputs` end to end through `python -m buildsys`: patterns anchored with `/` or
written with `./`, what git ignores left out of the cache key (never out of
`outputs`), and a warning wherever a pattern matches no file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from _cli_helpers import by_name, cli, command, read_json, write_builds

# Appends the build's name to a counter file: argv COUNTER NAME [OUT].
COUNT = """
counter, name = sys.argv[1], sys.argv[2]
with open(counter, "a") as fh:
    fh.write(name + "\\n")
if len(sys.argv) > 3:
    os.makedirs(os.path.dirname(sys.argv[3]), exist_ok=True)
    with open(sys.argv[3], "w") as fh:
        fh.write("built\\n")
"""


def write(root: Path, rel: str, text: str = "x\n") -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


class Counted:
    """A project whose builds count their runs in `counter`."""

    def __init__(self, root: Path, counter: Path) -> None:
        self.root = root
        self.counter = counter
        self.report = root.parent / "report.json"

    def build_of(self, name: str, **keys: Any) -> dict[str, Any]:
        out = keys.pop("out", None)
        args = [self.counter, name, *([self.root / out] if out else [])]
        return command(COUNT, *args, **keys)

    def runs(self) -> list[str]:
        return self.counter.read_text().split() if self.counter.exists() else []

    def build(self, *args: str) -> tuple[list[str], dict[str, Any]]:
        """Which builds ran, and each build's report entry."""
        before = len(self.runs())
        res = cli(
            "build", "--progress", "plain", "--report-json", self.report, *args, cwd=self.root
        )
        assert res.rc == 0, res
        return self.runs()[before:], by_name(read_json(self.report))


def counted(tmp_path: Path) -> Counted:
    return Counted(tmp_path / "proj", tmp_path / "runs.txt")


def test_a_leading_slash_anchors_at_the_project_and_dot_slash_is_no_prefix(
    tmp_path: Path,
) -> None:
    """`/pnpm-lock.yaml` was refused as "outside the project"; `./x` matched nothing."""
    proj = counted(tmp_path)
    for rel in ("pnpm-lock.yaml", "packages/a/pnpm-lock.yaml", "src/a.ts"):
        write(proj.root, rel)
    builds = {
        "anchored": proj.build_of("anchored", inputs=["/pnpm-lock.yaml"], outputs=[]),
        "dotted": proj.build_of("dotted", inputs=["./src/a.ts"], outputs=[]),
    }
    write_builds(proj.root, builds)
    assert sorted(proj.build()[0]) == ["anchored", "dotted"]
    write(proj.root, "packages/a/pnpm-lock.yaml", "changed\n")  # not the root's
    assert proj.build()[0] == []
    write(proj.root, "pnpm-lock.yaml", "changed\n")
    write(proj.root, "src/a.ts", "changed\n")
    assert sorted(proj.build()[0]) == ["anchored", "dotted"]


def test_a_pattern_that_matches_no_file_warns_in_check_dry_run_and_the_run(
    tmp_path: Path,
) -> None:
    proj = counted(tmp_path)
    write(proj.root, "src/a.ts")
    inputs = ["src/**", "/missing.txt", "./gone/**"]
    write_builds(proj.root, {"app": proj.build_of("app", inputs=inputs, outputs=[])})
    warnings = [
        "inputs pattern '/missing.txt' matches no file",
        "inputs pattern './gone/**' matches no file",
    ]

    check = cli("check", cwd=proj.root)
    assert check.rc == 0, check
    assert [line.strip() for line in check.out.splitlines() if "warning:" in line] == [
        f"warning: {w}" for w in warnings
    ]
    dry = cli("build", "--dry-run", cwd=proj.root)
    assert dry.rc == 0, dry
    assert [line.strip() for line in dry.out.splitlines() if "warning:" in line] == [
        f"warning: {w}" for w in warnings
    ]
    assert proj.runs() == []

    ran, report = proj.build()
    assert ran == ["app"]
    assert report["app"]["warnings"] == warnings
    ran, report = proj.build()  # served from the cache: the same warnings
    assert ran == []
    assert report["app"]["status"] == "cached"
    assert report["app"]["warnings"] == warnings
    assert not (proj.root / ".buildsys" / "replay").exists()  # a run that warns is not replayed


def test_inputs_leave_out_what_git_ignores(tmp_path: Path) -> None:
    proj = counted(tmp_path)
    (proj.root / ".git").mkdir(parents=True)
    write(proj.root, ".gitignore", "node_modules/\n*.log\n")
    for rel in ("packages/a/src/a.ts", "packages/a/node_modules/dep/index.js", "packages/a/x.log"):
        write(proj.root, rel)
    write_builds(proj.root, {"a": proj.build_of("a", inputs=["packages/a/**"], outputs=[])})
    assert proj.build()[0] == ["a"]
    write(proj.root, "packages/a/node_modules/dep/index.js", "changed\n")
    write(proj.root, "packages/a/x.log", "changed\n")
    assert proj.build()[0] == []  # git ignores both: not inputs
    write(proj.root, "packages/a/src/a.ts", "changed\n")
    assert proj.build()[0] == ["a"]

    # With the filtering off, every file matches: the ignored ones join the key.
    write_builds(
        proj.root,
        {"a": proj.build_of("a", inputs=["packages/a/**"], outputs=[])},
        run={"inputs-respect-gitignore": False},
    )
    assert proj.build()[0] == ["a"]
    assert proj.build()[0] == []
    write(proj.root, "packages/a/node_modules/dep/index.js", "changed again\n")
    assert proj.build()[0] == ["a"]


def test_outputs_are_never_filtered_by_git(tmp_path: Path) -> None:
    proj = counted(tmp_path)
    (proj.root / ".git").mkdir(parents=True)
    write(proj.root, ".gitignore", "out/\n")
    write(proj.root, "src/a.ts")
    build = proj.build_of("a", inputs=["src/**"], outputs=["out/**"], out="out/a.txt")
    write_builds(proj.root, {"a": build})
    ran, report = proj.build()
    assert ran == ["a"]
    assert report["a"]["artifacts"] == [str(proj.root / "out" / "a.txt")]
    (proj.root / "out" / "a.txt").unlink()
    ran, report = proj.build()
    assert ran == []
    assert report["a"]["status"] == "cached"
    assert (proj.root / "out" / "a.txt").read_text() == "built\n"


def test_inputs_a_dependency_writes_where_git_ignores_are_read_and_not_warned_about(
    tmp_path: Path,
) -> None:
    """`build/` is ignored, and `app` reads what `gen` writes there: a pattern that
    names `build/gen` asks for it, and before `gen` ran (check, --dry-run) that it
    matches nothing yet is no news."""
    proj = counted(tmp_path)
    (proj.root / ".git").mkdir(parents=True)
    write(proj.root, ".gitignore", "build/\n")
    write(proj.root, "src/a.ts")
    gen = proj.build_of("gen", inputs=["src/**"], outputs=["build/gen/**"], out="build/gen/v.txt")
    app = proj.build_of(
        "app", inputs=["src/**", "build/gen/**"], outputs=[], **{"depends-on": ["gen"]}
    )
    write_builds(proj.root, {"gen": gen, "app": app})
    check = cli("check", cwd=proj.root)
    assert check.rc == 0, check
    assert "warning" not in check.out
    assert "warning" not in cli("build", "--dry-run", cwd=proj.root).out

    ran, report = proj.build()
    assert ran == ["gen", "app"]
    assert report["app"]["warnings"] == []
    assert proj.build()[0] == []
    write(proj.root, "build/gen/v.txt", "edited by hand\n")  # an input of app, ignored or not
    dry = cli("build", "--dry-run", cwd=proj.root)
    assert "app (command) after gen: will run: input build/gen/v.txt changed" in dry.out, dry

    # Without the dependency, nothing says the files will come: it is worth a warning.
    (proj.root / "build" / "gen" / "v.txt").unlink()
    del app["depends-on"]
    write_builds(proj.root, {"gen": gen, "app": app})
    check = cli("check", cwd=proj.root)
    assert "inputs pattern 'build/gen/**' matches no file" in check.out
