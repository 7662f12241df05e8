"""Tests of tools/plot_formats.py on synthetic sweep results (no mlssim needed).

The expectations are written from the presets table of docs/formats.md: a point
is named after the preset whose flags it sets. Run by CTest (MLSSIM_SOURCE_DIR =
the repo root); by hand: /usr/bin/python3 testbenches/cli/test_plot_formats.py
"""

import csv
import importlib.util
import json
import os
import subprocess
import tempfile
import unittest

SOURCE_DIR = os.environ.get("MLSSIM_SOURCE_DIR") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
SCRIPT = os.path.join(SOURCE_DIR, "tools", "plot_formats.py")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

spec = importlib.util.spec_from_file_location("plot_formats", SCRIPT)
plot_formats = importlib.util.module_from_spec(spec)
spec.loader.exec_module(plot_formats)

BASE = {"rows": 16, "cols": 16, "acc_bits": 16, "acc_overflow": "saturate", "chunk": 16, "tree_stages": 0,
        "elem": "e2m4", "scale": "e8m1", "group": "nc", "rounding": "stochastic", "seed": 0, "clip": False,
        "scale_rule": "cover", "tech": "horowitz-45nm", **{f"{k}_{o}": "" for k in ("elem", "scale", "group") for o in "wae"}}
# (params set, expected label, energy per MAC, output error)
POINTS = [
    ({}, "defaults (e2m4, 16-bit acc)", 0.50, 0.061),
    ({"elem": "e2m1", "clip": True}, "paper-cifar", 0.40, 0.20),
    ({"acc_bits": 32}, "paper-imagenet", 0.55, 0.025),
    ({"elem_w": "e2m1", "elem_e": "e3m3", "acc_bits": 32}, "W/A/E e2m1/e2m4/e3m3, e8m1, nc, 32-bit acc", 0.52, 0.03),
    ({"elem": "e4m3", "scale": "e8m0", "group": "k32", "acc_bits": 41, "rounding": "nearest", "scale_rule": "fit"},
     "mxfp8", 0.9, 0.01),
    ({"elem": "e2m1", "scale": "e8m0", "group": "k32", "rounding": "nearest", "scale_rule": "fit"}, "mxfp4", 0.45, 0.15),
    ({"elem": "e2m1", "scale": "e4m3", "group": "k16", "rounding": "nearest", "scale_rule": "fit"}, "nvfp4", 0.47, 0.12),
    ({"elem": "e2m1", "scale": "e4m3", "group": "k16", "rounding": "nearest"}, "nvfp4 (cover rule)", 0.47, 0.27),
    ({"elem": "e2m1", "scale": "e4m3", "group": "k16"}, "e2m1, e4m3, k16, 16-bit acc", 0.47, 0.13),
]


def results():
    points = []
    for i, (params, _, energy, error) in enumerate(POINTS):
        metrics = {"energy_unit": "pJ", "energy_mls_per_mac": energy, "energy_total_mls_per_mac": 10 * energy,
                   "energy_fp32_over_mls": 4.0 / energy, "energy_fp8_over_mls": 1.0 / energy,
                   "rel_error_mean": error, "rel_error_fwd": error, "rel_error_bwd_data": error,
                   "rel_error_bwd_weight": error, "are_weight": error / 2, "are_input": error / 3,
                   "are_grad_output": error, "acc_overflow_rate": 0.0}
        points.append({"index": i, "id": "%012x" % i, "params": dict(BASE, **params), "metrics": metrics})
    return {"format": "mlssim-sweep-results/1", "points": points}


class Labels(unittest.TestCase):
    def test_points_are_named_after_their_preset(self):
        for params, want, _, _ in POINTS:
            self.assertEqual(plot_formats.label(dict(BASE, **params)), want, params)

    def test_pareto_front(self):
        # (error, energy): lower is better in both.
        pts = [(0.2, 0.4), (0.1, 0.5), (0.15, 0.6), (0.01, 0.9), (0.3, 0.41)]
        self.assertEqual(plot_formats.pareto(pts), [3, 1, 0])


class Command(unittest.TestCase):
    def test_writes_plots_and_table(self):
        with tempfile.TemporaryDirectory() as tmp:
            with open(os.path.join(tmp, "results.json"), "w") as f:
                json.dump(results(), f)
            proc = subprocess.run(["/usr/bin/python3", SCRIPT, tmp], capture_output=True, text=True)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            for name in ("formats_energy_vs_error.png", "formats_are.png"):
                with open(os.path.join(tmp, name), "rb") as f:
                    self.assertEqual(f.read(8), PNG_MAGIC, name)
            with open(os.path.join(tmp, "formats.csv")) as f:
                rows = list(csv.DictReader(f))
            self.assertEqual([r["format"] for r in rows], [p[1] for p in POINTS])
            self.assertAlmostEqual(float(rows[4]["energy_per_mac"]), 0.9)
            self.assertAlmostEqual(float(rows[4]["energy_total_per_mac"]), 9.0)
            self.assertFalse([n for n in os.listdir(tmp) if n.endswith(".tmp")])

    def test_bad_input_is_one_line_and_writes_nothing(self):
        with tempfile.TemporaryDirectory() as tmp:
            with open(os.path.join(tmp, "results.json"), "w") as f:
                f.write("{not json")
            proc = subprocess.run(["/usr/bin/python3", SCRIPT, tmp], capture_output=True, text=True)
            self.assertEqual(proc.returncode, 1)
            self.assertEqual(len(proc.stderr.strip().splitlines()), 1, proc.stderr)
            self.assertIn("results.json", proc.stderr)
            self.assertEqual(os.listdir(tmp), ["results.json"])


if __name__ == "__main__":
    unittest.main()
