"""Accuracy in sweeps (docs/sweep.md#accuracy-from-training): a sweep point with train_steps > 0
trains the small digits CNN with its arithmetic through mlssim-train, and its record carries the
final loss and held-out accuracy.

The metrics are checked against an independent run of tools/train.py with the settings the sweep
file names (spelled here from the sweep file, not from the sweep's own command), on every core
where the sweep runs one thread: equal to the digit. A point with train_steps 0 has them empty;
a resumed sweep, shards and --merge carry them; bad values are one line naming the file; plot_sweep
draws energy against trained accuracy."""
import csv
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "cli"))
import numpy as np  # noqa: E402

from clitest import MLSSIM, ROOT, TempDirCase, conv_layer, linear_layer, mlssim, write_trace  # noqa: E402

SWEEP = """trace: trace
passes: [fwd]
grid:
  elem: [e2m1, e2m4]
  seed: 5
  tech: horowitz-45nm
  train_steps: 4
  train_seed: 1
  train_batch: 16
points:
  - {elem: e2m4, tech: horowitz-45nm}
"""


def train_py(out, *flags):
    """tools/train.py as a user runs it, with the build's module, started; wait with summary()."""
    env = dict(os.environ, PYTHONPATH=os.path.join(os.path.dirname(os.path.dirname(MLSSIM)), "python"))
    return out, subprocess.Popen(["/usr/bin/python3", os.path.join(ROOT, "tools", "train.py"), *flags, "--out", out],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)


def summary(run):
    """The summary.json of a train_py() run once it has ended."""
    out, proc = run
    _, err = proc.communicate(timeout=300)
    if proc.returncode != 0:
        raise AssertionError("train.py failed: " + err)
    with open(os.path.join(out, "summary.json")) as f:
        return json.load(f)


def read_csv(path):
    with open(path) as f:
        return list(csv.DictReader(f))


class SweepTrain(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        import tempfile
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = cls.tmp.name
        rng = np.random.default_rng(3)
        write_trace(os.path.join(cls.dir, "trace"), [conv_layer(rng, "c1", 4, 2, 6), linear_layer(rng, "fc", 4, 8)])
        cls.sweep = os.path.join(cls.dir, "sweep.yaml")
        with open(cls.sweep, "w") as f:
            f.write(SWEEP)
        cls.out = os.path.join(cls.dir, "results")
        cls.run_log = mlssim("sweep", cls.sweep, "-j", "2", "--out", cls.out).stderr
        cls.rows = read_csv(os.path.join(cls.out, "results.csv"))
        with open(os.path.join(cls.out, "results.json")) as f:
            cls.results = json.load(f)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_trained_points_match_an_independent_train_py_run(self):
        runs = [train_py(os.path.join(self.dir, "alone-" + row["elem"]), "--model", "cnn", "--steps", "4", "--seed",
                         "1", "--batch-size", "16", "--elem", row["elem"], "--rounding-seed", "5", "--eval-every", "4")
                for row in self.rows[:2]]  # side by side, every core each
        for row, run in zip(self.rows[:2], runs):
            with self.subTest(elem=row["elem"]):
                alone = summary(run)
                self.assertEqual(float(row["train_loss"]), alone["train_loss"])
                self.assertEqual(float(row["train_accuracy"]), alone["test_accuracy"])
        # The arithmetic reached the training: e2m1 and e2m4 train differently.
        self.assertNotEqual(self.rows[0]["train_loss"], self.rows[1]["train_loss"])

    def test_metrics_are_a_loss_and_an_accuracy(self):
        for p in self.results["points"][:2]:
            self.assertGreater(p["metrics"]["train_loss"], 0)
            self.assertTrue(0 <= p["metrics"]["train_accuracy"] <= 1)
            self.assertEqual((p["params"]["train_steps"], p["params"]["train_model"]), (4, "cnn"))

    def test_a_point_without_training_has_them_empty(self):
        self.assertEqual((self.rows[2]["train_loss"], self.rows[2]["train_accuracy"]), ("", ""))
        self.assertIsNone(self.results["points"][2]["metrics"]["train_loss"])
        self.assertEqual(self.results["points"][2]["params"]["train_steps"], 0)

    def test_resume_shards_and_merge_carry_them(self):
        again = mlssim("sweep", self.sweep, "--out", self.out).stderr
        self.assertIn("skipped 3 finished point(s)", again)
        # Shard 3/3 (point 2, which does not train: no torch start-up in the suite) alone, merged with
        # the whole run's trained points.
        shards = os.path.join(self.dir, "shards")
        mlssim("sweep", self.sweep, "--shard", "3/3", "--out", shards)
        self.assertEqual(len(os.listdir(os.path.join(shards, "points"))), 1)
        mlssim("sweep", self.sweep, "--merge", "--from", self.out, "--out", shards)
        with open(os.path.join(self.out, "results.csv")) as a, open(os.path.join(shards, "results.csv")) as b:
            self.assertEqual(a.read(), b.read())

    def test_plot_sweep_draws_energy_against_trained_accuracy(self):
        """The trained points only, at their energy per MAC and train_accuracy, text laid out clean."""
        import figure_check
        spec = importlib.util.spec_from_file_location("plot_sweep", os.path.join(ROOT, "tools", "plot_sweep.py"))
        plot_sweep = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(plot_sweep)
        plots = os.path.join(self.dir, "plots")
        with figure_check.checking_savefig() as saved:
            plot_sweep.main([self.out, "--out", plots, "--mlssim", MLSSIM])
            [(_, y, _, ids, xs, ys)] = plot_sweep.plot_energy_vs_accuracy(plot_sweep.load(self.out), plots)
        self.assertEqual(saved.problems["energy_vs_accuracy.png"], [])
        self.assertIn("held-out accuracy", saved.texts["energy_vs_accuracy.png"])
        trained = self.results["points"][:2]
        self.assertEqual(ids, [p["id"] for p in trained])
        self.assertEqual(ys, [p["metrics"]["train_accuracy"] for p in trained])
        self.assertEqual(xs, [p["metrics"]["energy_total_mls_per_mac"] for p in trained])

    def test_describe_lists_the_training_parameters(self):
        table = {p["name"]: p for p in json.loads(mlssim("describe", "--json").stdout)["params"]}
        for name, default in (("train_steps", 0), ("train_model", "cnn"), ("train_seed", 0), ("train_batch", 0)):
            self.assertEqual((table[name]["default"], table[name]["group"], table[name]["sweep"]),
                             (default, "train", True))


class BadValues(TempDirCase):
    def sweep_error(self, grid_line):
        path = os.path.join(self.dir, "bad.yaml")
        with open(path, "w") as f:
            f.write("trace: trace\ngrid:\n  elem: e2m4\n  " + grid_line + "\n")
        proc = mlssim("sweep", path, "--out", os.path.join(self.dir, "out"), ok=False)
        self.assertEqual(proc.returncode, 1)
        lines = proc.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, proc.stderr)
        self.assertIn(path, lines[0])
        self.assertFalse(os.path.exists(os.path.join(self.dir, "out")))
        return lines[0]

    def test_each_bad_value_names_the_file_and_the_parameter(self):
        for line, said in (("train_steps: -1", "train_steps must be in [0, 1000000], got -1"),
                           ("train_steps: many", "expected an integer"),
                           ("train_model: mlp", "unknown train_model 'mlp'"),
                           ("train_seed: 4294967296", "train_seed must be in [0, 2^32 - 1]"),
                           ("train_batch: 70000", "train_batch must be in [0, 65536]")):
            with self.subTest(line=line):
                message = self.sweep_error(line)
                self.assertIn("grid." + line.split(":")[0], message)
                self.assertIn(said, message)

    def test_no_trainer_beside_mlssim(self):
        """A copy of mlssim alone in a folder: a sweep that trains stops before any point runs."""
        rng = np.random.default_rng(0)
        write_trace(os.path.join(self.dir, "trace"), [linear_layer(rng, "fc", 4, 8)])
        lonely = os.path.join(self.dir, "bin", "mlssim")
        os.makedirs(os.path.dirname(lonely))
        shutil.copy(MLSSIM, lonely)
        path = os.path.join(self.dir, "train.yaml")
        with open(path, "w") as f:
            f.write("trace: trace\ngrid:\n  train_steps: 2\n")
        proc = subprocess.run([lonely, "sweep", path, "--out", os.path.join(self.dir, "out")], capture_output=True,
                              text=True, timeout=60)
        self.assertEqual(proc.returncode, 1)
        self.assertRegex(proc.stderr.strip(), r"^mlssim sweep: error: .*train\.yaml: point 0 \(train_steps=2\) sets "
                         r"train_steps, but there is no mlssim-train beside .*/bin/mlssim")
        self.assertFalse(os.path.exists(os.path.join(self.dir, "out")))


if __name__ == "__main__":
    unittest.main()
