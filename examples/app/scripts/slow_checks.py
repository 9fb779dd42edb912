"""A slow step: checks that take a while, printing progress."""

import sys
import time

seconds = float(sys.argv[1])
steps = 4
for i in range(steps):
    time.sleep(seconds / steps)
    print(f"check {i + 1}/{steps} passed", flush=True)
