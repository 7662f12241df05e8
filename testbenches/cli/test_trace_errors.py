"""mlssim run on malformed traces (docs/reference.md#trace-format): each inconsistency is refused with a
non-zero exit and a message naming the layer and the file (or the manifest),
and no report is written. Also: float16/float64 tensors are accepted, and
--inject-fault makes --check fail (exit 4) for every modelled fault.

Tensor files are deliberately named t<i>_<role>.npy, without the layer's name,
so that a message naming the file does not name the layer by accident.
"""
import copy
import json
import os
import shutil
import tempfile
import unittest

import numpy as np

from clitest import mlssim


LAYERS = [
    # name, Co, Ci, K, H, stride, padding, with grad_output
    ("convA", 4, 3, 3, 6, 1, 1, True),
    ("convB", 5, 4, 1, 5, 2, 0, True),
]


def make_trace(root, seed=3):
    rng = np.random.default_rng(seed)
    layers = []
    for i, (name, co, ci, k, h, stride, pad, with_e) in enumerate(LAYERS):
        ho = (h + 2 * pad - k) // stride + 1
        tensors = {"weight": rng.standard_normal((co, ci, k, k)),
                   "input": rng.standard_normal((2, ci, h, h)),
                   "grad_output": rng.standard_normal((2, co, ho, ho)) * 1e-2}
        entry = {"name": name, "kind": "conv2d", "stride": [stride, stride], "padding": [pad, pad],
                 "dilation": [1, 1], "groups": 1}
        for role, value in tensors.items():
            if role == "grad_output" and not with_e:
                continue
            fname = f"t{i}_{role}.npy"
            np.save(os.path.join(root, fname), value.astype("<f4"))
            entry[role] = fname
        layers.append(entry)
    manifest = {"format": "mls-trace/1", "model": "tiny", "layers": layers}
    write_manifest(root, manifest)
    return manifest


def write_manifest(root, manifest):
    with open(os.path.join(root, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)


class TraceCase(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name
        self.base = os.path.join(self.dir, "base")
        os.mkdir(self.base)
        self.manifest = make_trace(self.base)
        self.report = os.path.join(self.dir, "report.json")
        self.count = 0

    def tearDown(self):
        self.tmp.cleanup()

    def variant(self, edit=None):
        """A copy of the base trace; `edit(manifest, trace_dir)` may change it."""
        self.count += 1
        d = os.path.join(self.dir, f"v{self.count}")
        shutil.copytree(self.base, d)
        m = copy.deepcopy(self.manifest)
        if edit:
            result = edit(m, d)
            if result is not None:
                m = result
        write_manifest(d, m)
        return d

    def run_trace(self, trace, *extra):
        return mlssim("run", trace, "--check", "--report", self.report, "--no-progress", "--quiet", *extra, ok=None)

    def assert_ok(self, trace, *extra):
        proc = self.run_trace(trace, *extra)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        with open(self.report) as f:
            report = json.load(f)
        self.assertTrue(report["total"]["bit_exact"])
        for entry in report["layers"]:
            self.assertTrue(entry["bit_exact"], entry["name"])
        os.remove(self.report)
        return report

    def assert_refused(self, trace, needles, *extra):
        proc = self.run_trace(trace, *extra)
        self.assertNotEqual(proc.returncode, 0, f"accepted:\n{proc.stdout}")
        self.assertNotEqual(proc.returncode, 4, "refused as a mismatch, not as a bad trace")
        lines = [l for l in proc.stderr.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, f"expected one error line, got:\n{proc.stderr}")
        for needle in needles:
            if isinstance(needle, tuple):  # any of these
                self.assertTrue(any(n in lines[0] for n in needle), f"{lines[0]!r} names none of {needle}")
            else:
                self.assertIn(needle, lines[0])
        self.assertFalse(os.path.exists(self.report), "a report was written for a refused trace")
        for root, _, files in os.walk(self.dir):
            for f in files:
                self.assertNotIn(".tmp.", f)
        return lines[0]


class ValidTraces(TraceCase):
    def test_base_trace_is_bit_exact(self):
        report = self.assert_ok(self.base)
        self.assertEqual(len(report["layers"]), 6)  # two layers x three passes

    def test_float16_and_float64_tensors_are_accepted(self):
        def edit(m, d):
            a = np.load(os.path.join(d, "t0_input.npy"))
            np.save(os.path.join(d, "t0_input.npy"), a.astype("<f2"))
            w = np.load(os.path.join(d, "t1_weight.npy"))
            np.save(os.path.join(d, "t1_weight.npy"), w.astype("<f8"))
            e = np.load(os.path.join(d, "t1_grad_output.npy"))
            np.save(os.path.join(d, "t1_grad_output.npy"), e.astype("<f8"))
        self.assert_ok(self.variant(edit))

    def test_grad_output_is_optional_and_layers_selects(self):
        def edit(m, d):
            del m["layers"][1]["grad_output"]
        report = self.assert_ok(self.variant(edit))
        self.assertEqual([(e["name"], e["pass"]) for e in report["layers"]][-1], ("convB", "fwd"))
        self.assertEqual(len(report["layers"]), 4)
        report = self.assert_ok(self.base, "--layers", "convB")
        self.assertEqual({e["name"] for e in report["layers"]}, {"convB"})

    def test_integer_stride_and_padding_are_accepted(self):
        def edit(m, d):
            m["layers"][0]["padding"] = 1
            m["layers"][0]["stride"] = 1
        self.assert_ok(self.variant(edit))


class MalformedManifests(TraceCase):
    def manifest_path(self, d):
        return os.path.join(d, "manifest.json")

    def test_missing_layer_keys(self):
        for i, key in ((0, "weight"), (1, "input"), (1, "name")):
            with self.subTest(key):
                def edit(m, d, i=i, key=key):
                    del m["layers"][i][key]
                d = self.variant(edit)
                name = LAYERS[i][0]
                self.assert_refused(d, [self.manifest_path(d), (name, f"layer {i}"), key])

    def test_non_string_file_names(self):
        for value in (5, ["t0_weight.npy"], None):
            with self.subTest(value=value):
                def edit(m, d, value=value):
                    m["layers"][0]["weight"] = value
                d = self.variant(edit)
                self.assert_refused(d, [self.manifest_path(d), "convA", "weight"])

    def test_unknown_layer_key(self):
        def edit(m, d):
            m["layers"][1]["strides"] = [1, 1]
        d = self.variant(edit)
        self.assert_refused(d, [self.manifest_path(d), ("convB", "layer 1"), "strides"])

    def test_unknown_top_level_key(self):
        def edit(m, d):
            m["layer_list"] = []
        d = self.variant(edit)
        self.assert_refused(d, [self.manifest_path(d), "layer_list"])

    def test_wrong_or_missing_format(self):
        for fmt in ("mls-trace/3", "MLS-TRACE/1", None):
            with self.subTest(fmt):
                def edit(m, d, fmt=fmt):
                    if fmt is None:
                        del m["format"]
                    else:
                        m["format"] = fmt
                d = self.variant(edit)
                self.assert_refused(d, [self.manifest_path(d), "format"])

    def test_not_json_no_manifest_no_layers(self):
        d = self.variant()
        with open(self.manifest_path(d), "w") as f:
            f.write('{"format": "mls-trace/1", "layers": [')
        self.assert_refused(d, [self.manifest_path(d)])
        os.remove(self.manifest_path(d))
        self.assert_refused(d, [self.manifest_path(d)])
        d = self.variant(lambda m, d: m.update(layers=[]))
        self.assert_refused(d, [self.manifest_path(d), "layers"])
        d = self.variant(lambda m, d: [1, 2, 3])
        self.assert_refused(d, [self.manifest_path(d)])

    def test_duplicate_layer_names(self):
        def edit(m, d):
            m["layers"][1]["name"] = "convA"
        d = self.variant(edit)
        self.assert_refused(d, [self.manifest_path(d), "convA"])

    def test_groups_and_kind(self):
        def groups(m, d):
            m["layers"][1]["groups"] = 2
        d = self.variant(groups)
        self.assert_refused(d, [self.manifest_path(d), "convB", "groups"])

        def kind(m, d):
            m["layers"][0]["kind"] = "lstm"
        d = self.variant(kind)
        self.assert_refused(d, [self.manifest_path(d), "convA", "lstm", "--layers convB"])

    def test_bad_stride_values(self):
        for value in ([1, 2, 3], "2", [0, 0], 0):
            with self.subTest(value=value):
                def edit(m, d, value=value):
                    m["layers"][0]["stride"] = value
                d = self.variant(edit)
                self.assert_refused(d, [("convA", "layer 0"), "stride"])

    def test_unknown_layer_in_layers_flag(self):
        self.assert_refused(self.base, [self.manifest_path(self.base), "nosuch"], "--layers", "convA,nosuch")


class MalformedTensors(TraceCase):
    def test_weight_input_channel_mismatch(self):
        def edit(m, d):
            np.save(os.path.join(d, "t1_weight.npy"), np.ones((5, 3, 1, 1), dtype="<f4"))  # Ci 3, input has 4
        d = self.variant(edit)
        self.assert_refused(d, ["convB", os.path.join(d, "t1_weight.npy"), os.path.join(d, "t1_input.npy")])

    def test_grad_output_shape_mismatch(self):
        def edit(m, d):
            np.save(os.path.join(d, "t0_grad_output.npy"), np.ones((2, 4, 5, 6), dtype="<f4"))  # should be 6x6
        d = self.variant(edit)
        self.assert_refused(d, ["convA", os.path.join(d, "t0_grad_output.npy")])

        def edit_co(m, d):
            np.save(os.path.join(d, "t1_grad_output.npy"), np.ones((2, 4, 3, 3), dtype="<f4"))  # Co is 5
        d = self.variant(edit_co)
        self.assert_refused(d, ["convB", os.path.join(d, "t1_grad_output.npy")])

    def test_paths_outside_the_trace_directory(self):
        outside = os.path.join(self.dir, "outside.npy")
        shutil.copy(os.path.join(self.base, "t0_weight.npy"), outside)  # a valid file, just outside
        for ref in ("../outside.npy", outside, "sub/../../outside.npy"):
            with self.subTest(ref):
                def edit(m, d, ref=ref):
                    m["layers"][0]["weight"] = ref
                d = self.variant(edit)
                self.assert_refused(d, ["convA", ref, "outside"])

    # File-level errors (missing, truncated, bad dtype/order/endianness) must name
    # the layer as well as the file (trace.h).
    def test_truncated_npy(self):
        def edit(m, d):
            p = os.path.join(d, "t1_input.npy")
            with open(p, "r+b") as f:
                f.truncate(os.path.getsize(p) - 4)
        d = self.variant(edit)
        # trace.h: "any inconsistency is an mls::Error naming the layer and file".
        self.assert_refused(d, ["convB", os.path.join(d, "t1_input.npy")])

    # File-level errors (missing, truncated, bad dtype/order/endianness) must name
    # the layer as well as the file (trace.h).
    def test_missing_npy(self):
        def edit(m, d):
            os.remove(os.path.join(d, "t0_grad_output.npy"))
        d = self.variant(edit)
        self.assert_refused(d, ["convA", os.path.join(d, "t0_grad_output.npy")])

    # File-level errors (missing, truncated, bad dtype/order/endianness) must name
    # the layer as well as the file (trace.h).
    def test_bad_dtype_order_and_endianness(self):
        for label, convert in (("int32", lambda a: a.astype("<i4")), ("big-endian", lambda a: a.astype(">f4")),
                               ("fortran", np.asfortranarray)):
            with self.subTest(label):
                def edit(m, d, convert=convert):
                    p = os.path.join(d, "t0_weight.npy")
                    np.save(p, convert(np.load(p)))
                d = self.variant(edit)
                self.assert_refused(d, ["convA", os.path.join(d, "t0_weight.npy")])

    def test_nan_in_a_tensor(self):
        def edit(m, d):
            p = os.path.join(d, "t1_grad_output.npy")
            e = np.load(p)
            e.flat[11] = np.nan
            np.save(p, e)
        d = self.variant(edit)
        self.assert_refused(d, ["convB", "grad_output", "11"])


def wide_range_trace(root, pattern):
    """One 1x1 conv over 16 input channels whose magnitudes follow `pattern`
    (a function of the channel index, in powers of two): with --rows 16 each
    output's 16 one-product chunks fill one tree, slot r holding channel r."""
    rng = np.random.default_rng(11)
    c = np.arange(16)
    scale = 2.0 ** pattern(c)
    w = rng.standard_normal((8, 16, 1, 1))
    a = rng.standard_normal((2, 16, 4, 4)) * scale[None, :, None, None]
    np.save(os.path.join(root, "w.npy"), w.astype("<f4"))
    np.save(os.path.join(root, "a.npy"), a.astype("<f4"))
    write_manifest(root, {"format": "mls-trace/1",
                          "layers": [{"name": "wide", "weight": "w.npy", "input": "a.npy"}]})


class InjectedFaults(TraceCase):
    def assert_caught(self, trace, fault, *extra):
        proc = self.run_trace(trace, "--inject-fault", fault, *extra)
        self.assertEqual(proc.returncode, 4, f"--inject-fault {fault} not caught:\n{proc.stdout}\n{proc.stderr}")
        self.assertIn("mismatch", proc.stderr)
        with open(self.report) as f:
            report = json.load(f)
        self.assertFalse(report["total"]["bit_exact"])
        os.remove(self.report)

    def test_mul_lsb_and_scaler_mantissa(self):
        self.assert_caught(self.base, "mul-lsb")
        self.assert_caught(self.base, "scaler-mantissa")

    def test_tree_order(self):
        # The fault pairs (a0 + a2) + (a1 + a3) instead of (a0 + a1) + (a2 + a3)
        # in the tree's first level. That changes the result only when a
        # first-level sum rounds differently, so slots 0..3 alternate between
        # large and 2^-12-times-smaller channels: a0 + a1 rounds, a0 + a2 is
        # exact. (A monotone spread such as 2^(4c) does NOT expose the fault:
        # there all first-level sums of slots 0..3 are exact, both orders round
        # the same exact value once, and the large channels swamp the rest.)
        d = os.path.join(self.dir, "wide")
        os.mkdir(d)
        wide_range_trace(d, lambda c: -12.0 * (c % 2))
        # --group nc: one-product chunks (a 1x1 conv's default is k32, docs/layers.md#default-groupings).
        self.assert_ok(d, "--rows", 16, "--passes", "fwd", "--group", "nc")
        self.assert_caught(d, "tree-order", "--rows", 16, "--passes", "fwd", "--group", "nc")


if __name__ == "__main__":
    unittest.main()
