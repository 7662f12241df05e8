"""`--bwd-data decompose` end to end on the bundled traces
(ref/workload/bwd_data_decompose.h): a stride-2 layer's backward-data makes
exactly the forward pass's products (no zero-insertion taps), is bit-exact
against the golden model, and agrees with the zero-insert result to fp32
rounding; stride-1 layers are untouched.

Run by CTest with MLSSIM = the built binary and MLSSIM_SOURCE_DIR = the repo root.
"""
import json
import os
import tempfile
import unittest

import numpy as np

from clitest import TRACES as TRACE_DIR, mlssim

# The bundled traces with strided convs (the ViT's patch embedding where it is bundled).
TRACES = [path for path in (os.path.join(TRACE_DIR, t)
                            for t in ("resnet20-digits", "vit-digits")) if os.path.isdir(path)]


def run(tmp, trace, name, *flags):
    report, outputs = os.path.join(tmp, name + ".json"), os.path.join(tmp, name)
    mlssim("run", trace, "--passes", "fwd,bwd-data", "--quiet", "--no-progress", "--check", "--report", report,
           "--outputs", outputs, *flags)
    with open(report) as f:
        return json.load(f), outputs


class Decompose(unittest.TestCase):
    def test_stride_two_layers_make_the_forward_products(self):
        for trace in TRACES:
            with self.subTest(os.path.basename(trace)):
                self.check_trace(trace)

    def check_trace(self, trace):
        with open(os.path.join(trace, "manifest.json")) as f:
            layers = json.load(f)["layers"]
        strided = [l["name"] for l in layers if l["kind"] == "conv2d" and max(l["stride"]) > 1]
        self.assertTrue(strided, "the trace has stride-2 conv2d layers")
        self.assertTrue(all(max(l["stride"]) == 2 for l in layers if l["name"] in strided))
        plain = [l["name"] for l in layers if l["name"] not in strided and l.get("grad_output")][:1]
        names = strided + plain
        with tempfile.TemporaryDirectory() as tmp:
            dec, dec_dir = run(tmp, trace, "decompose", "--layers", ",".join(names), "--bwd-data", "decompose")
            zero, zero_dir = run(tmp, trace, "zero", "--layers", ",".join(names))
            self.assertEqual(dec["config"]["bwd_data"], "decompose")
            self.assertTrue(dec["total"]["bit_exact"])
            entries = {(l["name"], l["pass"]): l for l in dec["layers"]}
            zeros = {(l["name"], l["pass"]): l for l in zero["layers"]}
            for name in names:
                with self.subTest(name):
                    fwd, bwd, old = entries[name, "fwd"], entries[name, "bwd-data"], zeros[name, "bwd-data"]
                    if name in strided:
                        self.assertEqual(bwd["events"]["mul"], fwd["events"]["mul"])
                        self.assertEqual(bwd["blocks"], 4)  # 2 x 2 phases
                        self.assertEqual(old["events"]["mul"], 4 * fwd["events"]["mul"])
                        self.assertLess(bwd["cycles"], old["cycles"])
                    else:
                        self.assertEqual(bwd["events"], old["events"])
                    a = np.load(os.path.join(dec_dir, f"{name}.bwd-data.npy"))
                    b = np.load(os.path.join(zero_dir, f"{name}.bwd-data.npy"))
                    self.assertEqual(a.shape, b.shape)
                    # The same sum in another order: fp32 rounding apart.
                    self.assertLessEqual(float(np.max(np.abs(a - b))), 1e-5 * float(np.max(np.abs(b))))


if __name__ == "__main__":
    unittest.main()
