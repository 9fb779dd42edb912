"""Workspace discovery by the `web` builder (`WebBuilder.discover`), on real workspaces.

Workspaces are written into tmp_path; where the package manager is cheap to
get they are installed by it for real: npm (with node), and pnpm and yarn
classic, installed once into a cache directory from the npm registry, pinned
(the tests that need them skip, saying why, when the registry cannot be
reached). Members depend only on each other, so installs fetch nothing.
yarn berry and bun are tested on their files alone.
"""

from __future__ import annotations

import os
import subprocess

import pytest
from buildsys_plugin_web import WebBuilder, WebOptions
from buildsys_plugin_web.workspace import frozen_install, package_manager_pin

from _web_helpers import QUIET, needs_npm, pkg, run, write
from buildsys import WorkspaceError, WorkspaceOptions
from buildsys.config.patterns import PatternSet


def discover(root, **options):
    web = options.pop("web", None)
    return WebBuilder().discover(root, WorkspaceOptions(options=web, **options))


def by_name(workspace):
    return {member.name: member for member in workspace.members}


def problems(excinfo):
    return [str(p) for p in excinfo.value.problems]


CHAIN = {
    "package.json": {"name": "chain", "private": True},
    "pnpm-workspace.yaml": "packages:\n  - 'packages/*'\n",
    "packages/tsconfig/package.json": pkg("@acme/tsconfig", build=False),
    "packages/tsconfig/tsconfig.base.json": "{}\n",
    "packages/core/package.json": pkg(
        "@acme/core", devDependencies={"@acme/tsconfig": "workspace:*"}
    ),
    "packages/core/src/index.js": "module.exports = 1\n",
    "packages/ui/package.json": pkg("@acme/ui", dependencies={"@acme/core": "workspace:^"}),
    "packages/app/package.json": pkg("@acme/app", dependencies={"@acme/ui": "workspace:*"}),
}


# -- real installs -----------------------------------------------------------------


def test_pnpm_three_deep_chain_with_a_shared_tsconfig(tmp_path, tools):
    write(tmp_path, CHAIN)
    run([str(tools / "pnpm"), "install"], tmp_path, tools)  # writes pnpm-lock.yaml
    workspace = discover(tmp_path)
    assert workspace.package_manager == "pnpm"
    assert workspace.lockfile == "pnpm-lock.yaml"
    assert workspace.workspace_file == "pnpm-workspace.yaml"
    assert workspace.install_argv == ("pnpm", "install", "--frozen-lockfile")
    assert workspace.warnings == ()
    members = by_name(workspace)
    assert sorted(members) == ["app", "core", "tsconfig", "ui"]
    assert [m.name for m in workspace.builds()] == ["app", "core", "ui"]
    assert members["app"].depends_on == ("ui",)
    assert members["ui"].depends_on == ("core",)
    assert members["core"].depends_on == ()  # tsconfig has no build script
    assert members["core"].dependencies == ("@acme/tsconfig",)
    assert not members["tsconfig"].is_build
    assert members["app"].package == "@acme/app"
    assert members["app"].directory == "packages/app"
    # core's inputs: its files (not dist/ or node_modules/), tsconfig's, the lockfile, package.json
    (tmp_path / "packages/core/dist").mkdir()
    (tmp_path / "packages/core/dist/out.js").write_text("x")
    files = PatternSet(members["core"].inputs).files(tmp_path)
    assert "packages/core/src/index.js" in files
    assert "packages/tsconfig/tsconfig.base.json" in files
    assert {"pnpm-lock.yaml", "package.json"} <= set(files)
    assert not [f for f in files if "node_modules" in f or "/dist/" in f]
    # ui depends on core, a build: core's key covers tsconfig, so ui does not list it
    assert not any("tsconfig" in p for p in members["ui"].inputs)
    # the frozen install runs as given
    run([str(tools / "pnpm"), *workspace.install_argv[1:]], tmp_path, tools)
    assert "/pnpm-lock.yaml" in workspace.install_inputs
    assert "/packages/ui/package.json" in workspace.install_inputs


def test_pnpm_frozen_install_fails_on_a_stale_lockfile(tmp_path, tools):
    write(tmp_path, CHAIN)
    run([str(tools / "pnpm"), "install"], tmp_path, tools)
    write(
        tmp_path,
        {
            "packages/app/package.json": pkg(
                "@acme/app", dependencies={"@acme/ui": "workspace:*", "@acme/core": "workspace:*"}
            )
        },
    )
    workspace = discover(tmp_path)
    assert by_name(workspace)["app"].depends_on == ("core", "ui")
    path = f"{tools}{os.pathsep}{os.environ['PATH']}"
    done = subprocess.run(
        [str(tools / "pnpm"), *workspace.install_argv[1:]],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, **QUIET, "PATH": path, "CI": "1"},
        check=False,
    )
    assert done.returncode != 0
    assert "frozen" in (done.stdout + done.stderr).lower()


@needs_npm
def test_npm_workspace_and_npm_ci(tmp_path):
    write(
        tmp_path,
        {
            "package.json": {
                "name": "root",
                "private": True,
                "workspaces": ["packages/*", "apps/web"],
            },
            "packages/a/package.json": pkg("a"),
            "packages/b/package.json": pkg("b", peerDependencies={"a": "^1.0.0"}),
            "apps/web/package.json": pkg("web", dependencies={"b": "1.0.0"}),
        },
    )
    run(["npm", "install", "--offline"], tmp_path)
    workspace = discover(tmp_path)
    assert workspace.package_manager == "npm"
    assert workspace.lockfile == "package-lock.json"
    assert workspace.install_argv == ("npm", "ci")
    members = by_name(workspace)
    assert members["web"].depends_on == ("b",)
    assert members["b"].depends_on == ("a",)  # a peer dependency counts
    assert "/package-lock.json" in members["a"].inputs
    # node_modules holds symlinks to the members: never a member itself
    assert (tmp_path / "node_modules/a").exists()
    assert sorted(members) == ["a", "b", "web"]
    run(["npm", "ci", "--offline"], tmp_path)


def test_yarn_classic_workspace_with_packages_object(tmp_path, tools):
    write(
        tmp_path,
        {
            "package.json": {
                "name": "root",
                "private": True,
                "workspaces": {"packages": ["pkgs/*"]},
            },
            "pkgs/one/package.json": pkg("one"),
            "pkgs/two/package.json": pkg("two", dependencies={"one": "1.0.0"}),
        },
    )
    run([str(tools / "yarn"), "install", "--offline"], tmp_path, tools)
    workspace = discover(tmp_path)
    assert (workspace.package_manager, workspace.lockfile) == ("yarn", "yarn.lock")
    assert workspace.install_argv == ("yarn", "install", "--frozen-lockfile")
    assert by_name(workspace)["two"].depends_on == ("one",)
    run([str(tools / "yarn"), *workspace.install_argv[1:], "--offline"], tmp_path, tools)


# -- the package manager, from packageManager or the lockfile ----------------------

NPM_WS = {
    "package.json": {"name": "root", "private": True, "workspaces": ["packages/*"]},
    "packages/a/package.json": pkg("a"),
}


@pytest.mark.parametrize(
    ("lockfile", "manager", "argv"),
    [
        ("package-lock.json", "npm", ("npm", "ci")),
        ("npm-shrinkwrap.json", "npm", ("npm", "ci")),
        ("yarn.lock", "yarn", ("yarn", "install", "--frozen-lockfile")),
        ("bun.lock", "bun", ("bun", "install", "--frozen-lockfile")),
        ("bun.lockb", "bun", ("bun", "install", "--frozen-lockfile")),
    ],
)
def test_manager_from_the_lockfile(tmp_path, lockfile, manager, argv):
    write(tmp_path, {**NPM_WS, lockfile: "# lockfile\n"})
    workspace = discover(tmp_path)
    assert (workspace.package_manager, workspace.lockfile, workspace.install_argv) == (
        manager,
        lockfile,
        argv,
    )
    assert f"/{lockfile}" in by_name(workspace)["a"].inputs


def test_pnpm_lockfile_means_pnpm_workspace_yaml(tmp_path):
    write(tmp_path, {**CHAIN, "pnpm-lock.yaml": "lockfileVersion: '9.0'\n"})
    assert discover(tmp_path).package_manager == "pnpm"
    (tmp_path / "pnpm-workspace.yaml").unlink()
    with pytest.raises(WorkspaceError) as excinfo:
        discover(tmp_path)
    assert "pnpm-workspace.yaml: is missing" in problems(excinfo)[0]


def test_package_manager_field_wins_over_the_lockfile(tmp_path):
    root = {
        "name": "r",
        "private": True,
        "workspaces": ["packages/*"],
        "packageManager": "yarn@4.5.1+sha512.abc",
    }
    write(tmp_path, {**NPM_WS, "package.json": root, "package-lock.json": "{}"})
    workspace = discover(tmp_path)
    assert (workspace.package_manager, workspace.package_manager_version) == ("yarn", "4.5.1")
    assert workspace.lockfile is None
    assert workspace.install_argv == ("yarn", "install")
    assert any("no yarn lockfile" in w and "package-lock.json" in w for w in workspace.warnings)


def test_no_lockfile_is_npm_unfrozen_with_a_warning(tmp_path):
    write(tmp_path, NPM_WS)
    workspace = discover(tmp_path)
    assert workspace.install_argv == ("npm", "install")
    assert workspace.lockfile is None
    assert "/package.json" in by_name(workspace)["a"].inputs
    assert any("not frozen" in w for w in workspace.warnings)


def test_the_package_manager_option_decides_without_a_pin(tmp_path):
    write(tmp_path, {**NPM_WS, "bun.lock": "{}"})
    workspace = discover(tmp_path, web=WebOptions(package_manager="bun"))
    assert workspace.package_manager == "bun"


def test_a_bad_package_manager_field_is_an_error_with_its_line(tmp_path):
    write(
        tmp_path,
        {
            **NPM_WS,
            "package.json": {"name": "r", "workspaces": ["packages/*"], "packageManager": "pnpm"},
        },
    )
    with pytest.raises(WorkspaceError) as excinfo:
        discover(tmp_path)
    (problem,) = excinfo.value.problems
    assert problem.file == str(tmp_path / "package.json") and problem.line == 6
    assert "'pnpm'" in problem.message


@pytest.mark.parametrize(
    ("files", "berry"),
    [
        ({"yarn.lock": "__metadata:\n  version: 8\n"}, True),
        ({"yarn.lock": "# yarn lockfile v1\n", ".yarnrc.yml": "nodeLinker: pnp\n"}, True),
        ({".yarnrc.yml": "nodeLinker: pnp\n"}, True),  # berry, Plug'n'Play, no lockfile yet
        ({"yarn.lock": "# THIS IS AN AUTOGENERATED FILE.\n# yarn lockfile v1\n"}, False),
    ],
)
def test_yarn_berry_or_classic(tmp_path, files, berry):
    write(tmp_path, {**NPM_WS, **files})
    workspace = discover(tmp_path)
    assert workspace.package_manager == "yarn"
    if "yarn.lock" in files:
        assert workspace.install_argv[-1] == ("--immutable" if berry else "--frozen-lockfile")
    assert "/.yarnrc.yml" in workspace.install_inputs or ".yarnrc.yml" not in files


@pytest.mark.parametrize(
    ("version", "flag"), [("1.22.22", "--frozen-lockfile"), ("4.1.0", "--immutable")]
)
def test_yarn_flavour_from_the_pin(tmp_path, version, flag):
    root = {"name": "r", "workspaces": ["packages/*"], "packageManager": f"yarn@{version}"}
    write(tmp_path, {**NPM_WS, "package.json": root, "yarn.lock": "__metadata:\n"})
    assert discover(tmp_path).install_argv == ("yarn", "install", flag)


def test_pin_and_argv_helpers():
    assert package_manager_pin("pnpm@9.1.0+sha256.deadbeef") == ("pnpm", "9.1.0")
    assert package_manager_pin("cargo@1.0.0") is None
    assert package_manager_pin(3) is None
    assert frozen_install("yarn", "yarn.lock", berry=True) == ("yarn", "install", "--immutable")


# -- names ------------------------------------------------------------------------


def test_names_are_unscoped_package_names_when_unique(tmp_path):
    write(
        tmp_path,
        {
            "package.json": {"name": "r", "workspaces": ["apps/*", "libs/*"]},
            "apps/accounts-web/package.json": pkg("@acme/accounts"),
            "apps/ui-a/package.json": pkg("@a/ui"),
            "libs/ui-b/package.json": pkg("@b/ui"),
        },
    )
    names = {m.directory: m.name for m in discover(tmp_path).members}
    assert names == {"apps/accounts-web": "accounts", "apps/ui-a": "ui-a", "libs/ui-b": "ui-b"}


def test_two_members_with_one_name_are_an_error_naming_both(tmp_path):
    write(
        tmp_path,
        {
            "package.json": {"name": "r", "workspaces": ["apps/*", "libs/*"]},
            "apps/ui/package.json": pkg("@a/ui"),
            "libs/ui/package.json": pkg("@b/ui"),
        },
    )
    with pytest.raises(WorkspaceError) as excinfo:
        discover(tmp_path)
    (message,) = problems(excinfo)
    assert "apps/ui and libs/ui" in message and "'ui'" in message and str(tmp_path) in message
    # leaving one out resolves it
    workspace = discover(tmp_path, exclude=["libs/*"])
    assert [m.name for m in workspace.members] == ["ui"]


def test_two_packages_with_one_package_name_are_an_error(tmp_path):
    write(
        tmp_path,
        {
            "package.json": {"name": "r", "workspaces": ["*"]},
            "x/package.json": pkg("same"),
            "y/package.json": pkg("same"),
        },
    )
    with pytest.raises(WorkspaceError, match="named 'same': x and y"):
        discover(tmp_path)


# -- dependencies -----------------------------------------------------------------


def test_dependency_specifiers(tmp_path):
    write(
        tmp_path,
        {
            "package.json": {"name": "r", "workspaces": ["p/*"]},
            "p/a/package.json": pkg("@s/a"),
            "p/b/package.json": pkg("b"),
            "p/c/package.json": pkg("c"),
            "p/d/package.json": pkg("d"),
            "p/e/package.json": pkg("e"),
            "p/top/package.json": pkg(
                "top",
                dependencies={
                    "alias-of-a": "workspace:@s/a@*",  # pnpm's aliased workspace protocol
                    "b": "link:../b",
                    "not-c": "npm:c@^1.0.0",  # a registry alias: not the member
                    "mylib": "file:../d",
                },
                optionalDependencies={"e": "~1.0.0"},
                peerDependencies={"left-pad": "^1"},
            ),
        },
    )
    assert by_name(discover(tmp_path))["top"].depends_on == ("a", "b", "d", "e")


def test_non_builds_pass_their_dependencies_on(tmp_path):
    write(
        tmp_path,
        {
            "package.json": {"name": "r", "workspaces": ["p/*"]},
            "p/base/package.json": pkg("base"),
            "p/config/package.json": pkg("config", build=False, dependencies={"base": "*"}),
            "p/lint/package.json": pkg("lint", build=False, dependencies={"config": "*"}),
            "p/app/package.json": pkg("app", devDependencies={"lint": "*"}),
        },
    )
    app = by_name(discover(tmp_path))["app"]
    assert app.depends_on == ("base",)
    assert app.uses == ("p/config", "p/lint")
    assert app.dependencies == ("lint",)


def test_the_script_option_decides_which_members_are_builds(tmp_path):
    write(
        tmp_path,
        {
            "package.json": {"name": "r", "workspaces": ["p/*"]},
            "p/a/package.json": pkg("a", scripts={"compile": "tsc"}),
            "p/b/package.json": pkg("b", dependencies={"a": "*"}),
        },
    )
    workspace = discover(tmp_path, web=WebOptions(script="compile"))
    assert [m.name for m in workspace.builds()] == ["a"]
    assert by_name(workspace)["a"].scripts == ("compile",)


def test_a_cycle_through_builds_is_an_error_naming_it(tmp_path):
    write(
        tmp_path,
        {
            "package.json": {"name": "r", "workspaces": ["p/*"]},
            "p/a/package.json": pkg("a", dependencies={"b": "*"}),
            "p/b/package.json": pkg("b", build=False, dependencies={"c": "*"}),
            "p/c/package.json": pkg("c", devDependencies={"a": "*"}),
        },
    )
    with pytest.raises(WorkspaceError) as excinfo:
        discover(tmp_path)
    (message,) = problems(excinfo)
    assert "cycle" in message
    assert "a (p/a) -> b (p/b) -> c (p/c) -> a (p/a)" in message


def test_a_cycle_among_non_builds_is_allowed(tmp_path):
    write(
        tmp_path,
        {
            "package.json": {"name": "r", "workspaces": ["p/*"]},
            "p/x/package.json": pkg("x", build=False, devDependencies={"y": "*"}),
            "p/y/package.json": pkg("y", build=False, devDependencies={"x": "*"}),
            "p/app/package.json": pkg("app", dependencies={"x": "*"}),
        },
    )
    assert by_name(discover(tmp_path))["app"].uses == ("p/x", "p/y")


# -- globs, members and exclude -----------------------------------------------------


def test_pnpm_globs_with_excludes_and_skipped_directories(tmp_path):
    write(
        tmp_path,
        {
            "package.json": {"name": "r"},
            "pnpm-workspace.yaml": (
                "packages:\n  - 'packages/**'\n  - '!**/legacy/**'\n  - apps/{web,mobile}\n"
            ),
            "packages/a/package.json": pkg("a"),
            "packages/group/b/package.json": pkg("b"),
            "packages/legacy/old/package.json": pkg("old"),
            "packages/a/test/fixture/package.json": pkg("fixture"),  # pnpm never looks in test/
            "packages/a/node_modules/dep/package.json": pkg("dep"),
            "packages/.hidden/package.json": pkg("hidden"),
            "apps/web/package.json": pkg("web"),
            "apps/mobile/package.json": pkg("mobile"),
            "apps/other/package.json": pkg("other"),
        },
    )
    workspace = discover(tmp_path)
    assert [m.directory for m in workspace.members] == [
        "apps/mobile",
        "apps/web",
        "packages/a",
        "packages/group/b",
    ]


def test_a_nested_member_is_left_out_of_its_parent(tmp_path):
    write(
        tmp_path,
        {
            "package.json": {"name": "r", "workspaces": ["app", "app/plugins/*"]},
            "app/package.json": pkg("app", dependencies={"p": "*"}),
            "app/plugins/p/package.json": pkg("p", build=False),
        },
    )
    app = by_name(discover(tmp_path))["app"]
    assert app.nested == ("app/plugins/p",)
    assert app.inputs.index("!/app/plugins/p/**") < app.inputs.index("/app/plugins/p/**")


def test_members_and_exclude_filter(tmp_path):
    write(
        tmp_path,
        {
            "package.json": {"name": "r", "workspaces": ["packages/*", "apps/*"]},
            "packages/a/package.json": pkg("a"),
            "packages/legacy/package.json": pkg("legacy"),
            "apps/web/package.json": pkg("web", dependencies={"legacy": "*", "a": "*"}),
        },
    )
    workspace = discover(tmp_path, members=["apps/*", "packages/*"], exclude=["packages/legacy"])
    web = by_name(workspace)["web"]
    assert sorted(by_name(workspace)) == ["a", "web"]
    # left out, legacy is not a build: its files are web's inputs
    assert web.depends_on == ("a",) and web.uses == ("packages/legacy",)
    assert [m.name for m in discover(tmp_path, members=["apps/*"]).members] == ["web"]


@pytest.mark.parametrize("key", ["members", "exclude"])
def test_a_members_or_exclude_glob_matching_nothing_is_an_error(tmp_path, key):
    write(tmp_path, NPM_WS)
    with pytest.raises(WorkspaceError) as excinfo:
        discover(tmp_path, **{key: ["packages/*", "pakages/*"]})
    (problem,) = excinfo.value.problems
    assert (problem.key, problem.file) == (key, None)
    assert "'pakages/*' matches no package" in problem.message


def test_a_workspace_glob_matching_nothing_is_an_error_with_its_line(tmp_path):
    write(tmp_path, {**CHAIN, "pnpm-workspace.yaml": "packages:\n  - packages/*\n  - tools/*\n"})
    with pytest.raises(WorkspaceError) as excinfo:
        discover(tmp_path)
    (problem,) = excinfo.value.problems
    assert (problem.file, problem.line) == (str(tmp_path / "pnpm-workspace.yaml"), 3)
    assert "'tools/*' matches no package" in problem.message


def test_a_package_json_glob_matching_nothing_is_an_error_with_its_line(tmp_path):
    write(tmp_path, {**NPM_WS, "package.json": {"name": "r", "workspaces": ["packages/*", "nope"]}})
    with pytest.raises(WorkspaceError) as excinfo:
        discover(tmp_path)
    (problem,) = excinfo.value.problems
    assert (problem.file, problem.line) == (str(tmp_path / "package.json"), 5)


@pytest.mark.parametrize("glob", ["/abs/*", "../outside/*", ""])
def test_bad_globs(tmp_path, glob):
    write(tmp_path, {**NPM_WS, "package.json": {"name": "r", "workspaces": ["packages/*", glob]}})
    with pytest.raises(WorkspaceError, match="workspace glob"):
        discover(tmp_path)


def test_bad_workspace_files(tmp_path):
    write(tmp_path, {**CHAIN, "pnpm-workspace.yaml": "packages:\n  - 'a\n  - b: [\n"})
    with pytest.raises(WorkspaceError, match="not valid YAML") as excinfo:
        discover(tmp_path)
    assert excinfo.value.problems[0].line is not None
    write(tmp_path, {"pnpm-workspace.yaml": "onlyBuiltDependencies: []\n"})
    with pytest.raises(WorkspaceError, match="no `packages:` list"):
        discover(tmp_path)
    write(
        tmp_path,
        {
            "pnpm-workspace.yaml": "packages: ['packages/*']\n",
            "packages/ui/package.json": "{ not json",
        },
    )
    with pytest.raises(WorkspaceError) as excinfo:
        discover(tmp_path)
    assert excinfo.value.problems[0].file == str(tmp_path / "packages/ui/package.json")


def test_not_a_workspace(tmp_path):
    write(tmp_path, {"package.json": {"name": "single"}})
    with pytest.raises(WorkspaceError, match='no "workspaces" list'):
        discover(tmp_path)


def test_outputs_option_and_per_member_override(tmp_path):
    write(tmp_path, NPM_WS)
    member = by_name(discover(tmp_path, outputs=["lib/**", "./types/"]))["a"]
    assert "!/packages/a/lib/**" in member.inputs and "!/packages/a/types/" in member.inputs
    assert "!/packages/a/dist/**" not in member.inputs
    overridden = member.with_outputs(["out/**"])
    assert (
        "!/packages/a/out/**" in overridden.inputs
        and "!/packages/a/lib/**" not in overridden.inputs
    )
