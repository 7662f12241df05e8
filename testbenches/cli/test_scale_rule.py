"""--scale-rule fit: the group scale S_g is the smallest representable scale with
S_g * x_max >= s (s the group's max over the tensor max, x_max the element
format's largest value), capped at the format's largest scale. The quantizer
against the NumPy model spec_quantize (test_cli_errors), the run bit-exact under
--check with the presets (which choose fit) and with explicit flags, and the
parameter's flow through the report, sweeps and --layer-config."""
import json
import os
import re
import subprocess
import sys
import unittest

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_cli_errors import differing_bits, spec_quantize  # noqa: E402  (the NumPy model of the quantizer)

from clitest import MLSSIM, ROOT, TempDirCase, mlssim, quantize_npy, rounding_noise

TRACE = os.path.join(ROOT, "traces", "resnet20-digits")
LAYERS = "conv1,layer1.0.conv2,layer2.0.conv1"
# (elem, scale, group, x_max, S_g of the group holding the tensor max (s = 1), worked by hand):
#   e2m1 under e4m3: 1/0.75 = 1.33.. -> 1.375 (1.25 * 0.75 < 1);
#   under e8m0 the cap 1.0 binds (the group max clips to x_max, as under cover);
#   e2m4 under e8m1: 1/0.96875 = 1.03.. -> 1.5, so the max lands below x_max.
CASES = (("e2m1", "e4m3", "k16", 0.75, 1.375), ("e2m1", "e8m0", "k32", 0.75, 1.0),
         ("e4m3", "e8m0", "k32", 0.9375, 1.0), ("e2m4", "e8m1", "nc", 0.96875, 1.5))


class Quantize(TempDirCase):
    SEED = 11

    def tensor(self, shape):
        # Rows spread over 2^0 .. 2^-20 (some below e4m3's smallest scale 2^-15),
        # and element 0 the tensor max, so a block holds the ratio 1 (the cap case).
        x = self.rng.standard_normal(shape)
        x *= 2.0 ** -self.rng.integers(0, 21, size=shape[:1] + (1,) * (len(shape) - 1))
        x = x.astype(np.float32)
        top = np.float32(2.0) * np.abs(x).max()
        x.flat[0] = top
        # Two groups whose max (every other element is below top / 2) has a
        # ratio where cover and fit differ under every case's formats: 0.47
        # (cover 0.5 under e8m0, fit 1.0) and 0.74 (cover 0.75 under e8m1, fit 1.0).
        x[(1,) + (0,) * (x.ndim - 1)] = np.float32(0.47) * top
        x[(2,) + (0,) * (x.ndim - 1)] = np.float32(0.74) * top
        return x

    def quantize(self, x, *flags):
        deq, parts = quantize_npy(self.dir, x, *flags)
        return deq, np.load(os.path.join(parts, "sg.npy"))

    def test_fit_matches_the_numpy_model(self):
        for shape in ((12, 64), (4, 32, 3, 3)):
            x = self.tensor(shape)
            r, rp = rounding_noise(self.rng, shape, self.dir)
            for elem, scale, group, x_max, top in CASES:
                for rounding in ("nearest", "stochastic"):
                    with self.subTest(shape=shape, elem=elem, scale=scale, group=group, rounding=rounding):
                        extra = ["--random", rp] if rounding == "stochastic" else []
                        flags = ["--elem", elem, "--scale", scale, "--group", group, "--rounding", rounding, *extra]
                        deq, sg = self.quantize(x, *flags, "--scale-rule", "fit")
                        want, _, _, want_sg, s_t = spec_quantize(x, elem, scale, group, rounding, r=r,
                                                                 scale_rule="fit")
                        bad = differing_bits(deq, want)
                        self.assertEqual(bad.size, 0, f"{bad.size} elements differ, first {bad[:5]}")
                        np.testing.assert_array_equal(sg, want_sg.reshape(sg.shape))
                        self.assertEqual(sg.flat[0], top)
                        # Nearest: the tensor max lands on x_max (fitted, or
                        # clipped under the cap), below it for coarse e8m1 scales.
                        landed = float(deq.flat[0]) / (float(s_t) * sg.flat[0])
                        if rounding == "nearest" and scale != "e8m1":
                            self.assertAlmostEqual(landed, x_max, delta=1e-6)
                        self.assertLessEqual(landed, x_max * (1 + 1e-6))
                        # Under fit the scales differ from cover's somewhere.
                        _, cover_sg = self.quantize(x, *flags)
                        self.assertTrue(np.any(cover_sg != sg))

    def test_default_rule_is_cover(self):
        x = self.tensor((8, 32))
        deq, sg = self.quantize(x, "--elem", "e2m1", "--scale", "e4m3", "--group", "k16", "--rounding", "nearest")
        want, _, _, want_sg, _ = spec_quantize(x, "e2m1", "e4m3", "k16", "nearest")
        self.assertEqual(differing_bits(deq, want).size, 0)
        np.testing.assert_array_equal(sg, want_sg.reshape(sg.shape))
        deq2, sg2 = self.quantize(x, "--elem", "e2m1", "--scale", "e4m3", "--group", "k16", "--rounding",
                                  "nearest", "--scale-rule", "cover")
        self.assertEqual(differing_bits(deq2, deq).size, 0)

    def test_bad_scale_rule_is_one_line(self):
        np.save(os.path.join(self.dir, "x.npy"), np.ones((2, 2), np.float32))
        out = os.path.join(self.dir, "bad.npy")
        proc = mlssim("quantize", os.path.join(self.dir, "x.npy"), "--scale-rule", "amax", "--dequant", out, ok=None)
        self.assertNotEqual(proc.returncode, 0)
        lines = proc.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, proc.stderr)
        self.assertIn("amax", lines[0])
        self.assertIn("cover|fit", lines[0])
        self.assertFalse(os.path.exists(out))


class Run(TempDirCase):

    def report(self, *flags, layers=LAYERS):
        path = os.path.join(self.dir, "r.json")
        proc = mlssim("run", TRACE, "--layers", layers, "--check", "--accuracy", "--quiet", "--no-progress",
                      "--report", path, *flags, ok=None)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        with open(path) as f:
            report = json.load(f)
        os.remove(path)
        return report

    def test_nvfp4_preset_is_fit_and_bit_exact(self):
        r = self.report("--preset", "nvfp4")
        self.assertTrue(r["total"]["bit_exact"])
        self.assertEqual(r["config"]["scale_rule"], "fit")
        # An explicit flag overrides the preset's rule: another result.
        c = self.report("--preset", "nvfp4", "--scale-rule", "cover")
        self.assertTrue(c["total"]["bit_exact"])
        self.assertEqual(c["config"]["scale_rule"], "cover")
        self.assertNotEqual([e["rel_error_fp32"] for e in r["layers"]], [e["rel_error_fp32"] for e in c["layers"]])

    def test_fit_with_e4m3_and_e8m1_scales_is_bit_exact(self):
        # e4m3: the multiplier form; e8m1 (the default): shift-add, S_g = 1.5 now possible.
        for scale in ("e4m3", "e8m1"):
            with self.subTest(scale=scale):
                r = self.report("--scale-rule", "fit", "--scale", scale)
                self.assertTrue(r["total"]["bit_exact"])
                self.assertEqual(r["config"]["scale_rule"], "fit")

    def test_vectors_carry_scales_above_one_and_the_rtl_column_agrees(self):
        # Under fit, e8m1 scales reach 1.5: code {neg_exp 0, man 1} = 1, which
        # cover never writes. The RTL column (when built) replays the pass.
        out = os.path.join(self.dir, "vec")
        proc = mlssim("vectors", TRACE, "--layers", "conv1", "--passes", "fwd", "--scale-rule", "fit", "--out", out,
                      ok=None)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        with open(os.path.join(out, "y.txt")) as f:
            codes = [line.split()[0] for line in f]
        self.assertIn("1", codes)
        tb = os.path.join(os.path.dirname(os.path.abspath(MLSSIM)), "..", "rtl", "mls_rtl_tb")
        if not os.path.exists(tb):
            self.skipTest("the RTL testbench is not built")
        proc = subprocess.run([tb, "vectors", out], capture_output=True, text=True, timeout=300)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertRegex(proc.stdout + proc.stderr, r"[1-9][0-9]* checks, 0 mismatches")

    def test_default_report_says_cover(self):
        r = self.report("--passes", "fwd")
        self.assertEqual(r["config"]["scale_rule"], "cover")

    def test_sweep_point_id_changes_only_away_from_cover(self):
        path = os.path.join(self.dir, "s.yaml")
        with open(path, "w") as f:
            f.write(f"trace: {TRACE}\npoints:\n  - {{elem: e2m1}}\n  - {{elem: e2m1, scale_rule: cover}}\n"
                    f"  - {{elem: e2m1, scale_rule: fit}}\n")
        proc = mlssim("sweep", path, "--list", ok=None)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        ids = re.findall(r"^([0-9a-f]{12}) point \d+", proc.stdout, re.M)
        # Added after point ids: at its default (cover) the key leaves the id as
        # it was, so the second point is the first one again, listed once.
        self.assertEqual(len(ids), 2, proc.stdout)
        self.assertEqual(len(set(ids)), 2, proc.stdout)
        self.assertIn("scale_rule=fit", proc.stdout)

    def test_layer_config_sets_the_rule_per_layer(self):
        path = os.path.join(self.dir, "l.yaml")
        with open(path, "w") as f:
            f.write("conv1: {scale_rule: fit}\n")
        flags = ["--passes", "fwd", "--scale", "e4m3", "--elem", "e2m1",
                 "--group", "k16", "--rounding", "nearest"]
        two = "conv1,layer1.0.conv2"
        per_layer = self.report(*flags, "--layer-config", path, layers=two)
        cover = self.report(*flags, layers=two)
        fit = self.report(*flags, "--scale-rule", "fit", layers=two)
        self.assertTrue(per_layer["total"]["bit_exact"])
        err = {name: [e["rel_error_fp32"] for e in r["layers"]] for name, r in
               (("mixed", per_layer), ("cover", cover), ("fit", fit))}
        self.assertEqual(err["mixed"][0], err["fit"][0])
        self.assertEqual(err["mixed"][1], err["cover"][1])
        self.assertNotEqual(err["fit"][0], err["cover"][0])


if __name__ == "__main__":
    unittest.main()
