"""The replay journal takes one frozen value from the engine and never reads the engine.

Recording (`journal.py`) and replaying (`replay.py`, `lognotes.py`) import
nothing of the engine's run (the runner, planning, the per-build step, the
scheduler, options) nor the plugin manager, wherever the import is written
(lazily, under TYPE_CHECKING): what they know of a run is a `RunRecord`.
"""

from __future__ import annotations

import ast
from pathlib import Path

import attrs
import pytest

from buildsys.engine.record import RunRecord

ENGINE = Path(__file__).resolve().parents[2] / "src" / "buildsys" / "engine"
# What the journal's side may import of the engine package.
ALLOWED = {"lock", "lognotes", "record", "replay"}


def _relative_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level:
            found.add("." * node.level + (node.module or ""))
    return found


def test_recording_and_replaying_import_nothing_of_the_run_or_the_plugin_manager() -> None:
    for name in ("journal.py", "replay.py", "lognotes.py"):
        imports = _relative_imports(ENGINE / name)
        engine = {i[1:] for i in imports if i.startswith(".") and not i.startswith("..")}
        assert engine <= ALLOWED, name
        assert not {i for i in imports if i.startswith("..plugin") and i != "..plugin._entrypoints"}


def test_the_run_record_is_frozen() -> None:
    record = RunRecord(**{field.name: None for field in attrs.fields(RunRecord)})
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        record.key = b"other"  # type: ignore[misc]
