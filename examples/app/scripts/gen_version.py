"""Write a version file (the 'shared' build)."""

import sys
from pathlib import Path

out = Path(sys.argv[1])
out.parent.mkdir(parents=True, exist_ok=True)
out.write_text("1.0.0\n")
print(f"wrote {out}")
