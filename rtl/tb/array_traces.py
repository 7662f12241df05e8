#!/usr/bin/env python3
"""Writes the traces the array tests run.

array_traces.py OUT: the small synthetic trace: a stride-2 conv2d (zero
insertion in its backward-data pass, chunks of 9 with 16 channels, so tiles
of several rows), a linear layer of 40 inputs (chunks of 16, 16, 8: tiles whose
rows differ in length), a 2-D matmul, a 1x1 conv2d of 24 input channels
(under run's default k32 grouping: one block of 24, rows filled with shorter
chunks), and two kinds whose passes run as several blocks: a conv2d of 2
channel groups and a matmul batched over 2 heads.

array_traces.py --resnet20 BUNDLED OUT: ResNet-20 with its classifier: the 19
conv2d layers of the bundled trace BUNDLED (traces/resnet20-digits, which
records only the convolutions) as they are, and `fc`, a linear layer of
ResNet-20's shape (64 inputs, 10 classes, the bundled batch of 2) whose
tensors are made here: Kaiming-normal weights (as dump_resnet20.py
initializes them), non-negative inputs (a ReLU's outputs averaged), and the
cross-entropy gradient (softmax - one-hot) / N of those logits.

Seeded: the same traces on every run."""
import json
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
    pointwise = conv_layer(rng, "conv_1x1", co=10, ci=24, h=5, k=1, padding=0, batch=2)
    grouped = conv_layer(rng, "conv_g2", co=8, ci=6, h=5, groups=2, batch=2)
    bmm = ({"name": "bmm", "kind": "matmul"},
           {"input": rng.standard_normal((2, 5, 12)), "weight": rng.standard_normal((2, 12, 7)),
            "grad_output": rng.standard_normal((2, 5, 7)) * 1e-3})
    write_trace(sys.argv[1], [conv, fc, mm, pointwise, grouped, bmm], model="rtl-array")


def resnet20_fc(rng, batch):
    weight = rng.standard_normal((10, 64)) * np.sqrt(2.0 / 64)
    x = np.abs(rng.standard_normal((batch, 64)))
    logits = x @ weight.T
    prob = np.exp(logits - logits.max(axis=1, keepdims=True))
    prob /= prob.sum(axis=1, keepdims=True)
    prob[np.arange(batch), rng.integers(0, 10, batch)] -= 1.0
    return {"name": "fc", "kind": "linear"}, {"weight": weight, "input": x, "grad_output": prob / batch}


def resnet20(bundled, out):
    with open(os.path.join(bundled, "manifest.json")) as f:
        manifest = json.load(f)
    layers = []
    for entry in manifest["layers"]:
        roles = {role: np.load(os.path.join(bundled, entry[role])) for role in ("weight", "input", "grad_output")}
        layers.append(({k: v for k, v in entry.items() if k not in roles}, roles))
    batch = layers[0][1]["input"].shape[0]
    layers.append(resnet20_fc(np.random.default_rng(20), batch))
    write_trace(out, layers, model="resnet20 (bundled convolutions) + fc")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--resnet20":
        resnet20(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 2:
        main()
    else:
        sys.exit("usage: array_traces.py OUT | array_traces.py --resnet20 BUNDLED_TRACE OUT")
