"""`--report-json PATH`: the run as JSON, written when the run ends, however it ends."""

from __future__ import annotations

from ..results import ExecutionResult
from .file import FileReporter
from .serialize import dumps_report, execution_to_dict

__all__ = ["JsonReporter"]


class JsonReporter(FileReporter):
    what = "JSON report"

    def render(self, result: ExecutionResult) -> str:
        return dumps_report(execution_to_dict(result, self.masker))
