"""Formats per operand (docs/formats.md): the per-operand flags, their
precedence over the plain flags, the report's config and each entry's
"formats", and bit-exactness of mixed formats on every pass.

The expectations are written from the documentation: W is the weight, A the
input activation, E the output gradient; fwd multiplies X = W by Y = A,
bwd-data X = W by Y = E, bwd-weight X = E by Y = A. Run by CTest with MLSSIM =
the built binary and MLSSIM_SOURCE_DIR = the repo root.
"""
import json
import os
import re
import tempfile
import unittest

from clitest import ROOT, mlssim

TRACE = os.path.join(ROOT, "traces", "resnet20-digits")
LAYERS = "conv1,layer1.0.conv1,layer2.0.conv1"  # the stem, a 3x3 conv and a strided one

ROLES = {"fwd": ("weight", "input"), "bwd-data": ("weight", "grad_output"), "bwd-weight": ("grad_output", "input")}


def run_report(tmp, *flags, layers=LAYERS):
    path = os.path.join(tmp, "report.json")
    mlssim("run", TRACE, "--layers", layers, "--quiet", "--no-progress", "--report", path, *flags)
    with open(path) as f:
        return json.load(f)


class PerOperandFormats(unittest.TestCase):
    def test_mixed_formats_bit_exact_on_every_pass(self):
        with tempfile.TemporaryDirectory() as tmp:
            r = run_report(tmp, "--elem-w", "e2m1", "--elem-a", "e2m4", "--elem-e", "e3m3", "--check",
                           "--acc-bits", "32")
        want = {"weight": "e2m1", "input": "e2m4", "grad_output": "e3m3"}
        self.assertEqual(len(r["layers"]), 9)
        for entry in r["layers"]:
            label = f"{entry['name']} {entry['pass']}"
            self.assertTrue(entry["bit_exact"], label)
            x_role, y_role = ROLES[entry["pass"]]
            f = entry["formats"]
            self.assertEqual((f["x"]["tensor"], f["y"]["tensor"]), (x_role, y_role), label)
            self.assertEqual((f["x"]["elem"], f["y"]["elem"]), (want[x_role], want[y_role]), label)
        c = r["config"]
        self.assertEqual({o: c["operands"][o]["elem"] for o in want}, want)
        self.assertEqual((c["elem_w"], c["elem_a"], c["elem_e"]), ("e2m1", "e2m4", "e3m3"))

    def test_per_operand_flag_overrides_the_plain_one_in_any_order(self):
        for flags in (["--elem", "e3m2", "--elem-e", "e4m3"], ["--elem-e", "e4m3", "--elem", "e3m2"]):
            with tempfile.TemporaryDirectory() as tmp:
                r = run_report(tmp, *flags, "--scale-a", "e6m0", "--group-w", "tensor", "--passes", "fwd",
                               layers="conv1")
            ops = r["config"]["operands"]
            self.assertEqual((ops["weight"]["elem"], ops["input"]["elem"], ops["grad_output"]["elem"]),
                             ("e3m2", "e3m2", "e4m3"), flags)
            self.assertEqual((ops["weight"]["scale"], ops["input"]["scale"], ops["grad_output"]["scale"]),
                             ("e8m1", "e6m0", "e8m1"))
            self.assertEqual((ops["weight"]["group"], ops["input"]["group"], ops["grad_output"]["group"]),
                             ("tensor", "nc", "nc"))
            c = r["config"]
            self.assertEqual((c["scale_w"], c["scale_a"], c["scale_e"]), ("e8m1", "e6m0", "e8m1"))
            self.assertEqual((c["group_w"], c["group_a"], c["group_e"]), ("tensor", "nc", "nc"))

    def test_defaults_follow_the_plain_flags(self):
        with tempfile.TemporaryDirectory() as tmp:
            r = run_report(tmp, "--elem", "e1m3", "--passes", "fwd", layers="conv1")
        c = r["config"]
        self.assertEqual((c["elem"], c["elem_w"], c["elem_a"], c["elem_e"]), ("e1m3",) * 4)
        self.assertEqual((c["scale_w"], c["group_e"]), ("e8m1", "nc"))

    def test_bad_per_operand_value_names_the_flag(self):
        p = mlssim("run", TRACE, "--layers", "conv1", "--elem-a", "e9m9", ok=None)
        self.assertNotEqual(p.returncode, 0)
        self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
        self.assertIn("'e9m9'", p.stderr)

    def test_quantize_takes_no_per_operand_flag(self):
        p = mlssim("quantize", "--elem-w", "e2m1", ok=None)
        self.assertNotEqual(p.returncode, 0)

    def test_sweep_point_passes_per_operand_flags_and_keeps_ids(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "s.yaml")
            with open(path, "w") as f:
                f.write(f"trace: {TRACE}\npoints:\n  - {{elem: e2m1}}\n  - {{elem: e2m1, elem_e: e3m3}}\n"
                        f"  - {{elem_e: e3m3, elem: e2m1}}\n")
            out = mlssim("sweep", path, "--list").stdout
        ids = re.findall(r"^([0-9a-f]{12}) point \d+", out, re.M)
        # The order of the keys does not matter: the last point is the second
        # one again, so the sweep lists it once.
        self.assertEqual(len(ids), 2, out)
        self.assertIn("elem_e=e3m3", out)
        self.assertNotEqual(ids[0], ids[1], out)


class AccumulatorOverflowWarning(unittest.TestCase):
    """One warning line per run with overflow, whose width is the narrowest
    that has none: checked by running at that width and one bit narrower,
    with --check holding the overflow counts against the golden model."""

    LAYERS = "conv1,layer1.0.conv1"

    def run_at(self, tmp, bits):
        path = os.path.join(tmp, f"r{bits}.json")
        p = mlssim("run", TRACE, "--layers", self.LAYERS, "--elem", "e2m4", "--acc-bits", bits, "--check",
                   "--quiet", "--no-progress", "--report", path)
        with open(path) as f:
            r = json.load(f)
        self.assertTrue(r["total"]["bit_exact"])
        warnings = [line for line in p.stderr.splitlines() if line.startswith("warning:")]
        return r, warnings

    def test_width_in_the_warning_is_the_narrowest_without_overflow(self):
        with tempfile.TemporaryDirectory() as tmp:
            r, warnings = self.run_at(tmp, 16)
            ev = r["total"]["events"]
            self.assertGreater(ev["acc_overflow"], 0)
            self.assertEqual(len(warnings), 1, warnings)
            m = re.search(r"(\d+) of (\d+) .* 16-bit range \(rate ([0-9.e+-]+), saturate\); --acc-bits (\d+) would "
                          r"have none", warnings[0])
            self.assertIsNotNone(m, warnings[0])
            self.assertEqual((int(m.group(1)), int(m.group(2))), (ev["acc_overflow"], ev["acc_add"]))
            self.assertAlmostEqual(float(m.group(3)), ev["acc_overflow"] / ev["acc_add"], delta=1e-2 * float(m.group(3)))
            width = int(m.group(4))
            self.assertEqual(r["total"]["acc_bits_needed"], width)
            self.assertEqual(max(e["acc_bits_needed"] for e in r["layers"]), width)
            self.assertGreater(width, 16)

            r, warnings = self.run_at(tmp, width)
            self.assertEqual(r["total"]["events"]["acc_overflow"], 0)
            self.assertEqual(warnings, [])
            self.assertEqual(r["total"]["acc_bits_needed"], width)

            r, warnings = self.run_at(tmp, width - 1)
            self.assertGreater(r["total"]["events"]["acc_overflow"], 0)
            self.assertEqual(len(warnings), 1, warnings)
            # A layer-pass that overflowed needed more than the width it ran at, one that did not, no more.
            for e in r["layers"]:
                self.assertEqual(e["events"]["acc_overflow"] > 0, e["acc_bits_needed"] > width - 1, e["name"])


class Presets(unittest.TestCase):
    """--preset bundles, flag by flag as docs/formats.md lists them."""

    def config(self, *flags):
        with tempfile.TemporaryDirectory() as tmp:
            return run_report(tmp, *flags, "--passes", "fwd", layers="conv1")["config"]

    def test_paper_cifar(self):
        c = self.config("--preset", "paper-cifar")
        self.assertEqual((c["elem"], c["scale"], c["group"], c["acc_bits"], c["clip"]), ("e2m1", "e8m1", "nc", 16, True))
        self.assertEqual({o["elem"] for o in c["operands"].values()}, {"e2m1"})

    def test_paper_imagenet(self):
        c = self.config("--preset", "paper-imagenet")
        self.assertEqual((c["elem"], c["scale"], c["group"], c["acc_bits"], c["clip"]),
                         ("e2m4", "e8m1", "nc", 32, False))

    def test_explicit_flags_override_the_preset_in_any_order(self):
        for flags in (["--preset", "paper-imagenet", "--acc-bits", "24", "--elem-e", "e3m3"],
                      ["--acc-bits", "24", "--elem-e", "e3m3", "--preset", "paper-imagenet"]):
            c = self.config(*flags)
            self.assertEqual(c["acc_bits"], 24, flags)
            self.assertEqual((c["elem_w"], c["elem_a"], c["elem_e"]), ("e2m4", "e2m4", "e3m3"), flags)
        c = self.config("--elem", "e3m2", "--preset", "paper-cifar")
        self.assertEqual((c["elem"], c["acc_bits"]), ("e3m2", 16))

    def test_paper_imagenet_does_not_overflow_on_the_trace_layers(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "r.json")
            p = mlssim("run", TRACE, "--layers", LAYERS, "--preset", "paper-imagenet", "--quiet", "--no-progress",
                       "--report", path)
            with open(path) as f:
                r = json.load(f)
        self.assertEqual(r["total"]["events"]["acc_overflow"], 0)
        self.assertNotIn("warning:", p.stderr)

    def test_unknown_preset_is_one_line_listing_the_known(self):
        p = mlssim("run", TRACE, "--layers", "conv1", "--preset", "mxfp9", ok=None)
        self.assertNotEqual(p.returncode, 0)
        lines = p.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, p.stderr)
        for name in ("--preset", "'mxfp9'", "paper-cifar", "paper-imagenet", "mxfp8", "mxfp4", "nvfp4"):
            self.assertIn(name, lines[0])

    def test_block_scaled_presets(self):
        """Flag by flag as docs/formats.md's presets table lists them."""
        want = {"mxfp8": ("e4m3", "e8m0", "k32", 41, "nearest"),
                "mxfp4": ("e2m1", "e8m0", "k32", 16, "nearest"),
                "nvfp4": ("e2m1", "e4m3", "k16", 16, "nearest")}
        for preset, (elem, scale, group, acc_bits, rounding) in want.items():
            c = self.config("--preset", preset)
            self.assertEqual((c["elem"], c["scale"], c["group"], c["acc_bits"], c["rounding"], c["clip"]),
                             (elem, scale, group, acc_bits, rounding, False), preset)
            self.assertEqual({(o["elem"], o["scale"], o["group"]) for o in c["operands"].values()},
                             {(elem, scale, group)}, preset)

    def test_block_scaled_presets_run_bit_exact_without_overflow(self):
        """Every pass of a stem, a 3x3 conv and a strided conv, checked against the golden model;
        the preset's accumulator (16 x max_q^2 at chunk 16) cannot overflow."""
        for preset in ("mxfp8", "mxfp4", "nvfp4"):
            with tempfile.TemporaryDirectory() as tmp:
                path = os.path.join(tmp, "r.json")
                p = mlssim("run", TRACE, "--layers", LAYERS, "--preset", preset, "--check", "--quiet",
                           "--no-progress", "--report", path)
                with open(path) as f:
                    r = json.load(f)
            self.assertTrue(r["total"]["bit_exact"], preset)
            self.assertEqual(r["total"]["events"]["acc_overflow"], 0, preset)
            self.assertNotIn("warning:", p.stderr)

    def test_conv_with_a_block_preset_equals_run(self):
        """`conv` (golden arithmetic alone) and `run` (the array) give the same bits for every pass of a
        strided layer under nvfp4 (k16 blocks, e4m3 scales, the fit rule), each quantizing per pass."""
        import numpy as np
        layer = "layer2.0.conv1"
        with tempfile.TemporaryDirectory() as tmp:
            outs = os.path.join(tmp, "outs")
            mlssim("run", TRACE, "--layers", layer, "--preset", "nvfp4", "--check", "--quiet", "--no-progress",
                   "--outputs", outs)
            files = {t: os.path.join(TRACE, f"{layer}.{t}.npy") for t in ("weight", "input", "grad_output")}
            for p in ("fwd", "bwd-data", "bwd-weight"):
                out = os.path.join(tmp, f"conv.{p}.npy")
                mlssim("conv", "--pass", p, "--name", layer, "--weight", files["weight"], "--input", files["input"],
                       "--grad-output", files["grad_output"], "--stride", 2, "--padding", 1, "--preset", "nvfp4",
                       "--out", out)
                ran = np.load(os.path.join(outs, f"{layer}.{p}.npy"))
                self.assertTrue(np.array_equal(np.load(out).view(np.uint32), ran.view(np.uint32)), p)

    def test_block_preset_refuses_a_grouping_that_cannot_apply(self):
        for flags in (["--group", "nc"], ["--group-e", "n"]):
            with tempfile.TemporaryDirectory() as tmp:
                report = os.path.join(tmp, "r.json")
                p = mlssim("run", TRACE, "--layers", "conv1", "--preset", "nvfp4", *flags, "--report", report,
                           ok=None)
                self.assertEqual(p.returncode, 1, flags)
                lines = p.stderr.strip().splitlines()
                self.assertEqual(len(lines), 1, p.stderr)
                self.assertIn("--preset nvfp4", lines[0])
                self.assertIn(f"--{flags[0][2:]} {flags[1]}", lines[0])
                self.assertFalse(os.path.exists(report))
        # Another block size applies: the flag wins.
        c = self.config("--preset", "nvfp4", "--group", "k32")
        self.assertEqual(c["group"], "k32")


def npy_shape(path):
    with open(path, "rb") as f:
        head = f.read(512).decode("latin1")
    return tuple(int(d) for d in re.search(r"'shape': \(([^)]*)\)", head).group(1).split(",") if d.strip())


class LayerConfig(unittest.TestCase):
    """--layer-config: per-layer formats and passes, unquantized layers, bad files."""

    CONFIG = (
        "conv1: {unquantized: true}\n"
        "'layer1.*': {elem: e2m1, passes: [fwd]}\n"
        "layer1.0.conv2: {elem_e: e3m3, passes: [fwd, bwd-data]}\n")

    def run_with(self, tmp, text, name="layers.yaml", *flags):
        path = os.path.join(tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path, run_report(tmp, "--layer-config", path, "--check", *flags,
                                layers="conv1,layer1.0.conv1,layer1.0.conv2,layer2.0.conv1")

    def test_per_layer_formats_passes_and_unquantized(self):
        with tempfile.TemporaryDirectory() as tmp:
            _, r = self.run_with(tmp, self.CONFIG)
        got = [(e["name"], e["pass"]) for e in r["layers"]]
        self.assertEqual(got, [("conv1", "fwd"), ("conv1", "bwd-data"), ("conv1", "bwd-weight"),
                               ("layer1.0.conv1", "fwd"), ("layer1.0.conv2", "fwd"), ("layer1.0.conv2", "bwd-data"),
                               ("layer2.0.conv1", "fwd"), ("layer2.0.conv1", "bwd-data"),
                               ("layer2.0.conv1", "bwd-weight")])
        by = {(e["name"], e["pass"]): e for e in r["layers"]}
        # conv1: 3x3, stride 1, padding 1: every pass makes N*Co*H*W*Ci*9 products, padding taps included.
        n, ci, h, w = npy_shape(os.path.join(TRACE, "conv1.input.npy"))
        co, _, kh, kw = npy_shape(os.path.join(TRACE, "conv1.weight.npy"))
        for p in ("fwd", "bwd-data", "bwd-weight"):
            e = by[("conv1", p)]
            self.assertIs(e["unquantized"], True)
            self.assertEqual(e["macs"], n * co * h * w * ci * kh * kw)
            self.assertNotIn("events", e)
        # Compulsory traffic: the pass's two operands and its result, once each.
        wt, act, err = co * ci * kh * kw, n * ci * h * w, n * co * h * w
        for p, operands, result in (("fwd", (wt, act), err), ("bwd-data", (wt, err), act),
                                    ("bwd-weight", (act, err), wt)):
            words = by[("conv1", p)]["fp32_words"]
            self.assertEqual((sorted((words["x"], words["y"])), words["out"]), (sorted(operands), result))
        self.assertEqual(r["total"]["macs_unquantized"], 3 * n * co * h * w * ci * kh * kw)
        self.assertEqual(r["total"]["macs"], sum(e["macs"] for e in r["layers"] if not e.get("unquantized")))
        elems = lambda e: (e["formats"]["x"]["elem"], e["formats"]["y"]["elem"])
        self.assertEqual(elems(by[("layer1.0.conv1", "fwd")]), ("e2m1", "e2m1"))
        self.assertEqual(elems(by[("layer1.0.conv2", "bwd-data")]), ("e2m1", "e3m3"))
        self.assertEqual(elems(by[("layer2.0.conv1", "bwd-weight")]), ("e2m4", "e2m4"))
        self.assertTrue(all(e["bit_exact"] for e in r["layers"] if not e.get("unquantized")))
        self.assertTrue(r["total"]["bit_exact"])

    def test_json_file_and_command_line_per_operand_flag_wins(self):
        with tempfile.TemporaryDirectory() as tmp:
            _, r = self.run_with(tmp, json.dumps({"layer2.*": {"elem": "e3m2"}}), "layers.json", "--elem-e", "e2m1")
        by = {(e["name"], e["pass"]): e for e in r["layers"]}
        f = by[("layer2.0.conv1", "bwd-weight")]["formats"]
        self.assertEqual((f["x"]["elem"], f["y"]["elem"]), ("e2m1", "e3m2"))

    def test_bad_files_are_one_line_naming_file_and_key(self):
        cases = [('{"conv1": {"elem": "e9m1"}}', "conv1.elem"),
                 ('{"conv1": {"acc_bits": 20}}', "conv1.acc_bits"),
                 ('{"conv1": {"colour": 1}}', "conv1.colour"),
                 ('{"conv1": {"passes": ["fwd", "sideways"]}}', "conv1.passes"),
                 ('{"conv1": {"unquantized": "yes"}}', "conv1.unquantized"),
                 ('{"conv1": 3}', "conv1"),
                 ('[1, 2]', "expected a map")]
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "bad.json")
            for text, key in cases:
                with open(path, "w") as f:
                    f.write(text)
                report = os.path.join(tmp, "r.json")
                p = mlssim("run", TRACE, "--layers", "conv1", "--layer-config", path, "--report", report, ok=None)
                self.assertEqual(p.returncode, 1, text)
                lines = p.stderr.strip().splitlines()
                self.assertEqual(len(lines), 1, p.stderr)
                self.assertIn(path, lines[0])
                self.assertIn(key, lines[0])
                self.assertFalse(os.path.exists(report), "no partial output")

    def test_report_may_not_overwrite_the_layer_config(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "l.json")
            with open(path, "w") as f:
                f.write('{"conv1": {"elem": "e2m1"}}')
            p = mlssim("run", TRACE, "--layers", "conv1", "--layer-config", path, "--report", path, ok=None)
            self.assertEqual(p.returncode, 1)
            with open(path) as f:
                self.assertEqual(f.read(), '{"conv1": {"elem": "e2m1"}}')

    def test_a_pattern_that_matches_no_layer_is_warned_about(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "l.yaml")
            with open(path, "w") as f:
                f.write("conv1: {elem: e2m1}\n'layer9.*': {elem: e3m3}\n")
            p = mlssim("run", TRACE, "--layers", "conv1", "--passes", "fwd", "--layer-config", path, "--quiet",
                       "--no-progress")
        warnings = [line for line in p.stderr.splitlines() if "matches no layer" in line]
        self.assertEqual(len(warnings), 1, p.stderr)
        self.assertIn("layer9.*", warnings[0])
        self.assertIn(path, warnings[0])

    def test_unquantized_layers_are_priced_as_fp32_macs(self):
        """paper-unit: an unquantized pass costs fp32 mul + add = 5 per MAC in every design; the
        quantized pass keeps the closed form of docs/energy.md section 8 (Ci = 16: 10304/1544)."""
        with tempfile.TemporaryDirectory() as tmp:
            r = run_report(tmp, "--unquantized", "first", "--passes", "fwd", "--tech", "paper-unit",
                           layers="conv1,layer1.0.conv1")
        conv1, conv = r["layers"]
        self.assertIs(conv1["unquantized"], True)
        for design in ("mls", "fp32", "fp8"):
            self.assertAlmostEqual(conv1["energy"][design], 5.0 * conv1["macs"], delta=1e-6 * conv1["macs"])
        self.assertAlmostEqual(conv["energy"]["fp32_over_mls"], 10304 / 1544, places=9)
        total = r["total"]["energy"]
        self.assertAlmostEqual(total["mls"], conv1["energy"]["mls"] + conv["energy"]["mls"], delta=1e-3)
        self.assertAlmostEqual(total["fp32_over_mls"], (5.0 * conv1["macs"] + conv["energy"]["fp32"]) /
                               (5.0 * conv1["macs"] + conv["energy"]["mls"]), places=9)
        self.assertAlmostEqual(total["by_block"]["unquantized"], 5.0 * conv1["macs"], delta=1e-6 * conv1["macs"])

    def test_unquantized_list_first_last_classifier_none(self):
        def unquantized(*flags, trace=TRACE, layers=LAYERS):
            with tempfile.TemporaryDirectory() as tmp:
                path = os.path.join(tmp, "r.json")
                mlssim("run", trace, "--layers", layers, "--passes", "fwd", "--quiet", "--no-progress", "--report",
                       path, *flags)
                with open(path) as f:
                    return [e["name"] for e in json.load(f)["layers"] if e.get("unquantized")]
        self.assertEqual(unquantized("--unquantized", "first,last"), ["conv1", "layer2.0.conv1"])
        self.assertEqual(unquantized("--unquantized", "layer1.*"), ["layer1.0.conv1"])
        # paper-cifar: the first layer and the classifier; this trace has convolutions only.
        self.assertEqual(unquantized("--preset", "paper-cifar"), ["conv1"])
        self.assertEqual(unquantized("--preset", "paper-cifar", "--unquantized", "none"), [])
        vit = os.path.join(ROOT, "traces", "vit-digits")
        with open(os.path.join(vit, "manifest.json")) as f:
            names = [layer["name"] for layer in json.load(f)["layers"]]
        self.assertEqual(unquantized("--preset", "paper-cifar", trace=vit, layers=",".join(names)),
                         [names[0], names[-1]])

    def test_unquantized_name_matching_nothing_is_one_line(self):
        with tempfile.TemporaryDirectory() as tmp:
            report = os.path.join(tmp, "r.json")
            p = mlssim("run", TRACE, "--layers", "conv1", "--unquantized", "layer9.*", "--report", report,
                       ok=None)
            self.assertEqual(p.returncode, 1)
            self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
            self.assertIn("layer9.*", p.stderr)
            self.assertFalse(os.path.exists(report))


if __name__ == "__main__":
    unittest.main()
