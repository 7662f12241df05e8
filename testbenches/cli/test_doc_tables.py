"""docs/reference.md's tables of the report's statistics against the binary's
registries (tools/doc_tables.py over `mlssim describe --json`): the committed
doc must be what the registry generates, and the check must catch a doc that
drifted (a description edited by hand, a counter left out)."""
import json
import os
import subprocess
import tempfile
import unittest

from clitest import MLSSIM, ROOT, mlssim

TOOL = os.path.join(ROOT, "tools", "doc_tables.py")
DOC = os.path.join(ROOT, "docs", "reference.md")


def check(doc):
    return subprocess.run(["/usr/bin/python3", TOOL, "--doc", doc, "--mlssim", MLSSIM], capture_output=True,
                          text=True)


class DocTables(unittest.TestCase):
    def test_the_committed_doc_is_what_the_registry_generates(self):
        r = check(DOC)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_every_counter_of_a_report_is_in_the_doc(self):
        # Independent of the generator: the keys a real report's stats_info has.
        with tempfile.TemporaryDirectory() as tmp:
            report = os.path.join(tmp, "r.json")
            mlssim("run", os.path.join(ROOT, "traces", "resnet20-digits"), "--layers", "conv1", "--passes", "fwd",
                   "--quiet", "--no-progress", "--report", report)
            with open(report) as f:
                info = json.load(f)["stats_info"]
        with open(DOC) as f:
            text = f.read()
        for block, counters in info.items():
            for key, meaning in counters.items():
                self.assertIn(f"| `{key}` | `{block}` | {meaning['unit']} | {meaning['description']} |", text)

    def test_a_drifted_doc_is_refused(self):
        with open(DOC) as f:
            text = f.read()
        drifts = [text.replace("local-accumulator additions, one per product", "local additions", 1),
                  "\n".join(line for line in text.split("\n") if not line.startswith("| `mul_zero` |"))]
        with tempfile.TemporaryDirectory() as tmp:
            for n, drifted in enumerate(drifts):
                self.assertNotEqual(drifted, text)
                doc = os.path.join(tmp, f"d{n}.md")
                with open(doc, "w") as f:
                    f.write(drifted)
                r = check(doc)
                self.assertEqual(r.returncode, 1, r.stdout)
                self.assertIn("the 'events' table differs from the registry", r.stderr)
            # --write repairs it to the committed text.
            subprocess.run(["/usr/bin/python3", TOOL, "--doc", doc, "--mlssim", MLSSIM, "--write"], check=True,
                           capture_output=True)
            with open(doc) as f:
                self.assertEqual(f.read(), text)


if __name__ == "__main__":
    unittest.main()
