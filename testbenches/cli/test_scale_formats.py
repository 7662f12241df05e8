"""Group scales with wider mantissas (M_g in [0, 3], e.g. e4m3 as NVFP4 uses):
the quantizer against the NumPy model of docs/reference.md#the-reference-quantizer
(spec_quantize, imported from test_cli_errors), the run on the bundled trace
bit-exact under --check with the multiplier form of the group scaler counted as
scale_mul, a broken scaler caught, and the RTL vectors refused."""
import json
import os
import sys
import unittest

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_cli_errors import differing_bits, spec_quantize  # noqa: E402  (the NumPy model of the quantizer)

from clitest import ROOT, TempDirCase, mlssim, quantize_npy, rounding_noise

TRACE = os.path.join(ROOT, "traces", "resnet20-digits")
# A few layers of the bundled trace: the stride-1 stem, a block conv and the
# stride-2 conv of stage 2 (zero insertion in bwd-data), all three passes.
LAYERS = "conv1,layer1.0.conv2,layer2.0.conv1"


class Quantize(TempDirCase):
    SEED = 2024

    def tensor(self, shape):
        # Groups spread over 2^0 .. 2^-23, so that ratios fall below e4m3's
        # smallest group scale 2^-15 and the exponent clamp is exercised too.
        x = self.rng.standard_normal(shape)
        x *= 2.0 ** -self.rng.integers(0, 24, size=shape[:2] + (1,) * (len(shape) - 2))
        return x.astype(np.float32)

    def quantize(self, x, *flags):
        deq, parts = quantize_npy(self.dir, x, *flags)
        sg = (1 + np.load(os.path.join(parts, "sg_man.npy")).astype(np.float64) / 2.0 ** int(flags[flags.index(
            "--scale") + 1][-1])) * np.ldexp(1.0, np.load(os.path.join(parts, "sg_exp.npy")).astype(np.int64))
        return deq, sg

    def test_wide_mantissa_scales_match_the_numpy_model(self):
        x = self.tensor((6, 7, 3, 3))
        r, rp = rounding_noise(self.rng, x.shape, self.dir)
        clamped = 0
        for scale in ("e4m3", "e5m2", "e8m3", "e8m2", "e2m3", "e0m3"):
            for elem in ("e2m1", "e2m4"):
                for rounding in ("nearest", "stochastic"):
                    with self.subTest(scale=scale, elem=elem, rounding=rounding):
                        extra = ["--random", rp] if rounding == "stochastic" else []
                        deq, sg = self.quantize(x, "--elem", elem, "--scale", scale, "--rounding", rounding, *extra)
                        want, _, _, want_sg, s_t = spec_quantize(x, elem, scale, "nc", rounding, r=r)
                        bad = differing_bits(deq, want)
                        self.assertEqual(bad.size, 0, f"{bad.size} elements differ, first {bad[:5]}")
                        np.testing.assert_array_equal(sg, want_sg.reshape(sg.shape))
                        # Rounded up: S_g >= the group's ratio to the tensor max.
                        ratio = np.abs(x).max(axis=(2, 3)) / s_t
                        self.assertTrue(np.all(sg >= ratio))
                        e_g = int(scale[1])
                        clamped += int(np.sum(ratio < 2.0 ** (1 - 2 ** e_g)))
        self.assertGreater(clamped, 0, "some groups fell below the smallest scale")

    def test_an_e4m3_scale_has_eight_mantissa_steps(self):
        # Ratios (1 + c/8) * 2^-1 for c = 0..7 are representable: S_g hits each exactly,
        # and a ratio just above one of them rounds up to the next step.
        rows = [np.float32(1.0)] + [np.float32((1 + c / 8) / 2) for c in range(8)]
        rows += [np.nextafter(np.float32(1.25 / 2), np.float32(1))]
        x = np.array(rows, dtype=np.float32).reshape(len(rows), 1)
        _, sg = self.quantize(x, "--scale", "e4m3", "--group", "n", "--rounding", "nearest")
        want = [1.0] + [(1 + c / 8) / 2 for c in range(8)] + [(1 + 3 / 8) / 2]
        np.testing.assert_array_equal(sg, want)

    def test_scale_format_range(self):
        np.save(os.path.join(self.dir, "x.npy"), np.ones((2, 2), np.float32))
        for good in ("e8m2", "e4m3", "e0m3", "e8m0"):
            proc = mlssim("quantize", os.path.join(self.dir, "x.npy"), "--scale", good,
                          "--dequant", os.path.join(self.dir, "ok.npy"), ok=None)
            self.assertEqual(proc.returncode, 0, f"{good}: {proc.stderr}")
        for bad in ("e4m4", "e9m3", "e8m12"):
            proc = mlssim("quantize", os.path.join(self.dir, "x.npy"), "--scale", bad,
                          "--dequant", os.path.join(self.dir, "bad.npy"), ok=None)
            self.assertNotEqual(proc.returncode, 0, bad)
            lines = proc.stderr.strip().splitlines()
            self.assertEqual(len(lines), 1, proc.stderr)
            self.assertIn(bad, lines[0])
            self.assertIn("[0,3]", lines[0])
            self.assertFalse(os.path.exists(os.path.join(self.dir, "bad.npy")))


class Run(TempDirCase):

    def report(self, *flags, expect_rc=0):
        path = os.path.join(self.dir, "r.json")
        proc = mlssim("run", TRACE, "--layers", LAYERS, "--check", "--quiet", "--no-progress", "--report", path, *flags,
                      ok=None)
        self.assertEqual(proc.returncode, expect_rc, proc.stderr)
        with open(path) as f:
            report = json.load(f)
        os.remove(path)
        return report, proc

    def test_e4m3_is_bit_exact_and_every_scaling_is_a_multiplication(self):
        r, _ = self.report("--scale", "e4m3")
        self.assertTrue(r["total"]["bit_exact"])
        self.assertEqual(r["config"]["scale"], "e4m3")
        for entry in r["layers"] + [r["total"]]:
            ev = entry["events"]
            self.assertGreater(ev["scale"], 0)
            self.assertEqual(ev["scale_mul"], ev["scale"], entry.get("name", "total"))
            self.assertEqual(entry["stats"]["group_scaler"]["scale_mul"], ev["scale_mul"])
        self.assertIn("scale_mul", r["stats_info"]["group_scaler"])

    def test_default_scales_make_no_multiplications(self):
        r, _ = self.report("--passes", "fwd")
        self.assertTrue(r["total"]["bit_exact"])
        for entry in r["layers"] + [r["total"]]:
            self.assertEqual(entry["events"]["scale_mul"], 0)
            self.assertGreater(entry["events"]["scale"], 0)

    def test_mixed_operand_scales(self):
        # W e4m3 (NVFP4-like), A e8m0 (OCP MX), E e5m2: every pass has a wide operand.
        r, _ = self.report("--scale-w", "e4m3", "--scale-a", "e8m0", "--scale-e", "e5m2")
        self.assertTrue(r["total"]["bit_exact"])
        c = r["config"]
        self.assertEqual((c["scale_w"], c["scale_a"], c["scale_e"]), ("e4m3", "e8m0", "e5m2"))
        self.assertEqual(r["total"]["events"]["scale_mul"], r["total"]["events"]["scale"])
        # Only A wide: fwd (W x A) and bwd-weight (E x A) multiply, bwd-data (E x W) shifts and adds.
        r, _ = self.report("--scale-a", "e4m3")
        self.assertTrue(r["total"]["bit_exact"])
        passes = set()
        for entry in r["layers"]:
            ev = entry["events"]
            passes.add(entry["pass"])
            want = 0 if entry["pass"] == "bwd-data" else ev["scale"]
            self.assertEqual(ev["scale_mul"], want, f"{entry['name']} {entry['pass']}")
        self.assertEqual(passes, {"fwd", "bwd-data", "bwd-weight"})
        total = r["total"]["events"]
        self.assertLess(0, total["scale_mul"])
        self.assertLess(total["scale_mul"], total["scale"])

    def test_a_dead_scaler_mantissa_is_caught_with_e4m3_scales(self):
        r, proc = self.report("--scale", "e4m3", "--passes", "fwd", "--inject-fault", "scaler-mantissa", expect_rc=4)
        self.assertIn("mismatch", proc.stderr)
        self.assertFalse(r["total"]["bit_exact"])

    def test_vectors_write_wide_scales(self):
        # The RTL group scaler takes M_g 0..3, the whole range mlssim accepts, so
        # vectors writes every pass with wide group scales and records the formats.
        for scale, passes in (("e4m3", "fwd"), ("e5m2", "bwd-weight"), ("e8m2", "bwd-data")):
            out = os.path.join(self.dir, "vec-" + scale)
            proc = mlssim("vectors", TRACE, "--layers", "conv1", "--passes", passes, "--out", out, "--scale", scale,
                          ok=None)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            with open(os.path.join(out, "meta.txt")) as f:
                meta = dict(line.split() for line in f if line.strip())
            self.assertEqual((meta["x_scale"], meta["y_scale"]), (scale, scale))
            self.assertTrue(os.path.exists(os.path.join(out, "chunks.txt")))
        # A group-scale format beyond M_g 3 is refused before anything is written.
        out = os.path.join(self.dir, "vec-wide")
        proc = mlssim("vectors", TRACE, "--layers", "conv1", "--passes", "fwd", "--out", out, "--scale", "e8m4",
                      ok=None)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("e8m4", proc.stderr)
        self.assertFalse(os.path.exists(out))


if __name__ == "__main__":
    unittest.main()
