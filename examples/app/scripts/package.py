"""Zip the given directories into one archive."""

import sys
import zipfile
from pathlib import Path

out = Path(sys.argv[1])
out.parent.mkdir(parents=True, exist_ok=True)
with zipfile.ZipFile(out, "w") as archive:
    for directory in map(Path, sys.argv[2:]):
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                archive.write(path)
print(f"wrote {out}")
