"""mlssim.torch: converted layers against float64 autograd and the accumulator's
arithmetic written out here (docs/python.md).

- acc_bits 48: a converted Conv2d's and Linear's forward, input gradient and weight
  gradient equal float64 autograd on the dequantized operands (mlssim.quantize,
  itself held to the CLI in test_module.py) to within fp32 rounding;
- a 16-bit saturating accumulator: the outputs that differ from the 48-bit run
  are exactly those whose chunk sums, computed here in exact integers from the
  operands' codes, leave [-2^15, 2^15 - 1], and mls_stats counts exactly the
  additions that left it;
- convert: presets leave their unquantized layers in torch, layer configs apply,
  bad parameters raise ValueError at convert time;
- a small CNN trains on digits (loss falls) in seconds.
"""
import time
import unittest

import numpy as np
import torch
import torch.nn.functional as F

import mlssim
import mlssim.torch as mt


def dequantized(t, name, **config):
    return torch.from_numpy(mlssim.quantize(t.detach().numpy(), name=name, **config).astype(np.float64))


def fp32_bound(magnitude, adds):
    return adds * 2.0 ** -24 * magnitude + 1e-37


class WideAccumulatorTest(unittest.TestCase):
    def check(self, layer, x, functional, seed):
        """layer's three products against float64 autograd of `functional` on the dequantized operands."""
        x = x.clone().requires_grad_(True)
        y = layer(x)
        e = torch.randn_like(y)
        y.backward(e)
        q = dict(rounding="stochastic", seed=seed)
        wq = dequantized(layer.weight, layer.mls_name + ".weight", **q).requires_grad_(True)
        aq = dequantized(x, layer.mls_name + ".input", **q).requires_grad_(True)
        eq = dequantized(e, layer.mls_name + ".grad_output", **q)
        bias = 0 if layer.bias is None else layer.bias.detach().double()
        ref = functional(aq, wq)
        ref.backward(eq)
        wa, aa = wq.detach().abs().requires_grad_(True), aq.detach().abs().requires_grad_(True)
        magnitude = functional(aa, wa)
        magnitude.backward(eq.abs())
        adds = 12  # scaler, 4 tree levels, a few output-accumulator adds, final scale
        ref_out = (ref.detach() + (bias.view(1, -1, 1, 1) if isinstance(layer, torch.nn.Conv2d) else bias))
        for what, got, want, mag in (("fwd", y.detach(), ref_out, magnitude.detach() + abs(ref_out - ref.detach())),
                                     ("bwd-data", x.grad, aq.grad, aa.grad),
                                     ("bwd-weight", layer.weight.grad, wq.grad, wa.grad)):
            with self.subTest(layer=layer.mls_name, pass_=what):
                diff = (got.double() - want).abs()
                self.assertTrue(bool(torch.all(diff <= fp32_bound(mag, adds))), float(diff.max()))
                self.assertEqual(layer.mls_stats[what]["acc_overflow"], 0)
                self.assertGreater(layer.mls_stats[what]["mul"], 0)

    def test_conv2d_and_linear(self):
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3, padding=1, stride=2), torch.nn.Flatten(),
                                    torch.nn.Linear(16 * 5 * 5, 10))
        # nc on every layer: the reference dequantizes each operand once, as nc does
        # (the linear layer's default, a block grouping, re-quantizes per pass).
        mt.convert(model, acc_bits=48, seed=9, group="nc")
        conv, lin = model[0], model[2]
        self.assertIsInstance(conv, mt.Conv2d)
        # Call 0 of each layer uses seed 9 itself (later calls: seed + i * 0x9E3779B97F4A7C15).
        self.check(conv, torch.randn(4, 3, 10, 10), lambda a, w: F.conv2d(a, w, stride=2, padding=1), 9)
        self.check(lin, torch.randn(4, 400), lambda a, w: a @ w.t(), 9)


def codes(t, **config):
    """sign * q of a tensor-wide-scaled operand: value / (S_t u) (e2m4: u = 2^-7), an integer up
    to the float32 rounding of the dequantized value (relative 2^-24 of |q| <= 124)."""
    x = t.detach().numpy().astype(np.float32)
    deq = mlssim.quantize(x, **config).astype(np.float64)
    q = deq / (np.abs(x).max().astype(np.float64) * 2.0 ** -7)
    assert np.all(np.abs(q - np.round(q)) < 1e-3)
    return np.round(q).astype(np.int64)


def chunk_outcomes(xq, yq, chunk=16, bits=16):
    """Per output of X [m, r] . Y [p, r]: (overflowing additions, whether a saturated chunk sum
    differs from its exact one), the reduction walked in ascending chunks of `chunk`."""
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    m, p = xq.shape[0], yq.shape[0]
    overflows, differs = 0, np.zeros((m, p), bool)
    for start in range(0, xq.shape[1], chunk):
        products = xq[:, None, start:start + chunk] * yq[None, :, start:start + chunk]
        exact, sat = np.zeros((m, p), np.int64), np.zeros((m, p), np.int64)
        for k in range(products.shape[2]):
            exact += products[:, :, k]
            sat += products[:, :, k]
            outside = (sat < lo) | (sat > hi)
            overflows += int(outside.sum())
            sat = np.clip(sat, lo, hi)
        differs |= sat != exact
    return overflows, differs


class SaturatingAccumulatorTest(unittest.TestCase):
    def test_results_differ_exactly_where_chunks_overflow(self):
        torch.manual_seed(1)
        x = torch.randn(6, 64)
        x[3:] *= 0.3  # tokens 3-5 inside the accumulator's range, 0-2 large in their first chunk
        x[:3, :16] = x[:3, :16].abs() + 1.0
        config = dict(group="tensor", rounding="nearest")
        runs = {}
        for bits in (48, 16):
            lin = mt.Linear(64, 5, bias=False, name="fc", acc_bits=bits, **config)
            with torch.no_grad():
                lin.weight.copy_(torch.linspace(-1, 1, 320).view(5, 64).roll(7, 1))
                lin.weight[:, :16] = 1.0
            a = x.clone().requires_grad_(True)
            y = lin(a)
            e = torch.linspace(-1, 1, 30).view(6, 5) ** 3
            e[:, 0] = 1.0  # with A's large first columns: weight gradients that overflow
            y.backward(e)
            runs[bits] = (y.detach(), a.grad, lin.weight.grad, lin.mls_stats, lin.weight.detach(), e)
        y16, gx16, gw16, stats16, w, e = runs[16]
        y48, gx48, gw48 = runs[48][:3]
        wq, aq, eq = codes(w, **config), codes(x, **config), codes(e, **config)
        # The linear lowering (docs/layers.md): fwd W . A over in, bwd-data W^T . E over out,
        # bwd-weight E^T . A^T over tokens; one group each with a tensor-wide scale.
        expected = {"fwd": chunk_outcomes(wq, aq), "bwd-data": chunk_outcomes(wq.T, eq),
                    "bwd-weight": chunk_outcomes(eq.T, aq.T)}
        got = {"fwd": (y16 != y48).numpy().T, "bwd-data": (gx16 != gx48).numpy().T,
               "bwd-weight": (gw16 != gw48).numpy()}
        for p, (overflows, differs) in expected.items():
            with self.subTest(pass_=p):
                self.assertEqual(stats16[p]["acc_overflow"], overflows)
                self.assertTrue(np.array_equal(got[p], differs))
        self.assertGreater(expected["fwd"][0], 0)
        self.assertGreater(expected["bwd-weight"][1].sum(), 0)
        self.assertLess(expected["fwd"][1].sum(), expected["fwd"][1].size)


def balanced_chunk(g, k, rows=16, longest=16):
    """docs/layers.md's balanced row filling of a block grouping whose g groups of k leave rows idle:
    the chunk c <= min(longest, k) with the fewest cycles ceil(g ceil(k / c) / rows) c, the longest on a tie."""
    cycles = {c: -(-g * -(-k // c) // rows) * c for c in range(1, min(longest, k) + 1)}
    return max(c for c in cycles if cycles[c] == min(cycles.values()))


class ConvertTest(unittest.TestCase):
    def model(self):
        return torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.Conv2d(4, 4, 3),
                                   torch.nn.Flatten(), torch.nn.Linear(4 * 4 * 4, 10))

    def test_preset_keeps_its_unquantized_layers(self):
        m = mt.convert(self.model(), preset="paper-cifar")
        self.assertEqual([type(m[i]) for i in (0, 2, 4)], [torch.nn.Conv2d, mt.Conv2d, torch.nn.Linear])
        m = mt.convert(self.model(), preset="paper-cifar", unquantized="none")
        self.assertEqual([type(m[i]) for i in (0, 2, 4)], [mt.Conv2d, mt.Conv2d, mt.Linear])

    def test_layer_config(self):
        m = mt.convert(self.model(), layer_config={"2": {"unquantized": True}, "4": {"elem": "e3m3"}})
        self.assertIs(type(m[2]), torch.nn.Conv2d)
        self.assertEqual(m[4].mls_config.config["elem"], "e3m3")
        with self.assertRaisesRegex(ValueError, "unknown key 'acc'"):
            mt.convert(self.model(), layer_config={"*": {"acc": 3}})

    def test_default_groupings_are_runs(self):
        """No grouping given: the linear layer runs in blocks of 32 along its reduction, as `run`
        defaults it, the 3x3 convs in nc; a grouping given (flag or preset) applies to all."""
        torch.manual_seed(1)
        model = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.Flatten(), torch.nn.Linear(4 * 4 * 4, 8))
        x = torch.randn(4, 1, 6, 6)
        mt.convert(model)
        model(x).sum().backward()
        fc = model[2].mls_stats["fwd"]
        # 4 x 8 outputs, each reducing 64 products, one group scaling per chunk: nc is 64
        # groups of one product; k32 two blocks of 32, in balanced chunks of 4 (16 scalings).
        self.assertEqual((fc["mul"], fc["scale"]), (4 * 8 * 64, 4 * 8 * 64 // balanced_chunk(2, 32)))
        conv = model[0].mls_stats["fwd"]
        self.assertEqual(conv["scale"], 4 * 4 * 4 * 4)  # a chunk of 9 per output: one scaling each
        for config, scale in (({"group": "nc"}, 4 * 8 * 64), ({"preset": "nvfp4"}, 4 * 8 * 64 // balanced_chunk(4, 16))):
            with self.subTest(config=config):
                m = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4 * 4 * 4, 8))
                mt.convert(m, **config)
                m(torch.randn(4, 64)).sum().backward()
                self.assertEqual(m[1].mls_stats["fwd"]["scale"], scale)

    def test_bad_parameter_raises_at_convert(self):
        with self.assertRaisesRegex(ValueError, r"^--acc-bits must be in \[8, 62\], got 70$"):
            mt.convert(self.model(), acc_bits=70)

    def test_parameters_are_kept(self):
        m = self.model()
        before = list(m.parameters())
        opt = torch.optim.SGD(m.parameters(), lr=0.1)
        mt.convert(m)
        self.assertEqual([id(p) for p in m.parameters()], [id(p) for p in before])
        w0 = m[2].weight.detach().clone()
        m(torch.randn(2, 1, 8, 8)).sum().backward()
        opt.step()
        self.assertFalse(torch.equal(w0, m[2].weight.detach()))

    def test_stats_accumulate(self):
        m = mt.convert(self.model())
        for _ in range(2):
            m(torch.randn(2, 1, 8, 8)).sum().backward()
        stats = mt.mls_stats(m)
        self.assertEqual(stats["0"]["calls"], 2)
        # Conv 1 -> 4, 3x3 on 8x8, batch 2: N Co Ho Wo Ci Kh Kw products per pass per call.
        self.assertEqual(stats["0"]["fwd"]["mul"], 2 * (2 * 4 * 6 * 6 * 1 * 9))
        self.assertEqual(stats["0"]["bwd-weight"]["mul"], 2 * (2 * 4 * 6 * 6 * 1 * 9))


class TrainsTest(unittest.TestCase):
    def test_small_cnn_learns_digits(self):
        from sklearn.datasets import load_digits
        digits = load_digits()
        images = torch.tensor(digits.images / 16.0, dtype=torch.float32).unsqueeze(1)
        x, y = images[:1500], torch.tensor(digits.target[:1500])
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Conv2d(1, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                                    torch.nn.Conv2d(16, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(),
                                    torch.nn.Linear(16 * 4 * 4, 10))
        mt.convert(model, elem="e2m4", acc_bits=16, seed=3)
        opt = torch.optim.Adam(model.parameters(), lr=3e-3)
        start, losses = time.time(), []
        gen = torch.Generator().manual_seed(0)
        for _ in range(40):
            idx = torch.randint(0, len(x), (64,), generator=gen)
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss))
        self.assertLess(time.time() - start, 60)
        self.assertLess(np.mean(losses[-5:]), 0.5 * np.mean(losses[:5]), losses)
        with torch.no_grad():
            acc = float((model(images[1500:]).argmax(1) == torch.tensor(digits.target[1500:])).float().mean())
        self.assertGreater(acc, 0.6)


if __name__ == "__main__":
    unittest.main()
