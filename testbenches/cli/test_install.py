"""`cmake --install build --prefix P` (docs/install.md): a fresh shell with only P/bin on
PATH finds mlssim, the plotting tools and the recorder, and they work there.

Each installed command runs under `env -i` (HOME, PATH=P/bin:/usr/bin:/bin and nothing
else; PYTHONPATH=P/<the site directory> only for `import mls_trace`), in a directory away
from the source tree, on real inputs made by the installed mlssim: a run report, a
sweep. `mlssim --version` names the version in CMakeLists.txt's project()."""
import json
import os
import re
import subprocess
import tempfile
import unittest

from clitest import MLSSIM, ROOT

BUILD_DIR = os.environ.get("MLSSIM_BUILD_DIR") or os.path.dirname(os.path.dirname(os.path.abspath(MLSSIM)))
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TOPOLOGY = """{"model": "tiny", "layers": [
  {"name": "c1", "weight": [8, 3, 3, 3], "input": [3, 8, 8], "padding": 1},
  {"name": "c2", "weight": [8, 8, 3, 3], "input": [8, 8, 8], "padding": 1, "stride": 2},
  {"name": "fc", "kind": "linear", "weight": [10, 32], "input": [2, 32]}]}
"""
SWEEP = """name: tiny
trace: trace
passes: [fwd, bwd-data]
grid:
  elem: [e2m1, e2m4]
  acc_bits: [12, 16]
  tech: [horowitz-45nm]
"""


# The commands the tests run on a report or a sweep made by the installed mlssim.
RUN_FOR_REAL = {"mlssim", "mlssim-plot-energy", "mlssim-plot-layers", "mlssim-plot-sweep", "mlssim-plot-formats"}


def site_directory():
    """MLSSIM_PYTHON_INSTALL_DIR of the build: where the Python packages go under the prefix."""
    with open(os.path.join(BUILD_DIR, "CMakeCache.txt")) as f:
        return re.search(r"^MLSSIM_PYTHON_INSTALL_DIR:\w+=(.*)$", f.read(), re.M).group(1)


def project_version():
    with open(os.path.join(ROOT, "CMakeLists.txt")) as f:
        return re.search(r"project\(mlssim VERSION ([0-9.]+)", f.read()).group(1)


class Installed(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.prefix = os.path.join(cls.tmp.name, "prefix")
        proc = subprocess.run(["cmake", "--install", BUILD_DIR, "--prefix", cls.prefix], capture_output=True,
                              text=True, timeout=120)
        if proc.returncode != 0:
            raise AssertionError("cmake --install failed: " + proc.stdout + proc.stderr)
        cls.work = os.path.join(cls.tmp.name, "work")
        cls.home = os.path.join(cls.tmp.name, "home")
        os.makedirs(cls.work)
        os.makedirs(cls.home)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def run_clean(self, *argv, pythonpath=False, path=None, ok=True, timeout=300):
        """argv in a clean environment, in the work directory."""
        env = ["HOME=" + self.home, "PATH=" + (path or os.path.join(self.prefix, "bin") + ":/usr/bin:/bin")]
        if pythonpath:
            env.append("PYTHONPATH=" + os.path.join(self.prefix, site_directory()))
        proc = subprocess.run(["env", "-i", *env, *argv], cwd=self.work, capture_output=True, text=True,
                              timeout=timeout)
        if ok:
            self.assertEqual(proc.returncode, 0, "%s: %s%s" % (" ".join(argv), proc.stdout, proc.stderr))
        return proc

    def assert_pngs(self, directory, names):
        for name in names:
            with open(os.path.join(self.work, directory, name), "rb") as f:
                self.assertEqual(f.read(8), PNG_MAGIC, name)

    def commands(self):
        return sorted(os.listdir(os.path.join(self.prefix, "bin")))

    def test_the_commands_are_installed(self):
        expected = {"mlssim", "mlssim-plot-energy", "mlssim-plot-formats", "mlssim-plot-sweep", "mlssim-plot-layers",
                    "mlssim-dump-resnet20", "mlssim-dump-vit"}
        self.assertLessEqual(expected, set(self.commands()))
        for command in self.commands():
            self.assertTrue(os.access(os.path.join(self.prefix, "bin", command), os.X_OK), command)

    def test_every_other_command_answers_help_in_a_fresh_shell(self):
        """The commands the tests below do not run on real inputs (the dump scripts train a
        model for minutes; a command added later) answer --help."""
        for command in self.commands():
            if command not in RUN_FOR_REAL:
                proc = self.run_clean(command, "--help")
                self.assertIn("usage: " + command, proc.stdout, command)

    def test_version(self):
        line = self.run_clean("mlssim", "--version").stdout.strip()
        self.assertRegex(line, r"^mlssim %s( \(git [0-9A-Za-z.+_-]+\))?$" % re.escape(project_version()))

    def make_report(self):
        """A trace and a run report with energy, made by the installed mlssim (once)."""
        if not os.path.exists(os.path.join(self.work, "report.json")):
            with open(os.path.join(self.work, "tiny.json"), "w") as f:
                f.write(TOPOLOGY)
            self.run_clean("mlssim", "synth", "tiny.json", "--out", "trace")
            self.run_clean("mlssim", "run", "trace", "--tech", "paper-unit", "--quiet", "--report", "report.json")
        return "report.json"

    def test_run_then_plot_the_report(self):
        report = self.make_report()
        self.run_clean("mlssim-plot-energy", report, "--out", "energy")
        self.assert_pngs("energy", ["energy_by_block.png", "energy_vs_baselines.png"])
        self.run_clean("mlssim-plot-layers", report, "--out", "layers")
        self.assert_pngs("layers", ["layers_cycles.png", "layers_traffic.png"])

    def test_sweep_then_plot_the_results(self):
        self.make_report()
        with open(os.path.join(self.work, "sweep.yaml"), "w") as f:
            f.write(SWEEP)
        self.run_clean("mlssim", "sweep", "sweep.yaml", "--out", "results")
        self.run_clean("mlssim-plot-sweep", "results")
        self.assert_pngs("results", ["energy_vs_error.png", "overflow_vs_acc_bits.png"])
        self.run_clean("mlssim-plot-formats", "results")
        self.assert_pngs("results", ["formats_energy_vs_error.png", "formats_are.png"])

    def test_a_sweep_point_trains_with_the_installed_mlssim_train(self):
        """train_steps > 0: the installed mlssim runs the mlssim-train beside it (tools/train.py with the
        installed module and models); the record holds the final loss and held-out accuracy."""
        if not os.path.exists(os.path.join(self.prefix, "bin", "mlssim-train")):
            self.skipTest("no Python module in this build (sanitized or fuzz)")
        self.make_report()
        with open(os.path.join(self.work, "train.yaml"), "w") as f:
            f.write("trace: trace\npasses: [fwd]\ngrid:\n  train_steps: 2\n  train_batch: 8\n")
        self.run_clean("mlssim", "sweep", "train.yaml", "--out", "trained")
        with open(os.path.join(self.work, "trained", "results.json")) as f:
            metrics = json.load(f)["points"][0]["metrics"]
        self.assertGreater(metrics["train_loss"], 0)
        self.assertTrue(0 <= metrics["train_accuracy"] <= 1)

    def test_the_tools_find_the_installed_mlssim_off_path(self):
        """Called by their full path with P/bin off PATH: the tools ask the mlssim beside them."""
        report = self.make_report()
        self.run_clean(os.path.join(self.prefix, "bin", "mlssim-plot-energy"), report, "--out", "offpath",
                       path="/usr/bin:/bin")
        self.assert_pngs("offpath", ["energy_by_block.png"])

    def test_the_recorder_and_the_tools_import_from_the_prefix(self):
        proc = self.run_clean("python3", "-c", "import mls_trace, mlssim_tools.plot_sweep as p; "
                              "print(mls_trace.__file__); print(p.__file__)", pythonpath=True)
        for line in proc.stdout.split():
            self.assertTrue(line.startswith(os.path.join(self.prefix, site_directory()) + "/"), line)
        self.assertTrue(os.path.exists(os.path.join(self.prefix, "share", "mlssim", "topologies", "resnet18.json")))


if __name__ == "__main__":
    unittest.main()
