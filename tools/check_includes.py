#!/usr/bin/env python3
"""Fails when a component includes a header of a component it may not use.

The allowed edges mirror the component table in docs/design.md: dependencies point
one way, and only cli (and the test helpers) may use everything.
"""
import pathlib
import re
import sys

ALLOWED = {
    "util": set(),
    "image": {"util"},
    "flatten": {"image", "util"},
    "chunk": {"util"},
    "manifest": {"chunk", "keys", "util"},
    "keyd": {"keys", "util"},
    "keys": {"util"},
    "store": {"util"},
    "catalog": {"manifest", "keys", "store", "chunk", "util"},
    "cache": {"store", "util"},
    "fuse": {"util"},
    "agent": {"cache", "catalog", "manifest", "keys", "chunk", "store", "fuse", "util"},
    "push": {"flatten", "image", "chunk", "manifest", "keys", "catalog", "store", "util"},
    "sandbox": {"util"},
    "vm": {"sandbox", "util"},
    "gc": {"catalog", "store", "manifest", "chunk", "keys", "util"},
    "functions": {"catalog", "agent", "sandbox", "vm", "keys", "store", "manifest", "chunk", "util"},
    "snapshotter": {"catalog", "agent", "sandbox", "keys", "store", "manifest", "chunk", "util"},
    "sim": {"cache", "util"},
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([a-z_]+)/')


def main(src: pathlib.Path) -> int:
    bad = []
    for path in sorted(src.rglob("*")):
        if path.suffix not in (".h", ".cc"):
            continue
        component = path.relative_to(src).parts[0]
        if component not in ALLOWED:  # cli and testing may use anything
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            match = INCLUDE.match(line)
            if not match:
                continue
            used = match.group(1)
            if used == "testing" and path.stem.endswith("_test"):
                continue  # tests may use the shared test helpers
            if used != component and used not in ALLOWED[component]:
                bad.append(f"{path}:{number}: {component} may not include {used}/")
    for line in bad:
        print(line)
    print(f"{0 if bad else 1} passed, {1 if bad else 0} failed: include directions")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "src")))
