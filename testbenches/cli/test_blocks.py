"""Block groupings kB (docs/formats.md#block-groupings), end to end:

- `mlssim quantize --group kB [--block-axis D]` against the numpy model of
  test_cli_errors.spec_quantize (blocks by padding and a reshape), bit for bit:
  the dequantized tensor, q and S_g, rank 2 and rank 4, remainder blocks;
- `mlssim run --group kB` on every layer kind: the operands each pass wrote
  (--operands) equal that numpy model along the pass's block axis, written
  here per kind from docs/formats.md's table; the outputs agree with a float64
  evaluation, by torch, of those operands; --check is bit-exact; the requant
  event equals the numel of each operand quantized along a second axis;
- the resnet20-digits sample trace bit-exact under k32, with its requant total;
- bad block groupings: one line naming the flag, non-zero exit, no output.
"""
import json
import os
import sys
import tempfile
import unittest

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_cli_errors import differing_bits, spec_quantize  # noqa: E402
from test_layer_kinds import output_shape, pass_result  # noqa: E402

from clitest import mlssim

TRACE = os.path.join(os.environ.get("MLSSIM_SOURCE_DIR", "."), "traces", "resnet20-digits")
PASSES = ("fwd", "bwd-data", "bwd-weight")


def same_bits(case, got, want, what):
    """Bit for bit, a zero's sign aside (docs/reference.md#the-reference-quantizer)."""
    case.assertEqual(got.shape, want.shape, what)
    bad = differing_bits(got, want)
    case.assertEqual(bad.size, 0, f"{what}: {bad.size} elements differ, first at {bad[:5]}")


class QuantizeBlocks(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.rng = np.random.default_rng(3)

    def tearDown(self):
        self.tmp.cleanup()

    def quantize(self, x, *flags):
        src = os.path.join(self.tmp.name, "x.npy")
        np.save(src, x)
        deq = os.path.join(self.tmp.name, "deq.npy")
        parts = os.path.join(self.tmp.name, "parts")
        proc = mlssim("quantize", src, *flags, "--dequant", deq, "--parts", parts)
        load = lambda name: np.load(os.path.join(parts, name))  # noqa: E731
        return np.load(deq), load("q.npy"), load("sg.npy"), proc.stdout

    def test_matches_the_numpy_model_bit_for_bit(self):
        # Sizes that leave a remainder block along the blocked dim (37, 40, 50).
        cases = [((5, 40), None), ((3, 50), 0), ((6, 32), 1), ((3, 37, 2, 3), None), ((40, 4, 3, 2), 0),
                 ((2, 3, 5, 37), 3), ((33,), None)]
        for shape, axis in cases:
            for group in ("k16", "k32"):
                for elem, scale in (("e2m4", "e8m1"), ("e3m2", "e8m0")):
                    with self.subTest(shape=shape, axis=axis, group=group, elem=elem):
                        # Magnitudes spread over 2^0 .. 2^-12, so blocks get different S_g.
                        x = (self.rng.standard_normal(shape) *
                             2.0 ** -self.rng.integers(0, 12, size=shape)).astype(np.float32)
                        flags = ["--group", group, "--rounding", "nearest", "--elem", elem, "--scale", scale]
                        deq, q, sg, out = self.quantize(x, *flags, *(["--block-axis", axis] if axis is not None else []))
                        want, want_q, _, want_sg, _ = spec_quantize(x, elem, scale, group, "nearest", axis=axis)
                        same_bits(self, deq, want, "dequantized")
                        np.testing.assert_array_equal(q, want_q)
                        np.testing.assert_array_equal(sg, want_sg)
                        d = (1 if len(shape) >= 2 else 0) if axis is None else axis
                        blocks = -(-shape[d] // int(group[1:]))
                        self.assertEqual(sg.shape, shape[:d] + (blocks,) + shape[d + 1:])
                        self.assertIn(f"({group} along dim {d}, {sg.size} groups)", out)

    def test_stochastic_rounding_with_given_draws(self):
        x = self.rng.standard_normal((4, 37, 3)).astype(np.float32)
        r = self.rng.uniform(-0.5, 0.5, size=x.shape).astype(np.float32)
        r = np.minimum(r, np.nextafter(np.float32(0.5), np.float32(0)))
        rp = os.path.join(self.tmp.name, "r.npy")
        np.save(rp, r)
        deq, *_ = self.quantize(x, "--group", "k16", "--random", rp)
        same_bits(self, deq, spec_quantize(x, group="k16", r=r)[0], "stochastic k16")

    def test_bad_block_options_are_one_line_errors(self):
        src = os.path.join(self.tmp.name, "x.npy")
        np.save(src, np.ones((4, 6), np.float32))
        out = os.path.join(self.tmp.name, "o.npy")
        cases = [(["--group", "k1"], "--group"), (["--group", "k0"], "--group"), (["--group", "k2048"], "--group"),
                 (["--group", "kx"], "--group"), (["--group", "k16", "--block-axis", "2"], "--block-axis"),
                 (["--group", "nc", "--block-axis", "0"], "--block-axis")]
        for flags, named in cases:
            with self.subTest(flags=flags):
                proc = mlssim("quantize", src, *flags, "--dequant", out, ok=None)
                self.assertNotEqual(proc.returncode, 0)
                lines = proc.stderr.strip().splitlines()
                self.assertEqual(len(lines), 1, proc.stderr)
                self.assertIn(named, lines[0])
                self.assertFalse(os.path.exists(out))


# ---- every kind under --group kB through `mlssim run` --------------------------

B = 4  # small enough for remainder blocks in every layer below
LAYERS = [  # name, kind, params, weight shape, input shape
    ("conv_p1", "conv2d", {"padding": 1}, (5, 6, 3, 3), (3, 6, 4, 4)),
    ("conv_s2_g2", "conv2d", {"stride": 2, "padding": 1, "groups": 2}, (6, 3, 3, 3), (5, 6, 7, 7)),
    ("conv_dw", "conv2d", {"padding": 1, "groups": 3}, (3, 1, 3, 3), (2, 3, 5, 5)),
    ("convt_s2_g2", "conv_transpose2d", {"stride": 2, "padding": 1, "output_padding": 1, "groups": 2},
     (6, 3, 3, 3), (3, 6, 3, 4)),
    ("fc_tokens", "linear", {}, (7, 9), (2, 3, 9)),
    ("mm_heads", "matmul", {}, (2, 6, 5), (2, 3, 6)),
]


def block_view(kind, prm, operand, pass_name, shape):
    """(shape to reshape the operand to, axis) under which `pass_name` blocks it
    with blocks of B along one axis: docs/formats.md#block-groupings, with a
    grouped conv's channel groups as a dim of their own."""
    g = prm.get("groups", 1)
    if kind == "conv_transpose2d":  # the adjoint conv: fwd <-> bwd-data, W [Ci, Co/g, ..], A and E swap roles
        pass_name = {"fwd": "bwd-data", "bwd-data": "fwd"}.get(pass_name, pass_name)
        operand = {"input": "grad_output", "grad_output": "input"}[operand] if operand != "weight" else operand
    if kind in ("conv2d", "conv_transpose2d"):
        split = lambda d: (shape[:d] + (g, shape[d] // g) + shape[d + 1:], d + 1)  # noqa: E731
        return {("fwd", "weight"): (shape, 1), ("fwd", "input"): split(1),
                ("bwd-data", "weight"): split(0), ("bwd-data", "grad_output"): split(1),
                ("bwd-weight", "grad_output"): (shape, 0), ("bwd-weight", "input"): (shape, 0)}[(pass_name, operand)]
    if kind == "linear":  # [rows, last]: W [out, in], A [t, in], E [t, out]
        matrix = (int(np.prod(shape[:-1])), shape[-1])
        return {("fwd", "weight"): (matrix, 1), ("fwd", "input"): (matrix, 1),
                ("bwd-data", "weight"): (matrix, 0), ("bwd-data", "grad_output"): (matrix, 1),
                ("bwd-weight", "grad_output"): (matrix, 0), ("bwd-weight", "input"): (matrix, 0)}[(pass_name, operand)]
    # matmul: input [.., M, K], weight [.., K, N], E [.., M, N]; the reduction K, N, M.
    rank = len(shape)
    return {("fwd", "weight"): (shape, rank - 2), ("fwd", "input"): (shape, rank - 1),
            ("bwd-data", "weight"): (shape, rank - 1), ("bwd-data", "grad_output"): (shape, rank - 1),
            ("bwd-weight", "grad_output"): (shape, rank - 2), ("bwd-weight", "input"): (shape, rank - 2)}[
        (pass_name, operand)]


def users(kind):
    """The operands each pass multiplies, in fwd, bwd-data, bwd-weight order."""
    if kind == "conv_transpose2d":
        return {"fwd": ("weight", "input"), "bwd-data": ("weight", "grad_output"),
                "bwd-weight": ("input", "grad_output")}
    return {"fwd": ("weight", "input"), "bwd-data": ("weight", "grad_output"),
            "bwd-weight": ("grad_output", "input")}


def expected_requant(kind, prm, shapes):
    """Per pass: the numel of each operand the pass blocks along another view
    than every earlier pass in fwd, bwd-data, bwd-weight order did."""
    seen, out = {}, {}
    for p in PASSES:
        out[p] = 0
        for o in users(kind)[p]:
            view = block_view(kind, prm, o, p, shapes[o])
            if o in seen and view not in seen[o]:
                out[p] += int(np.prod(shapes[o]))
            seen.setdefault(o, []).append(view)
    return out


class RunEveryKind(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.trace = os.path.join(cls.tmp.name, "trace")
        os.mkdir(cls.trace)
        rng = np.random.default_rng(21)
        cls.layers, entries = [], []
        for name, kind, prm, w_shape, a_shape in LAYERS:
            shapes = {"weight": w_shape, "input": a_shape, "grad_output": output_shape(kind, prm, w_shape, a_shape)}
            entry = {"name": name, "kind": kind, **prm}
            tensors = {}
            for key, shape in shapes.items():
                x = (rng.standard_normal(shape) * 2.0 ** -rng.integers(0, 8, size=shape)).astype("<f4")
                np.save(os.path.join(cls.trace, f"{name}.{key}.npy"), x)
                entry[key] = f"{name}.{key}.npy"
                tensors[key] = x
            entries.append(entry)
            cls.layers.append((name, kind, prm, shapes, tensors))
        with open(os.path.join(cls.trace, "manifest.json"), "w") as f:
            json.dump({"format": "mls-trace/2", "model": "blocks", "layers": entries}, f)
        cls.out = os.path.join(cls.tmp.name, "run")
        os.mkdir(cls.out)
        mlssim("run", cls.trace, "--group", f"k{B}", "--rounding", "nearest", "--acc-bits", 32, "--rows", 4,
               "--cols", 4, "--chunk", 3, "--check", "--outputs", os.path.join(cls.out, "out"),
               "--operands", os.path.join(cls.out, "ops"), "--report", os.path.join(cls.out, "r.json"), "--quiet",
               "--no-progress")
        with open(os.path.join(cls.out, "r.json")) as f:
            cls.report = json.load(f)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_operands_are_quantized_along_each_pass_axis(self):
        for name, kind, prm, shapes, tensors in self.layers:
            for p in PASSES:
                for o in users(kind)[p]:
                    with self.subTest(layer=name, pass_=p, operand=o):
                        got = np.load(os.path.join(self.out, "ops", f"{name}.{p}.{o}.npy"))
                        view, axis = block_view(kind, prm, o, p, shapes[o])
                        want = spec_quantize(tensors[o].reshape(view), group=f"k{B}", rounding="nearest",
                                             axis=axis)[0].reshape(shapes[o])
                        same_bits(self, got, want, f"{name} {p} {o}")

    def test_outputs_match_float64_of_the_operands_and_check_is_bit_exact(self):
        entries = {(e["name"], e["pass"]): e for e in self.report["layers"]}
        self.assertTrue(self.report["total"]["bit_exact"])
        for name, kind, prm, shapes, _ in self.layers:
            for p in PASSES:
                with self.subTest(layer=name, pass_=p):
                    ops = {o: np.load(os.path.join(self.out, "ops", f"{name}.{p}.{o}.npy")) for o in users(kind)[p]}
                    full = {o: ops.get(o, np.zeros(shapes[o])) for o in shapes}
                    exact = pass_result(kind, prm, p, full["weight"], full["input"], full["grad_output"])
                    magnitude = pass_result(kind, prm, p, *(np.abs(full[o]) for o in ("weight", "input",
                                                                                         "grad_output")))
                    got = np.load(os.path.join(self.out, "out", f"{name}.{p}.npy"))
                    self.assertLessEqual(np.max(np.abs(got - exact) - (64 * 2.0 ** -24 * magnitude + 1e-30)), 0)
                    self.assertGreater(np.abs(exact).max(), 0)
                    e = entries[(name, p)]
                    self.assertTrue(e["bit_exact"])
                    self.assertLessEqual(e["k"], B)

    def test_requant_is_the_numel_of_each_operand_blocked_along_a_second_axis(self):
        entries = {(e["name"], e["pass"]): e for e in self.report["layers"]}
        total = 0
        for name, kind, prm, shapes, _ in self.layers:
            want = expected_requant(kind, prm, shapes)
            for p in PASSES:
                with self.subTest(layer=name, pass_=p):
                    self.assertEqual(entries[(name, p)]["events"]["requant"], want[p])
                    self.assertEqual(entries[(name, p)]["stats"]["mac_array"]["requant"], want[p])
            total += sum(want.values())
        self.assertEqual(self.report["total"]["events"]["requant"], total)
        # conv2d: W again for bwd-data, E and A again for bwd-weight.
        conv = dict((l[0], l) for l in self.layers)["conv_p1"][3]
        self.assertEqual(expected_requant("conv2d", {}, conv)["bwd-weight"],
                         np.prod(conv["grad_output"]) + np.prod(conv["input"]))

    def test_only_the_passes_run_pay(self):
        # bwd-weight alone: A and E are first quantized along the batch, W not used: nothing to pay.
        r = os.path.join(self.out, "bw.json")
        mlssim("run", self.trace, "--group", f"k{B}", "--passes", "bwd-weight", "--layers", "conv_p1", "--report", r,
               "--quiet", "--no-progress", "--check")
        with open(r) as f:
            rep = json.load(f)
        self.assertEqual(rep["total"]["events"]["requant"], 0)
        self.assertTrue(rep["total"]["bit_exact"])


class RunErrors(unittest.TestCase):
    def test_mixed_block_groupings_are_refused_naming_the_flag(self):
        with tempfile.TemporaryDirectory() as tmp:
            report = os.path.join(tmp, "r.json")
            for flags, named in ((["--group-w", "k32", "--group-a", "k16", "--group-e", "k32"], "--group-a"),
                                 (["--group", "k16", "--group-e", "nc"], "--group-e"),
                                 (["--group", "k1"], "--group"), (["--group-w", "k4096"], "--group-w")):
                with self.subTest(flags=flags):
                    proc = mlssim("run", TRACE, "--layers", "conv1", *flags, "--report", report, "--no-progress",
                                  ok=None)
                    self.assertNotEqual(proc.returncode, 0)
                    lines = proc.stderr.strip().splitlines()
                    self.assertEqual(len(lines), 1, proc.stderr)
                    self.assertIn(named, lines[0])
                    self.assertFalse(os.path.exists(report))

    def test_layer_config_mix_names_file_and_layer(self):
        with tempfile.TemporaryDirectory() as tmp:
            cfg = os.path.join(tmp, "layers.json")
            with open(cfg, "w") as f:
                json.dump({"conv1": {"group_a": "k16"}}, f)
            proc = mlssim("run", TRACE, "--layers", "conv1", "--group", "k32", "--layer-config", cfg, "--quiet",
                          "--no-progress", ok=None)
            self.assertNotEqual(proc.returncode, 0)
            line = proc.stderr.strip().splitlines()[-1]
            self.assertIn("layers.json", line)
            self.assertIn("conv1", line)


class SampleTrace(unittest.TestCase):
    def test_resnet20_digits_under_k32_is_bit_exact_with_the_analytic_requant(self):
        layers = "conv1,layer2.0.conv1"  # the stem and a strided conv
        with tempfile.TemporaryDirectory() as tmp:
            r = os.path.join(tmp, "r.json")
            mlssim("run", TRACE, "--layers", layers, "--group", "k32", "--check", "--bwd-data", "decompose",
                   "--report", r, "--quiet", "--no-progress")
            with open(r) as f:
                rep = json.load(f)
        self.assertTrue(rep["total"]["bit_exact"])
        with open(os.path.join(TRACE, "manifest.json")) as f:
            manifest = {l["name"]: l for l in json.load(f)["layers"]}
        total = 0
        for name in layers.split(","):
            numel = {k: int(np.prod(np.load(os.path.join(TRACE, manifest[name][k]), mmap_mode="r").shape))
                     for k in ("weight", "input", "grad_output")}
            entries = {e["pass"]: e for e in rep["layers"] if e["name"] == name}
            self.assertEqual(entries["fwd"]["events"]["requant"], 0)
            self.assertEqual(entries["bwd-data"]["events"]["requant"], numel["weight"])
            self.assertEqual(entries["bwd-weight"]["events"]["requant"], numel["grad_output"] + numel["input"])
            total += numel["weight"] + numel["grad_output"] + numel["input"]
        self.assertEqual(rep["total"]["events"]["requant"], total)
        # A non-block grouping re-quantizes nothing.
        with tempfile.TemporaryDirectory() as tmp:
            r = os.path.join(tmp, "r.json")
            mlssim("run", TRACE, "--layers", "conv1", "--report", r, "--quiet", "--no-progress")
            with open(r) as f:
                self.assertEqual(json.load(f)["total"]["events"]["requant"], 0)


if __name__ == "__main__":
    unittest.main()
