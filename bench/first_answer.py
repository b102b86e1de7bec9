#!/usr/bin/env python3
"""Runs a command with one request line on its stdin; prints seconds to the
first stdout line starting with "answer" and to its exit, and fails if it
fails or never answers: first_answer.py -- COMMAND..."""
import subprocess
import sys
import time

argv = sys.argv[sys.argv.index("--") + 1:]
start = time.monotonic()
p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
p.stdin.write(b"request\n")
p.stdin.close()
answered = None
for line in p.stdout:
    if answered is None and line.startswith(b"answer"):
        answered = time.monotonic() - start
code = p.wait()
if code != 0 or answered is None:
    sys.exit(f"first_answer.py: {argv[0]} exited {code} (answered: {answered is not None})")
print(f"{answered:.3f} {time.monotonic() - start:.3f}")
