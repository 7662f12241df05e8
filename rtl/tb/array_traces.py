#!/usr/bin/env python3
"""Writes the small synthetic trace the array tests run (array_traces.py OUT):
a stride-2 conv2d (zero insertion in its backward-data pass, chunks of 9 with
16 channels, so tiles of several rows), a linear layer of 40 inputs (chunks
of 16, 16, 8: tiles whose rows differ in length) and a 2-D matmul.
Seeded: the same trace on every run."""
import os
import sys

import numpy as np

os.environ.setdefault("MLSSIM", "mlssim")  # clitest reads it; only write_trace is used
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "testbenches", "cli"))
from clitest import conv_layer, linear_layer, write_trace  # noqa: E402


def main():
    rng = np.random.default_rng(26)
    conv = conv_layer(rng, "conv_s2", co=12, ci=6, h=7, stride=2, padding=1, batch=2)
    fc = linear_layer(rng, "fc", out_features=11, in_features=40, rows=5)
    mm = ({"name": "mm", "kind": "matmul"},
          {"input": rng.standard_normal((6, 20)), "weight": rng.standard_normal((20, 9)),
           "grad_output": rng.standard_normal((6, 9)) * 1e-3})
    write_trace(sys.argv[1], [conv, fc, mm], model="rtl-array")


if __name__ == "__main__":
    main()
