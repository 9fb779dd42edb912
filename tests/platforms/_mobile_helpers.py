"""Helpers for the android and ios plugin tests: the installed plugins, fakes on PATH.

The plugins are used as a user would have them: installed with
`pip install -e plugins/buildsys-plugin-android -e plugins/buildsys-plugin-ios`
(CI runs that command) and found through their `buildsys` entry points by the
real `buildsys` command line. If they are not installed yet, `ensure_installed`
runs that same command once (without build isolation: hatchling is in the venv).

The fake tools in `fakes/` check their command line as the real tools do
(`fakes/_gradle_cli.py`, `fakes/_xcodebuild_cli.py`), replay transcripts of real
output from `transcripts/` and append their argv, one JSON line per call, to the
file named by FAKE_ARGV_LOG.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent
FAKES = HERE / "fakes"
TRANSCRIPTS = HERE / "transcripts"
PLUGINS = HERE.parent.parent / "plugins"
DISTRIBUTIONS = ("buildsys-plugin-android", "buildsys-plugin-ios")


def ensure_installed() -> None:
    missing = []
    for name in DISTRIBUTIONS:
        try:
            importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            missing.append(name)
    if missing:
        args = [a for name in missing for a in ("-e", str(PLUGINS / name))]
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--no-build-isolation", *args],
            check=True,
        )


def base_env(tmp: Path) -> dict[str, str]:
    """PATH with the fakes first; CI unset (empty); an argv log in `tmp`."""
    return {
        "PATH": f"{FAKES}{os.pathsep}{os.environ.get('PATH', os.defpath)}",
        "FAKE_ARGV_LOG": str(tmp / "argv.jsonl"),
        "CI": "",
    }


def calls(env: dict[str, str], tool: str | None = None) -> list[list[str]]:
    """The argv of each recorded call of `tool` (every fake when None), in order."""
    path = Path(env["FAKE_ARGV_LOG"])
    if not path.exists():
        return []
    entries: list[dict[str, Any]] = [json.loads(line) for line in path.read_text().splitlines()]
    return [e["argv"] for e in entries if tool is None or e["tool"] == tool]


def only_error(result: dict[str, Any]) -> dict[str, Any]:
    errors = result["errors"]
    assert len(errors) == 1, errors
    return dict(errors[0])


def fake_cli(name: str) -> ModuleType:
    """A fake's command-line module (`_gradle_cli`, `_xcodebuild_cli`), as the fakes import it."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, FAKES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def run_fake(
    tool: str, *args: str, cwd: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """Run one fake directly, as a builder would."""
    return subprocess.run(
        [str(FAKES / tool), *args],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def check_transcripts(names: list[str]) -> None:
    """Each transcript says where it is from: a URL, `captured: <how>` or `synthetic: <why>`.

    And a body that was cut says so in its header.
    """
    for name in names:
        text = (TRANSCRIPTS / name).read_text()
        header, _, body = text.partition("# ---\n")
        first = header.splitlines()[0]
        assert first.startswith("# source: "), (name, first)
        source = first.removeprefix("# source: ")
        kind, _, why = source.partition(": ")
        assert source.startswith("https://") or (kind in ("synthetic", "captured") and why), (
            name,
            source,
        )
        assert "\n# exit: " in header, name
        if "[... cut ...]" in body:
            assert "[... cut ...]" in header, (
                f"{name}: the body is cut but the header does not say so"
            )
