"""`inputs`/`outputs` patterns: how they are read (`/x` anchored, `./x` is `x`), what a
walk finds (exactly what matching every file would), and what it never enters."""

from __future__ import annotations

import os
from pathlib import Path

import pathspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from buildsys.config import patterns
from buildsys.config.patterns import FileTree, PatternSet, normalise, pattern_problem

OLD_NS = 1_000_000_000 * 1_600_000_000  # 2020: far outside any racy window


def make(root: Path, *files: str) -> None:
    for rel in files:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rel)


@pytest.fixture
def scanned(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every directory a walk lists, as the paths given to os.scandir."""
    seen: list[str] = []
    real = os.scandir

    def recording(path: str) -> object:
        seen.append(os.fspath(path))
        return real(path)

    monkeypatch.setattr(patterns.os, "scandir", recording)
    return seen


# -- reading a pattern --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "read"),
    [
        ("src/**", "src/**"),
        ("*.js", "*.js"),
        ("dist/", "dist/"),
        ("/pnpm-lock.yaml", "/pnpm-lock.yaml"),
        ("./pnpm-lock.yaml", "pnpm-lock.yaml"),  # SPEC: a leading ./ is the same as none
        ("././src/**", "src/**"),
        ("!./src/*.test.ts", "!src/*.test.ts"),
        ("src//app/./x.ts", "src/app/x.ts"),
        ("src/../lib/**", "lib/**"),
        ("src/../x", "/x"),  # it had a slash before its last part: still anchored
        ("//x", "/x"),
        ("dist//", "dist/"),
        ("src/a   ", "src/a"),  # trailing spaces go, as gitignore reads them
    ],
)
def test_normalise(written: str, read: str) -> None:
    assert normalise(written) == read
    assert pattern_problem(written) is None


@pytest.mark.parametrize(
    ("written", "problem"),
    [
        ("src/\x00", "NUL character"),
        ("", "is empty"),
        ("!", "is empty"),
        ("./", "is empty"),
        ("/", "is empty"),
        ("..", "points outside the project"),
        ("../x/**", "points outside the project"),
        ("/../x", "points outside the project"),
        ("!src/../../x", "points outside the project"),
        ("src/*/../x", "'..' after a wildcard"),
        ("#comment", "makes it a comment"),
        ("src/[z-a]", "is not a valid pattern"),
        ("src\\", "is not a valid pattern"),
    ],
)
def test_pattern_problem(written: str, problem: str) -> None:
    found = pattern_problem(written)
    assert found is not None and problem in found


def test_a_leading_slash_anchors_at_the_root_and_dot_slash_is_no_prefix(tmp_path: Path) -> None:
    make(tmp_path, "pnpm-lock.yaml", "packages/a/pnpm-lock.yaml", "src/x.ts", "lib/src/x.ts")
    assert PatternSet(["/pnpm-lock.yaml"]).files(tmp_path) == ["pnpm-lock.yaml"]
    assert PatternSet(["./pnpm-lock.yaml"]).files(tmp_path) == [
        "packages/a/pnpm-lock.yaml",
        "pnpm-lock.yaml",
    ]
    assert PatternSet(["./src/**"]).files(tmp_path) == ["src/x.ts"]
    assert PatternSet(["/src/*.ts", "!./src/x.ts"]).files(tmp_path) == []


def test_files_are_sorted_as_strings(tmp_path: Path) -> None:
    """A replay compares a walk with the sorted inputs it recorded: `a.txt` < `a/b`."""
    make(tmp_path, "a/b", "a.txt", "a-c")
    assert PatternSet(["**", "!x"]).files(tmp_path) == ["a-c", "a.txt", "a/b"]


# -- a pruned walk finds what matching every file finds ---------------------------------

NAMES = ["a", "b", "src", "node_modules", "x.js", "y.ts", ".hidden", "keep"]
PARTS = [*NAMES, "*", "**", "*.js", "?", "k*"]


@st.composite
def trees(draw: st.DrawFn) -> list[str]:
    paths = draw(st.lists(st.lists(st.sampled_from(NAMES), min_size=1, max_size=4), max_size=16))
    files: dict[str, None] = {}
    dirs: set[str] = set()
    for parts in paths:
        rel = "/".join(parts)
        prefixes = {"/".join(parts[:i]) for i in range(1, len(parts))}
        if rel in dirs or prefixes & set(files):
            continue  # a file where a directory is, or below a file
        files[rel] = None
        dirs |= prefixes
    return sorted(files)


def pattern_lists(files: list[str]) -> st.SearchStrategy[list[str]]:
    """Patterns made mostly of the tree's own directories and names (so that they
    match, exclude and take back files), with wildcards and the ways to write them."""
    prefixes = sorted({"/".join(f.split("/")[:i]) for f in files for i in range(1, 5)} - {""})

    @st.composite
    def one(draw: st.DrawFn, negated: bool) -> str:
        if prefixes and draw(st.integers(0, 3)):
            parts = draw(st.sampled_from(prefixes)).split("/")
            parts = [draw(st.sampled_from([p, p, "*", "**", "?*"])) for p in parts]
        else:
            parts = draw(st.lists(st.sampled_from(PARTS), min_size=1, max_size=3))
        lead = draw(st.sampled_from(["", "", "/", "./"]))
        # `!dir/**` is the exclusion a walk prunes at: drawn often.
        tails = ["/**", "/**", "", "/"] if negated else ["", "", "/", "/**", "/*.js", "/**/keep"]
        tail = draw(st.sampled_from(tails))
        return ("!" if negated else "") + lead + "/".join(parts) + tail

    @st.composite
    def many(draw: st.DrawFn) -> list[str]:
        count = draw(st.integers(1, 5))
        out = [draw(one(negated=index > 0 and draw(st.booleans()))) for index in range(count)]
        if files and draw(st.booleans()):  # a file taken back after the exclusions
            out.append(draw(st.sampled_from(["", "/", "**/"])) + draw(st.sampled_from(files)))
        return out

    return many()


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_a_pruned_walk_finds_what_matching_every_file_finds(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    files = data.draw(trees(), "files")
    written = data.draw(pattern_lists(files), "patterns")
    root = tmp_path_factory.mktemp("tree")
    make(root, *files)
    read = [normalise(p) for p in written]
    spec = pathspec.GitIgnoreSpec.from_lines(read)
    expected = [f for f in files if spec.match_file(f)]
    tree = FileTree(root)
    assert PatternSet(written).files(root, tree) == expected
    positives = [(w, r) for w, r in zip(written, read, strict=True) if not r.startswith("!")]
    unmatched = [
        w
        for w, r in positives
        if not any(pathspec.GitIgnoreSpec.from_lines([r]).match_file(f) for f in expected)
    ]
    assert tree.unmatched[tuple(written)] == tuple(unmatched)


# -- what a walk never enters ------------------------------------------------------------


def test_an_excluded_directory_is_never_listed(tmp_path: Path, scanned: list[str]) -> None:
    make(
        tmp_path,
        "packages/x/src/a.ts",
        "packages/x/node_modules/dep/index.js",
        "packages/x/node_modules/.pnpm/deep/x.js",
    )
    found = PatternSet(["packages/**", "!packages/x/node_modules/**"]).files(tmp_path)
    assert found == ["packages/x/src/a.ts"]
    assert scanned, "the walk listed nothing at all"
    assert not [p for p in scanned if "node_modules" in p]
    assert str(tmp_path) not in scanned  # the walk starts at packages/, not at the root


def test_an_excluded_directory_a_later_pattern_reaches_is_entered(tmp_path: Path) -> None:
    make(tmp_path, "packages/x/node_modules/dep/keep.js", "packages/x/node_modules/dep/a.js")
    found = PatternSet(
        ["packages/**", "!packages/x/node_modules/**", "packages/x/node_modules/dep/keep.js"]
    ).files(tmp_path)
    assert found == ["packages/x/node_modules/dep/keep.js"]


def test_a_walk_enters_only_directories_a_pattern_can_match_below(
    tmp_path: Path, scanned: list[str]
) -> None:
    make(tmp_path, "packages/a/package.json", "packages/a/src/deep/x.ts", "packages/b/package.json")
    found = PatternSet(["packages/*/package.json", "!nothing"]).files(tmp_path)
    assert found == ["packages/a/package.json", "packages/b/package.json"]
    assert sorted(Path(p).relative_to(tmp_path).as_posix() for p in scanned) == [
        "packages",
        "packages/a",
        "packages/b",
    ]


# -- FileTree: one listing per directory and run -----------------------------------------


def test_a_shared_tree_lists_an_unchanged_directory_once(
    tmp_path: Path, scanned: list[str]
) -> None:
    make(tmp_path, "src/a.txt", "src/b.txt")
    os.utime(tmp_path / "src", ns=(OLD_NS, OLD_NS))  # outside the racy window
    tree = FileTree(tmp_path)
    assert PatternSet(["src/*.txt"]).files(tmp_path, tree) == ["src/a.txt", "src/b.txt"]
    assert PatternSet(["src/a*", "src/b*"]).files(tmp_path, tree) == ["src/a.txt", "src/b.txt"]
    assert scanned.count(os.path.join(tmp_path, "src")) == 1

    (tmp_path / "src" / "c.txt").write_text("c")  # changes the directory's mtime
    assert PatternSet(["src/*.txt"]).files(tmp_path, tree) == [
        "src/a.txt",
        "src/b.txt",
        "src/c.txt",
    ]
    assert scanned.count(os.path.join(tmp_path, "src")) == 2


def test_a_directory_changed_within_the_racy_window_is_listed_again(
    tmp_path: Path, scanned: list[str]
) -> None:
    make(tmp_path, "src/a.txt")
    now = 1_000_000_000 * 4_000_000_000  # far in the future: always within the window
    os.utime(tmp_path / "src", ns=(now, now))
    tree = FileTree(tmp_path)
    for _ in range(2):
        assert PatternSet(["src/*.txt"]).files(tmp_path, tree) == ["src/a.txt"]
    assert scanned.count(os.path.join(tmp_path, "src")) == 2


def test_unmatched_patterns_are_left_in_the_tree(tmp_path: Path) -> None:
    make(tmp_path, "src/a.ts", "pnpm-lock.yaml")
    tree = FileTree(tmp_path)
    written = ("src/**", "/pnpm-lock.yaml", "src/*.css", "docs/**", "!src/b.ts")
    PatternSet(written).files(tmp_path, tree)
    assert tree.unmatched[written] == ("src/*.css", "docs/**")
    simple = ("src/*.ts", "src/missing.txt", "/pnpm-lock.yaml")
    PatternSet(simple).files(tmp_path, tree)
    assert tree.unmatched[simple] == ("src/missing.txt",)
