"""Tests for mls_trace on a tiny model; runs in a few seconds.

Run from the repo root:
    /usr/bin/python3 -m unittest traces/test_mls_trace.py
"""

import json
import os
import sys
import tempfile
import unittest

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mls_trace import ConvTraceRecorder, record_conv_trace  # noqa: E402

torch.set_num_threads(1)


class Tiny(nn.Module):
    """Covers stride 2 with padding, a grouped 1x1 conv and a conv with bias."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 3, padding=1, bias=False)
        self.body = nn.Sequential(nn.Conv2d(4, 6, 3, stride=2, padding=1),
                                  nn.ReLU(inplace=True))
        self.proj = nn.Conv2d(6, 4, 1, groups=2, bias=False)
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        out = self.proj(self.body(F.relu(self.stem(x))))
        return self.fc(out.mean((2, 3)))


EXPECTED = {  # name -> (stride, padding, groups, weight, input, grad_output)
    "stem": ([1, 1], [1, 1], 1, (4, 3, 3, 3), (2, 3, 8, 8), (2, 4, 8, 8)),
    "body.0": ([2, 2], [1, 1], 1, (6, 4, 3, 3), (2, 4, 8, 8), (2, 6, 4, 4)),
    "proj": ([1, 1], [0, 0], 2, (4, 3, 1, 1), (2, 6, 4, 4), (2, 4, 4, 4)),
}


def make_case(seed=0):
    torch.manual_seed(seed)
    model = Tiny()
    x = torch.randn(2, 3, 8, 8)
    y = torch.tensor([0, 2])
    return model, x, y


def dump(out_dir, seed=0):
    model, x, y = make_case(seed)

    def iteration():
        F.cross_entropy(model(x), y).backward()

    manifest = record_conv_trace(model, iteration, out_dir, "tiny",
                                 source={"seed": seed})
    return manifest, model, x, y


def reference(model, x, y):
    """Conv inputs and output gradients computed by hand, without hooks."""
    inputs, outputs = {}, {}

    def conv(name, module, inp):
        inputs[name] = inp.detach().clone()
        out = module(inp)
        out.retain_grad()
        outputs[name] = out
        return out

    model.zero_grad()
    out = conv("stem", model.stem, x)
    out = F.relu(conv("body.0", model.body[0], F.relu(out)))
    out = conv("proj", model.proj, out)
    F.cross_entropy(model.fc(out.mean((2, 3))), y).backward()
    return inputs, {name: out.grad for name, out in outputs.items()}


class TraceTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.out = os.path.join(self.tmp.name, "tiny-trace")

    def tearDown(self):
        self.tmp.cleanup()

    def load(self, file_name, out=None):
        path = os.path.join(out or self.out, file_name)
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            read_header = (np.lib.format.read_array_header_1_0
                           if version == (1, 0)
                           else np.lib.format.read_array_header_2_0)
            shape, fortran, dtype = read_header(f)
        self.assertFalse(fortran, file_name)
        self.assertEqual(dtype.str, "<f4", file_name)
        array = np.load(path)
        self.assertEqual(array.shape, shape)
        return array

    def test_manifest_and_shapes(self):
        dump(self.out)
        with open(os.path.join(self.out, "manifest.json")) as f:
            manifest = json.load(f)
        self.assertEqual(manifest["format"], "mls-trace/1")
        self.assertEqual(manifest["model"], "tiny")
        self.assertEqual(manifest["source"], {"seed": 0})
        self.assertEqual([l["name"] for l in manifest["layers"]], list(EXPECTED))
        for layer in manifest["layers"]:
            name = layer["name"]
            stride, padding, groups, w, a, e = EXPECTED[name]
            self.assertEqual(layer, {
                "name": name, "kind": "conv2d", "stride": stride,
                "padding": padding, "dilation": [1, 1], "groups": groups,
                "weight": f"{name}.weight.npy", "input": f"{name}.input.npy",
                "grad_output": f"{name}.grad_output.npy"})
            self.assertEqual(self.load(layer["weight"]).shape, w)
            self.assertEqual(self.load(layer["input"]).shape, a)
            self.assertEqual(self.load(layer["grad_output"]).shape, e)
        files = sorted(os.listdir(self.out))
        self.assertEqual(len(files), 1 + 3 * len(EXPECTED))
        # No temporary directory is left beside the trace.
        self.assertEqual(os.listdir(self.tmp.name), ["tiny-trace"])

    def test_values_match_autograd(self):
        _, model, x, y = dump(self.out)
        inputs, grads = reference(model, x, y)
        modules = {"stem": model.stem, "body.0": model.body[0],
                   "proj": model.proj}
        for name, module in modules.items():
            with self.subTest(layer=name):
                w = self.load(f"{name}.weight.npy")
                a = self.load(f"{name}.input.npy")
                e = self.load(f"{name}.grad_output.npy")
                np.testing.assert_array_equal(w, module.weight.detach().numpy())
                np.testing.assert_array_equal(a, inputs[name].numpy())
                np.testing.assert_allclose(e, grads[name].numpy(),
                                           rtol=1e-6, atol=1e-9)
                # The weight gradient rebuilt from the dumped tensors alone
                # must equal autograd's: that is what bwd-weight computes.
                dw = torch.nn.grad.conv2d_weight(
                    torch.from_numpy(a), module.weight.shape,
                    torch.from_numpy(e), stride=module.stride,
                    padding=module.padding, groups=module.groups)
                np.testing.assert_allclose(dw.numpy(), module.weight.grad.numpy(),
                                           rtol=1e-5, atol=1e-7)

    def test_deterministic_for_fixed_seed(self):
        other = os.path.join(self.tmp.name, "again")
        dump(self.out, seed=3)
        dump(other, seed=3)
        self.assertEqual(sorted(os.listdir(self.out)), sorted(os.listdir(other)))
        for file_name in os.listdir(self.out):
            with open(os.path.join(self.out, file_name), "rb") as f1, \
                    open(os.path.join(other, file_name), "rb") as f2:
                self.assertEqual(f1.read(), f2.read(), file_name)

    def test_replaces_old_trace(self):
        dump(self.out, seed=1)
        dump(self.out, seed=2)
        with open(os.path.join(self.out, "manifest.json")) as f:
            self.assertEqual(json.load(f)["source"], {"seed": 2})
        self.assertEqual(os.listdir(self.tmp.name), ["tiny-trace"])

    def test_missing_backward_leaves_nothing(self):
        model, x, _ = make_case()
        recorder = ConvTraceRecorder(model)
        with recorder:
            model(x)
        with self.assertRaisesRegex(RuntimeError, "got no gradient"):
            recorder.write(self.out, "tiny")
        self.assertEqual(os.listdir(self.tmp.name), [])

    def test_refuses_to_replace_unrelated_dir(self):
        os.makedirs(self.out)
        open(os.path.join(self.out, "notes.txt"), "w").close()
        with self.assertRaises(FileExistsError):
            dump(self.out)
        self.assertEqual(os.listdir(self.out), ["notes.txt"])

    def test_second_call_is_an_error(self):
        model, x, _ = make_case()
        with self.assertRaisesRegex(RuntimeError, "ran twice"):
            with ConvTraceRecorder(model):
                model(x)
                model(x)

    def test_hooks_removed_after_block(self):
        model, x, y = make_case()
        recorder = ConvTraceRecorder(model)
        with recorder:
            F.cross_entropy(model(x), y).backward()
        model(x)  # would raise "ran twice" if hooks were still attached
        self.assertEqual(len(model.stem._forward_hooks), 0)


if __name__ == "__main__":
    unittest.main()
