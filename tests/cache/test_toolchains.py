"""`buildsys.find_tool`, `buildsys.Fingerprint` and the run's memo of tool questions.

Real files and real processes: fake tools are small shell scripts written by
each test, counting their own invocations in a file.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

import buildsys
from buildsys.host._memo import RunMemo, using
from buildsys.host.fingerprint import Fingerprint, find_tool

posix_only = pytest.mark.skipif(os.name != "posix", reason="fake tools are shell scripts")


def tool(directory: Path, name: str, calls: Path | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    count = f'echo "$@" >> "{calls}"\n' if calls else ""
    path.write_text(f"#!/bin/sh\n{count}echo {name} 1.0\n")
    path.chmod(0o755)
    return path


@posix_only
def test_find_tool_names_the_candidates_tried_before_the_program(tmp_path: Path) -> None:
    first, second, third = tmp_path / "first", tmp_path / "second", tmp_path / "third"
    first.mkdir()
    (first / "mytool").write_text("not executable")  # skipped, as exec skips it
    found_at = tool(second, "mytool")
    tool(third, "mytool")
    program = find_tool("mytool", {"PATH": f"{first}:{tmp_path / 'missing'}:{second}:{third}"})
    assert program.found
    assert program.path == str(found_at)
    # Each path a new one may appear at, up to the one found (not those after it).
    assert program.witnesses == (
        str(first / "mytool"),
        str(tmp_path / "missing" / "mytool"),
        str(found_at),
    )
    assert program.env == ("PATH",)
    fingerprint = program.fingerprint("mytool 1.0")
    assert fingerprint == Fingerprint("mytool 1.0", files=program.witnesses, env=("PATH",))


@posix_only
def test_a_missing_tool_is_vouched_for_by_every_candidate(tmp_path: Path) -> None:
    program = find_tool("nothing-here", {"PATH": f"{tmp_path / 'a'}:{tmp_path / 'b'}"})
    assert not program.found and program.path is None
    assert program.witnesses == (str(tmp_path / "a/nothing-here"), str(tmp_path / "b/nothing-here"))


@posix_only
def test_a_name_with_a_slash_is_taken_from_cwd_and_ignores_path(tmp_path: Path) -> None:
    script = tool(tmp_path / "tools", "run.sh")
    program = find_tool("tools/run.sh", {"PATH": "/nonexistent"}, cwd=str(tmp_path))
    assert (program.path, program.witnesses, program.env) == (str(script), (str(script),), ())


def test_fingerprint_join_merges_without_duplicates() -> None:
    a = Fingerprint("node 20", files=["/bin/node"], env="PATH")
    b = Fingerprint("", files=("/bin/node", "/x/lock"), env=("PATH", "HOME"), contents="/bin/sh")
    joined = Fingerprint.join(a, None, b, Fingerprint("pnpm 9"))
    assert joined == Fingerprint(
        "node 20, pnpm 9",
        files=("/bin/node", "/x/lock"),
        env=("PATH", "HOME"),
        contents=("/bin/sh",),
    )
    assert buildsys.Fingerprint is Fingerprint and buildsys.find_tool is find_tool


@posix_only
def test_a_run_asks_each_question_once_and_only_within_the_run(tmp_path: Path) -> None:
    calls = tmp_path / "calls.txt"
    node = tool(tmp_path / "bin", "node", calls)
    env = {"PATH": str(node.parent)}
    memo = RunMemo()
    with using(memo):
        answers = [buildsys.probe([str(node), "--version"], env=env) for _ in range(3)]
        assert find_tool("node", env) is find_tool("node", env)
        # Another environment is another question.
        buildsys.probe([str(node), "--version"], env={**env, "NODE_ENV": "production"})
    assert [a.output for a in answers] == ["node 1.0"] * 3
    assert calls.read_text().splitlines() == ["--version", "--version"]
    # Outside a run nothing is memoised: a tool upgraded between runs is asked again.
    buildsys.probe([str(node), "--version"], env=env)
    assert len(calls.read_text().splitlines()) == 3


def test_concurrent_askers_of_one_question_wait_for_one_answer(tmp_path: Path) -> None:
    import threading

    calls = tmp_path / "calls.txt"
    script = f"open({str(calls)!r}, 'a').write('x'); import time; time.sleep(0.2)"
    memo = RunMemo()
    barrier = threading.Barrier(4)

    def ask() -> None:
        barrier.wait()
        with using(memo):
            buildsys.probe([sys.executable, "-c", script])

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert calls.read_text() == "x"
