"""Results as JSON-ready data: enums as their values, times as ISO 8601, secrets masked.

attrs and the result classes are imported only by the functions that need
them: `replay` writes reports with `report_data` and `dumps_report` alone,
as the JSON reporter does.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..masking import Masker
    from ..results import BuildResult, ExecutionResult

__all__ = [
    "REPORT_VERSION",
    "dumps_report",
    "execution_to_dict",
    "report_data",
    "result_to_dict",
]

REPORT_VERSION = 1


def _value(masker: Masker) -> Any:
    def convert(_: Any, __: Any, value: Any) -> Any:
        if isinstance(value, enum.Enum):
            return value.value
        if isinstance(value, datetime):
            return value.isoformat()
        if isinstance(value, str):
            return masker.text(value)
        if isinstance(value, tuple):
            return list(value)
        return value

    return convert


def result_to_dict(result: BuildResult, masker: Masker) -> dict[str, Any]:
    import attrs

    data = attrs.asdict(result, value_serializer=_value(masker))
    for error in data["errors"]:
        error["context"] = {
            k: masker.text(v) if isinstance(v, str) else v
            for k, v in dict(error["context"]).items()
        }
    return data


def execution_to_dict(result: ExecutionResult, masker: Masker) -> dict[str, Any]:
    return report_data(
        ok=result.ok,
        all_completed=result.all_completed,
        interrupted=result.interrupted,
        total_duration=result.total_duration,
        succeeded=result.success_count,
        failed=result.failure_count,
        skipped=result.skipped_count,
        cancelled=result.cancelled_count,
        cached=result.cached_count,
        results=[result_to_dict(r, masker) for r in result.results],
    )


def report_data(
    *,
    ok: bool,
    all_completed: bool,
    interrupted: bool,
    total_duration: float,
    succeeded: int = 0,
    failed: int = 0,
    skipped: int = 0,
    cancelled: int = 0,
    cached: int = 0,
    results: Sequence[Mapping[str, Any] | str],
) -> dict[str, Any]:
    """The report's fields, in order, from plain values; each of `results` is a
    build's entry as a dict or as its JSON text (see `dumps_report`)."""
    return {
        "version": REPORT_VERSION,
        "ok": ok,
        "all_completed": all_completed,
        "interrupted": interrupted,
        "total_duration": total_duration,
        "success_count": succeeded,
        "failure_count": failed,
        "skipped_count": skipped,
        "cancelled_count": cancelled,
        "cached_count": cached,
        "results": list(results),
    }


def dumps_report(data: Mapping[str, Any]) -> str:
    """The report's text: one field per line, and each build's result on one line
    (given as a dict, or as its JSON text).

    One line per build keeps a report greppable, and it is what lets the C
    encoder do the work: ``json.dumps(indent=...)`` falls back to pure
    Python, which costs tens of milliseconds on a thousand builds.
    """
    lines = []
    for key, value in data.items():
        if key == "results":
            # An entry may come already encoded (replay keeps them as text).
            results = ",\n".join(f"    {r if isinstance(r, str) else json.dumps(r)}" for r in value)
            lines.append(f'  "results": [\n{results}\n  ]' if results else '  "results": []')
        else:
            lines.append(f"  {json.dumps(key)}: {json.dumps(value)}")
    return "{\n" + ",\n".join(lines) + "\n}\n"
