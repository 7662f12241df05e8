"""The golden model's work per block follows the block, not the tensor.

A depthwise conv of 65,536 groups is 65,536 blocks of nine products per
output. The golden model once scanned both whole operand tensors for their
largest magnitude in every block (quadratic: past 100 s for this layer); the
scan is now made once per pass, so the layer takes about a second. The bound
below is fifty times that, far from any timer's noise, and far below what the
quadratic walk needs."""
import os
import tempfile
import unittest

import numpy as np

from clitest import conv_layer, mlssim, write_trace

GROUPS = 65536
GENEROUS_SECONDS = 60


class GoldenBlocks(unittest.TestCase):
    def test_many_group_blocks_take_time_in_proportion_to_the_blocks(self):
        rng = np.random.default_rng(7)
        entry, tensors = conv_layer(rng, "dw", GROUPS, GROUPS, 4, k=3, batch=1, groups=GROUPS)
        with tempfile.TemporaryDirectory() as tmp:
            write_trace(tmp, [(entry, tensors)])
            out = os.path.join(tmp, "out.npy")
            # mlssim conv runs the golden model block by block (no SystemC);
            # a timeout fails the test.
            p = mlssim("conv", "--pass", "fwd", "--weight", os.path.join(tmp, "dw.weight.npy"), "--input",
                       os.path.join(tmp, "dw.input.npy"), "--groups", GROUPS, "--padding", 1, "--out", out,
                       timeout=GENEROUS_SECONDS)
            self.assertIn(f"{GROUPS * 16 * 9} MACs", p.stdout)
            result = np.load(out)
            self.assertEqual(result.shape, (1, GROUPS, 4, 4))
            # Each output is its own group's 3 x 3 window: checked on a few
            # groups against the double convolution, within the formats' error.
            w, a = tensors["weight"], tensors["input"]
            padded = np.pad(a, ((0, 0), (0, 0), (1, 1), (1, 1)))
            for g in (0, 1, GROUPS // 2, GROUPS - 1):
                for y in range(4):
                    for x in range(4):
                        exact = float(np.sum(w[g, 0] * padded[0, g, y:y + 3, x:x + 3]))
                        self.assertLess(abs(result[0, g, y, x] - exact), 0.25 * (abs(exact) + 1.0), (g, y, x))


if __name__ == "__main__":
    unittest.main()
