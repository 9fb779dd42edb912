"""`[workspaces.<name>]` tables: discovery through the builder, expanded into builds at load time.

Discovery reads files only, so these workspaces are never installed; the
end-to-end runs with real package managers are in
tests/platforms/test_web_workspaces_e2e.py.
"""

from __future__ import annotations

import json

import pytest

from _cli_helpers import cli
from _web_helpers import pkg, write
from buildsys import ConfigError, load_config

NPM = {
    "package.json": {"name": "root", "private": True, "workspaces": ["packages/*"]},
    "package-lock.json": "{}\n",
    "packages/cfg/package.json": pkg("@acme/cfg", build=False),
    "packages/core/package.json": pkg("@acme/core", devDependencies={"@acme/cfg": "1.0.0"}),
    "packages/ui/package.json": pkg("@acme/ui", dependencies={"@acme/core": "1.0.0"}),
}


def load(tmp_path, toml, files=NPM):
    write(tmp_path, files)
    (tmp_path / "builds.toml").write_text(toml)
    return load_config(tmp_path / "builds.toml")


def errors(tmp_path, toml, files=NPM):
    with pytest.raises(ConfigError) as excinfo:
        load(tmp_path, toml, files)
    return [str(p) for p in excinfo.value.problems]


def test_members_become_builds_after_one_install(tmp_path):
    config = load(tmp_path, '[workspaces.js]\nplatform = "web"\n')
    assert config.names == ("js.install", "js.core", "js.ui")  # cfg has no build script
    install, core, ui = config.builds
    assert (install.cwd, install.outputs, install.depends_on) == (".", (), ())
    assert install.options.install == "only"
    assert install.options.package_manager == "npm"
    assert "/package-lock.json" in install.inputs
    assert "/packages/ui/package.json" in install.inputs
    assert core.cwd == "packages/core"
    assert core.depends_on == ("js.install",)
    assert ui.depends_on == ("js.core", "js.install")
    assert (ui.options.install, ui.options.package_manager, ui.options.script) == (
        "never",
        "npm",
        "build",
    )
    assert core.outputs == ("packages/core/dist/**", "packages/core/build/**")
    assert core.inputs[:2] == ("/packages/core/**", "!/packages/core/node_modules/**")
    assert "/packages/cfg/**" in core.inputs  # a dependency that is not a build
    assert "/package-lock.json" in core.inputs
    assert (core.workspace, core.package) == ("js", "@acme/core")


def test_table_keys_are_member_defaults_and_overrides_win(tmp_path):
    config = load(
        tmp_path,
        """
[defaults]
retries = 1

[workspaces.js]
platform = "web"
timeout = "10m"
tags = ["js"]
outputs = ["lib/**"]
env = { NODE_ENV = "production" }

[workspaces.js.overrides.ui]
timeout = "5m"
outputs = ["out/**"]
env = { EXTRA = "1" }

[workspaces.js.profiles.ci]
env = { CI = "1" }
""",
    )
    core, ui = config.get("js.core"), config.get("js.ui")
    assert (core.timeout, ui.timeout) == (600, 300)
    assert core.retries == ui.retries == 1
    assert core.tags == ui.tags == ("js",)
    assert core.outputs == ("packages/core/lib/**",)
    assert ui.outputs == ("packages/ui/out/**",)
    assert "!/packages/ui/out/**" in ui.inputs
    assert "!/packages/ui/lib/**" not in ui.inputs
    assert dict(ui.env) == {"NODE_ENV": "production", "EXTRA": "1"}
    assert dict(ui.for_profile("ci").env) == {"NODE_ENV": "production", "EXTRA": "1", "CI": "1"}
    assert config.get("js.install").timeout == 600
    assert config.get("js.install").tags == ()


def test_a_workspace_under_a_root_is_anchored_there(tmp_path):
    files = {f"web/{name}": content for name, content in NPM.items()}
    config = load(tmp_path, '[workspaces.js]\nplatform = "web"\nroot = "web"\n', files)
    core = config.get("js.core")
    assert core.cwd == "web/packages/core"
    assert core.inputs[0] == "/web/packages/core/**"
    assert "/web/package-lock.json" in core.inputs
    assert core.outputs[0] == "web/packages/core/dist/**"
    assert config.get("js.install").cwd == "web"


def test_hand_written_builds_depend_on_members(tmp_path):
    config = load(
        tmp_path,
        """
[builds.app]
platform = "command"
command = ["true"]
depends-on = ["js.ui"]

[workspaces.js]
platform = "web"
members = ["packages/ui", "packages/core"]
depends-on = ["gen"]

[builds.gen]
platform = "command"
command = ["true"]
""",
    )
    assert config.names == ("app", "gen", "js.install", "js.core", "js.ui")
    assert config.get("js.core").depends_on == ("js.install", "gen")


def test_selection_by_name_pulls_in_dependencies(tmp_path):
    from buildsys.config.graph import select

    config = load(tmp_path, '[workspaces.js]\nplatform = "web"\n')
    chosen = [b.name for b in select(config.builds, ["js.ui"])]
    assert sorted(chosen) == ["js.core", "js.install", "js.ui"]


# -- problems ----------------------------------------------------------------------


def test_an_override_for_a_missing_member_says_did_you_mean(tmp_path):
    found = errors(tmp_path, '[workspaces.js]\nplatform = "web"\n[workspaces.js.overrides.uii]\n')
    assert len(found) == 1
    assert found[0].startswith(f"{tmp_path / 'builds.toml'}:3: key 'overrides.uii': ")
    assert "no member 'uii' (did you mean 'ui'?)" in found[0]


def test_an_override_for_a_member_that_is_not_a_build(tmp_path):
    found = errors(
        tmp_path,
        '[workspaces.js]\nplatform = "web"\n\n[workspaces.js.overrides.cfg]\nretries = 2\n',
    )
    assert ":4: key 'overrides.cfg': member 'cfg' (packages/cfg) is not a build" in found[0]


def test_a_members_glob_matching_nothing_is_located_in_builds_toml(tmp_path):
    found = errors(tmp_path, '[workspaces.js]\nplatform = "web"\nmembers = ["apps/*"]\n')
    assert found == [
        f"{tmp_path / 'builds.toml'}:3: key 'members': workspace 'js': members glob "
        "'apps/*' matches no package of the workspace"
    ]


def test_a_workspace_glob_matching_nothing_is_located_in_the_workspace_file(tmp_path):
    files = {
        **NPM,
        "package.json": json.dumps(
            {"name": "root", "workspaces": ["packages/*", "apps/*"]}, indent=2
        ),
    }
    found = errors(tmp_path, '[workspaces.js]\nplatform = "web"\n', files)
    assert len(found) == 1
    assert found[0].startswith(f"{tmp_path / 'package.json'}:5: workspace 'js'")
    assert "'apps/*' matches no package" in found[0]


def test_a_bad_workspace_file(tmp_path):
    files = {**NPM, "packages/ui/package.json": '{\n  "name": "ui",\n}\n'}
    found = errors(tmp_path, '[workspaces.js]\nplatform = "web"\n', files)
    assert found[0].startswith(f"{tmp_path / 'packages/ui/package.json'}:3: ")
    assert "is not valid JSON" in found[0]


def test_two_members_with_one_name(tmp_path):
    files = {
        **NPM,
        "apps/ui/package.json": pkg("@other/ui"),
        "package.json": {"name": "root", "workspaces": ["packages/*", "apps/*"]},
    }
    found = errors(tmp_path, '[workspaces.js]\nplatform = "web"\n', files)
    assert any("apps/ui and packages/ui" in f and "'ui'" in f for f in found), found


def test_a_cycle_between_members(tmp_path):
    files = {
        **NPM,
        "packages/core/package.json": pkg("@acme/core", dependencies={"@acme/ui": "1.0.0"}),
    }
    found = errors(tmp_path, '[workspaces.js]\nplatform = "web"\n', files)
    assert any("dependency cycle" in f and "core (packages/core)" in f for f in found), found


def test_a_cycle_through_a_hand_written_build(tmp_path):
    found = errors(
        tmp_path,
        """[workspaces.js]
platform = "web"
depends-on = ["gen"]

[builds.gen]
platform = "command"
command = ["true"]
depends-on = ["js.ui"]
""",
    )
    assert any("dependency cycle" in f and "js.ui" in f for f in found), found


def test_a_platform_without_discover(tmp_path):
    found = errors(tmp_path, '[workspaces.tools]\nplatform = "command"\n')
    assert found == [
        f"{tmp_path / 'builds.toml'}:2: key 'platform': platform 'command' (plugin "
        "'command') cannot discover workspace members: its builder has no "
        "discover(root, options); write its builds as [builds.<name>] tables"
    ]


def test_an_unknown_platform_and_a_root_outside(tmp_path):
    found = errors(
        tmp_path,
        '[workspaces.js]\nplatform = "wbe"\n\n[workspaces.other]\nplatform = "web"\nroot = ".."\n',
    )
    assert "unknown platform 'wbe' (did you mean 'web'?)" in found[0]
    assert ":6: key 'root': root '..' is outside the project" in found[1]


def test_table_values_are_checked_once(tmp_path):
    found = errors(
        tmp_path,
        '[workspaces.js]\nplatform = "web"\ntimeout = "soon"\nscirpt = "build"\ncwd = "x"\n',
    )
    assert len(found) == 3, found
    assert ":3: key 'timeout': " in found[0]
    assert ":4: key 'scirpt': unknown key (did you mean 'script'?)" in found[1]
    assert ":5: key 'cwd': a member's cwd is its own directory" in found[2]


def test_a_member_named_as_a_hand_written_build(tmp_path):
    found = errors(
        tmp_path,
        '[workspaces.js]\nplatform = "web"\n\n[builds."js.ui"]\nplatform = "command"\n'
        'command = ["true"]\n',
    )
    assert any(
        "member build 'js.ui' (packages/ui) has the name of another build" in f for f in found
    )


def test_check_exits_2_and_runs_nothing(tmp_path):
    write(tmp_path, NPM)
    (tmp_path / "builds.toml").write_text(
        '[workspaces.js]\nplatform = "web"\n[workspaces.js.overrides.nope]\n'
    )
    for command in (["check"], ["build"]):
        result = cli(*command, cwd=tmp_path)
        assert result.rc == 2, result
        assert "no member 'nope'" in result.err
    assert not (tmp_path / "node_modules").exists()
