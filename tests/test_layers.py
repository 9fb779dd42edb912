"""The stages of src/buildsys import one way, and no two modules import each other.

cli -> engine -> (cache, report) -> config -> plugin -> host -> top-level
values: a module never imports one of a higher stage, not even lazily inside
a function or under TYPE_CHECKING, and cache and report never import each
other. Every import counts for cycles too, wherever it is written. The
`buildsys` facade (`_version_text`, `__version__`) sits above everything and
is left out.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src" / "buildsys"
RANK = {"cli": 6, "engine": 5, "cache": 4, "report": 4, "config": 3, "plugin": 2, "host": 1}


def _modules() -> dict[str, Path]:
    found = {}
    for path in SRC.rglob("*.py"):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        if parts and parts != ["__main__"]:
            found[".".join(parts)] = path
    return found


def _imports(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the modules it imports (relative imports, wherever they are written)."""
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom) or not node.level:
                continue
            base = package.split(".") if package else []
            if node.level > 1:
                base = base[: len(base) - (node.level - 1)]
            target = ".".join([*base, *([node.module] if node.module else [])])
            for alias in node.names:
                sub = f"{target}.{alias.name}" if target else alias.name
                targets.add(sub if sub in modules else target)
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def _stage(module: str) -> str:
    first = module.split(".", maxsplit=1)[0]
    return first if first in RANK else ""


def test_no_module_imports_a_higher_stage_or_its_sibling() -> None:
    graph = _imports(_modules())
    wrong = [
        f"{module} imports {target}"
        for module, targets in sorted(graph.items())
        for target in sorted(targets)
        if RANK.get(_stage(target), 0) > RANK.get(_stage(module), 0)
        or {_stage(module), _stage(target)} == {"cache", "report"}
    ]
    assert wrong == []


def test_no_two_modules_import_each_other_even_lazily() -> None:
    graph = _imports(_modules())
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the path being walked, 2: done

    def walk(module: str, path: list[str]) -> None:
        state[module] = 1
        path.append(module)
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                walk(target, path)
        path.pop()
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            walk(module, [])
    assert cycles == []
