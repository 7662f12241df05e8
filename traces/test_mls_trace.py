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
import contextlib  # noqa: E402
import io  # noqa: E402

from mls_trace import (ConvTraceRecorder, RecordedMatmul, TraceRecorder,  # noqa: E402
                       record_conv_trace)

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


class TraceBase(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.out = os.path.join(self.tmp.name, "tiny-trace")
        # The recorders' warnings about unrecorded modules go to stderr.
        self.quiet = contextlib.redirect_stderr(io.StringIO())
        self.quiet.__enter__()

    def tearDown(self):
        self.quiet.__exit__(None, None, None)
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


class TraceTest(TraceBase):
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


# ---- TraceRecorder: every kind --------------------------------------------


class Attention(nn.Module):
    """Multi-head self-attention written with nn.Linear and RecordedMatmul."""

    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.qk = RecordedMatmul()
        self.pv = RecordedMatmul()
        self.proj = nn.Linear(dim, dim)

    def split(self, x):
        b, t, d = x.shape
        q, k, v = self.qkv(x).reshape(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        return q, k.transpose(-2, -1).contiguous(), v

    def merge(self, o):
        b, h, t, dh = o.shape
        return self.proj(o.transpose(1, 2).reshape(b, t, h * dh))

    def forward(self, x):
        q, kt, v = self.split(x)
        att = (self.qk(q, kt) * q.shape[-1] ** -0.5).softmax(-1)
        return self.merge(self.pv(att, v))


class Mixed(nn.Module):
    """Conv2d, a depthwise conv, a grouped ConvTranspose2d, an attention block
    over the pixels as tokens, and a Linear head."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 3, padding=1, bias=False)
        self.dw = nn.Conv2d(4, 4, 3, stride=2, padding=1, groups=4)
        self.up = nn.ConvTranspose2d(4, 4, 3, stride=2, padding=1, output_padding=1, groups=2)
        self.norm = nn.LayerNorm(4)
        self.attn = Attention(4, 2)
        self.head = nn.Linear(4, 3)

    def forward(self, x):
        out = self.up(F.relu(self.dw(F.relu(self.stem(x)))))
        tokens = self.norm(out.flatten(2).transpose(1, 2))
        return self.head((tokens + self.attn(tokens)).mean(1))


MIXED = {  # name -> (kind, weight, input, grad_output shapes)
    "stem": ("conv2d", (4, 3, 3, 3), (2, 3, 6, 6), (2, 4, 6, 6)),
    "dw": ("conv2d", (4, 1, 3, 3), (2, 4, 6, 6), (2, 4, 3, 3)),
    "up": ("conv_transpose2d", (4, 2, 3, 3), (2, 4, 3, 3), (2, 4, 6, 6)),
    "attn.qkv": ("linear", (12, 4), (2, 36, 4), (2, 36, 12)),
    "attn.qk": ("matmul", (2, 2, 2, 36), (2, 2, 36, 2), (2, 2, 36, 36)),
    "attn.pv": ("matmul", (2, 2, 36, 2), (2, 2, 36, 36), (2, 2, 36, 2)),
    "attn.proj": ("linear", (4, 4), (2, 36, 4), (2, 36, 4)),
    "head": ("linear", (3, 4), (2, 4), (2, 3)),
}


def mixed_reference(model, x, y):
    """Each layer's operands and output gradient, by a hand-written forward
    with retain_grad (no hooks)."""
    ops = {}

    def layer(name, fn, a, w):
        out = fn(a, w)
        out.retain_grad()
        ops[name] = (w, a.detach().clone(), out)
        return out

    m = model
    model.zero_grad()
    out = layer("stem", lambda a, w: F.conv2d(a, w, padding=1), x, m.stem.weight)
    out = layer("dw", lambda a, w: F.conv2d(a, w, m.dw.bias, stride=2, padding=1, groups=4), F.relu(out), m.dw.weight)
    out = layer("up", lambda a, w: F.conv_transpose2d(a, w, m.up.bias, stride=2, padding=1, output_padding=1,
                                                      groups=2), F.relu(out), m.up.weight)
    tokens = m.norm(out.flatten(2).transpose(1, 2))
    at = m.attn
    qkv = layer("attn.qkv", lambda a, w: F.linear(a, w, at.qkv.bias), tokens, at.qkv.weight)
    b, t, d = tokens.shape
    q, k, v = qkv.reshape(b, t, 3, 2, d // 2).permute(2, 0, 3, 1, 4)
    kt = k.transpose(-2, -1).contiguous()
    scores = layer("attn.qk", lambda a, w: a @ w, q, kt)
    att = (scores * q.shape[-1] ** -0.5).softmax(-1)
    o = layer("attn.pv", lambda a, w: a @ w, att, v)
    o = layer("attn.proj", lambda a, w: F.linear(a, w, at.proj.bias), o.transpose(1, 2).reshape(b, t, d),
              at.proj.weight)
    logits = layer("head", lambda a, w: F.linear(a, w, m.head.bias), (tokens + o).mean(1), m.head.weight)
    F.cross_entropy(logits, y).backward()
    return {name: (w.detach().clone(), a, out.grad) for name, (w, a, out) in ops.items()}


class EveryKindTest(TraceBase):
    def record(self, model, x, y, stream=None):
        recorder = TraceRecorder(model, stream=stream or io.StringIO())
        with recorder:
            F.cross_entropy(model(x), y).backward()
        return recorder.write(self.out, "mixed")

    def test_every_layer_recorded_with_autograd_values(self):
        torch.manual_seed(4)
        model, x, y = Mixed(), torch.randn(2, 3, 6, 6), torch.tensor([0, 2])
        manifest = self.record(model, x, y)
        self.assertEqual(manifest["format"], "mls-trace/2")
        self.assertEqual([l["name"] for l in manifest["layers"]], list(MIXED))
        grads = {name: p.grad.clone() for name, p in model.named_parameters()}
        expected = mixed_reference(model, x, y)
        for layer in manifest["layers"]:
            name = layer["name"]
            kind, w_shape, a_shape, e_shape = MIXED[name]
            with self.subTest(layer=name):
                self.assertEqual(layer["kind"], kind)
                w, a, e = (self.load(layer[k]) for k in ("weight", "input", "grad_output"))
                self.assertEqual((w.shape, a.shape, e.shape), (w_shape, a_shape, e_shape))
                ref_w, ref_a, ref_e = expected[name]
                np.testing.assert_allclose(w, ref_w.numpy(), rtol=1e-6, atol=1e-7)
                np.testing.assert_allclose(a, ref_a.numpy(), rtol=1e-6, atol=1e-7)
                np.testing.assert_allclose(e, ref_e.numpy(), rtol=1e-5, atol=1e-8)
                if kind == "matmul":
                    continue
                # The weight gradient rebuilt from the dumped tensors equals
                # autograd's: what the simulator's bwd-weight computes.
                wt = torch.from_numpy(w).requires_grad_(True)
                fn = expected_fn(layer)
                fn(torch.from_numpy(a), wt).backward(torch.from_numpy(e))
                np.testing.assert_allclose(wt.grad.numpy(), grads[name + ".weight"].numpy(), rtol=1e-4, atol=1e-6)
        self.assertEqual(MIXED["up"][0], manifest["layers"][2]["kind"])
        self.assertEqual(manifest["layers"][2]["output_padding"], [1, 1])
        self.assertEqual(manifest["layers"][1]["groups"], 4)

    def test_lstm_and_norms_are_reported_not_dropped(self):
        class WithLstm(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(6, 8)
                self.norm = nn.BatchNorm1d(5)
                self.rnn = nn.LSTM(8, 4, batch_first=True)

            def forward(self, x):
                return self.rnn(self.norm(self.fc(x)))[0]

        model = WithLstm()
        stream = io.StringIO()
        recorder = TraceRecorder(model, stream=stream)
        self.assertEqual(stream.getvalue(), "")  # said once the block has seen what the model runs
        with recorder:
            model(torch.randn(2, 5, 6)).sum().backward()
        lines = stream.getvalue().splitlines()
        total = sum(p.numel() for p in model.parameters())
        lstm = sum(p.numel() for p in model.rnn.parameters())
        self.assertEqual(len(lines), 2, lines)
        self.assertIn("warning: module 'rnn' (LSTM: weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0, "
                      "%.1f%% of the model's parameters)" % (100 * lstm / total), lines[0])
        self.assertIn("note: 1 modules with only per-channel parameters (BatchNorm1d", lines[1])
        self.assertEqual([n for n, _ in recorder._convs], ["fc"])
        # The LSTM's products ran: 2 x 5 rows through weight_ih [16, 8] and weight_hh [16, 4], 1,920
        # MACs against fc's 2 x 5 x 6 x 8 = 480 recorded.
        lstm_macs = format(10 * (16 * 8 + 16 * 4), ",")
        with self.assertRaisesRegex(RuntimeError, r"\(80.0%% of .*'rnn.lstm' \(lstm, %s MACs" % lstm_macs):
            recorder.write(self.out, "lstm")

    def test_multihead_attention_is_reported_whole(self):
        # nn.MultiheadAttention never calls its out_proj module, so neither it
        # nor its out_proj can be recorded; the warning says so.
        class WithMha(nn.Module):
            def __init__(self):
                super().__init__()
                self.embed = nn.Linear(3, 8)
                self.mha = nn.MultiheadAttention(8, 2, batch_first=True)

            def forward(self, x):
                t = self.embed(x)
                return self.mha(t, t, t)[0]

        model = WithMha()
        stream = io.StringIO()
        recorder = TraceRecorder(model, stream=stream)
        with recorder:
            model(torch.randn(2, 4, 3)).sum().backward()
        self.assertEqual([l["name"] for l in recorder.manifest_layers()], ["embed"])
        lines = stream.getvalue().splitlines()
        self.assertEqual(len(lines), 1, lines)
        share = sum(p.numel() for p in model.mha.parameters()) / sum(p.numel() for p in model.parameters())
        self.assertIn("module 'mha' (MultiheadAttention: in_proj_weight, in_proj_bias, out_proj.weight, "
                      "out_proj.bias, %.1f%%" % (100 * share), lines[0])
        with self.assertRaisesRegex(RuntimeError, "'mha.multi_head_attention_forward'"):
            recorder.write(self.out, "mha")

    def test_broadcast_matmul_is_refused(self):
        class Broadcast(nn.Module):
            def __init__(self):
                super().__init__()
                self.mm = RecordedMatmul()

            def forward(self, a, b):
                return self.mm(a, b)

        model = Broadcast()
        with self.assertRaisesRegex(ValueError, "equal batch dims"):
            with TraceRecorder(model, stream=io.StringIO()):
                model(torch.randn(2, 3, 4), torch.randn(4, 5))


def expected_fn(layer):
    """The layer's forward, from its manifest entry alone (bias left out)."""
    kind = layer["kind"]
    if kind == "linear":
        return lambda a, w: F.linear(a, w)
    args = dict(stride=layer["stride"], padding=layer["padding"], dilation=layer["dilation"], groups=layer["groups"])
    if kind == "conv2d":
        return lambda a, w: F.conv2d(a, w, **args)
    return lambda a, w: F.conv_transpose2d(a, w, output_padding=layer["output_padding"], **args)


if __name__ == "__main__":
    unittest.main()
