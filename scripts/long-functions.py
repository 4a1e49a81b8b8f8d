#!/usr/bin/env python3
"""Lists functions (and member functions) longer than a limit in C++ sources, longest first.

    scripts/long-functions.py [--max N] DIR_OR_FILE...      (default N: 80 lines)

A small scanner, not a compiler: comments, strings and character literals are blanked, then a '{'
opens a function body when, at namespace or class scope, it follows a ')' (possibly with const,
noexcept, override, a trailing return type or a constructor's initializer list). Exits 1 when any
function is over the limit, so it can guard a build.
"""
import argparse
import os
import re
import sys

STRIP = re.compile(r'//[^\n]*|/\*.*?\*/|R"(?P<d>[^(]*)\(.*?\)(?P=d)"|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', re.S)


def blank(text):
    return STRIP.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)


def functions(path):
    text = blank(open(path, errors="replace").read())
    stack = []  # (kind, name, start line)
    out = []
    line = 1
    last = 0  # index after the previous '{', '}' or ';'
    for i, ch in enumerate(text):
        if ch == "\n":
            line += 1
        elif ch == "{":
            head = text[last:i]
            scope = stack[-1][0] if stack else "namespace"
            kind, name = "block", ""
            if re.search(r"\bnamespace\b[\w\s:]*$", head) or re.search(r'\bextern\s*$', head):
                kind = "namespace"
            elif re.search(r"\b(class|struct|union|enum)\b[^()]*$", head):
                kind = "class"
            elif scope in ("namespace", "class"):
                sig = re.sub(r"\s+", " ", head).strip()
                m = re.search(r"([\w:~<>=!+\-*/\[\]]+|operator\s*\S+)\s*\((.*)\)\s*(?:const|noexcept|override|final|mutable|->\s*[\w:<>,\s*&]+|\s)*(?::\s*[\w:]+\s*[({].*)?$", sig)
                if m and not re.search(r"=\s*$", sig) and "(" in sig:
                    kind, name = "function", m.group(1)
            stack.append((kind, name, line))
            last = i + 1
        elif ch == "}":
            if stack:
                kind, name, start = stack.pop()
                if kind == "function":
                    out.append((line - start + 1, start, name))
            last = i + 1
        elif ch == ";":
            last = i + 1
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--max", type=int, default=80)
    parser.add_argument("paths", nargs="+")
    opts = parser.parse_args()
    files = []
    for p in opts.paths:
        if os.path.isdir(p):
            for dp, _, fs in os.walk(p):
                files += [os.path.join(dp, f) for f in fs if f.endswith((".cpp", ".hpp"))]
        else:
            files.append(p)
    long = []
    for f in sorted(files):
        long += [(n, f, start, name) for n, start, name in functions(f) if n > opts.max]
    for n, f, start, name in sorted(long, reverse=True):
        print("%4d  %s:%d  %s" % (n, f, start, name))
    return 1 if long else 0


if __name__ == "__main__":
    sys.exit(main())
