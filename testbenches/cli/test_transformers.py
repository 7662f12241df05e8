"""Transformers as first-class workloads (issue 24, docs/layers.md and docs/energy.md#vector-work), end to end
through `mlssim run`, each expectation written here from the docs and the shapes:

- default groupings per layer kind: nc for convs, k32 along the reduction for
  linear, matmul and 1x1 convs, unless a grouping is given (--group, a preset,
  a --layer-config group key); the `groups` key names them per operand;
- the one-line warning when a grouping puts one scale on every product (k = 1);
- vector work: the quantizer's elements, group scales and tensor scales per
  pass, and each vector op's counts (docs/energy.md#vector-work) for a tiny
  manifest with every op kind; bad vector_ops entries refused in one line;
- --out-format: output traffic bytes per result, MLS write energy halved by bf16;
- --layers / --passes globs; the line when a flag overrides a preset."""
import json
import math
import os
import tempfile
import unittest

import numpy as np

from clitest import ROOT, conv_layer, linear_layer, load_json, mlssim, write_trace

PASSES = ("fwd", "bwd-data", "bwd-weight")
B = 32  # kDefaultBlock (docs/layers.md#default-groupings)


def matmul_layer(rng, name, m, k, n):
    """A matmul entry: input [m, k] times weight [k, n], grad_output [m, n]."""
    return {"name": name, "kind": "matmul"}, {
        "weight": rng.standard_normal((k, n)), "input": rng.standard_normal((m, k)),
        "grad_output": rng.standard_normal((m, n)) * 1e-3}


def blocks(length):
    return -(-length // B)


class Base(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name
        self.rng = np.random.default_rng(24)

    def tearDown(self):
        self.tmp.cleanup()

    def trace(self, layers, vector_ops=None, name="t"):
        root = os.path.join(self.dir, name)
        manifest = write_trace(root, layers)
        if vector_ops is not None:
            manifest["vector_ops"] = vector_ops
            with open(os.path.join(root, "manifest.json"), "w") as f:
                json.dump(manifest, f)
        return root

    def run_report(self, trace, *flags):
        report = os.path.join(self.dir, "r.json")
        proc = mlssim("run", trace, "--quiet", "--no-progress", "--report", report, *flags)
        return load_json(report), proc

    @staticmethod
    def entry(report, name, pass_):
        return next(e for e in report["layers"] if e["name"] == name and e["pass"] == pass_)


class DefaultGroupings(Base):
    def kinds_trace(self):
        return self.trace([conv_layer(self.rng, "conv3", 4, 3, 6),
                           conv_layer(self.rng, "conv1x1", 5, 4, 6, k=1, padding=0),
                           linear_layer(self.rng, "fc", 6, 40, rows=5),
                           matmul_layer(self.rng, "mm", 4, 36, 3)])

    def test_defaults_per_kind_and_groups_key(self):
        report, proc = self.run_report(self.kinds_trace(), "--check")
        expected = {"conv3": "nc", "conv1x1": f"k{B}", "fc": f"k{B}", "mm": f"k{B}"}
        for layer, group in expected.items():
            for p in PASSES:
                e = self.entry(report, layer, p)
                self.assertEqual(e["groups"], {"weight": group, "input": group, "grad_output": group}, (layer, p))
                self.assertTrue(e["bit_exact"])
        # fc fwd: reduction over in = 40, blocks of 32: g = 2 groups of k = 32.
        fc = self.entry(report, "fc", "fwd")
        self.assertEqual((fc["g"], fc["k"]), (blocks(40), B))
        # conv3 fwd under nc: g = Ci = 3 groups of k = 3 x 3 taps.
        conv = self.entry(report, "conv3", "fwd")
        self.assertEqual((conv["g"], conv["k"]), (3, 9))
        self.assertNotIn("one group scale per product", proc.stderr)

    def test_explicit_grouping_keeps_nc_and_warns_once(self):
        report, proc = self.run_report(self.kinds_trace(), "--group", "nc")
        for e in report["layers"]:
            self.assertEqual(set(e["groups"].values()), {"nc"})
        # Under nc every pass of fc and mm, and conv1x1's fwd and bwd-data, have
        # one-element groups (k = 1): 3 + 3 + 2 = 8 layer-passes.
        for layer, p in [("fc", "fwd"), ("mm", "bwd-data"), ("conv1x1", "fwd"), ("conv1x1", "bwd-data")]:
            self.assertEqual(self.entry(report, layer, p)["k"], 1)
        lines = [l for l in proc.stderr.splitlines() if "one group scale per product" in l]
        self.assertEqual(len(lines), 1, proc.stderr)
        self.assertIn("8 layer-passes of conv1x1, fc, mm", lines[0])

    def test_preset_and_layer_config_groupings_win(self):
        report, _ = self.run_report(self.kinds_trace(), "--preset", "paper-imagenet")
        self.assertEqual(self.entry(report, "fc", "fwd")["groups"]["weight"], "nc")
        config = os.path.join(self.dir, "lc.json")
        with open(config, "w") as f:
            json.dump({"fc": {"group": "k8"}, "mm": {"elem": "e2m1"}}, f)
        report, _ = self.run_report(self.kinds_trace(), "--layer-config", config)
        self.assertEqual(self.entry(report, "fc", "fwd")["groups"]["input"], "k8")
        self.assertEqual(self.entry(report, "mm", "fwd")["groups"]["input"], f"k{B}")
        self.assertEqual(self.entry(report, "conv3", "fwd")["groups"]["input"], "nc")


# Per element (add, mul, div, exp) forward / backward, and per row (add, mul,
# rsqrt), as docs/energy.md#vector-work tabulates them.
def op_counts(op, n, rows):
    kind, fn = op["op"], op.get("fn")
    if kind == "softmax":
        return {"vec_add": 3 * n, "vec_div": n, "vec_exp": n}, {"vec_add": 2 * n, "vec_mul": 2 * n}
    if kind in ("layer_norm", "batch_norm"):
        return ({"vec_add": 4 * n + rows, "vec_mul": 3 * n + 2 * rows, "vec_rsqrt": rows},
                {"vec_add": 6 * n, "vec_mul": 5 * n + 2 * rows})
    if kind == "residual_add":
        return {"vec_add": n}, {"vec_add": n}
    table = {"gelu": ((4, 6, 1, 1), (4, 8, 0, 0)), "relu": ((1, 0, 0, 0), (1, 0, 0, 0)),
             "silu": ((1, 1, 1, 1), (2, 3, 0, 0))}
    out = []
    for add, mul, div, exp in table[fn]:
        out.append({"vec_add": add * n, "vec_mul": mul * n, "vec_div": div * n, "vec_exp": exp * n})
    return tuple(out)


class VectorWork(Base):
    OPS = [
        {"name": "ln0", "op": "layer_norm", "shape": [2, 4], "after": None},
        {"name": "sm", "op": "softmax", "shape": [2, 3, 4], "after": "fc"},
        {"name": "bn", "op": "batch_norm", "shape": [2, 3, 2, 2], "after": "fc"},
        {"name": "act", "op": "activation", "fn": "gelu", "shape": [5], "after": "fc2"},
        {"name": "act2", "op": "activation", "fn": "relu", "shape": [7], "after": "fc2"},
        {"name": "act3", "op": "activation", "fn": "silu", "shape": [2, 2], "after": "fc2"},
        {"name": "add", "op": "residual_add", "shape": [6], "after": "fc2"},
    ]

    def rows_of(self, op):
        n = math.prod(op["shape"])
        if op["op"] == "batch_norm":
            return n, op["shape"][1]
        return n, n // op["shape"][-1]

    def test_counts_per_op_kind_and_quantizer(self):
        trace = self.trace([linear_layer(self.rng, "fc", 4, 8, rows=3), linear_layer(self.rng, "fc2", 4, 4, rows=3)],
                           self.OPS)
        report, _ = self.run_report(trace, "--check")
        keys = ["vec_add", "vec_mul", "vec_div", "vec_exp", "vec_rsqrt"]
        expected = {(l, p): dict.fromkeys(keys, 0) for l in ("fc", "fc2") for p in PASSES}
        for op in self.OPS:
            layer = op["after"] or "fc"  # an op after no layer goes to the first layer
            n, rows = self.rows_of(op)
            fwd, bwd = op_counts(op, n, rows)
            for key, v in fwd.items():
                expected[(layer, "fwd")][key] += v
            for key, v in bwd.items():
                expected[(layer, "bwd-data")][key] += v
        for (layer, p), counts in expected.items():
            got = self.entry(report, layer, p)["vector"]
            self.assertEqual({k: got[k] for k in keys}, counts, (layer, p))
        # The quantizer of fc (W [4, 8], A [3, 8], E [3, 4]) under k32:
        #   fwd:        W along in (4 rows of 8: 4 groups), A along in (3 groups);
        #   bwd-data:   W again along out (8 columns of 4: 8 groups), E along out (3 groups);
        #   bwd-weight: E again along the tokens (4 groups), A again along the tokens (8 groups).
        quant = {"fwd": (32 + 24, 4 + 3, 2), "bwd-data": (32 + 12, 8 + 3, 2), "bwd-weight": (12 + 24, 4 + 8, 2)}
        for p, (elements, groups, tensors) in quant.items():
            v = self.entry(report, "fc", p)["vector"]
            self.assertEqual((v["quant_elements"], v["quant_groups"], v["quant_tensors"]), (elements, groups, tensors), p)
        total = report["total"]["vector"]
        self.assertEqual(total["vec_add"], sum(e["vector"]["vec_add"] for e in report["layers"]))
        self.assertIn("vector", report["stats_info"])
        self.assertEqual(report["stats_info"]["vector"]["vec_exp"]["unit"], "fp32 operations")

    def test_vector_energy_in_every_design(self):
        trace = self.trace([linear_layer(self.rng, "fc", 4, 8, rows=3), linear_layer(self.rng, "fc2", 4, 4, rows=3)],
                           self.OPS)
        for tech in ("horowitz-45nm", "mac-65nm", "osu018", "paper-unit"):
            report, _ = self.run_report(trace, "--tech", tech)
            energy = report["total"]["energy"]
            self.assertGreater(energy["by_block"]["vector"], 0, tech)
            self.assertEqual(energy["vector"]["mls"], energy["by_block"]["vector"])
            for design in ("fp32", "fp8", "fp8-fp16acc", "bf16"):
                self.assertGreater(energy["vector"][design], 0, (tech, design))
            # MLS quantizes with group scales and re-quantizes: more than fp8's
            # per-tensor scaling of the same operands, which is more than fp32's none.
            self.assertGreater(energy["vector"]["mls"], energy["vector"]["fp8"])
            self.assertGreater(energy["vector"]["fp8"], energy["vector"]["fp32"])
            if energy["total"] is not None:
                for design in ("mls", "fp32"):
                    self.assertAlmostEqual(energy["total"][design], energy[design] + energy["memory"][design] +
                                           energy["vector"][design], delta=1e-9 * energy["total"][design])

    def test_bad_vector_ops_one_line_each(self):
        good = {"name": "s", "op": "softmax", "shape": [2, 3], "after": "fc"}
        cases = [
            ({"vector_ops": {}}, "'vector_ops' must be a list"),
            ([dict(good, op="gelu")], "unknown op 'gelu'"),
            ([dict(good, op="activation")], "missing key 'fn'"),
            ([dict(good, op="activation", fn="swish2")], "unknown activation fn 'swish2'"),
            ([dict(good, fn="relu")], "'fn' is for op activation only"),
            ([dict(good, shape=[2, 0])], "'shape' must be a list of 1 to 8 positive integers"),
            ([dict(good, shape=[])], "'shape' must be a list"),
            ([dict(good, after="nope")], "'after' names no layer of the trace: 'nope'"),
            ([{k: v for k, v in good.items() if k != "after"}], "missing key 'after'"),
            ([dict(good, extra=1)], "unknown key 'extra'"),
            ([good, good], "the name repeats"),
            (["x"], "must be an object"),
        ]
        for i, (ops, message) in enumerate(cases):
            name = f"bad{i}"
            root = self.trace([linear_layer(self.rng, "fc", 4, 8)], name=name)
            manifest = load_json(os.path.join(root, "manifest.json"))
            manifest.update(ops if isinstance(ops, dict) else {"vector_ops": ops})
            with open(os.path.join(root, "manifest.json"), "w") as f:
                json.dump(manifest, f)
            proc = mlssim("run", root, "--quiet", "--no-progress", ok=False)
            lines = proc.stderr.strip().splitlines()
            self.assertEqual(len(lines), 1, proc.stderr)
            self.assertIn(os.path.join(root, "manifest.json"), lines[0])
            self.assertIn(message, lines[0], (i, lines[0]))


class OutFormat(Base):
    def test_traffic_bytes_and_write_energy(self):
        trace = self.trace([linear_layer(self.rng, "fc", 6, 40, rows=5)])
        width = {"fp32": 4, "bf16": 2, "fp16": 2, "e4m3": 1}
        # Results per pass: fwd [5, 6], bwd-data [5, 40], bwd-weight [6, 40].
        outputs = {"fwd": 5 * 6, "bwd-data": 5 * 40, "bwd-weight": 6 * 40}
        write = {}
        for fmt, nbytes in width.items():
            report, _ = self.run_report(trace, "--out-format", fmt, "--tech", "horowitz-45nm")
            self.assertEqual(report["config"]["out_format"], fmt)
            for p, n in outputs.items():
                t = self.entry(report, "fc", p)["traffic"]
                self.assertEqual(t["elements"]["out_buffer_write"], n)
                self.assertEqual(t["out_buffer_write_bytes"], n * nbytes, (fmt, p))
                self.assertEqual(t["dram_write_bytes"], n * nbytes, (fmt, p))
            write[fmt] = report["total"]["memory_energy"]["write_out"]
            if fmt == "fp32":
                energy = report["total"]["energy"]
        self.assertAlmostEqual(write["bf16"], write["fp32"] / 2, delta=1e-9 * write["fp32"])
        self.assertAlmostEqual(write["e4m3"], write["fp32"] / 4, delta=1e-9 * write["fp32"])
        # fp32 out: the fp8-fp16acc baseline still writes at its fp16 accumulator.
        self.assertLess(energy["memory"]["fp8-fp16acc"], energy["memory"]["fp8"])

    def test_bad_out_format(self):
        trace = self.trace([linear_layer(self.rng, "fc", 6, 8)])
        proc = mlssim("run", trace, "--out-format", "fp64", ok=False)
        self.assertIn("unknown output format 'fp64' (expected fp32|bf16|fp16|e4m3)", proc.stderr)


class GlobsAndPresets(Base):
    def test_layer_and_pass_globs(self):
        trace = self.trace([linear_layer(self.rng, "a.fc1", 4, 8), linear_layer(self.rng, "a.fc2", 4, 4),
                            linear_layer(self.rng, "b.fc1", 4, 8)])
        report, _ = self.run_report(trace, "--layers", "*.fc1", "--passes", "bwd-*")
        self.assertEqual([(e["name"], e["pass"]) for e in report["layers"]],
                         [("a.fc1", "bwd-data"), ("a.fc1", "bwd-weight"), ("b.fc1", "bwd-data"), ("b.fc1", "bwd-weight")])
        proc = mlssim("run", trace, "--layers", "c.*", ok=False)
        self.assertIn("no layer matches the pattern 'c.*'", proc.stderr)
        proc = mlssim("run", trace, "--passes", "x*", ok=False)
        self.assertIn("--passes: 'x*' matches no pass", proc.stderr)

    def test_preset_override_line(self):
        trace = self.trace([linear_layer(self.rng, "fc", 4, 8)])
        proc = mlssim("run", trace, "--quiet", "--no-progress", "--preset", "nvfp4", "--acc-bits", "20", "--rounding",
                      "stochastic")
        lines = [l for l in proc.stderr.splitlines() if "no longer holds as named" in l]
        self.assertEqual(lines, ["note: --preset nvfp4 no longer holds as named: --acc-bits 20, --rounding stochastic "
                                 "overrides its values"])
        proc = mlssim("run", trace, "--quiet", "--no-progress", "--preset", "nvfp4", "--acc-bits", "16")
        self.assertNotIn("no longer holds", proc.stderr)
        proc = mlssim("run", trace, "--quiet", "--no-progress", "--preset", "paper-cifar", "--unquantized", "none")
        self.assertIn("note: --preset paper-cifar no longer holds as named: --unquantized none", proc.stderr)


class Utilisation(unittest.TestCase):
    def test_vit_block_groupings_keep_utilisation(self):
        """Each linear and matmul pass of the bundled ViT under k16 (NVFP4's blocks)
        keeps its utilisation within 10 points of nc's."""
        vit = os.path.join(ROOT, "traces", "vit-digits")
        with tempfile.TemporaryDirectory() as d:
            util = {}
            for group in ("nc", "k16"):
                path = os.path.join(d, group + ".json")
                mlssim("run", vit, "--group", group, "--layers", "blocks.*,head", "--quiet", "--no-progress",
                       "--report", path)
                util[group] = {(e["name"], e["pass"]): e["utilization"] for e in load_json(path)["layers"]}
        for key, u in util["nc"].items():
            self.assertGreater(util["k16"][key], u - 0.10, key)


if __name__ == "__main__":
    unittest.main()
