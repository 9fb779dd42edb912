"""The `web` platform plugin (plugins/buildsys-plugin-web), installed as a user would.

Install it into the environment first:
    pip install -e plugins/buildsys-plugin-web

Builds run the real `buildsys` CLI through the `buildsys_project` fixture
(buildsys.testing) with the Node.js and npm on this machine. The packages have
no dependencies and an empty lockfile, so nothing is fetched from a registry.
The small unit tests at the end import the builder module directly.
"""

from __future__ import annotations

import json
import os
import shutil
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest

try:
    version("buildsys-plugin-web")
except PackageNotFoundError:  # pragma: no cover - a setup problem: fail loudly, never skip
    pytest.fail(
        "buildsys-plugin-web is not installed: pip install -e plugins/buildsys-plugin-web",
        pytrace=False,
    )

from buildsys_plugin_web.builder import (
    WebBuilder,
    WebOptions,
    detect_package_manager,
    install_command,
    install_reason,
    script_command,
)

from _cli_helpers import fake_web_tool, probes
from buildsys import BuildError, BuildSpec, Host

needs_node = pytest.mark.skipif(
    shutil.which("node") is None or shutil.which("npm") is None,
    reason="needs node and npm on PATH (apt install nodejs npm)",
)
posix_only = pytest.mark.skipif(os.name != "posix", reason="fake tools are shell scripts")

# npm quiet and offline: these packages have nothing to download.
NPM_ENV = {
    "npm_config_offline": "true",
    "npm_config_audit": "false",
    "npm_config_fund": "false",
    "npm_config_update_notifier": "false",
}

BUILD_JS = """\
const fs = require("fs");
fs.mkdirSync("dist", { recursive: true });
fs.writeFileSync("dist/index.html", "<!doctype html><h1>tiny</h1>\\n");
fs.writeFileSync("dist/args.json", JSON.stringify(process.argv.slice(2)));
console.log("built dist/index.html");
"""

FAIL_JS = """\
console.log("compiling src/app.js");
console.error("error: unexpected token in src/app.js:3:7");
process.exit(1);
"""

# Synthetic, written by hand after Node 20's fatal heap error (V8 prints these lines
# and aborts); exit 134 as for SIGABRT through a shell.
OOM_JS = """\
console.error("<--- Last few GCs --->");
console.error("FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory");
process.exit(134);
"""


def package_json(scripts: dict[str, str], **extra: object) -> str:
    return json.dumps(
        {"name": "tiny", "version": "1.0.0", "private": True, "scripts": scripts, **extra},
        indent=2,
    )


# A lockfile for a package without dependencies: `npm ci` accepts it offline.
LOCKFILE = json.dumps(
    {
        "name": "tiny",
        "version": "1.0.0",
        "lockfileVersion": 3,
        "requires": True,
        "packages": {"": {"name": "tiny", "version": "1.0.0"}},
    },
    indent=2,
)


def app_files(scripts: dict[str, str] | None = None, **files: str) -> dict[str, str]:
    """The files of a package in `app/` (the build's cwd)."""
    out = {
        "app/package.json": package_json(scripts or {"build": "node build.js"}),
        "app/package-lock.json": LOCKFILE,
        "app/build.js": BUILD_JS,
    }
    out.update({f"app/{name}": text for name, text in files.items()})
    return out


WEB_BUILD = """\
[builds.site]
platform = "web"
cwd = "app"
"""


def error_of(outcome, name="site"):
    errors = outcome.result(name)["errors"]
    assert len(errors) == 1, errors
    return errors[0]


# -- real builds ------------------------------------------------------------------


@needs_node
def test_real_build_succeeds_with_default_outputs_as_artifacts(buildsys_project):
    buildsys_project.write(WEB_BUILD, app_files())
    outcome = buildsys_project.build(env=NPM_ENV)
    assert outcome.exit_code == 0, outcome.stdout + outcome.stderr
    assert outcome.status("site") == "succeeded"
    app = buildsys_project.path / "app"
    artifacts = outcome.result("site")["artifacts"]
    assert str(app / "dist" / "index.html") in artifacts
    details = {d["path"]: d for d in outcome.result("site")["artifact_details"]}
    assert details[str(app / "dist" / "index.html")]["size"] > 0
    assert len(details[str(app / "dist" / "index.html")]["sha256"]) == 64
    assert outcome.result("site")["warnings"] == []
    log = buildsys_project.log("site")
    assert "built dist/index.html" in log
    # No dependencies and install = "auto": nothing to install, so no `npm ci`.
    assert "installing dependencies" not in log


@needs_node
def test_args_after_double_dash_reach_the_script(buildsys_project):
    buildsys_project.write(WEB_BUILD, app_files())
    outcome = buildsys_project.build(env=NPM_ENV, args=["--mode", "staging", "x y"])
    assert outcome.status("site") == "succeeded", outcome.stdout
    args = json.loads((buildsys_project.path / "app" / "dist" / "args.json").read_text())
    assert args == ["--mode", "staging", "x y"]


@needs_node
def test_install_always_runs_npm_ci_offline(buildsys_project):
    buildsys_project.write(WEB_BUILD + 'install = "always"\n', app_files())
    outcome = buildsys_project.build(env=NPM_ENV)
    assert outcome.status("site") == "succeeded", outcome.stdout + outcome.stderr
    log = buildsys_project.log("site")
    assert 'installing dependencies (install = "always"): npm ci' in log
    assert log.index("npm ci") < log.index("built dist/index.html")


@needs_node
def test_plugins_json_lists_web_with_its_version(buildsys_project):
    outcome = buildsys_project.run("plugins", "--json")
    assert outcome.exit_code == 0, outcome.stderr
    rows = {row["name"]: row for row in json.loads(outcome.stdout)}
    web = rows["web"]
    assert web["version"] == "0.1.0"
    assert web["distribution"] == "buildsys-plugin-web"
    assert web["builtin"] is False
    assert web["error"] is None
    assert web["platforms"] == [
        {"name": "web", "toolchain_ok": True, "toolchain_problems": [], "toolchain_errors": []}
    ]


@needs_node
def test_missing_script_fails_with_did_you_mean(buildsys_project):
    scripts = {"build:prod": "node build.js", "dev": "node build.js", "test": "true"}
    buildsys_project.write(WEB_BUILD, app_files(scripts))
    outcome = buildsys_project.build(env=NPM_ENV)
    assert outcome.exit_code == 1
    assert outcome.status("site") == "failed"
    error = error_of(outcome)
    assert error["code"] == "WEB_MISSING_SCRIPT"
    assert "did you mean 'build:prod'?" in error["message"]
    assert "build:prod, dev, test" in error["message"]
    assert 'set `script = "build:prod"` in builds.toml' in error["suggestions"]
    assert "WEB_MISSING_SCRIPT" in outcome.stdout


@needs_node
def test_missing_package_json(buildsys_project):
    buildsys_project.write(WEB_BUILD, {"app/README.md": "no package here\n"})
    outcome = buildsys_project.build(env=NPM_ENV)
    assert outcome.status("site") == "failed"
    error = error_of(outcome)
    assert error["code"] == "WEB_NO_PACKAGE_JSON"
    assert any("cwd" in s for s in error["suggestions"])


@needs_node
def test_failing_script_reports_code_and_log_tail(buildsys_project):
    buildsys_project.write(WEB_BUILD, app_files(**{"build.js": FAIL_JS}))
    outcome = buildsys_project.build(env=NPM_ENV)
    assert outcome.exit_code == 1
    assert outcome.status("site") == "failed"
    error = error_of(outcome)
    assert error["code"] == "WEB_SCRIPT_FAILED"
    assert "npm run build" in error["message"]
    assert "exited with code 1" in error["message"]
    assert any("see the full log" in s for s in error["suggestions"])
    assert error["context"]["toolchain"].startswith("node ")
    # The console shows the tail of the log, with the script's own error line.
    assert "lines of" in outcome.stdout
    assert "unexpected token in src/app.js:3:7" in outcome.stdout


@needs_node
def test_out_of_memory_matches_the_catalogue(buildsys_project):
    buildsys_project.write(WEB_BUILD, app_files(**{"build.js": OOM_JS}))
    outcome = buildsys_project.build(env=NPM_ENV)
    assert outcome.status("site") == "failed"
    error = error_of(outcome)
    assert error["code"] == "WEB_OUT_OF_MEMORY"
    assert error["message"] == "Node.js ran out of heap memory"
    assert error["transient"] is False
    assert any("--max-old-space-size" in s for s in error["suggestions"])
    assert any(s.startswith("docs: https://nodejs.org/") for s in error["suggestions"])
    assert error["context"]["phase"] == "build"
    assert any(
        "JavaScript heap out of memory" in line for line in error["context"]["matched_lines"]
    )
    # The builder's own message is kept beside the catalogue's.
    assert "exited with code 134" in error["context"]["error"]


@posix_only
@needs_node
def test_lockfile_picks_the_package_manager_and_its_frozen_install(buildsys_project, tmp_path):
    """A fake pnpm (first on PATH) records its argv: the real one is not needed."""
    fakes = tmp_path / "fakes"
    fakes.mkdir()
    record = tmp_path / "pnpm-calls.txt"
    fake = fakes / "pnpm"
    fake.write_text(f'#!/bin/sh\necho "fake-pnpm $*"\necho "$*" >> "{record}"\n')
    fake.chmod(0o755)
    files = app_files()
    del files["app/package-lock.json"]
    files["app/package.json"] = package_json({"build": "node build.js"}, dependencies={"x": "1"})
    files["app/pnpm-lock.yaml"] = "lockfileVersion: '9.0'\n"
    buildsys_project.write(WEB_BUILD, files)
    env = {**NPM_ENV, "PATH": f"{fakes}{os.pathsep}{os.environ['PATH']}"}
    outcome = buildsys_project.build(env=env, args=["--watch=false"])
    assert outcome.exit_code == 0, outcome.stdout
    assert record.read_text().splitlines() == [
        "install --frozen-lockfile",  # node_modules is missing and there are dependencies
        "run build --watch=false",
    ]


def test_unknown_option_and_bad_value_are_config_errors(buildsys_project):
    buildsys_project.write(
        """\
        [builds.site]
        platform = "web"
        cwd = "app"
        scirpt = "build"
        package-manager = "pnmp"
        """,
        app_files(),
    )
    outcome = buildsys_project.build()
    assert outcome.exit_code == 2
    assert "builds.toml:4: build 'site', key 'scirpt': unknown key" in outcome.stderr
    assert "did you mean 'script'?" in outcome.stderr
    assert "builds.toml:5: build 'site', key 'package-manager':" in outcome.stderr
    assert "did you mean 'pnpm'?" in outcome.stderr


# -- toolchain check without node -------------------------------------------------


@pytest.fixture
def no_node_path(tmp_path):
    """A PATH without node or npm (the CLI itself runs as sys.executable)."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    return {"PATH": str(empty)}


def test_plugins_reports_missing_node(buildsys_project, no_node_path):
    outcome = buildsys_project.run("plugins", "--json", env=no_node_path)
    assert outcome.exit_code == 0, outcome.stderr
    web = {row["name"]: row for row in json.loads(outcome.stdout)}["web"]
    problems = web["platforms"][0]["toolchain_problems"]
    assert any("node is not installed" in p for p in problems), problems


def test_missing_node_fails_the_build_with_install_hints(buildsys_project, no_node_path):
    buildsys_project.write(WEB_BUILD, app_files())
    outcome = buildsys_project.build(env=no_node_path)
    assert outcome.exit_code == 1
    assert outcome.status("site") == "failed"
    codes = [e["code"] for e in outcome.result("site")["errors"]]
    assert codes == ["WEB_NODE_NOT_FOUND"]  # its package manager is looked for once node is
    hints = outcome.result("site")["errors"][0]["suggestions"]
    assert any("nodejs.org" in h for h in hints)
    assert any("apt install nodejs npm" in h for h in hints)


def test_missing_node_skips_with_skip_if_unavailable(buildsys_project, no_node_path):
    buildsys_project.write(WEB_BUILD + "skip-if-unavailable = true\n", app_files())
    outcome = buildsys_project.build(env=no_node_path)
    assert outcome.exit_code == 0, outcome.stdout + outcome.stderr
    assert outcome.status("site") == "skipped"
    reason = outcome.result("site")["reason"]
    assert "toolchain unavailable" in reason
    assert "node is not installed or not on PATH" in reason


# -- unit tests of the builder module ----------------------------------------------


@pytest.mark.parametrize(
    ("lockfile", "manager"),
    [
        ("package-lock.json", "npm"),
        ("npm-shrinkwrap.json", "npm"),
        ("pnpm-lock.yaml", "pnpm"),
        ("yarn.lock", "yarn"),
        ("bun.lockb", "bun"),
        ("bun.lock", "bun"),
    ],
)
def test_detect_package_manager_from_lockfile(tmp_path, lockfile, manager):
    (tmp_path / lockfile).write_text("")
    assert detect_package_manager(tmp_path) == (manager, tmp_path / lockfile, [tmp_path / lockfile])


def test_detect_package_manager_defaults_to_npm(tmp_path):
    assert detect_package_manager(tmp_path) == ("npm", None, [])


def test_detect_package_manager_with_several_lockfiles_takes_the_first(tmp_path):
    for name in ("yarn.lock", "package-lock.json"):
        (tmp_path / name).write_text("")
    manager, lockfile, found = detect_package_manager(tmp_path)
    assert (manager, lockfile) == ("npm", tmp_path / "package-lock.json")
    assert found == [tmp_path / "package-lock.json", tmp_path / "yarn.lock"]


def test_install_and_script_commands(tmp_path):
    lock = tmp_path / "lock"
    assert install_command("npm", lock) == ["npm", "ci"]
    assert install_command("npm", None) == ["npm", "install"]
    for manager in ("pnpm", "yarn", "bun"):
        assert install_command(manager, lock) == [manager, "install", "--frozen-lockfile"]
        assert install_command(manager, None) == [manager, "install"]
    assert script_command("npm", "build", []) == ["npm", "run", "build"]
    assert script_command("npm", "build", ["-x"]) == ["npm", "run", "build", "--", "-x"]
    assert script_command("pnpm", "build", ["-x"]) == ["pnpm", "run", "build", "-x"]


def test_install_reason(tmp_path):
    deps = {"dependencies": {"left-pad": "1.3.0"}}
    lock = tmp_path / "package-lock.json"
    lock.write_text("{}")
    assert install_reason("never", tmp_path, lock, deps) is None
    assert install_reason("always", tmp_path, lock, {}) == 'install = "always"'
    assert install_reason("auto", tmp_path, lock, deps) == "node_modules is missing"
    assert install_reason("auto", tmp_path, lock, {}) is None  # nothing to install
    assert install_reason("auto", tmp_path, lock, {"workspaces": ["a"]}) is not None
    modules = tmp_path / "node_modules"
    modules.mkdir()
    os.utime(lock, (1_000_000, 1_000_000))
    os.utime(modules, (2_000_000, 2_000_000))
    assert install_reason("auto", tmp_path, lock, deps) is None
    os.utime(lock, (3_000_000, 3_000_000))
    assert install_reason("auto", tmp_path, lock, deps) == (
        "package-lock.json is newer than node_modules"
    )
    # npm's marker inside node_modules counts as the install time.
    marker = modules / ".package-lock.json"
    marker.write_text("{}")
    os.utime(marker, (4_000_000, 4_000_000))
    assert install_reason("auto", tmp_path, lock, deps) is None


def test_options_defaults_and_validation():
    assert WebOptions() == WebOptions(script="build", package_manager="auto", install="auto")
    with pytest.raises(ValueError, match="did you mean 'yarn'"):
        WebOptions(package_manager="yran")
    with pytest.raises(ValueError, match="not one of auto, always, never"):
        WebOptions(install="sometimes")
    with pytest.raises(TypeError, match="expected a string"):
        WebOptions(install=True)
    with pytest.raises(ValueError, match="script name is empty"):
        WebOptions(script=" ")


def _spec(tmp_path: Path, **options: str) -> BuildSpec:
    return BuildSpec(
        name="site",
        platform="web",
        root=str(tmp_path),
        cwd=str(tmp_path),
        options=WebOptions(**options),
    )


def test_check_wants_node_and_check_build_the_build_s_package_manager(tmp_path):
    host = Host(env={"PATH": str(tmp_path)})
    problems = WebBuilder().check(host)
    assert [p.code for p in problems] == ["WEB_NODE_NOT_FOUND"]
    problems += WebBuilder().check_build(_spec(tmp_path), host)
    problems += WebBuilder().check_build(_spec(tmp_path, package_manager="bun"), host)
    assert [p.code for p in problems] == [
        "WEB_NODE_NOT_FOUND",
        "WEB_NPM_NOT_FOUND",
        "WEB_PACKAGE_MANAGER_NOT_FOUND",
    ]
    assert all(isinstance(p, BuildError) and p.suggestions for p in problems)
    assert problems[2].message == "bun is not installed or not on PATH"


def fake_tools(directory: Path, **versions: str) -> None:
    directory.mkdir(exist_ok=True)
    for tool, text in versions.items():
        path = directory / tool
        path.write_text(f"#!/bin/sh\necho {text}\n")
        path.chmod(0o755)


@posix_only
def test_fingerprint_names_the_tools_and_what_vouches_for_them(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    tools = tmp_path / "bin"
    fake_tools(tools, node="v20.11.1", npm="10.2.4", pnpm="9.1.0")
    host = Host(env={"PATH": f"{empty}:{tools}"})
    builder = WebBuilder()
    assert builder.check(host) == []
    found = builder.fingerprint(host)
    assert found.text == "node 20.11.1, npm 10.2.4"
    # Where each was found, and where it was looked for first (one put there later counts).
    assert found.files == (
        str(empty / "node"),
        str(tools / "node"),
        str(empty / "npm"),
        str(tools / "npm"),
    )
    assert found.env == ("PATH",)
    # Outside a run nothing is memoised: an upgrade is seen at once.
    fake_tools(tools, node="v22.0.0", npm="11.0.0", pnpm="9.1.0")
    assert builder.fingerprint(host).text == "node 22.0.0, npm 11.0.0"
    # A build's own package manager, and the lockfiles that chose it.
    (tmp_path / "pnpm-lock.yaml").write_text("")
    per_build = builder.fingerprint(host, _spec(tmp_path))
    assert per_build.text == "node 22.0.0, pnpm 9.1.0"
    assert str(tmp_path / "pnpm-lock.yaml") in per_build.files
    assert str(tmp_path / "bun.lock") in per_build.files  # absent, but it would choose bun
    explicit = builder.fingerprint(host, _spec(tmp_path, package_manager="bun"))
    assert explicit.text == "node 22.0.0, bun not found"
    assert str(tmp_path / "pnpm-lock.yaml") not in explicit.files


def test_plugin_is_found_through_its_entry_point():
    from importlib.metadata import entry_points

    (ep,) = [ep for ep in entry_points(group="buildsys") if ep.name == "web"]
    assert ep.value == "buildsys_plugin_web"
    assert ep.dist is not None
    assert ep.dist.name == "buildsys-plugin-web"
    assert ep.load().WebBuilder is WebBuilder


@needs_node
def test_missing_package_manager_is_named_with_how_to_install(buildsys_project, no_node_path):
    node_dir = str(Path(shutil.which("node")).parent)
    npm_dir = str(Path(shutil.which("npm")).parent)
    # node and npm, but (on a PATH of only their directories) most likely no bun.
    if shutil.which("bun", path=os.pathsep.join([node_dir, npm_dir])):
        pytest.skip("bun is installed beside node")
    buildsys_project.write(WEB_BUILD + 'package-manager = "bun"\n', app_files())
    outcome = buildsys_project.build(env={"PATH": os.pathsep.join([node_dir, npm_dir])})
    error = error_of(outcome)
    assert error["code"] == "WEB_PACKAGE_MANAGER_NOT_FOUND"
    assert error["message"] == "bun is not installed or not on PATH"
    assert any("bun.sh" in s for s in error["suggestions"])


# Log lines as the tools print them. Seen in real logs (npm 11.19.1, Node 20.20.2):
# the `Missing script` and `EBADENGINE` lines. The others are synthetic, written
# by hand after the messages npm, pnpm, yarn, V8 and sh print.
CATALOGUE_SAMPLES = [
    (
        "npm error `npm ci` can only install packages when your package.json and "
        "package-lock.json or npm-shrinkwrap.json are in sync. Please update your lock file",
        "WEB_LOCKFILE_OUT_OF_SYNC",
    ),
    (
        " ERR_PNPM_OUTDATED_LOCKFILE  Cannot install with frozen-lockfile",
        "WEB_LOCKFILE_OUT_OF_SYNC",
    ),
    (
        "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory",
        "WEB_OUT_OF_MEMORY",
    ),
    ("npm error code ETIMEDOUT", "WEB_NETWORK_ERROR"),
    (
        "npm error request to https://registry.example/x failed, reason: getaddrinfo EAI_AGAIN",
        "WEB_NETWORK_ERROR",
    ),
    ("npm error errno ECONNRESET", "WEB_NETWORK_ERROR"),
    ("npm error code ENOTFOUND", "WEB_NETWORK_ERROR"),
    ('npm error Missing script: "compile"', "WEB_MISSING_SCRIPT"),
    ("sh: 1: vite: not found", "WEB_TOOL_NOT_INSTALLED"),
    ("npm warn EBADENGINE Unsupported engine {", "WEB_ENGINE_MISMATCH"),
    (
        'error tiny@1.0.0: The engine "node" is incompatible with this module.',
        "WEB_ENGINE_MISMATCH",
    ),
]


@pytest.mark.parametrize(("line", "code"), CATALOGUE_SAMPLES)
def test_shipped_catalogue_matches_known_errors(line, code):
    from buildsys.plugin.catalogue import builder_catalogue

    catalogue = builder_catalogue(WebBuilder())
    match = catalogue.match_lines(["some unrelated output", line])
    assert match is not None
    assert match.entry.code == code
    assert match.entry.message and match.entry.suggestions and match.entry.docs
    assert match.entry.phase in ("install", "build")
    assert match.entry.transient is (code == "WEB_NETWORK_ERROR")


def test_catalogue_orders_the_real_cause_before_an_engine_warning():
    from buildsys.plugin.catalogue import builder_catalogue

    lines = [
        "npm warn EBADENGINE Unsupported engine {",
        "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory",
    ]
    match = builder_catalogue(WebBuilder()).match_lines(lines)
    assert match is not None
    assert match.entry.code == "WEB_OUT_OF_MEMORY"


# -- toolchains: fake node and package managers on PATH ---------------------------------

# A package with nothing to install, built with pnpm (no npm anywhere on PATH).
PNPM_BUILD = """\
[builds.{name}]
platform = "web"
cwd = "{name}"
package-manager = "pnpm"
inputs = ["{name}/package.json"]
"""


def pnpm_project(buildsys_project, *names: str, extra: str = "") -> None:
    toml = "".join(PNPM_BUILD.format(name=name) for name in names) + extra
    files = {f"{name}/package.json": package_json({"build": "node build.js"}) for name in names}
    buildsys_project.write(toml, files)


def key_state(buildsys_project) -> dict:
    """Each build's last stored key parts (versions in clear, the rest hashed)."""
    return json.loads((buildsys_project.path / ".buildsys" / "cache-state.json").read_text())


@posix_only
def test_a_toolchain_upgrade_misses_saying_which(buildsys_project, tmp_path):
    tools, calls = tmp_path / "tools", tmp_path / "calls.txt"
    fake_web_tool(tools, "node", "v20.0.0", calls)
    fake_web_tool(tools, "pnpm", "9.0.0", calls)
    env = {"PATH": str(tools)}
    pnpm_project(buildsys_project, "site")
    assert buildsys_project.build(env=env).status("site") == "succeeded"
    assert buildsys_project.build(env=env).status("site") == "cached"

    fake_web_tool(tools, "node", "v22.0.0", calls)  # an upgrade replaces the binary
    dry = buildsys_project.run("build", "--dry-run", env=env)
    assert "will run: toolchain node 20.0.0, pnpm 9.0.0 -> node 22.0.0, pnpm 9.0.0" in dry.stdout
    outcome = buildsys_project.build(env=env)
    assert outcome.status("site") == "succeeded", outcome.stdout
    assert "built by pnpm" in (buildsys_project.path / "site/dist/index.html").read_text()
    assert buildsys_project.build(env=env).status("site") == "cached"


@posix_only
def test_each_tool_is_asked_once_per_environment_and_in_the_build_s_own(buildsys_project, tmp_path):
    tools, old, calls = tmp_path / "tools", tmp_path / "old-node", tmp_path / "calls.txt"
    fake_web_tool(tools, "node", "v20.0.0", calls)
    fake_web_tool(tools, "pnpm", "9.0.0", calls)
    fake_web_tool(old, "node", "v18.0.0", calls)
    own = f'env = {{ PATH = "{old}:{tools}" }}\n'
    pnpm_project(buildsys_project, "one", "two", "legacy", extra=own)
    env = {"PATH": str(tools)}
    outcome = buildsys_project.build(env=env)
    assert outcome.exit_code == 0, outcome.stdout
    state = key_state(buildsys_project)
    assert state["one"]["toolchain"] == state["two"]["toolchain"] == "node 20.0.0, pnpm 9.0.0"
    assert state["legacy"]["toolchain"] == "node 18.0.0, pnpm 9.0.0"  # its own PATH's node
    # one and two share an environment: each tool was asked once for both.
    assert probes(calls) == ["node v18.0.0", "node v20.0.0", "pnpm 9.0.0", "pnpm 9.0.0"]

    # A no-op through the engine (no replay) asks nothing: the fingerprints were kept.
    calls.unlink()
    (buildsys_project.path / ".buildsys" / "replay").unlink()
    outcome = buildsys_project.build(env=env)
    assert [outcome.status(n) for n in ("one", "two", "legacy")] == ["cached"] * 3
    assert probes(calls) == []

    # Upgrading the shared node asks again, once, in the environment that sees it.
    fake_web_tool(tools, "node", "v22.0.0", calls)
    outcome = buildsys_project.build(env=env)
    assert [outcome.status(n) for n in ("one", "two", "legacy")] == [
        "succeeded",
        "succeeded",
        "cached",
    ]
    assert probes(calls) == ["node v22.0.0", "pnpm 9.0.0"]


@posix_only
def test_a_pnpm_build_needs_no_npm(buildsys_project, tmp_path):
    tools, calls = tmp_path / "tools", tmp_path / "calls.txt"
    fake_web_tool(tools, "node", "v20.0.0", calls)
    fake_web_tool(tools, "pnpm", "9.0.0", calls)
    pnpm_project(buildsys_project, "site")
    check = buildsys_project.run("check", env={"PATH": str(tools)})
    assert check.exit_code == 0, check.stdout
    assert "site (web): ready" in check.stdout
    assert buildsys_project.build(env={"PATH": str(tools)}).status("site") == "succeeded"


@posix_only
def test_a_missing_package_manager_is_a_missing_toolchain_for_check_and_build(
    buildsys_project, tmp_path
):
    tools, calls = tmp_path / "tools", tmp_path / "calls.txt"
    fake_web_tool(tools, "node", "v20.0.0", calls)  # node, and no bun
    env = {"PATH": str(tools)}
    buildsys_project.write(
        WEB_BUILD + 'package-manager = "bun"\nskip-if-unavailable = true\n', app_files()
    )
    check = buildsys_project.run("check", env=env)
    assert check.exit_code == 1, check.stdout
    (line,) = [x for x in check.stdout.splitlines() if x.startswith("site (web): ")]
    assert line.startswith("site (web): would be skipped: toolchain unavailable: ")
    assert "bun is not installed or not on PATH (install bun: https://bun.sh/" in line
    assert "1 with toolchain problems" in check.stdout

    outcome = buildsys_project.build(env=env)
    assert outcome.exit_code == 0, outcome.stdout
    assert outcome.status("site") == "skipped"
    reason = outcome.result("site")["reason"]
    assert reason.startswith("toolchain unavailable: bun is not installed or not on PATH")
    assert outcome.result("site")["errors"] == []
