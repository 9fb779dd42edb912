"""Real JavaScript workspaces for tests: pnpm and yarn installed once with npm, pinned.

`tools` installs pnpm and yarn classic from the npm registry into a cache
directory (`BUILDSYS_TEST_TOOLS`, default ~/.cache/buildsys-test-tools), once,
and skips the tests that need them, saying why, when the registry cannot be
reached. Packages written by `pkg` depend only on each other, so installs fetch
nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

PNPM = "pnpm@10.34.8"
YARN = "yarn@1.22.22"
QUIET = {
    "npm_config_audit": "false",
    "npm_config_fund": "false",
    "npm_config_update_notifier": "false",
    "COREPACK_ENABLE_STRICT": "0",
}

needs_npm = pytest.mark.skipif(
    shutil.which("node") is None or shutil.which("npm") is None,
    reason="needs node and npm on PATH (apt install nodejs npm)",
)


def _unavailable(reason: str) -> None:
    # CI sets BUILDSYS_TEST_TOOLS_REQUIRED: there, a tool that cannot be had is a
    # failure, not a skip that would let the workspace tests pass unseen.
    if os.environ.get("BUILDSYS_TEST_TOOLS_REQUIRED"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def tools() -> Path:
    """A bin directory holding pnpm and yarn, installed once with npm (kept between runs)."""
    if shutil.which("npm") is None:
        _unavailable("needs npm to install pnpm and yarn")
    cache = Path(
        os.environ.get("BUILDSYS_TEST_TOOLS", Path.home() / ".cache" / "buildsys-test-tools")
    )
    stamp = cache / f"{PNPM}+{YARN}"
    bin_dir = cache / "node_modules" / ".bin"
    if not stamp.exists():
        cache.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            ["npm", "install", "--prefix", str(cache), "--no-save", PNPM, YARN],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, **QUIET},
            check=False,
        )
        if done.returncode != 0:
            _unavailable(
                f"cannot install {PNPM} and {YARN} from the npm registry: {done.stderr[-500:]}"
            )
        stamp.write_text("installed\n")
    return bin_dir


def run(argv, cwd, tools=None):
    path = os.environ["PATH"] if tools is None else f"{tools}{os.pathsep}{os.environ['PATH']}"
    env = {**os.environ, **QUIET, "PATH": path, "CI": "1"}
    done = subprocess.run(
        argv, cwd=cwd, capture_output=True, text=True, env=env, timeout=300, check=False
    )
    assert done.returncode == 0, f"{argv} failed:\n{done.stdout}\n{done.stderr}"
    return done


def write(root: Path, files: dict[str, object]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        text = content if isinstance(content, str) else json.dumps(content, indent=2)
        path.write_text(text, encoding="utf-8")
    return root


def pkg(name, *, build=True, **fields):
    """A package.json: private, version 1.0.0, a `build` script unless build=False."""
    scripts = {"build": "node -e \"require('fs').mkdirSync('dist',{recursive:true})\""}
    return {
        "name": name,
        "version": "1.0.0",
        "private": True,
        **({"scripts": scripts} if build else {}),
        **fields,
    }
