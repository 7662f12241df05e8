"""The run report's statistics end to end (docs/developing.md#adding-a-statistic):
the hierarchical "stats" object beside the flat "events", "stats_info", and the
measured pipeline depth against its formula for several tree shapes.

Run by CTest with MLSSIM = the built binary and MLSSIM_SOURCE_DIR = the repo root.
"""
import json
import os
import tempfile
import unittest

from clitest import TRACES, mlssim

TRACE = os.path.join(TRACES, "resnet20-digits")


def report(tmp, *flags):
    path = os.path.join(tmp, "r.json")
    mlssim("run", TRACE, "--layers", "conv1,layer1.0.conv1", "--quiet", "--no-progress", "--report", path, *flags)
    with open(path) as f:
        return json.load(f)


BLOCKS = {"mac_array": ["cycles", "pipeline_depth"], "controller": ["stall_cycles"],
          "operand_buffer": ["read_x", "read_y"], "multiplier": ["mul", "mul_zero"],
          "local_accumulator": ["acc_add", "acc_overflow"], "group_scaler": ["scale"], "adder_tree": ["tree_add"],
          "output_accumulator": ["out_acc"], "final_scale": ["final_mul", "write_out"]}


class Report(unittest.TestCase):
    def test_stats_tree_holds_the_flat_events_by_block(self):
        with tempfile.TemporaryDirectory() as tmp:
            r = report(tmp, "--passes", "fwd,bwd-weight")
        for entry in r["layers"] + [r["total"]]:
            with self.subTest(entry.get("name", "total"), p=entry.get("pass")):
                # Every counter stays under its block; a counter added later adds a key.
                for block, counters in BLOCKS.items():
                    for key in counters:
                        self.assertIn(key, entry["stats"][block], f"{block}.{key}")
                self.assertEqual(sum(len(c) for c in entry["stats"].values()), len(entry["events"]) - 1,
                                 "every event but utilization under one block")
                for block, counters in entry["stats"].items():
                    for key, value in counters.items():
                        self.assertEqual(value, entry["events"][key], f"{block}.{key}")
        for block, counters in BLOCKS.items():
            for key in counters:
                info = r["stats_info"][block][key]
                self.assertTrue(info["unit"] and info["description"], f"{block}.{key}")
        for block, counters in r["total"]["stats"].items():
            for key, value in counters.items():
                self.assertEqual(value, sum(e["stats"][block][key] for e in r["layers"]), f"{block}.{key}")


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
