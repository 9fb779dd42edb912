"""The workspace values and the rules builders share (buildsys.plugin.workspace*)."""

from __future__ import annotations

import pytest

from buildsys import (
    WorkspaceError,
    WorkspaceMember,
    WorkspaceOptions,
    WorkspacePackage,
    assemble_members,
    find_workspace_packages,
)
from buildsys.plugin.workspace import anchor_patterns
from buildsys.plugin.workspace_globs import glob_matches


@pytest.mark.parametrize(
    ("glob", "directory", "matches"),
    [
        ("packages/*", "packages/a", True),
        ("packages/*", "packages/a/b", False),
        ("packages/**", "packages/a/b", True),
        ("packages/**", "packages", True),
        ("**/legacy/**", "x/legacy/y", True),
        ("./apps/{web,ios}", "apps/ios", True),
        ("apps/[!x]*", "apps/web", True),
        ("apps/*", "apps/.cache", False),
        ("apps/we?", "apps/web", True),
    ],
)
def test_glob_matches(glob, directory, matches):
    assert glob_matches(glob, directory) is matches


def test_find_workspace_packages_reports_globs_that_select_nothing(tmp_path):
    for directory in ("crates/a", "crates/b", "crates/b/node_modules/c"):
        (tmp_path / directory).mkdir(parents=True)
        (tmp_path / directory / "Cargo.toml").write_text("")
    found, unmatched = find_workspace_packages(
        tmp_path, ["crates/*", "crates/**", "tools/*", "!crates/b"], marker="Cargo.toml"
    )
    assert found == ("crates/a",)
    assert unmatched == ("tools/*",)
    with pytest.raises(ValueError, match="outside"):
        find_workspace_packages(tmp_path, ["../x"])


def test_anchor_patterns():
    patterns = ("/packages/a/**", "!/packages/a/dist/**", "/pnpm-lock.yaml")
    assert anchor_patterns(patterns, ".") == patterns
    assert anchor_patterns(patterns, "js/") == (
        "/js/packages/a/**",
        "!/js/packages/a/dist/**",
        "/js/pnpm-lock.yaml",
    )


def test_values_are_validated():
    with pytest.raises(ValueError, match="not a build name"):
        WorkspaceMember(name="@scope/x", package=None, directory="x")
    with pytest.raises(ValueError, match="relative to the workspace root"):
        WorkspacePackage(directory="../x")
    with pytest.raises(ValueError, match="relative"):
        WorkspacePackage(directory="/abs")
    assert WorkspaceOptions(members="a/*").members == ("a/*",)


def test_assemble_members_for_another_builder(tmp_path):
    """A Cargo-like builder: packages without package names, named by directory."""
    packages = [
        WorkspacePackage(directory="crates/core", package="core", is_build=True),
        WorkspacePackage(
            directory="crates/cli", package="acme-cli", dependencies=["core"], is_build=True
        ),
    ]
    members = assemble_members(
        tmp_path,
        packages,
        WorkspaceOptions(outputs=["target/**"]),
        shared=["Cargo.lock"],
        manifest="Cargo.toml",
    )
    assert [(m.name, m.depends_on) for m in members] == [("acme-cli", ("core",)), ("core", ())]
    assert members[0].inputs == (
        "/crates/cli/**",
        "!/crates/cli/node_modules/**",
        "!/crates/cli/target/**",
        "/Cargo.lock",
    )
    cyclic = [
        *packages[:1],
        WorkspacePackage(directory="crates/core2", package="core", is_build=True),
    ]
    with pytest.raises(WorkspaceError, match=r"Cargo\.toml"):
        assemble_members(tmp_path, cyclic, WorkspaceOptions(), manifest="Cargo.toml")
