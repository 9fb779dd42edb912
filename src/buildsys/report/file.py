"""A reporter that writes one file when the run ends, however it ends."""

from __future__ import annotations

from pathlib import Path

from .._files import write_atomic
from ..masking import Masker
from ..plugin.marker import hookimpl
from ..results import ExecutionResult

__all__ = ["FileReporter"]


class FileReporter:
    """Writes `render(result)` to `path` from `buildsys_run_finished`.

    A report that cannot be written is not a reason to lose the run's result:
    the error goes to `errors`, for the CLI to print and turn into exit 1.
    """

    what = "report"

    def __init__(self, path: Path, masker: Masker, errors: list[str]) -> None:
        self.path = path
        self.masker = masker
        self.errors = errors

    def render(self, result: ExecutionResult) -> str:
        raise NotImplementedError

    @hookimpl
    def buildsys_run_finished(self, result: ExecutionResult) -> None:
        text = self.render(result)
        try:
            write_atomic(self.path, text)
        except OSError as exc:
            self.errors.append(f"could not write the {self.what} to {self.path}: {exc}")
