"""Every layer kind and every pass, end to end through `mlssim run`:

- `--outputs` agree with an exact float64 evaluation, by torch in this test, of
  the dequantized operands the run wrote with `--operands` (wide accumulator,
  nearest rounding, so the only error left is the fp32 rounding of the group
  scaler, the adder tree and the output accumulator);
- `mul` in the report equals the analytic product count of the kind
  (docs/layers.md, "Product counts"), written here from the shapes alone;
- the report's M, P, G K and blocks are docs/layers.md's, and its cycles are
  docs/reference.md's cycle formula summed over the blocks;
- `--check` finds the array bit-exact with the golden model;
- `mlssim conv --kind` writes the same result as the run.

Variants cover stride, padding, dilation, output_padding, groups (depthwise
included), tokens of any rank and batched matmuls, under groupings that cut
the reduction into one-element groups (nc) and into whole rows (n)."""
import json
import os
import tempfile
import unittest

import numpy as np
import torch
import torch.nn.functional as F

from clitest import mlssim, write_trace

PASSES = ("fwd", "bwd-data", "bwd-weight")


# ---- the layers: (name, kind, params, weight, input shapes) -----------------

CONV = [  # name, params, weight shape, input shape
    ("conv_s2p1", {"stride": 2, "padding": 1}, (6, 4, 3, 3), (2, 4, 7, 7)),
    ("conv_g2_d2", {"padding": [2, 1], "dilation": [2, 1], "groups": 2}, (6, 2, 3, 2), (2, 4, 8, 6)),
    ("conv_dw_s2", {"stride": 2, "padding": 1, "groups": 5}, (5, 1, 3, 3), (2, 5, 7, 7)),
]
CONV_T = [
    ("convt_s2_op1_g2", {"stride": 2, "padding": 1, "output_padding": 1, "groups": 2}, (4, 3, 3, 3), (2, 4, 4, 5)),
    ("convt_d2", {"dilation": 2, "padding": [0, 1]}, (3, 5, 2, 3), (1, 3, 5, 4)),
]
LINEAR = [  # name, weight [out, in], input [..., in]
    ("fc_rank2", (7, 12), (5, 12)),
    ("fc_tokens", (6, 9), (2, 3, 9)),
]
MATMUL = [  # name, second operand [..., K, N], first operand [..., M, K]
    ("mm_plain", (6, 5), (4, 6)),
    ("mm_heads", (2, 2, 8, 5), (2, 2, 5, 8)),
]


def pair(v):
    return tuple(v) if isinstance(v, (list, tuple)) else (v, v)


def conv_params(prm):
    return dict(stride=pair(prm.get("stride", 1)), padding=pair(prm.get("padding", 0)),
                dilation=pair(prm.get("dilation", 1)), groups=prm.get("groups", 1))


def forward(kind, prm, w, a):
    """The layer's output in torch (the test's own definition of each kind)."""
    if kind == "conv2d":
        return F.conv2d(a, w, **conv_params(prm))
    if kind == "conv_transpose2d":
        return F.conv_transpose2d(a, w, output_padding=pair(prm.get("output_padding", 0)), **conv_params(prm))
    if kind == "linear":
        return F.linear(a, w)
    return torch.matmul(a, w)


def pass_result(kind, prm, pass_name, w, a, e):
    """The pass in float64 by autograd: fwd the output, bwd-data d(input), bwd-weight d(weight)."""
    w = torch.from_numpy(w.astype(np.float64)).requires_grad_(True)
    a = torch.from_numpy(a.astype(np.float64)).requires_grad_(True)
    out = forward(kind, prm, w, a)
    if pass_name == "fwd":
        return out.detach().numpy()
    out.backward(torch.from_numpy(e.astype(np.float64)))
    return (a.grad if pass_name == "bwd-data" else w.grad).numpy()


def output_shape(kind, prm, w_shape, a_shape):
    with torch.no_grad():
        return tuple(forward(kind, prm, torch.zeros(w_shape, dtype=torch.float64),
                             torch.zeros(a_shape, dtype=torch.float64)).shape)


def analytic_mul(kind, prm, pass_name, w, a, e):
    """Products each pass streams (padding and zero-insertion taps included),
    from the shapes alone."""
    if kind in ("linear", "matmul"):
        if kind == "linear":
            return int(np.prod(a[:-1])) * w[0] * w[1]
        return int(np.prod(a[:-2])) * a[-2] * a[-1] * w[-1]
    g = prm.get("groups", 1)
    n, kh, kw = a[0], w[2], w[3]
    if kind == "conv2d":
        co, ci, ho, wo, h, wi = w[0], a[1], e[2], e[3], a[2], a[3]
        per_out = {"fwd": n * co * ho * wo * (ci // g), "bwd-data": n * ci * h * wi * (co // g),
                   "bwd-weight": co * (ci // g) * n * ho * wo}
    else:  # conv_transpose2d: weight [Ci, Co/g, Kh, Kw]
        ci, co, ho, wo, h, wi = w[0], e[1], e[2], e[3], a[2], a[3]
        per_out = {"fwd": n * co * ho * wo * (ci // g), "bwd-data": n * ci * h * wi * (co // g),
                   "bwd-weight": ci * (co // g) * n * h * wi}
    return per_out[pass_name] * kh * kw


def lowered_sizes(kind, prm, pass_name, group, w, a, e):
    """(blocks, M, P, reduction length, K or None) of each block of a pass, from
    docs/layers.md's tables; K is given where the grouping fixes it."""
    if kind in ("conv2d", "conv_transpose2d"):
        g = prm.get("groups", 1)
        k2 = w[2] * w[3]
        n, h, wi, ho, wo = a[0], a[2], a[3], e[2], e[3]
        if kind == "conv2d":
            cig, cog = a[1] // g, w[0] // g
            return {"fwd": (g, cog, n * ho * wo, cig * k2, k2), "bwd-data": (g, cig, n * h * wi, cog * k2, k2),
                    "bwd-weight": (g, cog, cig * k2, n * ho * wo, ho * wo)}[pass_name]
        cig, cog = w[0] // g, w[1]
        return {"fwd": (g, cog, n * ho * wo, cig * k2, k2), "bwd-data": (g, cig, n * h * wi, cog * k2, k2),
                "bwd-weight": (g, cig, cog * k2, n * h * wi, h * wi)}[pass_name]
    # Matrix kinds: nc gives every element its own scale (K = 1); n keeps a row
    # whole where the reduction runs along both operands' rows of the [rows, last] view.
    if kind == "linear":
        t, out, inp = int(np.prod(a[:-1])), w[0], w[1]
        sizes = {"fwd": (1, out, t, inp), "bwd-data": (1, inp, t, out), "bwd-weight": (1, out, inp, t)}
        whole = {"n": "fwd"}
    else:
        b, m, k, n = int(np.prod(a[:-2])), a[-2], a[-1], w[-1]
        sizes = {"fwd": (b, n, m, k), "bwd-data": (b, k, m, n), "bwd-weight": (b, n, k, m)}
        whole = {"n": "bwd-data"}
    blocks, mm, pp, red = sizes[pass_name]
    return blocks, mm, pp, red, red if whole.get(group) == pass_name else 1


def tile_cycles(g, k, chunk, rows):
    """Chunks listed group-major, dealt `rows` at a time; a tile lasts as long
    as its longest chunk."""
    lengths = [min(chunk, k - c * chunk) for _ in range(g) for c in range(-(-k // chunk))]
    return sum(max(lengths[i:i + rows]) for i in range(0, len(lengths), rows))


def make_trace(root, rng):
    layers = []
    cases = [("conv2d", *c) for c in CONV] + [("conv_transpose2d", *c) for c in CONV_T] + \
            [("linear", n, {}, w, a) for n, w, a in LINEAR] + [("matmul", n, {}, w, a) for n, w, a in MATMUL]
    for kind, name, prm, w_shape, a_shape in cases:
        e_shape = output_shape(kind, prm, w_shape, a_shape)
        tensors = {key: rng.standard_normal(shape)
                   for key, shape in (("weight", w_shape), ("input", a_shape), ("grad_output", e_shape))}
        layers.append((({"name": name, "kind": kind, **prm}, tensors), (kind, prm, w_shape, a_shape, e_shape)))
    entries = write_trace(root, [pair for pair, _ in layers], model="kinds")["layers"]
    return [(entry, *shapes) for entry, (_, shapes) in zip(entries, layers)]


class EveryKindEveryPass(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.trace = os.path.join(cls.tmp.name, "trace")
        cls.layers = make_trace(cls.trace, np.random.default_rng(12))

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def run_grouping(self, group):
        d = os.path.join(self.tmp.name, group)
        os.makedirs(d, exist_ok=True)
        report = os.path.join(d, "report.json")
        mlssim("run", self.trace, "--acc-bits", 32, "--rounding", "nearest", "--group", group, "--rows", 4, "--cols", 4,
               "--check", "--outputs", os.path.join(d, "out"), "--operands", os.path.join(d, "ops"),
               "--report", report, "--quiet", "--no-progress")
        with open(report) as f:
            return d, json.load(f)

    def load(self, d, name, pass_name, operand):
        path = os.path.join(d, "ops", f"{name}.{pass_name}.{operand}.npy")
        return np.load(path) if os.path.exists(path) else None

    def check_layer(self, d, entries, layer):
        entry, kind, prm, w_shape, a_shape, e_shape = layer
        name = entry["name"]
        for pass_name in PASSES:
            with self.subTest(layer=name, pass_=pass_name):
                w, a, e = (self.load(d, name, pass_name, o) for o in ("weight", "input", "grad_output"))
                # Each pass writes exactly the two operands it multiplies.
                used = {"fwd": (w, a), "bwd-data": (w, e), "bwd-weight": (a, e)}[pass_name]
                self.assertEqual(sum(x is not None for x in (w, a, e)), 2)
                self.assertTrue(all(x is not None for x in used))
                zeros = {"weight": np.zeros(w_shape), "input": np.zeros(a_shape), "grad_output": np.zeros(e_shape)}
                w = zeros["weight"] if w is None else w
                a = zeros["input"] if a is None else a
                e = zeros["grad_output"] if e is None else e
                exact = pass_result(kind, prm, pass_name, w, a, e)
                # The same sum over magnitudes bounds the rounding error.
                magnitude = pass_result(kind, prm, pass_name, np.abs(w), np.abs(a), np.abs(e))
                got = np.load(os.path.join(d, "out", f"{name}.{pass_name}.npy"))
                self.assertEqual(got.dtype, np.float32)
                self.assertEqual(got.shape, exact.shape)
                bound = 64 * 2.0 ** -24 * magnitude + 1e-30
                worst = np.max(np.abs(got - exact) - bound)
                self.assertLessEqual(worst, 0, f"{name} {pass_name}: off by more than fp32 rounding")
                self.assertGreater(np.abs(exact).max(), 0)
                rep = entries[(name, pass_name)]
                self.assertEqual(rep["events"]["mul"], analytic_mul(kind, prm, pass_name, w_shape, a_shape, e_shape))
                self.assertTrue(rep["bit_exact"])
                self.check_sizes_and_cycles(rep, kind, prm, pass_name, w_shape, a_shape, e_shape)

    def check_sizes_and_cycles(self, rep, kind, prm, pass_name, w, a, e):
        """M, P, G K and the blocks as docs/layers.md tabulates them, and the
        cycles of docs/reference.md's formula summed over the blocks."""
        blocks, m, p, red, k = lowered_sizes(kind, prm, pass_name, self.group, w, a, e)
        self.assertEqual((rep.get("blocks", 1), rep["m"], rep["p"], rep["g"] * rep["k"]), (blocks, m, p, red))
        if k is not None:
            self.assertEqual(rep["k"], k)
        rows = cols = 4
        per_block = -(-m // cols) * p * tile_cycles(rep["g"], rep["k"], 16, rows) + rep["events"]["pipeline_depth"] // blocks
        self.assertEqual(rep["cycles"], blocks * per_block)

    def test_outputs_match_float64_of_operands_and_mul_is_analytic(self):
        for group in ("nc", "n"):
            self.group = group
            d, report = self.run_grouping(group)
            entries = {(l["name"], l["pass"]): l for l in report["layers"]}
            self.assertEqual(len(entries), 3 * len(self.layers))
            for layer in self.layers:
                self.check_layer(d, entries, layer)

    def test_conv_command_takes_the_kind(self):
        d, _ = self.run_grouping("c")
        for entry, kind, prm, *_ in self.layers:
            if entry["name"] not in ("convt_s2_op1_g2", "mm_heads", "fc_tokens", "conv_dw_s2"):
                continue
            with self.subTest(layer=entry["name"]):
                flags = []
                for key, value in prm.items():
                    if isinstance(value, list):
                        continue  # conv takes one value for both axes
                    flags += ["--" + key.replace("_", "-"), value]
                out = os.path.join(d, entry["name"] + ".conv.npy")
                t = lambda key: os.path.join(self.trace, entry[key])
                mlssim("conv", "--kind", kind, "--pass", "bwd-weight", "--weight", t("weight"), "--input", t("input"),
                       "--grad-output", t("grad_output"), "--name", entry["name"], "--acc-bits", 32,
                       "--rounding", "nearest", "--group", "c", "--rows", 4, "--cols", 4, *flags, "--out", out)
                np.testing.assert_array_equal(
                    np.load(out), np.load(os.path.join(d, "out", entry["name"] + ".bwd-weight.npy")))

    def test_vcd_and_accuracy_on_blocked_passes(self):
        d = os.path.join(self.tmp.name, "vcd")
        os.makedirs(d)
        vcd = os.path.join(d, "wave.vcd")
        mlssim("run", self.trace, "--layers", "conv_dw_s2,mm_heads", "--vcd", vcd, "--accuracy", "--check",
               "--report", os.path.join(d, "r.json"), "--quiet", "--no-progress")
        self.assertGreater(os.path.getsize(vcd), 0)
        with open(os.path.join(d, "r.json")) as f:
            report = json.load(f)
        blocks = {(l["name"], l["pass"]): l.get("blocks", 1) for l in report["layers"]}
        self.assertEqual(blocks[("conv_dw_s2", "fwd")], 5)   # one block per group
        self.assertEqual(blocks[("mm_heads", "bwd-weight")], 4)  # one per batch element
        for layer in report["layers"]:
            self.assertLess(layer["rel_error_fp32"], 0.2)

    def test_sweep_runs_every_kind(self):
        d = os.path.join(self.tmp.name, "sweep")
        os.makedirs(d)
        sweep = os.path.join(d, "kinds.json")
        with open(sweep, "w") as f:
            json.dump({"trace": self.trace, "grid": {"group": ["nc", "tensor"], "rows": [4]}}, f)
        mlssim("sweep", sweep, "--out", os.path.join(d, "results"))
        with open(os.path.join(d, "results", "results.json")) as f:
            points = json.load(f)["points"]
        self.assertEqual(len(points), 2)
        with open(os.path.join(d, "results", "results.csv")) as f:
            self.assertEqual(len(f.read().strip().splitlines()), 3)


class UnsupportedLayers(unittest.TestCase):
    def test_every_offending_layer_is_named_with_the_way_round(self):
        with tempfile.TemporaryDirectory() as root:
            rng = np.random.default_rng(3)
            tensors = {"ok": ((4, 6), (3, 6)), "rnn": ((4, 6), (3, 6)), "conv_bad_groups": ((6, 2, 3, 3), (1, 4, 5, 5))}
            layers = []
            for name, (w, a) in tensors.items():
                np.save(os.path.join(root, name + ".w.npy"), rng.standard_normal(w).astype("<f4"))
                np.save(os.path.join(root, name + ".a.npy"), rng.standard_normal(a).astype("<f4"))
                layers.append({"name": name, "weight": name + ".w.npy", "input": name + ".a.npy"})
            layers[0]["kind"] = "linear"
            layers[1]["kind"] = "lstm"
            layers[2].update(kind="conv2d", groups=4)
            with open(os.path.join(root, "manifest.json"), "w") as f:
                json.dump({"format": "mls-trace/2", "layers": layers}, f)
            out = os.path.join(root, "out")
            proc = mlssim("run", root, "--outputs", out, "--no-progress", ok=False)
            err = proc.stderr.strip()
            self.assertEqual(len(err.splitlines()), 1, err)
            for piece in ("2 layers cannot be simulated", "'rnn'", "kind 'lstm' is not supported",
                          "'conv_bad_groups'", "groups = 4", "manifest.json", "--layers ok"):
                self.assertIn(piece, err)
            self.assertFalse(os.path.exists(out))
            mlssim("run", root, "--layers", "ok", "--no-progress", "--quiet")


if __name__ == "__main__":
    unittest.main()
