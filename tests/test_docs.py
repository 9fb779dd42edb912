"""docs/plugins.md against the code: the hook reference, BuildSpec's fields, the promise.

The hook reference is a `### `hook(param, ...)`` heading per hook under
`## Hook reference`. Every hook in `buildsys.plugin.hookspecs.__all__` must be there
with its exact parameter names, no other hook may be, and each section must
carry its hookspec docstring's summary and `versionadded`, so the docs cannot
drift from the hookspecs. `RELEASED_HOOKS` is the snapshot of released hook
signatures that keeps the promise "hooks only grow".
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import attrs
import pytest

from buildsys.plugin import hookspecs
from buildsys.plugin.marker import PROJECT
from buildsys.spec import BuildSpec

DOC = Path(__file__).resolve().parent.parent / "docs" / "plugins.md"
HEADING = re.compile(r"^### `(?P<name>\w+)\((?P<params>[^)]*)\)`\s*$")


def _text() -> str:
    return DOC.read_text(encoding="utf-8")


def _section(text: str, title: str) -> str:
    """The text under `## title`, up to the next `## ` heading."""
    match = re.search(rf"^## {re.escape(title)}\s*$(?P<body>.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"docs/plugins.md has no '## {title}' section"
    return match.group("body")


def _documented_hooks() -> dict[str, tuple[list[str], str]]:
    """Hook name -> (parameter names, the section's text), from the hook reference."""
    hooks: dict[str, tuple[list[str], str]] = {}
    name: str | None = None
    for line in _section(_text(), "Hook reference").splitlines():
        if line.startswith("### "):
            match = HEADING.match(line)
            assert match, f"a hook heading must read ### `name(param, ...)`, got {line!r}"
            name = match["name"]
            assert name not in hooks, f"{name} is documented twice"
            params = [p.strip() for p in match["params"].split(",") if p.strip()]
            hooks[name] = (params, "")
        elif name is not None:
            params, body = hooks[name]
            hooks[name] = (params, body + line + "\n")
    return hooks


def _squash(text: str) -> str:
    """Whitespace collapsed and reST/Markdown code quotes unified, for comparing prose."""
    return " ".join(text.replace("``", "`").split())


def _summary(docstring: str) -> str:
    """A hookspec docstring's first paragraph."""
    return _squash(inspect.cleandoc(docstring).split("\n\n", 1)[0])


SPECS = {name: getattr(hookspecs, name) for name in hookspecs.__all__}


def test_all_lists_every_hookspec():
    marked = {
        name
        for name, value in vars(hookspecs).items()
        if callable(value) and hasattr(value, f"{PROJECT}_spec")
    }
    assert marked == set(hookspecs.__all__)


def test_no_hook_is_documented_that_does_not_exist():
    extra = set(_documented_hooks()) - set(SPECS)
    assert not extra, f"docs/plugins.md documents hooks that do not exist: {sorted(extra)}"


@pytest.mark.parametrize("name", sorted(SPECS))
def test_hook_is_documented_with_its_parameters(name):
    documented = _documented_hooks()
    assert name in documented, f"{name} is missing from the hook reference in docs/plugins.md"
    params, body = documented[name]
    assert params == list(inspect.signature(SPECS[name]).parameters), (
        f"{name}: the docs give ({', '.join(params)})"
    )
    # Each parameter gets a line of its own: "- `param`: ...".
    for param in params:
        assert re.search(rf"^- `{param}`: \S", body, re.M), f"{name}: `{param}` is not described"


@pytest.mark.parametrize("name", sorted(SPECS))
def test_hook_section_carries_its_docstring(name):
    doc = inspect.getdoc(SPECS[name])
    assert doc, f"hookspec {name} has no docstring"
    _, body = _documented_hooks()[name]
    assert _summary(doc) in _squash(body), f"{name}: the docs do not say {_summary(doc)!r}"
    for param in re.findall(r":param (\w+):", doc):
        assert param in inspect.signature(SPECS[name]).parameters, f"{name}: stray :param {param}:"
    since = re.search(r"\.\. versionadded:: (\S+)", doc)
    assert since, f"hookspec {name} says no versionadded"
    assert f"Since {since[1]}." in body, f"{name}: the docs do not say 'Since {since[1]}.'"


# The released hooks: name -> (the version that added it, its parameters in order).
# Hooks only grow (docs/plugins.md, "Versioning"): an entry here is never removed,
# renamed or shortened. Adding a hook or a parameter to buildsys.plugin.hookspecs means
# adding it here too, in the same change; that is when it becomes released.
RELEASED_HOOKS: dict[str, tuple[str, tuple[str, ...]]] = {
    "buildsys_register_platforms": ("0.1", ("registry",)),
    "buildsys_run_started": ("0.1", ("builds", "max_concurrency")),
    "buildsys_build_started": ("0.1", ("build", "attempt")),
    "buildsys_build_output": ("0.1", ("build", "line")),
    "buildsys_build_finished": ("0.1", ("build", "result")),
    "buildsys_run_finished": ("0.1", ("result",)),
    "buildsys_error_suggestions": ("0.1", ("build", "error", "log_tail")),
}


def _promise() -> str:
    """The versioning promise, as docs/plugins.md words it, for failure messages."""
    body = _squash(_section(_text(), "Versioning")).replace("**", "")
    match = re.search(r"buildsys's promise to plugins: .*?(?=The same holds)", body)
    assert match, "docs/plugins.md, Versioning: the promise to plugins is not stated"
    return match[0].strip()


def _parameters(name: str) -> list[str]:
    return list(inspect.signature(SPECS[name]).parameters)


@pytest.mark.parametrize("name", sorted(RELEASED_HOOKS))
def test_a_released_hook_keeps_its_name_and_parameters(name):
    since, released = RELEASED_HOOKS[name]
    assert name in SPECS, (
        f"{name}, released in {since}, is no longer in buildsys.plugin.hookspecs.__all__. "
        f"{_promise()} Restore it (a new hook may be added beside it)."
    )
    params = _parameters(name)
    gone = [p for p in released if p not in params]
    assert not gone, (
        f"{name}({', '.join(params)}) lost its released parameter(s) {', '.join(gone)}. "
        f"{_promise()} Restore them (new parameters may be added beside them)."
    )
    kept = [p for p in params if p in released]
    assert kept == list(released), (
        f"{name}: the released parameters {', '.join(released)} are now in the order "
        f"{', '.join(kept)}; keep their order (add new ones anywhere)."
    )
    doc = inspect.getdoc(SPECS[name]) or ""
    assert f".. versionadded:: {since}" in doc, f"{name} was released in {since}, not later"
    opts = getattr(SPECS[name], f"{PROJECT}_spec")
    # What a caller gets back (every plugin's result) is part of the hook too.
    assert not opts["firstresult"] and not opts["historic"], f"{name}: {opts}"


def test_every_hook_and_parameter_is_in_the_released_snapshot():
    unlisted = [
        f"{name}({', '.join(_parameters(name))})"
        for name in sorted(SPECS)
        if name not in RELEASED_HOOKS or _parameters(name) != list(RELEASED_HOOKS[name][1])
    ]
    assert not unlisted, (
        "hooks or parameters that tests/test_docs.py's RELEASED_HOOKS does not list: "
        f"{'; '.join(unlisted)}. Adding is allowed: add each new hook to RELEASED_HOOKS "
        "with the version that adds it, and each new parameter to its hook's tuple. "
        "From then on they are released, and can never be removed or renamed."
    )


def test_the_snapshot_catches_a_renamed_parameter_and_a_removed_hook(monkeypatch):
    """The check above fails, naming the hook, when a hookspec changes under it."""

    def buildsys_build_started(build: object, try_number: int) -> None:
        """Renamed `attempt`.

        .. versionadded:: 0.1
        """

    renamed = hookspecs.hookspec(buildsys_build_started)
    monkeypatch.setitem(SPECS, "buildsys_build_started", renamed)
    with pytest.raises(AssertionError, match=r"buildsys_build_started.*lost .*attempt"):
        test_a_released_hook_keeps_its_name_and_parameters("buildsys_build_started")
    with pytest.raises(AssertionError, match=r"RELEASED_HOOKS does not list.*try_number"):
        test_every_hook_and_parameter_is_in_the_released_snapshot()
    monkeypatch.delitem(SPECS, "buildsys_run_finished")
    with pytest.raises(AssertionError, match=r"buildsys_run_finished, released in 0\.1"):
        test_a_released_hook_keeps_its_name_and_parameters("buildsys_run_finished")


def test_buildspec_fields_are_documented():
    table = _section(_text(), "What a build receives: `BuildSpec`")
    rows = set(re.findall(r"^\| `(\w+)` \|", table, re.M))
    fields = {f.name for f in attrs.fields(BuildSpec)}
    assert rows == fields, f"missing: {sorted(fields - rows)}; unknown: {sorted(rows - fields)}"


def test_entry_point_group_is_the_one_buildsys_loads():
    from buildsys.plugin.manager import ENTRY_POINT_GROUP

    assert f"[project.entry-points.{ENTRY_POINT_GROUP}]" in _text()
