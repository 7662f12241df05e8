"""Tests for the recorder's functional products and vector ops (mls_mode, mls_products); a few seconds.

Every recorded product is checked in float64 against autograd: the recorded
operands and output gradient against the model's own tensors (tapped with
retain_grad, mapped into the trace's layout by hand), and the product's output
and both gradients recomputed from the recorded operands by the matrix
formulas against the model's output and autograd's gradients.

Run from the repo root:
    /usr/bin/python3 -m unittest traces/test_mls_functional.py
"""

import io
import json
import os
import sys
import tempfile
import unittest

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import handle_torch_function, has_torch_function

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mls_mode  # noqa: E402
from mls_trace import TraceRecorder  # noqa: E402

torch.set_num_threads(1)
DIM, HEADS, HIDDEN, CLASSES = 8, 2, 12, 3


class Taps(dict):
    """The model's intermediate tensors by name, each keeping its gradient."""

    def __call__(self, name, t):
        t.retain_grad()
        self[name] = t
        return t


class Block(nn.Module):
    """Pre-norm attention and MLP, every product functional but proj; style 0 and 1 write them differently."""

    def __init__(self, style):
        super().__init__()
        self.style = style
        self.ln1, self.ln2 = nn.LayerNorm(DIM), nn.LayerNorm(DIM)
        self.w_qkv = nn.Parameter(torch.randn(DIM, 3 * DIM) * 0.3)   # [in, out]: used transposed
        self.b_qkv = nn.Parameter(torch.randn(3 * DIM) * 0.3)
        self.proj = nn.Linear(DIM, DIM)
        self.w1 = nn.Parameter(torch.randn(DIM, HIDDEN) * 0.3)
        self.w2 = nn.Parameter(torch.randn(DIM, HIDDEN) * 0.3)

    def forward(self, x, tap, p):
        b, t, d = x.shape
        h = tap(p + "h", self.ln1(x))
        qkv = tap(p + "qkv", F.linear(h, self.w_qkv.t(), self.b_qkv))
        q, k, v = (tap(p + n, z.view(b, t, HEADS, d // HEADS).transpose(1, 2)) for n, z in zip("qkv", qkv.split(d, -1)))
        if self.style == 0:
            scores = tap(p + "scores", q @ k.transpose(-2, -1))
        else:
            scores = tap(p + "scores", torch.einsum("bhqd,bhkd->bhqk", q, k))
        att = (scores * 0.5).softmax(-1)
        if self.style == 0:
            att2, v2 = tap(p + "att", att.reshape(b * HEADS, t, t)), tap(p + "v2", v.reshape(b * HEADS, t, d // HEADS))
            o = tap(p + "o", torch.bmm(att2, v2)).view(b, HEADS, t, d // HEADS)
        else:
            o = tap(p + "o", torch.matmul(tap(p + "att", att), v))
        x = x + tap(p + "po", self.proj(tap(p + "m", o.transpose(1, 2).reshape(b, t, d))))
        h2 = tap(p + "h2", self.ln2(x))
        f = tap(p + "f", h2 @ self.w1 if self.style == 0 else torch.matmul(h2, self.w1))
        g = tap(p + "g", F.gelu(f))
        return x + tap(p + "y", torch.einsum("btf,df->btd", g, self.w2))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleList([Block(0), Block(1)])
        self.head = nn.Parameter(torch.randn(CLASSES, DIM) * 0.3)
        self.pos = nn.Parameter(torch.randn(1, 5, DIM) * 0.1)

    def forward(self, x, tap):
        x = x + self.pos.expand_as(x)  # a parameter's view of the output's shape: not a residual
        for i, block in enumerate(self.blocks):
            x = block(x, tap, f"b{i}.")
        return tap("logits", F.linear(tap("pooled", x.mean(1)), self.head))


def expectations(model):
    """Per recorded layer: kind, then its input, weight and output in the trace's layout as functions
    of a getter (a tap's value, or its gradient), and the bias in its output (not part of the format)."""
    exp = {}
    for i, blk in enumerate(model.blocks):
        p, n = f"blocks.{i}.", f"b{i}."
        pv, qk = ("bmm", "matmul") if i == 0 else ("matmul", "einsum")
        exp[p + "linear"] = ("linear", lambda T, n=n: T(n + "h"), lambda T, blk=blk: T(blk.w_qkv).t(),
                             lambda T, n=n: T(n + "qkv"), blk.b_qkv.detach())
        exp[p + qk] = ("matmul", lambda T, n=n: T(n + "q"), lambda T, n=n: T(n + "k").transpose(-2, -1),
                       lambda T, n=n: T(n + "scores"), 0)
        exp[p + pv] = ("matmul", lambda T, n=n: T(n + "att"), lambda T, v=n + ("v2" if i == 0 else "v"): T(v),
                       lambda T, n=n: T(n + "o"), 0)
        exp[p + "proj"] = ("linear", lambda T, n=n: T(n + "m"), lambda T, blk=blk: T(blk.proj.weight),
                           lambda T, n=n: T(n + "po"), blk.proj.bias.detach())
        exp[p + "matmul_1"] = ("linear", lambda T, n=n: T(n + "h2"), lambda T, blk=blk: T(blk.w1).t(),
                               lambda T, n=n: T(n + "f"), 0)
        exp[p + ("einsum" if i == 0 else "einsum_1")] = (
            "linear", lambda T, n=n: T(n + "g").reshape(-1, HIDDEN), lambda T, blk=blk: T(blk.w2),
            lambda T, n=n: T(n + "y").reshape(-1, DIM), 0)
    exp["linear"] = ("linear", lambda T: T("pooled"), lambda T: T(model.head), lambda T: T("logits"), 0)
    return exp


ORDER = ["blocks.0.linear", "blocks.0.matmul", "blocks.0.bmm", "blocks.0.proj", "blocks.0.matmul_1",
         "blocks.0.einsum", "blocks.1.linear", "blocks.1.einsum", "blocks.1.matmul", "blocks.1.proj",
         "blocks.1.matmul_1", "blocks.1.einsum_1", "linear"]


def formulas(kind, a, w, e):
    """Output, input gradient and weight gradient of a product by the matrix formulas (float64)."""
    if kind == "linear":
        lead = a.reshape(-1, a.shape[-1]), e.reshape(-1, e.shape[-1])
        return a @ w.t(), e @ w, lead[1].t() @ lead[0]
    return a @ w, e @ w.transpose(-2, -1), a.transpose(-2, -1) @ e


class Base(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.out = os.path.join(self.tmp.name, "trace")

    def tearDown(self):
        self.tmp.cleanup()

    def load(self, name):
        return torch.from_numpy(np.load(os.path.join(self.out, name)).astype(np.float64))


class FunctionalTransformerTest(Base):
    def setUp(self):
        super().setUp()
        torch.manual_seed(0)
        self.model = Net().double()
        self.x, self.y = torch.randn(2, 5, DIM, dtype=torch.float64), torch.tensor([0, 2])
        self.taps, self.stream = Taps(), io.StringIO()
        recorder = TraceRecorder(self.model, stream=self.stream)
        with recorder:
            F.cross_entropy(self.model(self.x, self.taps), self.y).backward()
        self.manifest = recorder.write(self.out, "functional")

    def test_every_product_recorded_in_execution_order(self):
        self.assertEqual([l["name"] for l in self.manifest["layers"]], ORDER)
        warnings = [l for l in self.stream.getvalue().splitlines() if "warning" in l]
        self.assertEqual(len(warnings), 1, warnings)  # pos only: head reached the recorded F.linear
        self.assertIn("module '(model)' (Net: pos, ", warnings[0])
        with open(os.path.join(self.out, "manifest.json")) as f:
            self.assertEqual(json.load(f), self.manifest)

    def test_operands_and_gradients_match_autograd_in_float64(self):
        value = lambda t: (self.taps[t] if isinstance(t, str) else t).detach()  # noqa: E731
        grad = lambda t: (self.taps[t] if isinstance(t, str) else t).grad  # noqa: E731
        for layer in self.manifest["layers"]:
            kind, inp, weight, out, bias = expectations(self.model)[layer["name"]]
            with self.subTest(layer=layer["name"]):
                self.assertEqual(layer["kind"], kind)
                a, w, e = (self.load(layer[k]) for k in ("input", "weight", "grad_output"))
                # The recorded tensors are the model's, in the trace's layout, rounded to float32.
                for rec, ref in ((a, inp(value)), (w, weight(value))):
                    self.assertEqual(rec.shape, ref.shape)
                    np.testing.assert_allclose(rec, ref, rtol=1e-7, atol=1e-12)
                np.testing.assert_allclose(e, out(grad), rtol=1e-7, atol=1e-12)
                y, da, dw = formulas(kind, a, w, e)
                np.testing.assert_allclose(y + bias, out(value), rtol=1e-5, atol=1e-6)
                np.testing.assert_allclose(da, inp(grad), rtol=1e-5, atol=1e-6)
                np.testing.assert_allclose(dw, weight(grad), rtol=1e-5, atol=1e-6)

    def test_vector_ops_with_shapes_and_the_product_before(self):
        ops = [(v["name"], v["op"], v.get("fn"), v["shape"], v["after"]) for v in self.manifest["vector_ops"]]
        expected = []
        after = None
        for i, (qk, pv, mlp2) in enumerate((("matmul", "bmm", "einsum"), ("einsum", "matmul", "einsum_1"))):
            p = f"blocks.{i}."
            expected += [(p + "ln1", "layer_norm", None, [2, 5, DIM], after),
                         (p + "softmax", "softmax", None, [2, HEADS, 5, 5], p + qk),
                         (p + "add", "residual_add", None, [2, 5, DIM], p + "proj"),
                         (p + "ln2", "layer_norm", None, [2, 5, DIM], p + "proj"),
                         (p + "gelu", "activation", "gelu", [2, 5, HIDDEN], p + "matmul_1"),
                         (p + "add_1", "residual_add", None, [2, 5, DIM], p + mlp2)]
            after = p + mlp2
        self.assertEqual(ops, expected)


    def test_layers_selects_functional_products_by_name(self):
        for layers, error in ((["blocks.0.matmul", "blocks.1.proj"], None), (["blocks.0.matmul", "nope"], "nope")):
            recorder = TraceRecorder(self.model, layers=layers, stream=io.StringIO())
            with recorder:
                F.cross_entropy(self.model(self.x, Taps()), self.y).backward()
            if error:
                with self.assertRaisesRegex(ValueError, "no recorded layer named \\['nope'\\]"):
                    recorder.write(self.out, "some")
                continue
            manifest = recorder.write(self.out, "some")
            self.assertEqual([l["name"] for l in manifest["layers"]], layers)
            self.assertEqual({v["after"] for v in manifest["vector_ops"]}, {None, "blocks.0.matmul", "blocks.1.proj"})


class MatmulLayoutTest(Base):
    """Broadcasts and vectors in torch.matmul become the format's equal batch dims or a linear layer."""

    def record(self, fn, *operands):
        ops = [t.requires_grad_(True) for t in operands]
        with TraceRecorder(nn.Module(), stream=io.StringIO()) as rec:
            out = fn(*ops)
            out.retain_grad()
            (out * torch.arange(out.numel(), dtype=out.dtype).reshape(out.shape)).sum().backward()
        layer, = rec.write(self.out, "m")["layers"]
        return layer, ops, out, [self.load(layer[k]) for k in ("input", "weight", "grad_output")]

    def test_parameter_on_the_left_is_a_linear_on_the_transpose(self):
        w = nn.Parameter(torch.randn(3, 4, dtype=torch.float64))
        layer, (w, x), out, (a, wr, e) = self.record(lambda w, x: w @ x, w, torch.randn(2, 4, 5, dtype=torch.float64))
        self.assertEqual(layer["kind"], "linear")
        np.testing.assert_allclose(a, x.detach().transpose(-2, -1), rtol=1e-7)
        np.testing.assert_allclose(e, out.grad.transpose(-2, -1), rtol=1e-7)
        _, da, dw = formulas("linear", a, wr, e)
        np.testing.assert_allclose(dw, w.grad, rtol=1e-5)
        np.testing.assert_allclose(da.transpose(-2, -1), x.grad, rtol=1e-5)

    def test_vector_operand_and_broadcast_batch(self):
        layer, (x, v), out, (a, w, e) = self.record(torch.matmul, torch.randn(2, 3, 4, dtype=torch.float64),
                                                    torch.randn(4, dtype=torch.float64))
        self.assertEqual((layer["kind"], tuple(w.shape), tuple(e.shape)), ("linear", (1, 4), (2, 3, 1)))
        _, da, dw = formulas("linear", a, w, e)
        np.testing.assert_allclose(dw[0], v.grad, rtol=1e-5)
        np.testing.assert_allclose(da, x.grad, rtol=1e-5)
        layer, (x, y), out, (a, w, e) = self.record(torch.matmul, torch.randn(2, 3, 4, 5, dtype=torch.float64),
                                                    torch.randn(3, 5, 6, dtype=torch.float64))
        self.assertEqual((layer["kind"], tuple(w.shape)), ("matmul", (2, 3, 5, 6)))
        _, da, dw = formulas("matmul", a, w, e)
        np.testing.assert_allclose(dw.sum(0), y.grad, rtol=1e-5)  # the expanded operand's gradients add up
        np.testing.assert_allclose(da, x.grad, rtol=1e-5)


class EinsumTest(Base):
    """Two-operand einsums: the recorded product is the einsum rearranged (sorted values agree), its
    gradients are autograd's rearranged, for the index patterns of attention, linear layers and more."""

    EQUATIONS = [("ij,jk->ik", (3, 4), (4, 5)), ("bij,bjk->bik", (2, 3, 4), (2, 4, 5)),
                 ("bhqd,bhkd->bhqk", (2, 2, 3, 4), (2, 2, 5, 4)), ("btf,df->btd", (2, 3, 6), (4, 6)),
                 ("...ij,...jk->...ik", (2, 3, 4), (2, 4, 5)), ("ij,kj", (3, 4), (5, 4)), ("i,i->", (4,), (4,)),
                 ("i,j->ij", (3,), (4,)), ("bqk,bkd->qbd", (2, 3, 4), (2, 4, 5))]

    def test_equations_against_autograd(self):
        torch.manual_seed(5)
        for equation, sa, sb in self.EQUATIONS:
            with self.subTest(equation=equation):
                x = torch.randn(*sa, dtype=torch.float64, requires_grad=True)
                w = torch.randn(*sb, dtype=torch.float64, requires_grad=True)
                with TraceRecorder(nn.Module(), stream=io.StringIO()) as rec:
                    out = torch.einsum(equation, x.exp(), w.exp())  # activations, not leaves
                    out.retain_grad()
                    (out * torch.randn(out.shape, dtype=torch.float64)).sum().backward()
                layer, = rec.write(self.out, "e")["layers"]
                a, wr, e = (self.load(layer[k]) for k in ("input", "weight", "grad_output"))
                y, da, dw = formulas(layer["kind"], a, wr, e)
                ref = torch.einsum(equation, x.detach().exp(), w.detach().exp())
                np.testing.assert_allclose(np.sort(y.flatten()), np.sort(ref.flatten()), rtol=1e-6)
                np.testing.assert_allclose(np.sort(e.flatten()), np.sort(out.grad.flatten()), rtol=1e-7)
                grads = sorted([da, dw], key=lambda t: t.numel())
                ops = sorted([x, w], key=lambda t: t.numel()) if a.numel() != wr.numel() else None
                for rec_grad, op in zip(grads, ops or []):  # d(exp(x)) = exp(x) dx
                    np.testing.assert_allclose(np.sort(rec_grad.flatten()),
                                               np.sort((op.grad / op.detach().exp()).flatten()), rtol=1e-5,
                                               atol=1e-6 * float(op.grad.abs().max()))


class Mm(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 6)
        self.w = nn.Parameter(torch.randn(6, 5))

    def forward(self, x):
        return torch.mm(self.fc(x), self.w)


class UnrecordedTest(Base):
    def run_mm(self, **kwargs):
        model, stream = Mm(), io.StringIO()
        rec = TraceRecorder(model, stream=stream, **kwargs)
        with rec:
            model(torch.randn(3, 4)).sum().backward()
        return rec, stream

    def test_unrecorded_product_fails_write_naming_it(self):
        rec, _ = self.run_mm()
        with self.assertRaisesRegex(RuntimeError, r"'mm' \(mm, 90 MACs: no trace kind covers it\)"):
            rec.write(self.out, "mm")
        self.assertFalse(os.path.exists(self.out))

    def test_allow_unrecorded_prints_the_share_of_macs(self):
        rec, stream = self.run_mm(allow_unrecorded=True)
        manifest = rec.write(self.out, "mm")
        self.assertEqual([l["name"] for l in manifest["layers"]], ["fc"])
        # fc: 3 x 4 x 6 = 72 MACs recorded, mm: 3 x 6 x 5 = 90 dropped: 90 / 162.
        self.assertIn("dropped %.1f%% of the MACs" % (100 * 90 / 162), stream.getvalue())

    def test_custom_function_and_fused_attention_are_named(self):
        class Op(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x, w):
                return F.linear(x, w)

            @staticmethod
            def backward(ctx, g):
                return None, None
        w = nn.Parameter(torch.randn(5, 4))
        mha = nn.MultiheadAttention(4, 2, batch_first=True)
        with TraceRecorder(mha, stream=io.StringIO()) as rec:
            x = torch.randn(2, 3, 4, requires_grad=True)
            (Op.apply(x, w).sum() + mha(x, x, x)[0].sum()).backward()
        with self.assertRaises(RuntimeError) as caught:
            rec.write(self.out, "op")
        message = str(caught.exception)
        self.assertIn("'linear' (linear, 120 MACs: it runs without autograd", message)
        # in, k and v projections 3 x 16 x 2 each, Q K^T and P V 2 x 9 x 4 each, out projection 96.
        self.assertIn("'multi_head_attention_forward' (multi_head_attention_forward, %d MACs" % (4 * 96 + 144), message)


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False):
    """Stands in for torch 2's F.scaled_dot_product_attention: only the recorder's decomposition runs it."""
    if has_torch_function((query, key, value)):
        return handle_torch_function(scaled_dot_product_attention, (query, key, value), query, key, value,
                                     attn_mask=attn_mask, dropout_p=dropout_p, is_causal=is_causal)
    raise AssertionError("called outside the recorder")


class ScaledDotProductTest(Base):
    def test_sdpa_records_its_two_products_and_softmax(self):
        torch.manual_seed(3)
        q, k, v = (torch.randn(2, 2, 4, 3, dtype=torch.float64, requires_grad=True) for _ in range(3))
        with TraceRecorder(nn.Module(), stream=io.StringIO()) as rec:
            out = scaled_dot_product_attention(q, k, v, is_causal=True)
            out.retain_grad()
            (out ** 2).sum().backward()
        manifest = rec.write(self.out, "sdpa")
        mask = torch.ones(4, 4, dtype=torch.bool).tril()
        ref = ((q @ k.transpose(-2, -1)) / 3 ** 0.5).masked_fill(~mask, float("-inf")).softmax(-1) @ v
        np.testing.assert_allclose(out.detach(), ref.detach(), rtol=1e-12)
        self.assertEqual([l["name"] for l in manifest["layers"]], ["sdpa.qk", "sdpa.pv"])
        self.assertEqual(manifest["vector_ops"], [{"name": "sdpa.softmax", "op": "softmax", "shape": [2, 2, 4, 4],
                                                   "after": "sdpa.qk"}])
        a, w, e = (self.load(manifest["layers"][1][k]) for k in ("input", "weight", "grad_output"))
        np.testing.assert_allclose(e, out.grad, rtol=1e-7)
        _, da, dw = formulas("matmul", a, w, e)
        np.testing.assert_allclose(dw, v.grad, rtol=1e-5)
        a, w, e = (self.load(manifest["layers"][0][k]) for k in ("input", "weight", "grad_output"))
        _, da, dw = formulas("matmul", a, w, e)
        np.testing.assert_allclose(da, q.grad, rtol=1e-5, atol=1e-9)
        np.testing.assert_allclose(dw.transpose(-2, -1), k.grad, rtol=1e-5, atol=1e-9)

    def test_missing_function_mode_is_one_clear_error(self):
        saved = mls_mode.TorchFunctionMode
        mls_mode.TorchFunctionMode = None
        try:
            with self.assertRaisesRegex(RuntimeError, "has no torch.overrides.TorchFunctionMode"):
                TraceRecorder(nn.Linear(2, 2))
        finally:
            mls_mode.TorchFunctionMode = saved


if __name__ == "__main__":
    unittest.main()
