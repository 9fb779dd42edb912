"""`--report-json PATH`: the run as JSON, written when the run ends, however it ends."""

from __future__ import annotations

from pathlib import Path

from .._files import write_atomic
from ..hooks import hookimpl
from ..masking import Masker
from ..results import ExecutionResult
from .serialize import dumps_report, execution_to_dict

__all__ = ["JsonReporter"]


class JsonReporter:
    def __init__(self, path: Path, masker: Masker, errors: list[str]) -> None:
        self.path = path
        self.masker = masker
        self.errors = errors

    @hookimpl
    def buildsys_run_finished(self, result: ExecutionResult) -> None:
        data = execution_to_dict(result, self.masker)
        try:
            write_atomic(self.path, dumps_report(data))
        except OSError as exc:
            self.errors.append(f"could not write the JSON report to {self.path}: {exc}")
