"""`--junit-xml PATH`: one <testcase> per build, in the JUnit XML CI test reporters read."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from ..masking import Masker
from ..results import ExecutionResult, Status
from .file import FileReporter
from .tail import read_tail

__all__ = ["JUnitReporter", "to_junit", "xml_text"]

_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
# Characters XML 1.0 forbids even escaped (control characters but tab, CR, LF).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str) -> str:
    """Text safe in XML 1.0: colour codes removed, other control characters shown as '?'."""
    return _NOT_XML.sub("?", _ANSI.sub("", text))


def to_junit(result: ExecutionResult, masker: Masker) -> str:
    suite = ET.Element(
        "testsuite",
        name="buildsys",
        tests=str(len(result.results)),
        failures=str(result.failure_count),
        errors="0",
        skipped=str(result.skipped_count + result.cancelled_count),
        time=f"{result.total_duration:.3f}",
    )
    for build in result.results:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"buildsys.{build.platform or 'build'}",
            name=build.name,
            time=f"{build.duration:.3f}",
        )
        if build.status in (Status.FAILED, Status.TIMED_OUT):
            first = build.errors[0].message if build.errors else build.status.value
            failure = ET.SubElement(
                case, "failure", message=xml_text(masker.text(first)), type=build.status.value
            )
            lines: list[str] = []
            for error in build.errors:
                lines.append(f"[{error.code}] {error.message}")
                lines.extend(f"  hint: {s}" for s in error.suggestions)
            tail = read_tail(build.log_path)
            if tail:
                lines.append(f"--- last {len(tail)} lines of {build.log_path} ---")
                lines.extend(tail)
            failure.text = xml_text(masker.text("\n".join(lines)))
        elif build.status in (Status.SKIPPED, Status.CANCELLED):
            reason = build.reason or build.status.value
            ET.SubElement(
                case, "skipped", message=xml_text(masker.text(f"{build.status.value}: {reason}"))
            )
        if build.log_path:
            ET.SubElement(case, "system-out").text = f"log: {build.log_path}"
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


class JUnitReporter(FileReporter):
    what = "JUnit report"

    def render(self, result: ExecutionResult) -> str:
        return to_junit(result, self.masker)
