"""mlssim describe --json lists every registry entry, and the plotting tools read it.

The expectations come from outside the code: the parameters from `mlssim run --help`
and `mlssim sweep`'s list of known parameters, the presets from docs/formats.md's
table, the energy blocks from the report layout in docs/energy.md. The tools in
tools/ must carry no copy of these tables.
"""
import glob
import json
import os
import re
import subprocess
import sys
import tempfile
import unittest

from clitest import MLSSIM, ROOT, TRACES, mlssim


def describe():
    return json.loads(mlssim("describe", "--json").stdout)


def docs_preset_rows():
    """(preset, {column: cell}) of docs/formats.md's preset table."""
    with open(os.path.join(ROOT, "docs", "formats.md")) as f:
        lines = [line.strip() for line in f if line.startswith("| ")]
    lines = lines[lines.index(next(line for line in lines if line.startswith("| preset |"))):]
    header = [cell.strip().strip("`") for cell in lines[0].strip("|").split("|")]
    rows = []
    for line in lines[2:]:
        cells = [cell.strip().strip("`") for cell in line.strip("|").split("|")]
        if len(cells) != len(header) or not cells[0]:
            break
        rows.append((cells[0], dict(zip(header[1:], cells[1:]))))
    return rows


class DescribeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.registry = describe()

    def test_params_are_the_flags_run_takes(self):
        help_text = mlssim("run", "--help").stdout
        flags = set(re.findall(r"^\s+(--[a-z0-9-]+)", help_text, re.M))
        described = [p["flag"] for p in self.registry["params"] if p["group"] != "train"]
        self.assertEqual(len(described), len(set(described)))
        for p in self.registry["params"]:
            if p["group"] == "train":  # a sweep point's training run: sweep files only, no flag
                self.assertIsNone(p["flag"], p["name"])
                self.assertNotIn("--" + p["name"].replace("_", "-"), flags)
                continue
            self.assertEqual(p["flag"], "--" + p["name"].replace("_", "-"))
            self.assertIn(p["flag"], flags, "a described parameter run --help does not show")
        for flag in ("--acc-bits", "--scale-rule", "--elem-w", "--tech", "--dram-bw"):  # one of each group
            self.assertIn(flag, described)

    def test_sweep_parameters_are_the_ones_sweep_knows_in_its_order(self):
        with tempfile.TemporaryDirectory() as tmp:
            sweep = os.path.join(tmp, "s.yaml")
            with open(sweep, "w") as f:
                f.write("trace: %s\ngrid:\n  no_such_parameter: [1]\n" % os.path.join(TRACES, "resnet20-digits"))
            proc = mlssim("sweep", sweep, "--list", ok=False)
        known = proc.stderr.split("(known: ", 1)[1].split(")", 1)[0].split(", ")
        self.assertEqual([p["name"] for p in self.registry["params"] if p["sweep"]], known)

    def test_defaults_are_the_documented_ones(self):
        defaults = {p["name"]: p["default"] for p in self.registry["params"]}
        # docs/formats.md: "A value in parentheses is the default"; README/docs/sweep.md: 16x16, 16-bit accumulator.
        self.assertEqual(defaults["rounding"], "stochastic")
        self.assertEqual(defaults["scale_rule"], "cover")
        self.assertEqual(defaults["clip"], False)
        self.assertEqual((defaults["rows"], defaults["cols"], defaults["acc_bits"]), (16, 16, 16))

    def test_presets_are_the_docs_table(self):
        rows = docs_preset_rows()
        self.assertEqual([p["name"] for p in self.registry["presets"]], [name for name, _ in rows])
        columns = {"--elem": "elem", "--scale": "scale", "--group": "group", "--acc-bits": "acc_bits",
                   "--rounding": "rounding", "--scale-rule": "scale_rule"}
        for preset, (name, cells) in zip(self.registry["presets"], rows):
            values = preset["values"]
            for column, key in columns.items():
                cell = cells[column]
                if cell.startswith("("):
                    self.assertNotIn(key, values, f"{name}: {key} is left at its default")
                else:
                    self.assertEqual(str(values[key]), cell, f"{name}: {key}")
            self.assertEqual(values.get("clip", False), cells["--clip"] == "on", f"{name}: clip")
            self.assertEqual(preset["unquantized"], cells["run --unquantized"], f"{name}: unquantized")
            self.assertTrue(preset["help"])

    def test_blocks_are_the_report_layout_in_docs(self):
        with open(os.path.join(ROOT, "docs", "energy.md")) as f:
            text = f.read()
        layout = text.split('"by_block": {', 1)[1].split("}", 1)[0]
        self.assertEqual(self.registry["blocks"], re.findall(r'"([a-z_]+)"', layout))

    def test_json_only(self):
        proc = mlssim("describe", ok=False)
        self.assertEqual(proc.stdout, "")
        self.assertIn("--json", proc.stderr)
        self.assertEqual(len(proc.stderr.strip().splitlines()), 1)

    def test_tools_carry_no_copies(self):
        # A preset or block name quoted in a tool is a copy; parameter names are a copy of the table
        # once half of them are quoted (a plot names the few it draws or labels by). bwd_data and
        # bwd_weight are also pass names.
        tables = [p["name"] for p in self.registry["presets"]] + self.registry["blocks"]
        params = [p["name"] for p in self.registry["params"] if p["name"] not in ("bwd_data", "bwd_weight")]
        for path in glob.glob(os.path.join(ROOT, "tools", "*.py")):
            with open(path) as f:
                source = f.read()

            def quoted(names):
                return [n for n in names if re.search(r'["\']%s["\']\s*[:,\])]' % re.escape(n), source)]

            name = os.path.basename(path)
            self.assertEqual(quoted(tables), [], f"{name} copies the presets or blocks")
            self.assertLess(len(quoted(params)), len(params) // 2, f"{name} copies the parameter table")


class PlotEnergyTest(unittest.TestCase):
    def test_draws_every_block_of_the_binary(self):
        blocks = describe()["blocks"]
        energy = {"tech": "paper-unit", "unit": "relative", "mls": 6.0, "fp32": 12.0, "fp8": 9.0,
                  "fp32_over_mls": 2.0, "fp8_over_mls": 1.5, "by_block": {b: 1.0 for b in blocks}}
        report = {"layers": [{"name": "conv1", "pass": "fwd", "energy": energy}], "total": {"energy": energy}}
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "energy.json")
            with open(path, "w") as f:
                json.dump(report, f)
            proc = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "plot_energy.py"), path, "--out", tmp,
                                   "--mlssim", MLSSIM], capture_output=True, text=True, timeout=120)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            for name in ("energy_by_block.png", "energy_vs_baselines.png"):
                self.assertGreater(os.path.getsize(os.path.join(tmp, name)), 1000)


if __name__ == "__main__":
    unittest.main()
