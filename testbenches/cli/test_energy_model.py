"""The width-aware energy model end to end on the bundled trace (docs/energy.md):
energy per MAC grows with every width, gating saves exactly the gated events times
the price difference, paper-unit still gives Eq. 9, totals are arithmetic + memory,
and bad tables are refused with the file and key named and nothing written.

The expectations are computed here, in Python, from the figures the tables quote
(Horowitz, ISSCC 2014) and the block formulas of docs/energy.md, not read back from
the program. The runs are forward passes of all 19 layers, to keep the suite short.

Run by CTest with MLSSIM = the built binary and MLSSIM_SOURCE_DIR = the repo root.
"""
import json
import os
import tempfile
import unittest

from clitest import mlssim

TRACE = os.path.join(os.environ["MLSSIM_SOURCE_DIR"], "traces", "resnet20-digits")
_reports = {}


def forward_report(tmp, elem="e2m4", acc_bits=16, tech="horowitz-45nm", *extra):
    key = (elem, acc_bits, tech, extra)
    if key not in _reports:
        path = os.path.join(tmp, "r_%d.json" % len(_reports))
        mlssim("run", TRACE, "--passes", "fwd", "--elem", elem, "--acc-bits", acc_bits, "--tech", tech,
               "--quiet", "--no-progress", "--report", path, *extra)
        with open(path) as f:
            _reports[key] = json.load(f)
    return _reports[key]


def priced(tmp, report, tech, *flags):
    src, out = os.path.join(tmp, "in.json"), os.path.join(tmp, "out.json")
    with open(src, "w") as f:
        json.dump(report, f)
    mlssim("energy", src, "--tech", tech, "--out", out, *flags)
    with open(out) as f:
        return json.load(f)


def per_mac(report, key="mls", total=False):
    energy = report["total"]["energy"]
    value = energy["total"][key] if total else energy[key]
    return value / report["total"]["events"]["mul"]


# -- Horowitz 45 nm, by hand from the quoted figures -----------------------------

def fit(u1, v1, y1, u2, v2, y2):
    det = u1 * v2 - u2 * v1
    return (y1 * v2 - y2 * v1) / det, (u1 * y2 - u2 * y1) / det


ADD_OP, ADD_BIT = fit(1, 8, 0.03, 1, 32, 0.1)       # int8 add 0.03, int32 add 0.1
MUL_OP, PP_BIT = fit(1, 64, 0.2, 1, 1024, 3.1)      # int8 mul 0.2, int32 mul 3.1
MUX_BIT = ADD_BIT / 2                               # derived: a mux bit is half an adder bit
GATED_FRACTION = 0.1                                # derived


def stages(max_shift):  # ceil(log2(max_shift + 1))
    return int(max_shift).bit_length()


def element_mul(e, m):  # both operands e<e>m<m>
    mantissa = m if e == 0 else m + 1
    shift = 0 if e == 0 else 2 ** e - 2
    return MUL_OP + PP_BIT * mantissa * mantissa + MUX_BIT * stages(2 * shift) * (2 * mantissa + 2 * shift)


def int_add(bits):
    return ADD_OP + ADD_BIT * bits


class WidthsMoveTheEnergy(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def assert_strictly_increasing(self, reports, what):
        for tech in ("horowitz-45nm", "mac-65nm"):
            for total in ((False, True) if tech == "horowitz-45nm" else (False,)):
                values = [per_mac(priced(self.tmp.name, r, tech), total=total) for r in reports]
                with self.subTest(what, tech=tech, total=total):
                    self.assertTrue(all(a < b for a, b in zip(values, values[1:])), values)

    def test_grows_with_mantissa_bits(self):
        self.assert_strictly_increasing([forward_report(self.tmp.name, "e2m%d" % m) for m in (1, 2, 3, 4)], "M_x")

    def test_grows_with_exponent_bits(self):
        self.assert_strictly_increasing([forward_report(self.tmp.name, "e%dm3" % e) for e in (0, 1, 2, 3)], "E_x")

    def test_grows_with_accumulator_bits(self):
        self.assert_strictly_increasing([forward_report(self.tmp.name, "e2m4", b) for b in (12, 16, 24, 32)],
                                        "acc_bits")

    def test_prices_match_the_formulas(self):
        report = forward_report(self.tmp.name, "e2m3", 24)
        for entry in report["layers"]:
            actions = entry["energy"]["actions"]
            self.assertAlmostEqual(actions["element_mul"], element_mul(2, 3), places=12)
            self.assertAlmostEqual(actions["acc_add"], int_add(24), places=12)
            self.assertAlmostEqual(actions["fp32_add"], 0.9, places=12)
            self.assertAlmostEqual(actions["fp32_mul"], 3.7, places=12)

    def test_gating_saves_gated_events_times_price_difference(self):
        report = forward_report(self.tmp.name)
        full = priced(self.tmp.name, report, "horowitz-45nm")
        gated = priced(self.tmp.name, report, "horowitz-45nm", "--gating")
        saving = sum(e["events"]["mul_zero"] * (1 - GATED_FRACTION) * (element_mul(2, 4) + int_add(16))
                     for e in report["layers"])
        self.assertGreater(saving, 0)
        got = full["total"]["energy"]["mls"] - gated["total"]["energy"]["mls"]
        self.assertAlmostEqual(got / saving, 1.0, places=9)
        self.assertTrue(gated["total"]["energy"]["gating"])
        self.assertEqual(full["total"]["energy"]["fp32"], gated["total"]["energy"]["fp32"])

    def test_paper_unit_is_eq9(self):
        report = priced(self.tmp.name, forward_report(self.tmp.name), "paper-unit")
        for entry in report["layers"] + [report["total"]]:
            ev = entry["events"]
            mls = (ev["mul"] * 4 / 7 + ev["acc_add"] / 20 + ev["scale"] / 20 + ev["tree_add"] + ev["out_acc"] +
                   ev["final_mul"] * 4)
            fp32 = ev["mul"] * 4 + ev["acc_add"] + ev["tree_add"] + ev["out_acc"]
            self.assertAlmostEqual(entry["energy"]["mls"] / mls, 1.0, places=12)
            self.assertAlmostEqual(entry["energy"]["fp32_over_mls"] / (fp32 / mls), 1.0, places=12)
            self.assertIsNone(entry["energy"]["total"])  # paper-unit prices no memory

    def test_total_is_arithmetic_plus_memory(self):
        # ... plus the vector unit (docs/energy.md#vector-work), which every design has.
        report = forward_report(self.tmp.name)
        for entry in report["layers"] + [report["total"]]:
            energy = entry["energy"]
            for design in ("mls", "fp32", "fp8", "fp8-fp16acc", "bf16"):
                self.assertAlmostEqual(energy["total"][design],
                                       energy[design] + energy["memory"][design] + energy["vector"][design],
                                       delta=1e-9 * energy["total"][design])
            self.assertAlmostEqual(energy["total_fp32_over_mls"], energy["total"]["fp32"] / energy["total"]["mls"])
        # fp32 words are 32 bits: its memory energy from the traffic's element counts alone.
        # Buffer reads by the array and drains to DRAM, buffer writes of outputs and fills
        # from DRAM, at 10/64 pJ per bit; the fills and drains again at DRAM's 1300/64.
        el = report["total"]["traffic"]["elements"]
        sram, dram = 10 / 64, 1300 / 64
        fills = el["x_dram_read"] + el["y_dram_read"]
        buffer = ((el["x_buffer_read"] + el["y_buffer_read"] + el["out_dram_write"]) * 32 +
                  (el["out_buffer_write"] + fills) * 32) * sram
        fp32_memory = buffer + (fills + el["out_dram_write"]) * 32 * dram
        self.assertGreater(fills, 0)
        self.assertAlmostEqual(report["total"]["energy"]["memory"]["fp32"] / fp32_memory, 1.0, places=12)

    def test_run_summary_prints_both_ratios(self):
        proc = mlssim("run", TRACE, "--layers", "conv1", "--passes", "fwd", "--tech", "horowitz-45nm", "--no-progress")
        header = [line for line in proc.stdout.splitlines() if "fp32/MLS" in line]
        self.assertEqual(len(header), 1, proc.stdout)
        self.assertIn("tot fp32/MLS", header[0])


class BadTables(unittest.TestCase):
    COEFFS = {"int_add_op": 0.01, "int_add_bit": 0.003, "int_mul_op": 0.01, "int_mul_pp_bit": 0.003,
              "shift_mux_bit": 0.001, "fp_add_bit": 0.02, "fp_add_align_bit": 0.003, "fp_mul_bit": 0.03,
              "fp_mul_pp_bit": 0.004}

    def refused(self, name, text, *key_words):
        with tempfile.TemporaryDirectory() as tmp:
            table = os.path.join(tmp, name)
            with open(table, "w") as f:
                f.write(text)
            out, report = os.path.join(tmp, "energy.json"), os.path.join(tmp, "report.json")
            for args in (["energy", os.path.join(os.environ["MLSSIM_SOURCE_DIR"], "testbenches", "golden",
                                                 "resnet20-digits.report.json"), "--tech", table, "--out", out],
                         ["run", TRACE, "--layers", "conv1", "--passes", "fwd", "--tech", table, "--report", report]):
                proc = mlssim(*args, ok=None)
                with self.subTest(name, command=args[0]):
                    self.assertNotEqual(proc.returncode, 0)
                    lines = proc.stderr.strip().splitlines()
                    self.assertEqual(len(lines), 1, proc.stderr)
                    for word in (name,) + key_words:
                        self.assertIn(word, lines[0])
                    self.assertFalse(os.path.exists(out) or os.path.exists(report))

    def table(self, **changes):
        coeffs = dict(self.COEFFS, **changes)
        return json.dumps({"tech": "t", "unit": "pJ",
                           "coefficients": {k: v for k, v in coeffs.items() if v is not None}})

    def test_missing_coefficient(self):
        self.refused("missing.json", self.table(fp_mul_bit=None), "coefficients.fp_mul_bit", "missing")

    def test_negative_coefficient(self):
        self.refused("negative.json", self.table(shift_mux_bit=-0.5), "coefficients.shift_mux_bit", "non-negative")

    def test_unknown_coefficient(self):
        self.refused("unknown.json", self.table(int_div_bit=1), "int_div_bit", "unknown")

    def test_ert_that_does_not_parse(self):
        self.refused("broken.yaml", "ERT:\n  version: '0.3'\n  tables: [\n", "not valid YAML")

    def test_ert_with_a_bad_action(self):
        self.refused("bad_action.yaml", "ERT:\n  tables:\n  - name: mls_array.multiplier\n    actions:\n"
                     "    - {name: mul, arguments: null, energy: -1}\n", "ERT.tables[0].actions[0].energy")


class ErtRoundTrip(unittest.TestCase):
    def test_exported_ert_prices_like_its_table(self):
        with tempfile.TemporaryDirectory() as tmp:
            report = forward_report(tmp, "e2m4", 16, "horowitz-45nm", "--layers", "conv1")
            src = os.path.join(tmp, "r.json")
            with open(src, "w") as f:
                json.dump(report, f)
            ert = os.path.join(tmp, "design.yaml")
            mlssim("energy", src, "--tech", "horowitz-45nm", "--export-ert", ert)
            with open(ert) as f:
                text = f.read()
            self.assertIn("ERT:", text)
            self.assertIn("- name: mls_array.group_scaler", text)
            back = priced(tmp, report, ert)["total"]["energy"]
            want = report["total"]["energy"]
            for key in ("mls", "fp32", "fp8", "fp8-fp16acc", "bf16"):
                self.assertAlmostEqual(back[key] / want[key], 1.0, places=12)
                self.assertAlmostEqual(back["total"][key] / want["total"][key], 1.0, places=12)


if __name__ == "__main__":
    unittest.main()
