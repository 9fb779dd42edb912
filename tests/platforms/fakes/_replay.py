# FAKE for tests: shared by the fake tools in this directory (gradlew, gradle, java,
# xcodebuild, xcode-select); not a tool itself.
"""Replay a transcript from ../transcripts and record the argv the fake was called with.

A transcript is a header of `# ` lines ended by `# ---`, then the output to replay:

    # source: <where the text is from: a URL; `captured: <how>`; or `synthetic: <why>`>
    # tool: <the tool and its version, as far as the source says>       (optional)
    # quoted: <what part was quoted, what was left out or cut>          (optional)
    # exit: <the exit code to return>
    # stream: stdout | stderr        (optional; default stdout)
    # ---
    <output>

Environment:
    FAKE_TRANSCRIPT   the transcript for the main action (a name in ../transcripts or a path)
    FAKE_ARGV_LOG     a file that gets one JSON line per call:
                      {"tool": ..., "argv": [...], "cwd": ...}
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

TRANSCRIPTS = Path(__file__).resolve().parent.parent / "transcripts"


def record(tool: str, argv: list[str]) -> None:
    log = os.environ.get("FAKE_ARGV_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"tool": tool, "argv": argv, "cwd": os.getcwd()}) + "\n")


def load(name: str) -> tuple[dict[str, str], str]:
    path = Path(name) if os.sep in name else TRANSCRIPTS / name
    text = path.read_text(encoding="utf-8")
    header: dict[str, str] = {}
    lines = text.splitlines(keepends=True)
    for index, line in enumerate(lines):
        if line.startswith("# ---"):
            return header, "".join(lines[index + 1 :])
        key, _, value = line[2:].partition(":")
        header[key.strip()] = value.strip()
    raise SystemExit(f"fake: transcript {path} has no '# ---' line ending its header")


def replay(name: str) -> int:
    """Print the transcript's output; return its exit code."""
    header, body = load(name)
    stream = sys.stderr if header.get("stream") == "stderr" else sys.stdout
    stream.write(body)
    stream.flush()
    return int(header.get("exit", "0"))


def refuse(message: str, status: int) -> int:
    """Print what the tool prints for a command line it rejects (to stderr); return `status`."""
    sys.stderr.write(message)
    sys.stderr.flush()
    return status


def touch(path: Path, content: str = "fake\n") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
