#!/usr/bin/env python3
"""Lists functions in src/ longer than a limit (default 120 lines), longest first: the #15 acceptance check.

A function is a line that ends with '{' at namespace depth (not a class, struct, enum, namespace or
lambda-initialised variable), up to its matching '}'. Braces inside strings, characters and comments
are skipped. Usage: scripts/long_functions.py [LIMIT] [FOLDER]"""
import os
import re
import sys

SKIP = re.compile(r"^\s*(namespace|class|struct|enum|union|extern|template\s*<[^>]*>\s*(class|struct))\b")


def code_only(text):
    """The text with strings, characters and comments blanked (newlines kept)."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("\n" * text.count("\n", i, j))
            i = j
        elif text.startswith('R"', i):
            m = re.match(r'R"([^(]*)\(', text[i:])
            end = text.find(")" + m.group(1) + '"', i) if m else -1
            j = n if end < 0 else end + len(m.group(1)) + 2
            out.append("\n" * text.count("\n", i, j))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def functions(path):
    """(length, path, first line, signature line) of each function defined at namespace or class level."""
    lines = code_only(open(path, encoding="utf-8", errors="replace").read()).split("\n")
    scopes = []  # one per open brace: "outer" (namespace, class, ...), "function", or "inner"
    found, start = [], None
    for no, line in enumerate(lines, 1):
        for ch in line:
            if ch == "{":
                at_outer_level = all(kind == "outer" for kind in scopes)
                if at_outer_level and SKIP.match(line):
                    scopes.append("outer")
                elif at_outer_level and ")" in line + (lines[no - 2] if no > 1 else ""):
                    scopes.append("function")
                    start = (no, line.strip())
                else:
                    scopes.append("inner" if not at_outer_level else "outer")
            elif ch == "}" and scopes:
                if scopes.pop() == "function":
                    found.append((no - start[0] + 1, path, start[0], start[1]))
    return found


def main():
    limit = int(sys.argv[1]) if len(sys.argv) > 1 else 120
    root = sys.argv[2] if len(sys.argv) > 2 else "src"
    rows = []
    for folder, _, files in os.walk(root):
        for f in files:
            if f.endswith((".cpp", ".hpp", ".h", ".c")):
                rows += functions(os.path.join(folder, f))
    long_ones = sorted((r for r in rows if r[0] > limit), reverse=True)
    for length, path, line, name in long_ones:
        print(f"{length:5d}  {path}:{line}  {name[:90]}")
    print(f"{len(long_ones)} functions over {limit} lines ({len(rows)} read)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
