"""The package layout `buildsys/__init__.py` states: stages whose imports point one way.

Every import counts, at module level, inside a function or under TYPE_CHECKING:
a lazy import still ties the lower stage to the higher one.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import buildsys

SRC = Path(buildsys.__file__).resolve().parent
PLUGINS = Path(__file__).resolve().parent.parent / "plugins"

# Lowest first. Modules directly under buildsys/ are the value types and small
# helpers every stage may use; the facade (`__init__`, `__main__`, `testing`) may
# import anything and nothing imports it.
STAGES = ["", "host", "plugin", "config", "cache", "report", "engine", "cli"]
SIBLINGS = {frozenset({"cache", "report"})}
FACADE = {"buildsys", "buildsys.__main__", "buildsys.testing"}
MAX_MODULE_LINES = 550  # "about 500"
MAX_CLASS_LINES = 330  # "about 300"


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(SRC.rglob("*.py")):
        parts = ["buildsys", *path.relative_to(SRC).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _stage(module: str) -> str | None:
    """The stage `module` belongs to: "" for the top level, None for the facade."""
    if module in FACADE:
        return None
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in STAGES[1:] else ""


def _shown(path: Path) -> str:
    return str(path.relative_to(SRC.parent)) if path.is_relative_to(SRC.parent) else path.name


def _imports(module: str, path: Path) -> Iterator[tuple[int, str]]:
    """(line, module) for every buildsys module `module` imports, wherever the import is."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "buildsys":
                    yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            if target.split(".")[0] != "buildsys":
                continue
            named = [f"{target}.{alias.name}" for alias in node.names]
            submodules = [name for name in named if name in MODULES]
            yield from ((node.lineno, name) for name in submodules)
            if len(submodules) < len(named) and target in MODULES:
                yield node.lineno, target


def _graph() -> dict[str, set[str]]:
    return {
        module: {target for _, target in _imports(module, path) if target != module}
        for module, path in MODULES.items()
    }


def test_every_stage_is_a_package_with_a_docstring_that_imports_nothing():
    for stage in STAGES[1:]:
        init = SRC / stage / "__init__.py"
        assert init.is_file(), f"buildsys/{stage}/ is not a package"
        tree = ast.parse(init.read_text(encoding="utf-8"))
        assert ast.get_docstring(tree), f"buildsys/{stage}/__init__.py has no docstring"
        imports = [
            node
            for node in ast.walk(tree)
            if isinstance(node, ast.Import | ast.ImportFrom) and node.module != "__future__"
        ]
        assert not imports, f"buildsys/{stage}/__init__.py imports at line {imports[0].lineno}"


def test_the_stage_order_is_stated_in_the_package_docstring():
    doc = buildsys.__doc__ or ""
    assert "cli -> engine -> (cache, report) -> config -> plugin -> host" in doc


def test_imports_point_from_higher_stages_to_lower_ones():
    wrong = []
    for module, path in MODULES.items():
        here = _stage(module)
        if here is None:
            continue
        for line, target in _imports(module, path):
            there = _stage(target)
            where = f"{_shown(path)}:{line} imports {target}"
            if there is None:
                wrong.append(f"{where} (the facade: import the defining module instead)")
            elif there != here and (
                STAGES.index(there) > STAGES.index(here) or frozenset({here, there}) in SIBLINGS
            ):
                wrong.append(f"{where} ({here or 'top level'} may not import {there})")
    assert not wrong, "\n".join(wrong)


def test_no_module_imports_itself_through_a_cycle():
    graph = _graph()
    # Tarjan's strongly connected components, iteratively: any component of more
    # than one module is a cycle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    cycles: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        cycles.append(sorted(component))
            elif child not in graph:
                continue
            elif child not in index:
                index[child] = low[child] = counter
                counter += 1
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph[child]))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_modules_and_classes_stay_small():
    big = []
    for module, path in MODULES.items():
        text = path.read_text(encoding="utf-8")
        lines = text.count("\n")
        if lines > MAX_MODULE_LINES:
            big.append(f"{module}: {lines} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef):
                size = (node.end_lineno or node.lineno) - node.lineno + 1
                if size > MAX_CLASS_LINES:
                    big.append(f"{module}.{node.name}: {size} lines")
    assert not big, "\n".join(big)


def _plugin_sources() -> list[Path]:
    return sorted(PLUGINS.glob("buildsys-plugin-*/src/**/*.py"))


@pytest.mark.skipif(not PLUGINS.is_dir(), reason="runs from a source checkout")
def test_the_platform_plugins_use_only_the_public_api():
    assert _plugin_sources(), "no plugin sources found"
    wrong = []
    for path in _plugin_sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            where = f"{path.relative_to(PLUGINS)}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Import):
                wrong += [
                    f"{where} imports {a.name}"
                    for a in node.names
                    if a.name.startswith("buildsys.") and a.name != "buildsys.testing"
                ]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                if (node.module or "").startswith("buildsys."):
                    wrong.append(f"{where} imports from {node.module}")
                elif node.module == "buildsys":
                    wrong += [
                        f"{where} imports buildsys.{a.name}, not in buildsys.__all__"
                        for a in node.names
                        if a.name not in buildsys.__all__
                    ]
    assert not wrong, "\n".join(wrong)


def test_the_checks_above_see_a_wrong_import(tmp_path, monkeypatch):
    """The checker itself: a host module importing the engine is caught."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from ..engine import runner\n", encoding="utf-8")
    monkeypatch.setitem(MODULES, "buildsys.host.bad", bad)
    with pytest.raises(AssertionError, match=r"bad.py:2 imports buildsys.engine.runner"):
        test_imports_point_from_higher_stages_to_lower_ones()


def test_no_package_shadows_a_public_name():
    """A subpackage named like a public function (`run`) would replace it on
    `buildsys` as soon as anything imported the subpackage."""
    import importlib

    for module in MODULES:
        importlib.import_module(module)
    for name in buildsys.__all__:
        if name != "__version__":
            value = getattr(buildsys, name)
            assert not isinstance(value, type(buildsys)), f"buildsys.{name} is a module"
    assert callable(buildsys.run)
