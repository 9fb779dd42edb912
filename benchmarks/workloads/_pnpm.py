"""Generated pnpm workspaces, for ``workspace`` (real pnpm and Turborepo) and ``scale``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

PNPM_VERSION = "10.34.9"  # pnpm 11 does not run on Node 20
SCOPE = "@bench"
BUILD_JS = """\
const fs = require("fs");
const path = require("path");
const files = fs.readdirSync("src").sort();
const body = files.map((f) => fs.readFileSync(path.join("src", f), "utf8")).join("");
fs.mkdirSync("dist", { recursive: true });
fs.writeFileSync(path.join("dist", "index.js"), body);
"""
TURBO_JSON = {
    "$schema": "https://turborepo.com/schema.json",
    "tasks": {"build": {"dependsOn": ["^build"], "outputs": ["dist/**"]}},
}
GITIGNORE = "node_modules/\ndist/\n.turbo/\n"


@dataclass(frozen=True)
class Member:
    """A workspace package ``packages/<name>``, ``@bench/<name>``, and its workspace deps."""

    name: str
    depends: tuple[str, ...] = ()


def source_text(member: str, index: int) -> str:
    return f'export const v{index:02d} = "{member} {index:02d}";\n'


def expected_dist(directory: Path) -> str:
    """What the build script writes for the package in ``directory``: its sources, in order."""
    return "".join(path.read_text() for path in sorted((directory / "src").iterdir()))


def write_workspace(
    directory: Path, members: Sequence[Member], sources: int, build_script: str = "node build.js"
) -> None:
    """A pnpm workspace: root package.json (pinned ``packageManager``), members, turbo.json."""
    directory.mkdir(parents=True, exist_ok=True)
    root = {
        "name": "bench-workspace",
        "version": "0.0.0",
        "private": True,
        "packageManager": f"pnpm@{PNPM_VERSION}",
    }
    (directory / "package.json").write_text(json.dumps(root, indent=2) + "\n")
    (directory / "pnpm-workspace.yaml").write_text('packages:\n  - "packages/*"\n')
    (directory / "turbo.json").write_text(json.dumps(TURBO_JSON, indent=2) + "\n")
    (directory / ".gitignore").write_text(GITIGNORE)
    for member in members:
        package = directory / "packages" / member.name
        (package / "src").mkdir(parents=True)
        manifest: dict[str, object] = {
            "name": f"{SCOPE}/{member.name}",
            "version": "1.0.0",
            "private": True,
            "scripts": {"build": build_script},
        }
        if member.depends:
            manifest["dependencies"] = {f"{SCOPE}/{d}": "workspace:*" for d in member.depends}
        (package / "package.json").write_text(json.dumps(manifest, indent=2) + "\n")
        if build_script == "node build.js":
            (package / "build.js").write_text(BUILD_JS)
        for index in range(sources):
            (package / "src" / f"f{index:02d}.js").write_text(source_text(member.name, index))


def write_lockfile(directory: Path, members: Sequence[Member]) -> None:
    """The ``pnpm-lock.yaml`` that pnpm writes for ``members`` (no third-party packages)."""
    lines = [
        "lockfileVersion: '9.0'",
        "",
        "settings:",
        "  autoInstallPeers: true",
        "  excludeLinksFromLockfile: false",
        "",
        "importers:",
        "",
        "  .: {}",
        "",
    ]
    for member in sorted(members, key=lambda m: m.name):
        if not member.depends:
            lines += [f"  packages/{member.name}: {{}}", ""]
            continue
        lines += [f"  packages/{member.name}:", "    dependencies:"]
        for need in sorted(member.depends):
            lines += [
                f"      '{SCOPE}/{need}':",
                "        specifier: workspace:*",
                f"        version: link:../{need}",
            ]
        lines.append("")
    (directory / "pnpm-lock.yaml").write_text("\n".join(lines))


def dependents(members: Sequence[Member], changed: str) -> set[str]:
    """``changed`` and every member that depends on it, directly or not."""
    after: dict[str, list[str]] = {}
    for member in members:
        for need in member.depends:
            after.setdefault(need, []).append(member.name)
    found, todo = {changed}, [changed]
    while todo:
        for name in after.get(todo.pop(), []):
            if name not in found:
                found.add(name)
                todo.append(name)
    return found
