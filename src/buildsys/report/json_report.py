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

__all__ = ["JsonReporter", "write_atomic"]


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


class JsonReporter:
    def __init__(self, path: Path, masker: Masker) -> None:
        self.path = path
        self.masker = masker

    @hookimpl
    def buildsys_run_finished(self, result: ExecutionResult) -> None:
        data = execution_to_dict(result, self.masker)
        write_atomic(self.path, json.dumps(data, indent=2) + "\n")
