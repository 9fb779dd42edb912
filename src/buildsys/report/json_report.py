"""`--report-json PATH`: the run as JSON, written when the run ends, however it ends."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from ..hooks import hookimpl
from ..masking import Masker
from ..results import ExecutionResult
from .serialize import execution_to_dict

__all__ = ["JsonReporter", "check_writable", "write_atomic"]


def write_atomic(path: Path, text: str) -> None:
    """Write via a temporary file and a rename, so readers never see half a report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def check_writable(path: Path) -> None:
    """Raise OSError now if a report could not be written to `path` later."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a directory")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    Path(tmp).unlink()


class JsonReporter:
    def __init__(self, path: Path, masker: Masker, errors: list[str]) -> None:
        self.path = path
        self.masker = masker
        self.errors = errors

    @hookimpl
    def buildsys_run_finished(self, result: ExecutionResult) -> None:
        data = execution_to_dict(result, self.masker)
        try:
            write_atomic(self.path, json.dumps(data, indent=2) + "\n")
        except OSError as exc:
            self.errors.append(f"could not write the JSON report to {self.path}: {exc}")
