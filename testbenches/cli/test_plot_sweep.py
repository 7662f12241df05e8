"""Tests of tools/plot_sweep.py on synthetic sweep results (no mlssim needed).

Run by CTest (MLSSIM_SOURCE_DIR = the repo root); by hand:
/usr/bin/python3 testbenches/cli/test_plot_sweep.py
"""

import contextlib
import csv
import importlib.util
import io
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

SOURCE_DIR = os.environ.get("MLSSIM_SOURCE_DIR") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
SCRIPT = os.path.join(SOURCE_DIR, "tools", "plot_sweep.py")

spec = importlib.util.spec_from_file_location("plot_sweep", SCRIPT)
plot_sweep = importlib.util.module_from_spec(spec)
spec.loader.exec_module(plot_sweep)

DEFAULTS = {"rows": 16, "cols": 16, "acc_bits": 16, "acc_overflow": "saturate", "chunk": 16, "tree_stages": 0,
            "elem": "e2m4", "scale": "e8m1", "group": "nc", "rounding": "stochastic", "seed": 0, "clip": False,
            "tech": "paper-unit"}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def make_results(grid, old_scale_metric=False):
    """A results.json dict for the grid {param: [values]} (first key slowest), metrics that depend on
    every varied parameter so that a point put in the wrong line is visible."""
    points = []
    for index, values in enumerate(itertools.product(*grid.values())):
        params = dict(DEFAULTS, **dict(zip(grid, values)))
        width = {"e1m3": 1, "e2m3": 2, "e2m4": 3, "e0m2": 0}[params["elem"]]
        base = 0.01 * (1 + width) * (1 + params["chunk"] / 64) * (2 if params["group"] == "tensor" else 1)
        overflow = max(0.0, (width + 14 - params["acc_bits"]) * 1e-3 * params["chunk"] / 16)
        metrics = {"macs": 1000, "cycles": 5000 + params["chunk"], "acc_add": 900, "acc_overflow": int(900 * overflow),
                   "scale_events" if not old_scale_metric else "scale": 57 * params["chunk"],
                   "utilization": 0.5, "acc_overflow_rate": overflow,
                   "rel_error_fwd": base + overflow, "rel_error_bwd_data": base + overflow / 2,
                   "rel_error_bwd_weight": None if index == 0 else base + 2 * overflow,
                   "are_weight": 0.1 / (1 + width), "are_input": 0.12 / (1 + width),
                   "are_grad_output": 0.9 / (1 + width)}
        metrics["rel_error_mean"] = base + overflow
        points.append({"id": "%012x" % (0xabc000 + index), "index": index, "params": params, "metrics": metrics})
    return {"format": "mlssim-sweep-results/1",
            "sweep": {"trace": "../traces/tiny", "passes": ["fwd", "bwd-data", "bwd-weight"], "layers": [],
                      "file": "synthetic.yaml", "varied": [n for n in plot_sweep.parameters() if n in grid]},
            "metrics": list(points[0]["metrics"]), "points": points}


def quiet(plot, *args, **kwargs):
    """Runs a plot function without its "wrote FILE" line."""
    with contextlib.redirect_stdout(io.StringIO()):
        return plot(*args, **kwargs)


def ids(points):
    return [p["id"] for p in points]


class GroupingTest(unittest.TestCase):
    """The pure grouping: every point in exactly one line, lines never mix settings."""

    def setUp(self):
        # two varied axes; tech is set by the grid but has one value, so it is held fixed
        self.results = make_results({"acc_bits": [12, 14, 16, 18], "elem": ["e1m3", "e2m3", "e2m4"],
                                     "tech": ["paper-unit"]})
        self.points = self.results["points"]

    def check_partition(self, facets, x, points):
        seen = [p["id"] for f in facets for line in f.lines for p in line.points]
        self.assertEqual(sorted(seen), sorted(ids(points)), "every point in exactly one line")
        for f in facets:
            for line in f.lines:
                for p in line.points:
                    for name, value in line.setting:
                        self.assertEqual(p["params"][name], value)
                xs = [p["params"][x] for p in line.points]
                self.assertEqual(len(set(xs)), len(xs), "a line has two points at one x")

    def test_varied_and_fixed(self):
        self.assertEqual(plot_sweep.varied(self.results), ["acc_bits", "elem"])
        fixed = dict(plot_sweep.fixed_params(self.results))
        self.assertNotIn("acc_bits", fixed)
        self.assertNotIn("elem", fixed)
        self.assertEqual(fixed["tech"], "paper-unit")
        self.assertEqual(fixed["rows"], 16)  # a run default, read from the records' params
        self.assertEqual(fixed["scale"], "e8m1")
        self.assertEqual(len(fixed), len(DEFAULTS) - 2)

    def test_one_line_per_elem_against_acc_bits(self):
        facet, facets, others = plot_sweep.plan(self.results, "acc_bits")
        self.assertIsNone(facet)
        self.assertEqual(others, ["elem"])
        self.assertEqual(len(facets), 1)
        lines = facets[0].lines
        self.assertEqual([line.setting for line in lines], [(("elem", "e1m3"),), (("elem", "e2m3"),),
                                                            (("elem", "e2m4"),)])
        for line in lines:
            self.assertEqual([p["params"]["acc_bits"] for p in line.points], [12, 14, 16, 18])
        self.check_partition(facets, "acc_bits", self.points)

    def test_one_line_per_acc_bits_against_elem(self):
        _, facets, _ = plot_sweep.plan(self.results, "elem")
        lines = facets[0].lines
        self.assertEqual([line.setting for line in lines], [(("acc_bits", b),) for b in (12, 14, 16, 18)])
        for line in lines:  # categories in the sweep's order
            self.assertEqual([p["params"]["elem"] for p in line.points], ["e1m3", "e2m3", "e2m4"])
        self.check_partition(facets, "elem", self.points)

    def test_facets_when_there_are_too_many_lines(self):
        results = make_results({"acc_bits": [12, 14, 16, 18], "chunk": [4, 16, 32, 64],
                                "elem": ["e1m3", "e2m3", "e2m4"]})
        points = results["points"]
        # 12 settings of (chunk, elem): elem facets leave 4 lines each in 3 subplots, chunk facets 3 in 4
        facet, facets, others = plot_sweep.plan(results, "acc_bits", max_lines=4)
        self.assertEqual(facet, "elem")
        self.assertEqual([f.value for f in facets], ["e1m3", "e2m3", "e2m4"])
        for f in facets:
            self.assertEqual([line.setting for line in f.lines], [(("chunk", c),) for c in (4, 16, 32, 64)])
            for line in f.lines:
                self.assertTrue(all(p["params"]["elem"] == f.value for p in line.points))
        self.check_partition(facets, "acc_bits", points)
        # with room for 12 lines, no facets; forced facets and none
        self.assertIsNone(plot_sweep.plan(results, "acc_bits", max_lines=12)[0])
        facet, facets, _ = plot_sweep.plan(results, "acc_bits", facet="chunk", max_lines=4)
        self.assertEqual([f.value for f in facets], [4, 16, 32, 64])
        self.check_partition(facets, "acc_bits", points)
        facet, facets, _ = plot_sweep.plan(results, "acc_bits", facet="none", max_lines=4)
        self.assertEqual(len(facets[0].lines), 12)
        self.check_partition(facets, "acc_bits", points)
        with self.assertRaises(plot_sweep.PlotError):
            plot_sweep.plan(results, "acc_bits", facet="rows")

    def test_extra_points_outside_the_grid(self):
        # a sweep `points:` entry varies a parameter the grid does not: it gets a line of its own
        results = make_results({"acc_bits": [12, 16], "elem": ["e1m3", "e2m4"]})
        extra = json.loads(json.dumps(results["points"][0]))
        extra.update(id="extra0000001", index=4)
        extra["params"].update(acc_bits=16, group="tensor")
        results["points"].append(extra)
        results["sweep"]["varied"] = ["acc_bits", "elem", "group"]
        _, facets, others = plot_sweep.plan(results, "acc_bits")
        self.assertEqual(others, ["elem", "group"])
        self.check_partition(facets, "acc_bits", results["points"])
        self.assertIn(((("elem", "e1m3"), ("group", "tensor")), ["extra0000001"]),
                      [(line.setting, ids(line.points)) for line in facets[0].lines])


class DrawTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="test_plot_sweep_")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def results_dir(self, name, results):
        path = os.path.join(self.tmp, name)
        os.makedirs(path)
        with open(os.path.join(path, "results.json"), "w") as f:
            json.dump(results, f)
        return path

    def assert_png(self, path):
        with open(path, "rb") as f:
            self.assertEqual(f.read(8), PNG_MAGIC, path)
        self.assertGreater(os.path.getsize(path), 10000)

    def assert_every_point_drawn(self, drawn, results, metrics):
        all_ids = sorted(ids(results["points"]))
        for m in metrics:
            series = [d for d in drawn if d[1] == m]
            self.assertEqual(sorted(i for d in series for i in d[3]), all_ids, m)
            for facet, _, setting, point_ids, xs, ys in series:
                self.assertEqual(len(point_ids), len(xs))
                self.assertEqual(len(point_ids), len(ys))
                by_id = {p["id"]: p for p in results["points"]}
                for i, y in zip(point_ids, ys):
                    self.assertTrue(all(by_id[i]["params"][n] == v for n, v in setting))
                    self.assertEqual(y, plot_sweep.metric(by_id[i], m))

    def test_backend_is_agg(self):
        self.assertEqual(plot_sweep.matplotlib.get_backend().lower(), "agg")

    def test_overflow_plot_has_one_line_per_elem(self):
        # issue 9: acc_bits x elem used to be drawn as one line through all 12 points
        results = make_results({"acc_bits": [12, 14, 16, 18], "elem": ["e1m3", "e2m3", "e2m4"]})
        out = self.results_dir("overflow", results)
        drawn = quiet(plot_sweep.plot_overflow_vs_acc_bits, plot_sweep.load(out), out)
        self.assert_png(os.path.join(out, "overflow_vs_acc_bits.png"))
        metrics = ["acc_overflow_rate", "rel_error_fwd", "rel_error_bwd_data", "rel_error_bwd_weight"]
        self.assert_every_point_drawn(drawn, results, metrics)
        rate = [d for d in drawn if d[1] == "acc_overflow_rate"]
        self.assertEqual([d[2] for d in rate], [(("elem", e),) for e in ("e1m3", "e2m3", "e2m4")])
        self.assertTrue(all(d[4] == [12.0, 14.0, 16.0, 18.0] for d in rate))
        # the one missing value (point 0, bwd_weight) stays a gap
        self.assertEqual(sum(y is None for d in drawn for y in d[5]), 1)

    def test_format_ablation_draws_every_point(self):
        # issue 9: elem x group x acc_bits used to draw only the first point per (elem, group)
        results = make_results({"acc_bits": [14, 16], "elem": ["e1m3", "e2m3", "e2m4"], "group": ["nc", "tensor"]})
        out = self.results_dir("ablation", results)
        drawn = quiet(plot_sweep.plot_format_ablation, plot_sweep.load(out), out)
        self.assert_png(os.path.join(out, "format_ablation.png"))
        self.assert_every_point_drawn(drawn, results, ["are_weight", "rel_error_fwd"])
        self.assertEqual(sorted({d[2] for d in drawn}),
                         sorted((("acc_bits", b), ("group", g)) for b in (14, 16) for g in ("nc", "tensor")))

    def test_default_plots_of_a_two_axis_grid(self):
        results = make_results({"rows": [4, 8, 16], "cols": [4, 16], "chunk": [4, 16, 64]})
        out = self.results_dir("shape", results)
        drawn = quiet(plot_sweep.plot_cycles_vs_shape, plot_sweep.load(out), out)
        self.assert_png(os.path.join(out, "cycles_vs_shape.png"))
        self.assert_every_point_drawn(drawn, results, ["cycles"])
        self.assertEqual(len({d[2] for d in drawn}), 6)  # (cols, chunk) settings

    def test_energy_per_mac_by_format_and_energy_vs_error(self):
        results = make_results({"acc_bits": [16, 24], "elem": ["e2m4", "e0m2", "e2m3", "e1m3"],
                                "tech": ["horowitz-45nm"]})
        for p in results["points"]:
            width = {"e0m2": 0, "e1m3": 1, "e2m3": 2, "e2m4": 3}[p["params"]["elem"]]
            m = p["metrics"]
            m.update({"mul": 1000, "energy_unit": "pJ", "energy_mls": 100.0 + 10 * width + p["params"]["acc_bits"],
                      "energy_fp32": 4000.0, "energy_fp8": 1300.0, "energy_bf16": 1800.0,
                      "energy_total_mls": 600.0 + 10 * width, "energy_total_fp32": 9000.0})
            for key in ("mls", "fp32", "fp8", "bf16", "total_mls", "total_fp32"):
                m["energy_%s_per_mac" % key] = m["energy_" + key] / 1000
        out = self.results_dir("energy_formats", results)
        drawn = quiet(plot_sweep.plot_energy_per_mac, plot_sweep.load(out), out)
        self.assert_png(os.path.join(out, "energy_per_mac.png"))
        self.assert_every_point_drawn(drawn, results, ["energy_mls_per_mac", "energy_total_mls_per_mac"])
        arithmetic = [d for d in drawn if d[1] == "energy_mls_per_mac"]
        self.assertEqual([d[2] for d in arithmetic], [(("acc_bits", 16),), (("acc_bits", 24),)])
        by_id = {p["id"]: p for p in results["points"]}
        # x follows exponent bits, then mantissa bits: e0m2, e1m3, e2m3, e2m4
        for d in arithmetic:
            self.assertEqual([by_id[i]["params"]["elem"] for i in d[3]], ["e0m2", "e1m3", "e2m3", "e2m4"])
            self.assertEqual(d[4], [0, 1, 2, 3])
        drawn = quiet(plot_sweep.plot_energy_vs_error, plot_sweep.load(out), out)
        self.assert_png(os.path.join(out, "energy_vs_error.png"))
        _, _, _, point_ids, xs, _ = drawn[0]
        self.assertEqual(xs, [by_id[i]["metrics"]["energy_total_mls_per_mac"] for i in point_ids])

    def test_parameters_are_mlssims_in_its_order(self):
        # results.csv's parameter columns are told from its metrics by this order
        mlssim = os.environ.get("MLSSIM")
        if not mlssim:
            self.skipTest("MLSSIM is not set (CTest sets it)")
        with tempfile.TemporaryDirectory() as tmp:
            sweep = os.path.join(tmp, "s.yaml")
            with open(sweep, "w") as f:
                f.write("trace: %s\ngrid:\n  no_such_parameter: [1]\n" % os.path.join(SOURCE_DIR, "traces", "resnet20-digits"))
            proc = subprocess.run([mlssim, "sweep", sweep, "--list"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  universal_newlines=True, timeout=60)
        self.assertNotEqual(proc.returncode, 0)
        known = proc.stderr.split("(known: ", 1)[1].split(")", 1)[0].split(", ")
        self.assertEqual(plot_sweep.parameters(), known)

    def run_script(self, *args):
        return subprocess.run([sys.executable, SCRIPT, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, timeout=120, env=dict(os.environ, MPLBACKEND="TkAgg"))

    def test_command_line(self):
        results = make_results({"acc_bits": [12, 14, 16, 18], "elem": ["e1m3", "e2m3", "e2m4"]})
        out = self.results_dir("cli", results)
        proc = self.run_script(out)  # the default set: overflow and format plots
        self.assertEqual(proc.returncode, 0, proc.stderr)
        for name in ("overflow_vs_acc_bits.png", "format_ablation.png"):
            self.assert_png(os.path.join(out, name))
        self.assertFalse(os.path.exists(os.path.join(out, "cycles_vs_shape.png")))
        pngs = os.path.join(self.tmp, "cli-pngs")
        proc = self.run_script(out, "--out", pngs, "--x", "elem", "--y", "rel_error_mean,cycles", "--facet", "none")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assert_png(os.path.join(pngs, "rel_error_mean+cycles_vs_elem.png"))
        quiet(plot_sweep.main, [out, "--out", pngs, "--x", "acc_bits", "--y", "scale_events", "--name", "s.png"])
        self.assert_png(os.path.join(pngs, "s.png"))
        for args, expect in [(["--x", "acc_bits", "--y", "scale"], "scale is a parameter, not a metric; its event "
                               "count is the metric scale_events"),
                             (["--x", "acc_bits", "--y", "elem"], "elem is a parameter"),
                             (["--x", "acc_bits", "--y", "nope"], "no such metric"),
                             (["--x", "chunk", "--y", "cycles"], "--x chunk: takes one value (16)"),
                             (["--x", "acc_bits", "--y", "cycles", "--facet", "acc_bits"], "it is the x axis"),
                             (["--facet", "group"], "--facet group: not a varied parameter"),
                             (["--x", "acc_bits"], "--x and --y go together")]:
            self.assertIn(expect, self.refused([out, "--out", pngs, *args]))
        self.assertIn("run or merge the sweep first", self.refused([os.path.join(self.tmp, "no-such-dir")]))

    def refused(self, argv):
        """main(argv)'s error message; it must exit with a non-zero status."""
        err = io.StringIO()
        with self.assertRaises(SystemExit) as caught, contextlib.redirect_stderr(err), \
                contextlib.redirect_stdout(io.StringIO()):
            plot_sweep.main(argv)
        self.assertNotIn(caught.exception.code, (0, None), argv)
        return err.getvalue() + (caught.exception.code if isinstance(caught.exception.code, str) else "")


class CollisionTest(unittest.TestCase):
    """Metric columns named like parameters (scale, acc_overflow) are never read as the parameter."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="test_plot_sweep_")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_old_json_scale_metric_becomes_scale_events(self):
        results = make_results({"chunk": [4, 16], "scale": ["e8m1", "e4m0"]}, old_scale_metric=True)
        with open(os.path.join(self.tmp, "results.json"), "w") as f:
            json.dump(results, f)
        loaded = plot_sweep.load(self.tmp)
        self.assertIn("scale_events", loaded["metrics"])
        self.assertNotIn("scale", loaded["metrics"])
        self.assertIn("acc_overflow_events", loaded["metrics"])
        for p in loaded["points"]:
            self.assertIn(p["params"]["scale"], ("e8m1", "e4m0"))
            self.assertEqual(p["metrics"]["scale_events"], 57 * p["params"]["chunk"])
        self.assertEqual(plot_sweep.varied(loaded), ["chunk", "scale"])

    def write_csv(self, header, rows):
        with open(os.path.join(self.tmp, "results.csv"), "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(header)
            w.writerows(rows)

    def test_csv_columns_by_position(self):
        # an old CSV: the parameter `scale` among the parameters, the metric `scale` among the metrics
        header = ["index", "id", "acc_bits", "acc_overflow", "scale", "macs", "cycles", "acc_overflow", "scale",
                  "rel_error_mean", "energy_unit"]
        rows = []
        for i, (bits, mode, fmt) in enumerate(itertools.product([12, 16], ["saturate", "wrap"], ["e8m1", "e4m0"])):
            rows.append([i, "%012d" % i, bits, mode, fmt, 100, 200 + i, 3 * i, 40 + i, 0.01 * (i + 1), "pJ"])
        self.write_csv(header, rows)
        self.assertEqual(plot_sweep.split_csv_header(header), (header[2:5], header[5:]))
        loaded = plot_sweep.load(self.tmp)
        self.assertEqual(loaded["sweep"]["varied"], ["acc_bits", "acc_overflow", "scale"])
        self.assertEqual(loaded["metrics"], ["macs", "cycles", "acc_overflow_events", "scale_events",
                                             "rel_error_mean", "energy_unit"])
        for i, p in enumerate(loaded["points"]):
            self.assertEqual(p["params"], {"acc_bits": rows[i][2], "acc_overflow": rows[i][3], "scale": rows[i][4]})
            self.assertEqual(p["metrics"]["scale_events"], 40 + i)
            self.assertEqual(p["metrics"]["acc_overflow_events"], 3 * i)
            self.assertEqual(p["metrics"]["energy_unit"], "pJ")
        _, facets, others = plot_sweep.plan(loaded, "acc_bits")
        self.assertEqual(others, ["acc_overflow", "scale"])
        self.assertEqual(len(facets[0].lines), 4)
        drawn = quiet(plot_sweep.plot_custom, loaded, self.tmp, "acc_bits", ["scale_events"])
        self.assertEqual(sorted(i for d in drawn for i in d[3]), sorted(r[1] for r in rows))
        self.assertTrue(os.path.exists(os.path.join(self.tmp, "scale_events_vs_acc_bits.png")))

    def test_new_csv_header(self):
        header = ["index", "id", "elem", "group", "macs", "cycles", "acc_overflow", "scale_events", "rel_error_mean"]
        self.assertEqual(plot_sweep.split_csv_header(header), (["elem", "group"], header[4:]))
        # parameters out of the documented order end the parameter block
        self.assertEqual(plot_sweep.split_csv_header(["index", "id", "elem", "scale", "scale"])[1], ["scale"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
