#!/usr/bin/env python3
"""Runs a command; prints seconds to its first byte of stdout and to its
exit, and fails if it fails: first_output.py -- COMMAND..."""
import subprocess
import sys
import time

argv = sys.argv[sys.argv.index("--") + 1:]
start = time.monotonic()
p = subprocess.Popen(argv, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
first = p.stdout.read(1)
first_at = time.monotonic() - start
p.stdout.read()
code = p.wait()
if code != 0 or not first:
    sys.exit(f"first_output.py: {argv[0]} exited {code}")
print(f"{first_at:.3f} {time.monotonic() - start:.3f}")
