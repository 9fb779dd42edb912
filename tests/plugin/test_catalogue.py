"""Known-error catalogues: the format, matching, and a project's own entries in a real run."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from buildsys.plugin.catalogue import Catalogue, CatalogueError

ENTRIES = """
[[error]]
code = "FIRST"
pattern = "disk (quota|full)"
message = "out of disk"
suggestions = ["free some space"]
transient = true
phase = "build"
docs = "https://example.invalid/disk"

[[error]]
code = "SECOND"
pattern = "permission denied"
message = "no permission"
platform = "web"
"""


def write(tmp_path: Path, text: str, name: str = "catalogue.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_first_entry_in_file_order_wins_and_keeps_its_lines(tmp_path):
    catalogue = Catalogue.load(write(tmp_path, ENTRIES))
    match = catalogue.match_lines(
        ["compiling", "error: permission denied on /x", "fatal: disk full", "disk quota hit"]
    )
    assert match is not None
    assert match.entry.code == "FIRST"  # earlier in the file, though matched later in the log
    assert match.lines == ("fatal: disk full", "disk quota hit")
    assert match.entry.transient and match.entry.docs == "https://example.invalid/disk"


def test_no_match_and_platform_filter(tmp_path):
    catalogue = Catalogue.load(write(tmp_path, ENTRIES))
    assert catalogue.match_lines(["all good"]) is None
    assert [e.code for e in catalogue.for_platform("android").entries] == ["FIRST"]
    assert [e.code for e in catalogue.for_platform("web").entries] == ["FIRST", "SECOND"]


def test_log_is_read_line_by_line_from_a_file(tmp_path):
    log = tmp_path / "build.log"
    log.write_bytes(b"\xff\xfe not utf-8\nnpm ERR! disk full\n")
    match = Catalogue.load(write(tmp_path, ENTRIES)).match_log(log)
    assert match is not None and match.lines == ("npm ERR! disk full",)
    assert Catalogue.load(write(tmp_path, ENTRIES)).match_log(tmp_path / "missing.log") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[[error]]\ncode = "X"\npattern = "("\nmessage = "m"\n', "invalid pattern"),
        ('[[error]]\ncode = "X"\nmessage = "m"\n', "'pattern' must be a non-empty string"),
        ('[[error]]\ncode = "X"\npattern = "p"\nmessage = "m"\ncolour = 1\n', "unknown keys"),
        ('[[error]]\ncode = "X"\npattern = "p"\nmessage = "m"\nsuggestions = "s"\n', "array"),
        ("[[error]\n", "catalogue.toml"),
    ],
)
def test_bad_catalogues_name_the_file_and_entry(tmp_path, text, expected):
    with pytest.raises(CatalogueError, match=expected) as info:
        Catalogue.load(write(tmp_path, text))
    assert "catalogue.toml" in str(info.value)


SCRIPT = "print('step'); print('ERROR: license server unreachable'); raise SystemExit(2)"


def test_a_project_adds_its_own_entries_to_a_real_run(tmp_path):
    (tmp_path / "builds.toml").write_text(
        textwrap.dedent(
            f"""
            [builds.app]
            platform = "command"
            command = [{json.dumps(sys.executable)}, "-c", "{SCRIPT}"]
            """
        )
    )
    (tmp_path / "buildsys-errors.toml").write_text(
        textwrap.dedent(
            """
            [[error]]
            code = "LICENSE_SERVER"
            pattern = "license server unreachable"
            message = "the license server could not be reached"
            suggestions = ["connect to the VPN and build again"]
            transient = true
            """
        )
    )
    report = tmp_path / "report.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "buildsys",
            "build",
            "--progress",
            "plain",
            "--report-json",
            str(report),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    (error,) = json.loads(report.read_text())["results"][0]["errors"]
    assert error["code"] == "LICENSE_SERVER"
    assert error["transient"] is True
    assert error["suggestions"][0] == "connect to the VPN and build again"
    assert error["context"]["matched_lines"] == ["ERROR: license server unreachable"]
    assert "exited with code 2" in error["context"]["error"]
    # The console shows the matched line, not only the tail.
    assert "> ERROR: license server unreachable" in done.stdout


def test_a_broken_project_catalogue_is_a_warning_not_a_failure_of_the_run(tmp_path):
    (tmp_path / "builds.toml").write_text(
        f'[builds.app]\nplatform = "command"\n'
        f'command = [{json.dumps(sys.executable)}, "-c", "raise SystemExit(1)"]\n'
    )
    (tmp_path / "buildsys-errors.toml").write_text("[[error]]\ncode = 1\n")
    done = subprocess.run(
        [sys.executable, "-m", "buildsys", "build", "--progress", "none"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert "error catalogue ignored" in done.stderr and "buildsys-errors.toml" in done.stderr
