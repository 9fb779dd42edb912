"""docs/plugins.md against the code: the hook reference, BuildSpec's fields, the promise.

The hook reference is a `### `hook(param, ...)`` heading per hook under
`## Hook reference`. Every hook in `buildsys.hookspecs.__all__` must be there
with its exact parameter names, no other hook may be, and each section must
carry its hookspec docstring's summary and `versionadded`, so the docs cannot
drift from the hookspecs.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import attrs
import pytest

from buildsys import hookspecs
from buildsys.hooks import PROJECT
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


def test_versioning_promise_is_stated():
    text = _squash(_text())
    assert "hooks only grow." in text.lower()
    assert "never removed or renamed" in text
    assert "new parameters are optional to implement" in text
    assert "version is its distribution's version" in text
    assert "joins every cache key" in text
    # The hookspecs make the same promise.
    assert "Hooks only grow" in (hookspecs.__doc__ or "")


def test_buildspec_fields_are_documented():
    table = _section(_text(), "What a build receives: `BuildSpec`")
    rows = set(re.findall(r"^\| `(\w+)` \|", table, re.M))
    fields = {f.name for f in attrs.fields(BuildSpec)}
    assert rows == fields, f"missing: {sorted(fields - rows)}; unknown: {sorted(rows - fields)}"


def test_entry_point_group_is_the_one_buildsys_loads():
    from buildsys.plugins import ENTRY_POINT_GROUP

    assert f"[project.entry-points.{ENTRY_POINT_GROUP}]" in _text()
