"""The Python module `mlssim` against the CLI and the spec's formulas (docs/python.md).

- quantize: bit for bit what `mlssim quantize --dequant` writes (nearest,
  stochastic by seed and by --random, --clip, every grouping, block axes, scale
  rules), and the quantizer's steps written out here for a tensor-wide scale;
- every kind x pass: bit for bit what `mlssim conv --kind K` writes, its MACs and
  acc_overflow as the CLI prints them, the other counts as `mlssim run` (the
  SystemC array) reports them;
- a 48-bit accumulator: the result equals float64 on the dequantized operands to
  within the fp32 rounding of the scaler, tree and output accumulator;
- bad keyword arguments: ValueError with the CLI's one-line message;
- threads 1 and 2: the same bits.
"""
import json
import os
import re
import sys
import tempfile
import unittest

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cli"))
from clitest import mlssim as cli, write_trace, load_json  # noqa: E402

import mlssim  # noqa: E402


def same_bits(a, b):
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    return a.shape == b.shape and np.array_equal(a.view(np.uint32), b.view(np.uint32))


# One layer of each kind: (kind, keys as the CLI flags and the module's keys, weight, input, grad_output).
def layers(rng):
    yield ("conv2d", {"stride": 2, "padding": 1, "groups": 2}, rng.standard_normal((6, 2, 3, 3)),
           rng.standard_normal((2, 4, 9, 9)), rng.standard_normal((2, 6, 5, 5)) * 1e-3)
    yield ("conv_transpose2d", {"stride": 2, "padding": 1}, rng.standard_normal((4, 3, 3, 3)),
           rng.standard_normal((2, 4, 5, 5)), rng.standard_normal((2, 3, 9, 9)) * 1e-3)
    yield ("linear", {}, rng.standard_normal((5, 40)), rng.standard_normal((2, 3, 40)),
           rng.standard_normal((2, 3, 5)))
    yield ("matmul", {}, rng.standard_normal((3, 20, 7)), rng.standard_normal((3, 6, 20)),
           rng.standard_normal((3, 6, 7)))


CONFIGS = [{}, {"elem": "e2m1", "clip": True, "acc_bits": 12, "seed": 7},
           {"group": "k16", "rounding": "nearest", "scale_rule": "fit"},
           {"elem_w": "e3m2", "group_e": "tensor", "acc_overflow": "wrap", "acc_bits": 10, "chunk": 5}]


def flags(config):
    out = []
    for key, value in config.items():
        flag = "--" + key.replace("_", "-")
        out += [flag] if value is True else [flag, str(value)]
    return out


class QuantizeTest(unittest.TestCase):
    def test_quantize_matches_cli(self):
        rng = np.random.default_rng(1)
        x = (rng.standard_normal((4, 6, 5)) * np.exp(rng.standard_normal((4, 6, 5)))).astype(np.float32)
        r = (rng.random((4, 6, 5)) - 0.5).astype(np.float32)
        cases = [{}, {"rounding": "stochastic", "seed": 11}, {"elem": "e2m1", "clip": True},
                 {"group": "tensor", "scale": "e4m0"}, {"group": "n", "rounding": "stochastic"},
                 {"group": "c", "elem": "e0m5"}, {"group": "k4", "block_axis": 2, "scale_rule": "fit"},
                 {"group": "k2", "elem": "e3m3"}, {"rounding": "stochastic", "random": "r"}]
        with tempfile.TemporaryDirectory() as d:
            src, rnd = os.path.join(d, "act.npy"), os.path.join(d, "r.npy")
            np.save(src, x)
            np.save(rnd, r)
            for case in cases:
                case = dict(case)
                kwargs = {"rounding": "nearest", **case}
                extra = []
                if kwargs.get("random"):
                    kwargs["random"], extra = r, ["--random", rnd]
                args = flags({k: v for k, v in kwargs.items() if k != "random"}) + extra
                cli("quantize", src, *args, "--dequant", os.path.join(d, "q.npy"))
                with self.subTest(case=case):
                    self.assertTrue(same_bits(mlssim.quantize(x, name="act", **kwargs), np.load(os.path.join(d, "q.npy"))))

    def test_tensor_scale_by_the_spec_steps(self):
        # One tensor-wide scale: S_g = 1, x_f = |x| / S_t, e2m1 (emin = 1 - 2^2 = -3, u = 2^-4),
        # steps by binade, round half to even, clamp to 1 - 2^-2 (docs/reference.md).
        x = np.array([0.3, -1.7, 0.01, 2.9, -0.52, 0.124, 4.0, -3.3], np.float32)
        s_t = np.float64(np.abs(x).max())
        xf = np.abs(x.astype(np.float64)) / s_t
        emin, m = -3, 1
        step = np.where(xf < 2.0 ** emin, 2.0 ** (emin - m), 2.0 ** (np.minimum(np.floor(np.log2(np.maximum(xf, 1e-300))), -1) - m))
        q = np.minimum(np.round(xf / step) * step, 1 - 2.0 ** -(m + 1))
        expect = (np.sign(x) * s_t * q).astype(np.float32)
        got = mlssim.quantize(x, elem="e2m1", group="tensor")
        self.assertTrue(same_bits(got, expect), (got, expect))


class PassesTest(unittest.TestCase):
    def test_every_kind_and_pass_matches_cli(self):
        rng = np.random.default_rng(2)
        with tempfile.TemporaryDirectory() as d:
            for kind, keys, w, a, e in layers(rng):
                paths = {}
                for role, t in (("weight", w), ("input", a), ("grad", e)):
                    paths[role] = os.path.join(d, role + ".npy")
                    np.save(paths[role], t.astype(np.float32))
                for config in CONFIGS:
                    got = mlssim.layer(kind, list(mlssim.PASSES), w, a, e, keys=keys, name="l1", **config)
                    for p, (result, stats) in zip(mlssim.PASSES, got):
                        out = os.path.join(d, "out.npy")
                        printed = cli("conv", "--kind", kind, "--pass", p, "--weight", paths["weight"], "--input",
                                      paths["input"], "--grad-output", paths["grad"], "--name", "l1",
                                      *flags(keys), *flags(config), "--out", out).stdout
                        macs, overflow = map(int, re.search(r"(\d+) MACs, acc_overflow = (\d+)", printed).groups())
                        with self.subTest(kind=kind, pass_=p, config=config):
                            self.assertTrue(same_bits(result, np.load(out)))
                            self.assertEqual((stats["mul"], stats["acc_overflow"]), (macs, overflow))

    def test_counts_are_the_arrays(self):
        rng = np.random.default_rng(3)
        entries = [({"name": "c", "kind": "conv2d", "stride": [1, 1], "padding": [1, 1], "dilation": [1, 1],
                     "groups": 1},
                    {"weight": rng.standard_normal((20, 8, 3, 3)), "input": rng.standard_normal((2, 8, 6, 6)),
                     "grad_output": rng.standard_normal((2, 20, 6, 6))}),
                   ({"name": "f", "kind": "linear"},
                    {"weight": rng.standard_normal((9, 50)), "input": rng.standard_normal((4, 50)) * 30,
                     "grad_output": rng.standard_normal((4, 9))})]
        config = {"acc_bits": 12, "chunk": 7, "group": "k8", "rows": 4, "cols": 8}
        with tempfile.TemporaryDirectory() as d:
            write_trace(d, entries)
            report = os.path.join(d, "r.json")
            cli("run", d, *flags(config), "--report", report, "--no-progress", "--quiet")
            by_entry = {(e["name"], e["pass"]): e["events"] for e in load_json(report)["layers"]}
        for (entry, t) in entries:
            kind = entry["kind"]
            keys = {k: entry[k] for k in ("stride", "padding", "dilation", "groups") if k in entry}
            t = {k: v.astype(np.float32) for k, v in t.items()}
            got = mlssim.layer(kind, list(mlssim.PASSES), t["weight"], t["input"], t["grad_output"], keys=keys,
                               name=entry["name"], **config)
            for p, (_, stats) in zip(mlssim.PASSES, got):
                events = by_entry[(entry["name"], p)]
                with self.subTest(layer=entry["name"], pass_=p):
                    for key, value in stats.items():
                        self.assertEqual(value, events[key], key)

    def test_wide_accumulator_is_float64_of_the_operands(self):
        torch = __import__("torch")
        rng = np.random.default_rng(4)
        w = rng.standard_normal((16, 8, 3, 3)).astype(np.float32)
        a = np.abs(rng.standard_normal((2, 8, 10, 10))).astype(np.float32)
        e = rng.standard_normal((2, 16, 10, 10)).astype(np.float32)
        config = {"acc_bits": 48, "rounding": "stochastic", "seed": 5}
        got = mlssim.conv2d(list(mlssim.PASSES), w, a, e, padding=1, name="L", **config)
        wq, aq, eq = (torch.from_numpy(mlssim.quantize(t, name="L." + n, rounding="stochastic", seed=5)
                                       .astype(np.float64)).requires_grad_(True)
                      for t, n in ((w, "weight"), (a, "input"), (e, "grad_output")))
        out = torch.nn.functional.conv2d(aq, wq, padding=1)
        out.backward(eq)
        absolute = torch.nn.functional.conv2d(aq.abs(), wq.abs(), padding=1)
        wa = wq.detach().abs().requires_grad_(True)
        aa = aq.detach().abs().requires_grad_(True)
        torch.nn.functional.conv2d(aa, wa, padding=1).backward(eq.detach().abs())
        exact = {"fwd": (out.detach(), absolute.detach()), "bwd-data": (aq.grad, aa.grad),
                 "bwd-weight": (wq.grad, wa.grad)}
        for p, (result, stats) in zip(mlssim.PASSES, got):
            value, magnitude = (t.numpy() for t in exact[p])
            # fp32 roundings: scaler, tree levels (4), output accumulator adds, final scale; each
            # at most 2^-24 of a partial sum bounded by the sum of |products|.
            adds = 4 + stats["out_acc"] // stats["final_mul"] + 3
            with self.subTest(pass_=p):
                self.assertEqual(stats["acc_overflow"], 0)
                self.assertTrue(np.all(np.abs(result - value) <= adds * 2.0 ** -24 * magnitude + 1e-37))
                self.assertGreater(np.count_nonzero(result), result.size // 2)


class ErrorsTest(unittest.TestCase):
    def test_bad_arguments_raise_the_clis_message(self):
        w, a = np.ones((2, 2, 1, 1), np.float32), np.ones((1, 2, 2, 2), np.float32)
        with tempfile.TemporaryDirectory() as d:
            np.save(os.path.join(d, "w.npy"), w)
            np.save(os.path.join(d, "a.npy"), a)
            for bad in ({"acc_bits": 7}, {"elem": "e9m1"}, {"group": "k1"}, {"rounding": "sometimes"},
                        {"seed": -1}, {"chunk": "x"}, {"acc_overflow": "clip"}, {"scale": "e2m7"},
                        {"preset": "nope"}, {"preset": "mxfp4", "group": "nc"}, {"tree_stages": 9}):
                args = flags({k: v for k, v in bad.items()})
                err = cli("conv", "--pass", "fwd", "--weight", os.path.join(d, "w.npy"), "--input",
                          os.path.join(d, "a.npy"), *args, "--out", os.path.join(d, "o.npy"), ok=False).stderr
                message = err.strip().split("error: ", 1)[1]
                with self.subTest(bad=bad):
                    with self.assertRaises(ValueError) as ctx:
                        mlssim.conv2d("fwd", w, a, **bad)
                    self.assertEqual(str(ctx.exception), message)
        with self.assertRaisesRegex(ValueError, r"^unknown parameter 'acc_bit' \(known: rows, "):
            mlssim.conv2d("fwd", w, a, acc_bit=16)
        with self.assertRaisesRegex(ValueError, "needs --grad-output"):
            mlssim.conv2d("bwd-data", w, a)
        with self.assertRaisesRegex(ValueError, "NaN"):
            mlssim.quantize(np.array([1.0, np.nan], np.float32))

    def test_registries_are_the_binarys(self):
        described = json.loads(cli("describe", "--json").stdout)
        names = [p["name"] for p in mlssim.parameters()]
        self.assertEqual(names, [p["name"] for p in described["params"]])
        self.assertEqual([p["name"] for p in mlssim.presets()], [p["name"] for p in described["presets"]])


class ThreadsTest(unittest.TestCase):
    def test_thread_count_does_not_change_bits(self):
        rng = np.random.default_rng(6)
        w = rng.standard_normal((24, 8, 3, 3)).astype(np.float32)
        a = rng.standard_normal((3, 8, 11, 13)).astype(np.float32)
        e = rng.standard_normal((3, 24, 11, 13)).astype(np.float32)
        runs = [mlssim.conv2d(list(mlssim.PASSES), w, a, e, padding=1, acc_bits=14, threads=t) for t in (1, 2, 3)]
        for other in runs[1:]:
            for (r1, s1), (r2, s2) in zip(runs[0], other):
                self.assertTrue(same_bits(r1, r2))
                self.assertEqual(s1, s2)


if __name__ == "__main__":
    unittest.main()
