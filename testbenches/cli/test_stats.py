"""The run report's statistics end to end (docs/developing.md#adding-a-statistic):
the measured pipeline depth against its formula for several tree shapes.

Run by CTest with MLSSIM = the built binary and MLSSIM_SOURCE_DIR = the repo root.
"""
import json
import os
import subprocess
import tempfile
import unittest

MLSSIM = os.environ["MLSSIM"]
TRACE = os.path.join(os.environ["MLSSIM_SOURCE_DIR"], "traces", "resnet20-digits")


def report(tmp, *flags):
    path = os.path.join(tmp, "r.json")
    proc = subprocess.run([MLSSIM, "run", TRACE, "--layers", "conv1,layer1.0.conv1", "--quiet", "--no-progress",
                           "--report", path, *map(str, flags)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise AssertionError(proc.stderr)
    with open(path) as f:
        return json.load(f)


class PipelineDepth(unittest.TestCase):
    def test_measured_depth_is_six_plus_the_tree_stages(self):
        # (rows, --tree-stages, stages in use): 0 means one stage per tree level, at least one.
        cases = [(16, 0, 4), (16, 1, 1), (16, 3, 3), (8, 0, 3), (5, 2, 2), (2, 0, 1), (1, 0, 1), (1, 1, 1)]
        with tempfile.TemporaryDirectory() as tmp:
            for rows, stages, in_use in cases:
                with self.subTest(rows=rows, tree_stages=stages):
                    r = report(tmp, "--rows", rows, "--cols", 8, "--tree-stages", stages, "--passes", "fwd,bwd-data")
                    self.assertEqual(r["config"]["tree_stages"], in_use)
                    self.assertEqual(r["config"]["pipeline_depth"], 6 + in_use)
                    for entry in r["layers"]:
                        self.assertEqual(entry["events"]["pipeline_depth"], 6 + in_use, entry["name"])
                        self.assertEqual(entry["pipeline_depth"], 6 + in_use)
                        self.assertEqual(entry["events"]["stall_cycles"], 0)
                    self.assertEqual(r["total"]["events"]["pipeline_depth"], (6 + in_use) * len(r["layers"]))


if __name__ == "__main__":
    unittest.main()
