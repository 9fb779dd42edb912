"""'Compile' every file of a source directory into an output directory."""

import os
import sys
from pathlib import Path

src, dst = Path(sys.argv[1]), Path(sys.argv[2])
version_file = Path("build/shared/version.txt")
version = version_file.read_text().strip() if version_file.exists() else "dev"
mode = os.environ.get("APP_MODE", "development")
for path in sorted(src.rglob("*")):
    if path.is_file():
        target = dst / path.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(f"// version {version} ({mode})\n{path.read_text()}")
        print(f"compiled {path} -> {target}")
