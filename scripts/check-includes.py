#!/usr/bin/env python3
"""Checks that a lib/ module includes only its own headers and those of the modules it declares.

    check-includes.py --root LIB_DIR --module NAME --allow "DEP;DEP..." FILE...

A module is a folder under lib/ ("kube", "workbench/app"); a project include names it by path
("workbench/core/app.hpp" belongs to workbench/core). System and library headers (<...>) are not
checked. Prints one line per wrong include and exits 1, so the build stops there.
"""
import argparse
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", required=True)
    parser.add_argument("--module", required=True)
    parser.add_argument("--allow", default="")
    parser.add_argument("files", nargs="*")
    opts = parser.parse_args()
    allowed = {opts.module} | {d for d in opts.allow.split(";") if d}
    bad = 0
    for path in opts.files:
        with open(path, errors="replace") as f:
            text = f.read()
        for m in INCLUDE.finditer(text):
            header = m.group(1)
            module = os.path.dirname(header)
            if not os.path.exists(os.path.join(opts.root, header)):
                continue  # not one of lib/'s headers (a generated or third-party one)
            if module not in allowed:
                line = text.count("\n", 0, m.start()) + 1
                print("%s:%d: %s may not include %s (it depends on: %s); change WB_DEPS_%s in lib/CMakeLists.txt "
                      "if that is meant" % (path, line, opts.module, header, ", ".join(sorted(allowed - {opts.module}))
                                            or "nothing", opts.module), file=sys.stderr)
                bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
