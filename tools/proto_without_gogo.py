#!/usr/bin/env python3
"""Copies a containerd .proto file without its gogoproto annotations.

containerd's API files import gogo.proto weakly for Go code generation
options; protoc's C++ generator refuses weak imports. The options change
nothing on the wire, so the build drops them: the import line, `option
(gogoproto.X) = Y;` statements and `[(gogoproto.X) = Y, ...]` field options.
Fails if any gogoproto reference is left, so a new construct is not
silently mistranslated.

usage: proto_without_gogo.py IN OUT
"""
import re
import sys


def strip(text: str) -> str:
    text = re.sub(r'^import weak "gogoproto/gogo\.proto";\n', "", text, flags=re.M)
    text = re.sub(r"^\s*option \(gogoproto\.[^;]*;\n", "", text, flags=re.M)
    text = re.sub(r"\s*\[\s*\(gogoproto\.[^\]]*\]", "", text)
    return text


def main() -> int:
    source, target = sys.argv[1], sys.argv[2]
    with open(source, encoding="utf-8") as f:
        text = strip(f.read())
    if "gogoproto" in text:
        sys.stderr.write(f"{source}: a gogoproto construct this script does not know\n")
        return 1
    with open(target, "w", encoding="utf-8") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
