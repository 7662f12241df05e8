"""mlssim run end to end: the report's keys, --outputs against `mlssim conv`
(the golden model through its own command), --vcd, --tech, and the summary."""
import json
import os
import tempfile
import unittest

import numpy as np

from clitest import mlssim, write_trace

EVENT_KEYS = ["cycles", "pipeline_depth", "stall_cycles", "mul", "mul_zero", "acc_add", "acc_overflow",
              "scale", "tree_add", "out_acc", "final_mul", "read_x", "read_y", "write_out", "utilization"]
ENERGY_KEYS = ["tech", "unit", "mls", "fp32", "fp8", "fp32_over_mls", "fp8_over_mls", "by_block"]


def make_trace(root):
    """Two layers: 3x3 stride 1 pad 1, and 3x3 stride 2 pad 1 (zero insertion in bwd-data)."""
    rng = np.random.default_rng(7)
    layers = []
    for name, co, ci, h, stride in (("a", 6, 5, 6, 1), ("b", 9, 6, 7, 2)):
        ho = (h + 2 - 3) // stride + 1
        tensors = {"weight": rng.standard_normal((co, ci, 3, 3)),
                   "input": np.abs(rng.standard_normal((2, ci, h, h))),
                   "grad_output": rng.standard_normal((2, co, ho, ho)) * 1e-3}
        entry = {"name": name, "kind": "conv2d", "stride": [stride, stride], "padding": [1, 1],
                 "dilation": [1, 1], "groups": 1}
        layers.append((entry, tensors))
    return write_trace(root, layers, fmt="mls-trace/1")["layers"]


class RunOutputs(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name
        self.trace = os.path.join(self.dir, "trace")
        os.mkdir(self.trace)
        self.layers = make_trace(self.trace)

    def tearDown(self):
        self.tmp.cleanup()

    def test_report_has_every_spec_key_and_consistent_counts(self):
        report = os.path.join(self.dir, "r.json")
        out = mlssim("run", self.trace, "--rows", 4, "--cols", 8, "--check", "--tech", "mac-65nm",
                     "--report", report, "--no-progress").stdout
        self.assertIn("all bit-exact", out)
        self.assertIn("fp32/MLS", out)
        r = json.load(open(report))
        self.assertEqual(r["config"]["rows"], 4)
        self.assertEqual(len(r["layers"]), 6)  # two layers x three passes
        for entry in r["layers"] + [r["total"]]:
            for key in EVENT_KEYS:
                self.assertIn(key, entry["events"])
            for key in ENERGY_KEYS:
                self.assertIn(key, entry["energy"])
            ev = entry["events"]
            self.assertAlmostEqual(ev["utilization"], ev["mul"] / (ev["cycles"] * 4 * 8))
        for entry in r["layers"]:
            self.assertTrue(entry["bit_exact"])
            self.assertEqual(entry["events"]["mul"], entry["macs"])
            self.assertEqual(entry["macs"], entry["m"] * entry["p"] * entry["g"] * entry["k"])
        self.assertEqual(r["total"]["events"]["mul"], sum(e["macs"] for e in r["layers"]))

    def test_outputs_equal_the_golden_conv_command_bit_for_bit(self):
        outputs = os.path.join(self.dir, "out")
        mlssim("run", self.trace, "--rows", 8, "--cols", 4, "--chunk", 4, "--elem", "e3m3", "--outputs", outputs,
               "--quiet", "--no-progress")
        for layer in self.layers:
            files = {k: os.path.join(self.trace, layer[k]) for k in ("weight", "input", "grad_output")}
            for pass_name in ("fwd", "bwd-data", "bwd-weight"):
                golden = os.path.join(self.dir, f"{layer['name']}.{pass_name}.golden.npy")
                mlssim("conv", "--pass", pass_name, "--name", layer["name"], "--weight", files["weight"],
                       "--input", files["input"], "--grad-output", files["grad_output"],
                       "--stride", layer["stride"][0], "--padding", 1, "--rows", 8, "--chunk", 4, "--elem", "e3m3",
                       "--out", golden)
                array = np.load(os.path.join(outputs, f"{layer['name']}.{pass_name}.npy"))
                expect = np.load(golden)
                self.assertEqual(array.dtype, np.float32)
                self.assertEqual(array.shape, expect.shape)
                self.assertTrue(np.array_equal(array.view(np.uint32), expect.view(np.uint32)),
                                f"{layer['name']} {pass_name}")

    def test_vcd_waveform_is_written(self):
        vcd = os.path.join(self.dir, "wave.vcd")
        mlssim("run", self.trace, "--layers", "b", "--passes", "fwd", "--rows", 4, "--cols", 4, "--vcd", vcd,
               "--quiet", "--no-progress")
        text = open(vcd).read()
        self.assertIn("$enddefinitions", text)
        for signal in ("issue_valid", "chunk_tile", "y_0", "x_3_3", "out_0"):
            self.assertIn(signal, text)
        self.assertGreater(text.count("\n#"), 20, "time steps were recorded")


if __name__ == "__main__":
    unittest.main()
