"""Every figure the plotting tools make on the bundled traces and sweeps: no two texts
overlap and every text lies inside the figure (figure_check.py, from matplotlib's own
renderer boxes), every log axis labels at least two ticks, and each figure names the
sweep (or report) and trace it shows, with no unset key in its "held fixed" line.

The sweeps are the bundled sweeps/*.yaml, each run with every point but on one layer of
its trace (seconds instead of minutes; the figures have the same points, panels, lines
and labels): in the default suite the three that make every kind of figure, with
MLSSIM_PLOTS_ALL=1 (ctest -C plots -L plots) all of them. The checker itself is shown to
fail on figures made to overlap.
"""
import glob
import importlib.util
import os
import re
import sys
import tempfile
import unittest

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import yaml  # noqa: E402

from clitest import ROOT, mlssim, TRACES  # noqa: E402
import figure_check  # noqa: E402

ONE_LAYER = "layer2.0.conv2"
# The default suite's sample: sweeps that make every kind of figure plot_sweep.py and
# plot_formats.py draw (formats: energy against error, energy per MAC, overflow against
# acc_bits, the format ablation; array_shape: cycles against shape; memory: the --x/--y
# figures). MLSSIM_PLOTS_ALL=1 (ctest -C plots -L plots) runs every bundled sweep.
SAMPLE = ("formats", "array_shape", "memory")
ALL = os.environ.get("MLSSIM_PLOTS_ALL") == "1"
# The run flags of the per-layer figures: buffers that stream, a channel that stalls.
MEMORY_FLAGS = ["--x-buffer-kb", "64", "--y-buffer-kb", "4", "--dram-bw", "8", "--dram-latency", "20"]
# plot_sweep.py's --x/--y figures the docs show (docs/architecture.md, docs/sweep.md).
CUSTOM = {"memory": [["--x", "dram_bw", "--y", "cycles,stall_cycles,dram_bytes", "--logx"],
                     ["--x", "y_buffer_kb", "--y", "cycles,dram_bytes"]],
          "accumulator": [["--x", "chunk", "--y", "cycles,energy_mls"]]}


def tool(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, "tools", name + ".py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def one_layer_sweep(path, directory):
    """sweeps/NAME.yaml with its trace made absolute and its layers cut to one."""
    with open(path) as f:
        sweep = yaml.safe_load(f)
    sweep["trace"] = os.path.normpath(os.path.join(os.path.dirname(path), sweep["trace"]))
    sweep["layers"] = sweep.get("layers") or ONE_LAYER
    out = os.path.join(directory, os.path.basename(path))
    with open(out, "w") as f:
        yaml.safe_dump(sweep, f)
    return out


class Checker(unittest.TestCase):
    def test_a_clean_figure_passes(self):
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot([1, 10, 100], [1, 2, 3])
        ax.set_xscale("log")
        ax.set_title("a title")
        ax.set_xlabel("x")
        fig.tight_layout()
        self.assertEqual(figure_check.text_problems(fig) + figure_check.log_axis_problems(fig), [])
        plt.close(fig)

    def test_overlapping_labels_fail(self):
        """The 4-bit corner of the old formats plot: two point labels on one spot, and tick
        labels too long for their places."""
        fig, ax = plt.subplots(figsize=(4, 3))
        ax.plot([0, 1], [0, 1])
        ax.annotate("mxfp4", (0.5, 0.5), xytext=(5, 4), textcoords="offset points")
        ax.annotate("nvfp4 (cover rule)", (0.5, 0.5), xytext=(5, 4), textcoords="offset points")
        ax.set_xticks([0.3, 0.5, 0.7])
        ax.set_xticklabels(["a long label", "another label", "and a third"])
        problems = figure_check.text_problems(fig)
        self.assertIn("axes 0 text 'mxfp4' overlaps axes 0 text 'nvfp4 (cover rule)'", problems)
        self.assertIn("axes 0 x tick 'a long label' overlaps axes 0 x tick 'another label'", problems)
        plt.close(fig)

    def test_a_label_off_the_figure_fails(self):
        fig, ax = plt.subplots(figsize=(4, 3))
        ax.annotate("off the panel", (1, 1), xytext=(40, 0), textcoords="offset points")
        problems = figure_check.text_problems(fig)
        self.assertTrue(any(p.startswith("axes 0 text 'off the panel' lies outside the figure") for p in problems),
                        problems)
        plt.close(fig)

    def test_a_log_axis_with_one_label_fails(self):
        fig, ax = plt.subplots(figsize=(4, 3))
        ax.bar([0, 1], [0.02, 0.8])
        ax.set_yscale("log")  # formats_are.png's old axis: 1.9 decades, one of them labelled
        ax.set_ylim(0.012, 0.9)
        self.assertEqual(len(figure_check.log_axis_problems(fig)), 1)
        plt.close(fig)


class Figures(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.results = {}
        for path in sorted(glob.glob(os.path.join(ROOT, "sweeps", "*.yaml"))):
            name = os.path.splitext(os.path.basename(path))[0]
            if not ALL and name not in SAMPLE:
                continue
            out = os.path.join(cls.tmp.name, "results_" + name)
            mlssim("sweep", one_layer_sweep(path, cls.tmp.name), "-j", 2, "--out", out, timeout=600)
            cls.results[name] = out

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def out(self, name):
        return os.path.join(self.tmp.name, name)

    def check(self, saved, names):
        """No problems in any saved figure; each names what it shows."""
        self.assertTrue(saved.problems, "no figure was saved")
        for figure, problems in saved.problems.items():
            self.assertEqual(problems, [], figure)
            text = " ".join(saved.texts[figure].split())  # wrapped lines joined
            for name in names:
                self.assertIn(name, text, figure)
            held = re.search(r"held fixed: (.*)", saved.texts[figure])
            if held:
                self.assertIsNone(re.search(r"=(,|;|$)", held.group(1)), "%s: %s" % (figure, held.group(0)))

    def test_plot_sweep_on_every_bundled_sweep(self):
        plot_sweep = tool("plot_sweep")
        for name, results in sorted(self.results.items()):
            with self.subTest(sweep=name), figure_check.checking_savefig() as saved:
                plot_sweep.main([results, "--out", self.out("plots_" + name)])
                for extra in CUSTOM.get(name, []):
                    plot_sweep.main([results, "--out", self.out("plots_" + name)] + extra)
                self.check(saved, ["sweep %s (" % name,
                                   "trace " + os.path.normpath(os.path.join(TRACES, "resnet20-digits"))])

    def test_plot_formats_on_the_formats_sweep(self):
        plot_formats = tool("plot_formats")
        with figure_check.checking_savefig() as saved:
            argv, sys.argv = sys.argv, ["plot_formats.py", self.results["formats"], "--out", self.out("formats")]
            try:
                plot_formats.main()
            finally:
                sys.argv = argv
        self.assertEqual(sorted(saved.problems), ["formats_are.png", "formats_energy_vs_error.png"])
        self.check(saved, ["sweep formats (", "trace "])

    def test_plot_energy_and_plot_layers_on_the_bundled_traces(self):
        plot_energy, plot_layers = tool("plot_energy"), tool("plot_layers")
        for trace, tech in (("resnet20-digits", "horowitz-45nm"), ("vit-digits", "paper-unit")):
            report = self.out(trace + ".json")
            mlssim("run", os.path.join(TRACES, trace), *MEMORY_FLAGS, "--tech", tech, "--quiet", "--no-progress",
                   "--report", report, timeout=600)
            with self.subTest(trace=trace), figure_check.checking_savefig() as saved:
                self.assertEqual(plot_energy.main([report, "--out", self.out("energy_" + trace)]), 0)
                self.assertEqual(plot_layers.main([report, "--out", self.out("layers_" + trace)]), 0)
                self.assertEqual(sorted(saved.problems), ["energy_by_block.png", "energy_vs_baselines.png",
                                                          "layers_bandwidth.png", "layers_cycles.png",
                                                          "layers_traffic.png"])
                self.check(saved, ["report %s of trace %s" % (report, os.path.join(TRACES, trace))])


if __name__ == "__main__":
    unittest.main()
