"""A third party's plugin, end to end: a throwaway distribution, installed, found, built.

Each plugin below is a real distribution (pyproject.toml with hatchling, a
package, an entry point of group `buildsys`), installed with
`pip install --no-build-isolation --no-deps --target <site>` into a directory
of its own; `buildsys` then runs in a subprocess with those directories on
PYTHONPATH, so the entry points are found exactly as after a user's
`pip install`. The broken plugins are each installed beside the working one
(`acme`) and must cost it nothing.

The built-in platform plugins of this repository are disabled here
(BUILDSYS_DISABLE_PLUGINS) so that only the throwaway ones are in play.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # installing distributions takes seconds

ACME = """
import sys
from pathlib import Path

import attrs

import buildsys


@attrs.frozen
class AcmeOptions:
    greeting_text: str = "hello"  # `greeting-text = ...` in builds.toml
    fail: bool = False


SCRIPT = (
    "import os, sys; from pathlib import Path; "
    "print('acme says', sys.argv[1], 'in', os.environ.get('FLAVOUR', 'plain'), flush=True); "
    "Path('out').mkdir(exist_ok=True); Path('out/app.txt').write_text(sys.argv[1])"
)


class AcmeBuilder:
    name = "acme"
    options = AcmeOptions

    def check(self, host, spec=None):
        return []

    def fingerprint(self, host):
        return "acme-tool 1.0"

    def build(self, spec, ctx):
        if spec.options.fail:
            raise buildsys.BuildFailed(
                "the acme tool refused", ["set fail = false"], code="ACME_REFUSED"
            )
        ctx.run([sys.executable, "-c", SCRIPT, spec.options.greeting_text])
        ctx.add_artifact("out/app.txt")


@buildsys.hookimpl
def buildsys_register_platforms(registry):
    registry.add(AcmeBuilder())
"""

# A builder every broken plugin would register if it got that far.
_BUILDER = """
import buildsys


class Builder:
    def __init__(self, name):
        self.name = name

    def build(self, spec, ctx):
        print("must never run")
"""

BROKEN = {
    # name: (module source, words its error in `buildsys plugins` must contain)
    "broken": (
        "import buildsys\nimport acme_dependency_that_is_not_installed\n",
        [
            "failed to import 'buildsys_plugin_broken'",
            "ModuleNotFoundError",
            "acme_dependency_that_is_not_installed",
        ],
    ),
    "twice": (
        _BUILDER
        + """
@buildsys.hookimpl
def buildsys_register_platforms(registry):
    registry.add(Builder("twice"))
    registry.add(Builder("twice"))
""",
        ["buildsys_register_platforms raised PluginError", "platform 'twice'", "'twice'"],
    ),
    "clash": (
        _BUILDER
        + """
@buildsys.hookimpl
def buildsys_register_platforms(registry):
    registry.add(Builder("clash"))
    registry.add(Builder("acme"))
""",
        ["platform 'acme' is registered by both plugin 'acme' and plugin 'clash'"],
    ),
    "hijack": (
        _BUILDER
        + """
@buildsys.hookimpl
def buildsys_register_platforms(registry):
    registry.add(Builder("command"))
""",
        ["platform 'command' is registered by both plugin 'command' and plugin 'hijack'"],
    ),
    "wrongtype": (
        _BUILDER
        + """
@buildsys.hookimpl
def buildsys_register_platforms(registry):
    return [Builder("wrongtype")]
""",
        ["buildsys_register_platforms returned a value", "registry.add(builder)"],
    ),
    "notbuilder": (
        """
import buildsys


class NotABuilder:
    name = "notbuilder"


@buildsys.hookimpl
def buildsys_register_platforms(registry):
    registry.add(NotABuilder())
""",
        ["plugin 'notbuilder' registered platform 'notbuilder' without a build(spec, ctx)"],
    ),
    "builderclass": (
        _BUILDER
        + """
class Builderclass(Builder):
    name = "builderclass"


@buildsys.hookimpl
def buildsys_register_platforms(registry):
    registry.add(Builderclass)
""",
        ["plugin 'builderclass' registered the class Builderclass", "register an instance"],
    ),
    "raises": (
        _BUILDER
        + """
@buildsys.hookimpl
def buildsys_register_platforms(registry):
    registry.add(Builder("raises"))
    raise RuntimeError("acme licence server unreachable")
""",
        ["buildsys_register_platforms raised RuntimeError: acme licence server unreachable"],
    ),
    "badargs": (
        _BUILDER
        + """
@buildsys.hookimpl
def buildsys_register_platforms(reg):
    reg.add(Builder("badargs"))
""",
        ["buildsys_register_platforms", "reg"],
    ),
    "unknownhook": (
        _BUILDER
        + """
@buildsys.hookimpl
def buildsys_register_platform(registry):
    registry.add(Builder("unknownhook"))
""",
        ["implements unknown hooks: buildsys_register_platform"],
    ),
}

VERSIONS = {"acme": "1.4.2"}


def _write_distribution(root: Path, name: str, source: str) -> Path:
    """A source tree of `buildsys-plugin-<name>` (hatchling) with entry point `<name>`."""
    package = f"buildsys_plugin_{name}"
    dist = root / f"buildsys-plugin-{name}"
    (dist / package).mkdir(parents=True)
    (dist / package / "__init__.py").write_text(textwrap.dedent(source).lstrip())
    (dist / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""
            [build-system]
            requires = ["hatchling"]
            build-backend = "hatchling.build"

            [project]
            name = "buildsys-plugin-{name}"
            version = "{VERSIONS.get(name, "0.1.0")}"
            dependencies = ["buildsys", "attrs"]

            [project.entry-points.buildsys]
            {name} = "{package}"

            [tool.hatch.build.targets.wheel]
            packages = ["{package}"]
            """
        ).lstrip()
    )
    return dist


# Offline with the venv's hatchling, as the brief of this test asks; without one
# (a venv made from `.[test]` only), pip fetches hatchling into an isolated build env.
_ISOLATION = (
    ("--no-index", "--no-build-isolation")
    if importlib.util.find_spec("hatchling") is not None
    else ()
)


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every throwaway plugin, each installed into a site directory of its own."""
    root = tmp_path_factory.mktemp("third-party")
    sources = {"acme": ACME, **{name: source for name, (source, _) in BROKEN.items()}}
    procs = {}
    for name, source in sources.items():
        dist = _write_distribution(root / "src", name, source)
        site = root / f"site-{name}"
        procs[name] = (
            site,
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    *_ISOLATION,
                    "--no-deps",
                    "--target",
                    str(site),
                    str(dist),
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            ),
        )
    result = {}
    for name, (site, proc) in procs.items():
        output, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0, f"pip install of buildsys-plugin-{name} failed:\n{output}"
        result[name] = site
    return result


def _env(sites: dict[str, Path], *names: str) -> dict[str, str]:
    path = os.pathsep.join(str(sites[n]) for n in names)
    return {
        "PYTHONPATH": path,
        # Only the throwaway plugins: the repository's own are installed in this venv.
        "BUILDSYS_DISABLE_PLUGINS": "android,ios,web",
    }


def _plugins(project, env: dict[str, str]) -> dict[str, dict]:
    outcome = project.run("plugins", "--json", env=env)
    assert outcome.exit_code == 0, outcome.stderr
    return {p["name"]: p for p in json.loads(outcome.stdout)}


ACME_BUILD = """
[builds.app]
platform = "acme"
greeting-text = "hi from acme"
env = { FLAVOUR = "vanilla" }
outputs = ["out/**"]
"""

BUILTIN_BUILD = f"""
[builds.tool]
platform = "command"
command = [{json.dumps(sys.executable)}, "-c", "print('built-in command ran')"]
"""


def _params() -> list[object]:
    return [name for name in sorted(BROKEN)]


def test_installed_plugin_is_listed_with_its_version(buildsys_project, sites):
    plugins = _plugins(buildsys_project, _env(sites, "acme"))
    acme = plugins["acme"]
    assert acme["version"] == "1.4.2"
    assert acme["distribution"] == "buildsys-plugin-acme"
    assert acme["builtin"] is False
    assert acme["error"] is None
    assert acme["platforms"] == [
        {"name": "acme", "toolchain_ok": True, "toolchain_problems": [], "toolchain_errors": []}
    ]
    assert plugins["command"]["builtin"] is True


def test_installed_plugin_builds(buildsys_project, sites):
    buildsys_project.write(ACME_BUILD)
    outcome = buildsys_project.build(env=_env(sites, "acme"))
    assert outcome.exit_code == 0, outcome.stdout + outcome.stderr
    result = outcome.result("app")
    assert result["status"] == "succeeded"
    # The builder ran its command in the build's cwd with the build's env.
    assert "acme says hi from acme in vanilla" in buildsys_project.log("app")
    artifact = str(buildsys_project.path.resolve() / "out" / "app.txt")
    assert artifact in result["artifacts"]
    assert (buildsys_project.path / "out" / "app.txt").read_text() == "hi from acme"


def test_installed_plugins_build_failed_reaches_the_report(buildsys_project, sites):
    buildsys_project.write(ACME_BUILD + "fail = true\n")
    outcome = buildsys_project.build(env=_env(sites, "acme"))
    assert outcome.exit_code == 1
    (error,) = outcome.result("app")["errors"]
    assert error["code"] == "ACME_REFUSED"
    assert error["message"] == "the acme tool refused"
    assert "set fail = false" in error["suggestions"]


def test_unknown_option_of_an_installed_plugin_is_a_config_error(buildsys_project, sites):
    buildsys_project.write(ACME_BUILD + 'greeting = "typo"\n')
    outcome = buildsys_project.build(env=_env(sites, "acme"))
    assert outcome.exit_code == 2
    assert "greeting" in outcome.stderr + outcome.stdout


@pytest.mark.parametrize("bad", _params())
def test_broken_plugin_beside_a_working_one(buildsys_project, sites, bad):
    env = _env(sites, "acme", bad)  # acme first: it is loaded, and registers, first
    words = BROKEN[bad][1]

    # `buildsys plugins`: the broken one is listed with an error naming it; acme is fine.
    plugins = _plugins(buildsys_project, env)
    assert plugins[bad]["distribution"] == f"buildsys-plugin-{bad}"
    assert plugins[bad]["platforms"] == []
    error = plugins[bad]["error"]
    assert error, plugins[bad]
    for word in words:
        assert word in error
    assert plugins["acme"]["error"] is None
    assert plugins["acme"]["platforms"] == [
        {"name": "acme", "toolchain_ok": True, "toolchain_problems": [], "toolchain_errors": []}
    ]
    assert plugins["command"]["error"] is None
    assert plugins["command"]["platforms"] == [
        {"name": "command", "toolchain_ok": True, "toolchain_problems": [], "toolchain_errors": []}
    ]

    text = buildsys_project.run("plugins", env=env)
    assert text.exit_code == 0, text.stderr
    lines = text.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith(f"{bad} "))
    assert f"(buildsys-plugin-{bad})" in lines[header]
    assert lines[header + 1].strip().startswith("ERROR: ")

    # A build of its platform fails with that error; acme's build still runs.
    buildsys_project.write(ACME_BUILD + BUILTIN_BUILD + f'\n[builds.{bad}]\nplatform = "{bad}"\n')
    outcome = buildsys_project.build(env=env)
    assert outcome.exit_code == 1, outcome.stdout + outcome.stderr
    assert outcome.status("app") == "succeeded"
    assert "acme says hi from acme" in buildsys_project.log("app")
    assert outcome.status("tool") == "succeeded"
    assert "built-in command ran" in buildsys_project.log("tool")
    failed = outcome.result(bad)
    assert failed["status"] == "failed"
    (build_error,) = failed["errors"]
    assert build_error["code"] == "PLUGIN_LOAD_FAILED"
    assert (
        f"platform {bad!r} comes from plugin {bad!r}, which failed to load"
        in (build_error["message"])
    )
    assert words[0] in build_error["message"]
    assert "must never run" not in outcome.stdout

    # Disabling it makes it go away (and its platform with it).
    disabled = {**env, "BUILDSYS_DISABLE_PLUGINS": f"android,ios,web,{bad}"}
    plugins = _plugins(buildsys_project, disabled)
    assert plugins[bad]["disabled"] is True
    assert plugins["acme"]["error"] is None


def test_all_failing_plugins_at_once_cost_acme_nothing(buildsys_project, sites):
    bad = sorted(set(BROKEN) - {"clash", "hijack"})
    env = _env(sites, "acme", *bad)
    plugins = _plugins(buildsys_project, env)
    assert all(plugins[name]["error"] for name in bad)
    buildsys_project.write(ACME_BUILD + BUILTIN_BUILD)
    outcome = buildsys_project.build(env=env)
    assert outcome.exit_code == 0, outcome.stdout + outcome.stderr
    assert outcome.status("app") == "succeeded"
    assert outcome.status("tool") == "succeeded"


def test_broken_plugin_named_unlike_its_platform_fails_only_its_builds(buildsys_project, sites):
    # `broken` would provide platform `gizmo`; nothing says so, since it never imported.
    env = _env(sites, "acme", "broken")
    buildsys_project.write(ACME_BUILD + '\n[builds.gizmo]\nplatform = "gizmo"\n')
    outcome = buildsys_project.build(env=env)
    assert outcome.exit_code == 1, outcome.stdout + outcome.stderr
    assert outcome.status("app") == "succeeded"
    assert outcome.status("gizmo") == "failed"
