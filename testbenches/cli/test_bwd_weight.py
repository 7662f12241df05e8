"""`--bwd-weight fill-rows` end to end on the bundled ResNet-20 (batch 2): a
backward-weight pass whose 2 groups leave rows idle gets shorter chunks that
fill the rows; cycles follow the docs/reference.md formula evaluated here from
the layer's shapes, the products do not change, and the result is bit-exact
against the golden model (which chunks by the same plan).

Run by CTest with MLSSIM = the built binary and MLSSIM_SOURCE_DIR = the repo root.
"""
import json
import math
import os
import tempfile
import unittest

import numpy as np

from clitest import TRACES, mlssim

TRACE = os.path.join(TRACES, "resnet20-digits")
ROWS = COLS = CHUNK = 16
DEPTH = 10


def expected_cycles(name, fill):
    co, ci, kh, kw = np.load(os.path.join(TRACE, f"{name}.weight.npy"), mmap_mode="r").shape
    n, _, ho, wo = np.load(os.path.join(TRACE, f"{name}.grad_output.npy"), mmap_mode="r").shape
    m, p, g, k = co, ci * kh * kw, n, ho * wo
    chunk = CHUNK
    if fill and g * math.ceil(k / CHUNK) < ROWS:
        chunk = min(CHUNK, math.ceil(k / max(1, ROWS // g)))
    lengths = [min(chunk, k - c * chunk) for _ in range(g) for c in range(math.ceil(k / chunk))]
    per_output = sum(max(lengths[t:t + ROWS]) for t in range(0, len(lengths), ROWS))
    return math.ceil(m / COLS) * p * per_output + DEPTH, chunk


class FillRows(unittest.TestCase):
    def test_cycles_products_and_bits(self):
        layers = ["conv1", "layer2.0.conv2", "layer3.0.conv2"]
        with tempfile.TemporaryDirectory() as tmp:
            for fill in (False, True):
                with self.subTest(fill=fill):
                    path = os.path.join(tmp, "r.json")
                    flags = ["--bwd-weight", "fill-rows"] if fill else []
                    mlssim("run", TRACE, "--layers", ",".join(layers), "--passes", "bwd-weight", "--check", "--quiet",
                           "--no-progress", "--report", path, *flags)
                    with open(path) as f:
                        r = json.load(f)
                    self.assertTrue(r["total"]["bit_exact"])
                    self.assertEqual(r["config"]["bwd_weight"], "fill-rows" if fill else "by-batch")
                    for entry in r["layers"]:
                        cycles, chunk = expected_cycles(entry["name"], fill)
                        self.assertEqual(entry["cycles"], cycles, entry["name"])
                        self.assertEqual(entry["chunk"], chunk, entry["name"])
                        self.assertEqual(entry["events"]["mul"], entry["macs"])
        # layer3.0.conv2: K = 8 x 8 = 64 in 2 groups: 8 chunks of 16 on 16 rows,
        # or 16 chunks of 8 with the rows filled: half the cycles.
        self.assertEqual(expected_cycles("layer3.0.conv2", False)[0], 4 * 576 * 16 + 10)
        self.assertEqual(expected_cycles("layer3.0.conv2", True)[0], 4 * 576 * 8 + 10)


if __name__ == "__main__":
    unittest.main()
