#!/usr/bin/python3
"""The size rules on the whole tree (tools/code_size.py: no library source over
450 lines, no function over 60), and the checker itself on made-up sources
whose function lengths are known by construction."""
import os
import sys
import tempfile
import unittest

ROOT = os.environ.get("MLSSIM_SOURCE_DIR") or os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import code_size  # noqa: E402


def cpp_function(name, lines):
    """A C++ function of exactly `lines` lines (signature to closing brace), with
    braces in a comment, a string and a lambda inside to mislead a naive count."""
    body = ["  int x = 0;  // a { in a comment", '  const char* s = "}{";', "  auto f = [&](int y) { return y + x; };"]
    body += ["  x += f(%d);" % i for i in range(lines - 2 - len(body))]
    return ["int %s(int a) {" % name] + body + ["}"]


class Checker(unittest.TestCase):
    def spans(self, text):
        return [(last - first + 1) for first, last in code_size.cpp_functions(text)]

    def test_function_lengths_by_construction(self):
        text = "\n".join(["#include <x.h>", "#if defined(X)", "#endif", "namespace n {", ""]
                         + cpp_function("a", 60) + [""] + cpp_function("b", 61)
                         + ["struct S {", "  S(int v) : v_(v) {}", "  int get() const {", "    return v_;", "  }",
                            "  int v_;", "};", "const int kTable[] = {1, 2, 3};", "}  // namespace n", ""])
        self.assertEqual(self.spans(text), [60, 61, 1, 3])

    def test_python_functions(self):
        text = "\n".join(["def f():"] + ["    x = %d" % i for i in range(60)] + ["", "", "def g():", "    pass", ""])
        self.assertEqual([last - first + 1 for first, last in code_size.py_functions(text)], [61, 2])

    def test_offenders_in_a_made_up_tree(self):
        with tempfile.TemporaryDirectory() as root:
            os.makedirs(os.path.join(root, "sim", "x"))
            with open(os.path.join(root, "sim", "x", "long.cpp"), "w") as f:
                f.write("\n".join(cpp_function("a", 61) + ["// filler"] * 400) + "\n")
            with open(os.path.join(root, "sim", "x", "ok.h"), "w") as f:
                f.write("\n".join(cpp_function("b", 60) + ["// filler"] * 389) + "\n")  # 450 lines
            found = sorted((path, line) for path, line, _ in code_size.offenders(root))
            self.assertEqual(found, [("sim/x/long.cpp", 1), ("sim/x/long.cpp", 1)])  # the file and its function
            self.assertEqual(code_size.main(["--root", root, "--exempt", "sim/x"]), 0)
            self.assertEqual(code_size.main(["--root", root]), 1)


class Tree(unittest.TestCase):
    def test_no_library_source_over_its_limits(self):
        found = code_size.offenders(ROOT)
        self.assertEqual(found, [], "\n".join(f"{p}:{line}: {what}" for p, line, what in found))


if __name__ == "__main__":
    unittest.main()
