#!/usr/bin/python3
"""The project's size rules (docs/developing.md#size-rules): no library source file
over 450 lines, no function over 60 lines.

    /usr/bin/python3 tools/code_size.py [--root DIR] [--exempt FOLDER ...]

Library sources are the C++ files (.h, .cpp) under ref/, hw_model/, sim/ and python/
and the Python modules under tools/, rtl/, traces/, python/ and bench/ (tests, testbenches and
generated files are not libraries). A C++ function is a brace-matched body
whose header (the text since the last `;`, `{` or `}`) holds a parameter list
and is no namespace, class, control statement or initializer; its length runs
from the line its header starts on to its closing brace, lambdas inside
included. A Python function is a `def` to its last indented line. Comments and
literals are blanked before matching. Prints each offender as
`path:line: ...`; exit 1 when there is one outside the --exempt folders
(those are listed, marked exempt), 0 otherwise.
"""
import argparse
import os
import re
import sys

MAX_FILE_LINES = 450
MAX_FUNCTION_LINES = 60
CPP_FOLDERS = ("ref", "hw_model", "sim", "python")
PY_FOLDERS = ("tools", "rtl", "traces", "python", "bench")
# Headers of braces that open no function body (control statements only occur
# inside functions, whose inner braces are not looked at).
NOT_A_FUNCTION = re.compile(r"^\s*(?:template\s*<[^{]*>\s*)?(?:namespace|class|struct|enum|union|extern)\b")


def blank_cpp(text):
    """The text with comments, preprocessor lines, string and character literals
    replaced by spaces (newlines kept, so line numbers hold)."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        at_line_start = text[text.rfind("\n", 0, i) + 1:i].strip() == ""
        if c == "#" and at_line_start:  # a preprocessor line, with its continuations
            j = i
            while True:
                j = text.find("\n", j)
                if j < 0 or text[j - 1] != "\\":
                    break
                j += 1
            j = n if j < 0 else j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
        elif c == "R" and text.startswith('R"', i) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            delim = text[i + 2:text.find("(", i + 2)]
            j = text.find(")" + delim + '"', i)
            j = n if j < 0 else j + len(delim) + 2
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j += 1
            if c == "'" and i > 0 and text[i - 1].isalnum():  # a digit separator (1'000)
                j = i + 1
        else:
            out.append(c)
            i += 1
            continue
        out.append("".join(ch if ch == "\n" else " " for ch in text[i:j]))
        i = j
    return "".join(out)


def cpp_functions(text):
    """(first line, last line) of every outermost function body in C++ text."""
    code = blank_cpp(text)
    functions, stack, header_start = [], [], 0
    for i, c in enumerate(code):
        if c in ";{}":
            if c == "{":
                header = code[header_start:i]
                in_function = any(kind == "function" for kind, _ in stack)
                is_function = (not in_function and "(" in header and not NOT_A_FUNCTION.search(header.strip())
                               and not re.search(r"[=,(]\s*$", header))
                first = code.count("\n", 0, header_start + len(header) - len(header.lstrip())) + 1
                stack.append(("function" if is_function else "block", first))
            elif c == "}" and stack:
                kind, first = stack.pop()
                if kind == "function":
                    functions.append((first, code.count("\n", 0, i) + 1))
            header_start = i + 1
    return functions


def py_functions(text):
    """(first line, last line) of every def, nested ones included."""
    lines = text.splitlines()
    found = []
    for n, line in enumerate(lines):
        m = re.match(r"(\s*)(?:async\s+)?def\s", line)
        if not m:
            continue
        indent, last = len(m.group(1)), n
        for k in range(n + 1, len(lines)):
            body = lines[k]
            if body.strip() and len(body) - len(body.lstrip()) <= indent:
                break
            if body.strip():
                last = k
        found.append((n + 1, last + 1))
    return found


def library_sources(root):
    for folder, exts in [(f, (".h", ".cpp")) for f in CPP_FOLDERS] + [(f, (".py",)) for f in PY_FOLDERS]:
        for dirpath, dirnames, files in os.walk(os.path.join(root, folder)):
            dirnames[:] = sorted(d for d in dirnames if d not in ("__pycache__", "build"))
            for name in sorted(files):
                if name.endswith(exts) and not re.match(r"(test_|tb_)", name) and not name.endswith("_test.cpp"):
                    yield os.path.relpath(os.path.join(dirpath, name), root)


def offenders(root):
    """(path, line, message) of every file or function over its limit."""
    found = []
    for path in library_sources(root):
        with open(os.path.join(root, path), encoding="utf-8", errors="replace") as f:
            text = f.read()
        count = text.count("\n") + (0 if text.endswith("\n") or not text else 1)
        if count > MAX_FILE_LINES:
            found.append((path, 1, f"{count} lines (at most {MAX_FILE_LINES})"))
        spans = py_functions(text) if path.endswith(".py") else cpp_functions(text)
        for first, last in spans:
            if last - first + 1 > MAX_FUNCTION_LINES:
                found.append((path, first, f"a function of {last - first + 1} lines (at most {MAX_FUNCTION_LINES})"))
    return found


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap.add_argument("--exempt", nargs="*", default=[], help="folders whose offenders are listed but do not fail")
    args = ap.parse_args(argv)
    failing = 0
    for path, line, what in offenders(args.root):
        exempt = any(path.startswith(e.rstrip("/") + "/") for e in args.exempt)
        failing += not exempt
        print(f"{path}:{line}: {what}{' (exempt)' if exempt else ''}")
    print(f"code_size: {failing} offender(s) outside {', '.join(args.exempt) or 'no exempt folder'}")
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
