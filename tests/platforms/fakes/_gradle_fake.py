# FAKE for tests: the body of the fake `gradle` and `gradlew` in this directory; not a tool itself.
"""Check the command line as Gradle would (`_gradle_cli`), then replay a transcript.

`--version` replays FAKE_GRADLE_VERSION_TRANSCRIPT (default gradle-version.txt,
Gradle 8.1.1). Anything else replays FAKE_TRANSCRIPT (default gradle-success.txt)
and, when that exits 0, writes what the Android Gradle plugin would for each
assemble/bundle task: the APK or AAB in its outputs directory, plus files that
are never artifacts (output-metadata.json, an intermediate APK).
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from _gradle_cli import Invocation, parse, task_name
from _replay import record, refuse, replay, touch

_OUTPUT_TASK = re.compile(r"(assemble|bundle)((?:[A-Z][a-z0-9]*)*?)([A-Z][a-z0-9]*)")


def outputs(task: str) -> None:
    """assemble<Flavor><BuildType> / bundle<Flavor><BuildType>, as AGP lays out its outputs.

    The build type is the task's last capitalised word (Debug, Release), the flavor the rest.
    """
    found = _OUTPUT_TASK.fullmatch(task)
    if not found:
        return
    verb, flavor_cap, type_cap = found.groups()
    flavor = flavor_cap[:1].lower() + flavor_cap[1:]
    build_type = type_cap.lower()
    base = "-".join(["app", *([flavor] if flavor else []), build_type])
    out = Path("app/build/outputs")
    if verb == "assemble":
        folder = out / "apk" / flavor / build_type if flavor else out / "apk" / build_type
        touch(folder / f"{base}.apk")
        touch(folder / "output-metadata.json", "{}\n")
    else:
        touch(out / "bundle" / (flavor + type_cap if flavor else build_type) / f"{base}.aab")
    touch(Path("app/build/intermediates/apk") / build_type / f"{base}.apk")  # never an artifact


def main() -> int:
    launcher = Path(sys.argv[0]).name
    argv = sys.argv[1:]
    record(launcher, argv)
    parsed = parse(argv, launcher, Path.cwd().name)
    if not isinstance(parsed, Invocation):
        return refuse(parsed.message, parsed.status)
    if parsed.version:
        return replay(os.environ.get("FAKE_GRADLE_VERSION_TRANSCRIPT", "gradle-version.txt"))
    code = replay(os.environ.get("FAKE_TRANSCRIPT", "gradle-success.txt"))
    if code == 0:
        for task in parsed.tasks:
            outputs(task_name(task))
    return code
