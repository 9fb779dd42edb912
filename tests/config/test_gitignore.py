"""git's ignore rules as `inputs` read them: the same verdicts as git itself.

Where git is installed, each case is checked against `git ls-files --others
--exclude-standard` (the untracked files git does not ignore) in a real
repository; the rules are also checked on their own where it is not.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pathspec
import pytest

from buildsys.config._gitignore import GitIgnore, compile_line
from buildsys.config.patterns import FileTree, PatternSet

GIT = shutil.which("git")
needs_git = pytest.mark.skipif(GIT is None, reason="git is not installed")


def make(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def walked(root: Path, project: Path | None = None) -> list[str]:
    """What `**` finds under the project (default: the work tree's top) with git's rules."""
    project = project or root
    return PatternSet(["**"]).files(project, FileTree.for_inputs(project))


def git_files(root: Path, project: Path | None = None) -> list[str]:
    """The files git does not ignore, relative to `project` (its own rules applied)."""
    assert GIT is not None
    found = subprocess.run(
        [GIT, "ls-files", "--others", "--exclude-standard", "-z", "."],
        cwd=project or root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return sorted(p for p in found.split("\0") if p)


def git_init(root: Path) -> None:
    assert GIT is not None
    root.mkdir(parents=True, exist_ok=True)
    subprocess.run([GIT, "init", "-q", str(root)], check=True)
    # The user's own global ignores must not take part: buildsys does not read them.
    subprocess.run(
        [GIT, "config", "core.excludesFile", str(root / ".no-global-ignores")],
        cwd=root,
        check=True,
    )


CASES: dict[str, dict[str, str]] = {
    "directory-only, anchored and floating patterns": {
        ".gitignore": "build/\n/top.txt\n*.log\n",
        "build/out.js": "",
        "src/build/gen.js": "",
        "src/build": "",  # never: a file where a directory is named; see below
        "top.txt": "",
        "src/top.txt": "",
        "a.log": "",
        "src/deep/b.log": "",
        "src/keep.js": "",
    },
    "whitelisting: * then !*/ then !*.ts": {
        ".gitignore": "*\n!*/\n!*.ts\n",
        "src/a.ts": "",
        "src/a.js": "",
        "top.ts": "",
        "deep/er/x.ts": "",
    },
    "vendor/ cannot be re-entered, logs/** can": {
        ".gitignore": "vendor/\n!vendor/keep.txt\nlogs/**\n!logs/keep.txt\n",
        "vendor/keep.txt": "",
        "vendor/other.txt": "",
        "logs/keep.txt": "",
        "logs/other.txt": "",
    },
    "nested .gitignore files, each relative to its own directory": {
        ".gitignore": "*.tmp\n",
        "pkg/.gitignore": "!keep.tmp\n/dist\n",
        "pkg/keep.tmp": "",
        "pkg/drop.tmp": "",
        "pkg/dist/x.js": "",
        "pkg/sub/dist/x.js": "",
        "other/keep.tmp": "",
        "other/dist/x.js": "",
    },
    "** in every position": {
        ".gitignore": "**/gen\na/**/deep\nb/**\n!b/**/*.keep\n",
        "gen/x": "",
        "src/gen/y": "",
        "a/deep/z": "",
        "a/x/y/deep/z": "",
        "a/keep": "",
        "b/x.keep": "",
        "b/x.drop": "",
        "b/c/y.keep": "",
    },
    "escapes, brackets, trailing spaces, comments": {
        ".gitignore": "\\#hash\n# a comment\n[abc].txt\n[!x]y.md\nspace\\ \ntrail   \nq?.c\n",
        "#hash": "",
        "a.txt": "",
        "d.txt": "",
        "zy.md": "",
        "xy.md": "",
        "space ": "",
        "trail": "",
        "q1.c": "",
        "q12.c": "",
    },
    "info/exclude, below every .gitignore": {
        ".git/info/exclude": "*.secret\nlocal/\n",
        ".gitignore": "!shared.secret\n",
        "a.secret": "",
        "shared.secret": "",
        "local/x": "",
    },
}
# A file and a directory cannot share a path: the case above keeps `src/build/gen.js`.
del CASES["directory-only, anchored and floating patterns"]["src/build"]


@needs_git
@pytest.mark.parametrize("case", list(CASES))
def test_the_walk_leaves_out_what_git_ignores(tmp_path: Path, case: str) -> None:
    root = tmp_path / "repo"
    git_init(root)
    make(root, CASES[case])
    expected = git_files(root)
    assert walked(root) == expected
    assert expected, "the case ignores everything: it tests nothing"


EXPECTED = {  # what git says, for machines without git
    "whitelisting: * then !*/ then !*.ts": ["deep/er/x.ts", "src/a.ts", "top.ts"],
    "vendor/ cannot be re-entered, logs/** can": [".gitignore", "logs/keep.txt"],
}


@pytest.mark.parametrize("case", list(EXPECTED))
def test_the_walk_leaves_out_what_git_ignores_without_git(tmp_path: Path, case: str) -> None:
    (tmp_path / ".git").mkdir()
    make(tmp_path, CASES[case])
    assert walked(tmp_path) == EXPECTED[case]


def test_pathspec_reads_a_directory_otherwise_than_git() -> None:
    """Why the rules are compiled here: pathspec calls `src/` ignored by `*`, `!*/`."""
    assert pathspec.GitIgnoreSpec.from_lines(["*", "!*/"]).match_file("src/")
    regex, negated, dir_only = compile_line("!*/") or ("", False, False)
    assert negated and dir_only and regex


@needs_git
def test_a_project_below_the_top_of_the_work_tree(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    git_init(root)
    make(
        root,
        {
            ".gitignore": "node_modules/\n/app/local.txt\n",
            "app/.gitignore": "*.gen\n",
            "app/src/a.ts": "",
            "app/src/b.gen": "",
            "app/local.txt": "",
            "app/node_modules/x/index.js": "",
            "other.txt": "",
        },
    )
    project = root / "app"
    assert walked(root, project) == git_files(root, project) == [".gitignore", "src/a.ts"]


def test_a_project_inside_an_ignored_directory_has_every_file_ignored(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    make(tmp_path, {".gitignore": "generated/\n", "generated/app/x.txt": ""})
    assert walked(tmp_path, tmp_path / "generated" / "app") == []


def test_a_linked_worktree_reads_the_exclude_file_of_its_repository(tmp_path: Path) -> None:
    """`.git` is a file there (`gitdir: ...`); info/exclude is in the common directory."""
    common = tmp_path / "main" / ".git"
    gitdir = common / "worktrees" / "wt"
    gitdir.mkdir(parents=True)
    (gitdir / "commondir").write_text("../..\n")
    make(common, {"info/exclude": "*.local\n"})
    work = tmp_path / "wt"
    make(work, {".git": f"gitdir: {gitdir}\n", "a.local": "", "b.txt": ""})
    assert walked(work) == [".git", "b.txt"]  # `.git` is a file here, as git lists it


def test_outside_a_work_tree_nothing_is_ignored(tmp_path: Path) -> None:
    make(tmp_path, {".gitignore": "*\n", "a.txt": ""})
    tree = FileTree.for_inputs(tmp_path)
    if tree.ignore is not None:  # pragma: no cover - a repository above pytest's tmp
        pytest.skip("the temporary directory is inside a git work tree")
    assert walked(tmp_path) == [".gitignore", "a.txt"]
    ignoring = FileTree.for_inputs(tmp_path, respect_gitignore=False)
    assert ignoring.ignore is None


def test_respect_gitignore_false_matches_every_file(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    make(tmp_path, {".gitignore": "*.js\n", "a.js": "", "b.ts": ""})
    assert walked(tmp_path) == [".gitignore", "b.ts"]
    tree = FileTree.for_inputs(tmp_path, respect_gitignore=False)
    assert PatternSet(["**"]).files(tmp_path, tree) == [".gitignore", "a.js", "b.ts"]


def test_an_ignored_directory_is_never_listed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from buildsys.config import patterns

    (tmp_path / ".git").mkdir()
    make(
        tmp_path,
        {
            ".gitignore": "node_modules/\n",
            "pnpm-lock.yaml": "",
            "packages/a/package.json": "",
            "packages/a/node_modules/.pnpm/x/index.js": "",
            "node_modules/y/index.js": "",
        },
    )
    listed: list[str] = []
    real = patterns.os.scandir

    def recording(path: str) -> object:
        listed.append(str(path))
        return real(path)

    monkeypatch.setattr(patterns.os, "scandir", recording)
    tree = FileTree.for_inputs(tmp_path)
    # One unanchored name: the walk covers the whole tree, but for what git ignores.
    assert PatternSet(["pnpm-lock.yaml"]).files(tmp_path, tree) == ["pnpm-lock.yaml"]
    assert PatternSet(["packages/**"]).files(tmp_path, tree) == ["packages/a/package.json"]
    assert listed, "nothing was listed at all"
    assert not [p for p in listed if "node_modules" in p]


def test_probes_record_what_was_read_and_where_nothing_was(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    make(tmp_path, {".gitignore": "x\n", "src/a.txt": ""})
    ignore = GitIgnore.find(tmp_path)
    assert ignore is not None
    assert not ignore.ignored("src/a.txt", False)
    kinds = {
        Path(path).relative_to(tmp_path).as_posix(): probe[0]
        for path, probe in ignore.probes.items()
    }
    assert kinds == {
        ".git": "dir",
        ".git/commondir": "absent",
        ".git/info/exclude": "absent",
        ".gitignore": "file",
        "src/.gitignore": "absent",
    }


def test_a_pattern_that_names_an_ignored_directory_reads_it(tmp_path: Path) -> None:
    """`build/shared/**` asks for what a dependency wrote there, ignored or not (as
    `git add -f` takes a path); git's rules still apply below what it names."""
    (tmp_path / ".git").mkdir()
    make(
        tmp_path,
        {
            ".gitignore": "build/\n*.map\n",
            "build/shared/version.txt": "",
            "build/shared/version.map": "",
            "build/shared/deep/x.txt": "",
            "build/other/y.txt": "",
            "src/a.ts": "",
        },
    )
    tree = FileTree.for_inputs(tmp_path)
    named = ["build/shared/deep/x.txt", "build/shared/version.txt"]
    assert PatternSet(["build/shared/**"]).files(tmp_path, tree) == named
    assert PatternSet(["src/**", "build/shared/**"]).files(tmp_path, tree) == [*named, "src/a.ts"]
    assert PatternSet(["**", "build/shared/**"]).files(tmp_path, tree) == [
        ".gitignore",
        *named,
        "src/a.ts",
    ]
    assert PatternSet(["build/shared/*.txt"]).files(tmp_path, tree) == [named[1]]
    assert PatternSet(["build/shared/version.txt"]).files(tmp_path, tree) == [named[1]]
    assert PatternSet(["build/shared"]).files(tmp_path, tree) == named
    assert PatternSet(["**"]).files(tmp_path, tree) == [".gitignore", "src/a.ts"]
    # It names `build`, and asks for what is in it:
    assert PatternSet(["build/*/y.txt"]).files(tmp_path, tree) == ["build/other/y.txt"]
