"""End-to-end tests of `mlssim sweep` (docs/sweep.md).

Run by CTest with MLSSIM = the built binary and MLSSIM_SOURCE_DIR = the repo
root; by hand: MLSSIM=build/sim/mlssim /usr/bin/python3 testbenches/cli/test_sweep.py
Each test builds a tiny two-layer trace with numpy, so the whole file takes a
few seconds.
"""

import csv
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

import numpy as np

from clitest import MLSSIM, children_of, mlssim, running, wait_for, write_trace

# 6 points: a 2 x 2 grid plus two explicit points, one of them repeating a grid
# point with its defaults spelled out (run once), one new.
SWEEP = """\
trace: trace
passes: [fwd, bwd-data, bwd-weight]
grid:
  acc_bits: [10, 16]
  chunk: [4, 16]
points:
  - {elem: e1m2, group: tensor}
  - {acc_bits: 16, chunk: 16, elem: e2m4, rows: 16}
  - {elem: e0m3, acc_overflow: wrap}
"""
POINTS = 6


def make_trace(root):
    """Two small conv layers (one with stride 2), inputs, weights and errors."""
    os.makedirs(root)
    rng = np.random.default_rng(7)
    # big enough (~0.15 s a point) that a killed -j 1 sweep is caught half-way
    layers = [("a", [16, 8, 3, 3], [2, 8, 20, 20], [2, 16, 20, 20], 1),
              ("b", [16, 16, 3, 3], [2, 16, 20, 20], [2, 16, 10, 10], 2)]
    pairs = []
    for name, w, a, e, stride in layers:
        tensors = {"weight": rng.standard_normal(w) * 0.2, "input": rng.standard_normal(a),
                   "grad_output": rng.standard_normal(e) * 1e-3}
        pairs.append(({"name": name, "kind": "conv2d", "stride": [stride, stride], "padding": [1, 1],
                       "dilation": [1, 1], "groups": 1}, tensors))
    write_trace(root, pairs, fmt="mls-trace/1")


def without_wall_time(results):
    for point in results["points"]:
        point.pop("wall_seconds")
    return results


class DefaultGroupingTest(unittest.TestCase):
    """A point that sets no grouping runs with `run`'s default groupings (k32 on a linear
    layer, docs/layers.md), a point that sets group: nc with nc: two points, not one."""

    def test_unset_grouping_is_runs_default(self):
        from clitest import linear_layer
        with tempfile.TemporaryDirectory() as tmp:
            write_trace(os.path.join(tmp, "trace"), [linear_layer(np.random.default_rng(2), "fc", 8, 256)])
            with open(os.path.join(tmp, "s.yaml"), "w") as f:
                f.write("trace: trace\npasses: [fwd]\npoints:\n  - {elem: e2m4}\n  - {elem: e2m4, group: nc}\n")
            run = mlssim("sweep", os.path.join(tmp, "s.yaml"), "--out", os.path.join(tmp, "out"), timeout=120)
            self.assertNotIn("duplicate", run.stderr)
            points = {}
            for name in os.listdir(os.path.join(tmp, "out", "points")):
                with open(os.path.join(tmp, "out", "points", name)) as f:
                    record = json.load(f)
                points[record["index"]] = record
            self.assertEqual(len(points), 2)
            # Recorded as run, in the record and the table: not the registry's nc.
            self.assertEqual([points[i]["params"]["group"] for i in (0, 1)], ["default", "nc"])
            with open(os.path.join(tmp, "out", "results.csv")) as f:
                rows = list(csv.DictReader(f))
            self.assertEqual([row["group"] for row in rows], ["default", "nc"])
            alone = {}
            for i, flags in enumerate(([], ["--group", "nc"])):
                report = os.path.join(tmp, f"r{i}.json")
                mlssim("run", os.path.join(tmp, "trace"), "--passes", "fwd", "--elem", "e2m4", *flags,
                       "--report", report, "--quiet")
                with open(report) as f:
                    alone[i] = json.load(f)["layers"][0]
            self.assertEqual(alone[0]["groups"]["weight"], "k32")
            self.assertEqual(alone[1]["groups"]["weight"], "nc")
            for i in (0, 1):
                self.assertEqual(points[i]["metrics"]["scale_events"], alone[i]["events"]["scale"])
            self.assertLess(points[0]["metrics"]["scale_events"], points[1]["metrics"]["scale_events"])


class SweepTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="test_sweep_")
        make_trace(os.path.join(cls.tmp, "trace"))
        cls.sweep = os.path.join(cls.tmp, "sweep.yaml")
        with open(cls.sweep, "w") as f:
            f.write(SWEEP)
        cls.whole = os.path.join(cls.tmp, "whole")
        cls.whole_run = cls.run_sweep(cls, "-j", "2", "--out", cls.whole)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def run_sweep(self, *args, sweep=None, check=True):
        return mlssim("sweep", sweep or self.sweep, *args, ok=True if check else None, timeout=120)

    def read(self, path):
        with open(path) as f:
            return f.read()

    def point_files(self, out):
        d = os.path.join(out, "points")
        return sorted(n for n in os.listdir(d) if n.endswith(".json")) if os.path.isdir(d) else []

    # -- the whole sweep -----------------------------------------------------

    def test_whole_sweep_writes_one_row_per_point(self):
        self.assertIn("1 duplicate point", self.whole_run.stderr)
        self.assertEqual(len(self.point_files(self.whole)), POINTS)
        with open(os.path.join(self.whole, "results.csv")) as f:
            rows = list(csv.DictReader(f))
        self.assertEqual(len(rows), POINTS)
        self.assertEqual([r["index"] for r in rows], [str(i) for i in range(POINTS)])
        header = list(rows[0].keys())
        # parameters (the ones the file sets, in a fixed order) before metrics
        self.assertEqual(header[:8], ["index", "id", "rows", "acc_bits", "acc_overflow", "chunk", "elem", "group"])
        for col in ["cycles", "utilization", "mul", "acc_add", "acc_overflow_events", "acc_overflow_rate",
                    "rel_error_fwd", "rel_error_bwd_data", "rel_error_bwd_weight", "are_weight", "are_input",
                    "are_grad_output"]:
            self.assertIn(col, header)
        self.assertNotIn("wall_seconds", header)
        # a 10-bit accumulator overflows on e2m4 products, a 16-bit one with 4-product chunks does not
        by_point = {(r["acc_bits"], r["chunk"], r["elem"]): r for r in rows}
        self.assertGreater(float(by_point[("10", "4", "e2m4")]["acc_overflow_rate"]), 0)
        self.assertEqual(int(by_point[("16", "4", "e2m4")]["acc_overflow_events"]), 0)
        # column names are unique: a metric named like a parameter gets "_events"
        with open(os.path.join(self.whole, "results.csv")) as f:
            names = next(csv.reader(f))
        self.assertEqual(len(names), len(set(names)))
        self.assertIn("scale_events", names)
        results = json.loads(self.read(os.path.join(self.whole, "results.json")))
        self.assertEqual(len(results["points"]), POINTS)
        self.assertGreater(results["points"][0]["wall_seconds"], 0)

    def test_rerun_skips_everything(self):
        out = os.path.join(self.tmp, "rerun")
        shutil.copytree(self.whole, out)
        before = {n: os.stat(os.path.join(out, "points", n)).st_mtime_ns for n in self.point_files(out)}
        proc = self.run_sweep("--out", out)
        self.assertIn("skipped %d finished point" % POINTS, proc.stderr)
        after = {n: os.stat(os.path.join(out, "points", n)).st_mtime_ns for n in self.point_files(out)}
        self.assertEqual(before, after)
        self.assertEqual(self.read(os.path.join(out, "results.csv")),
                         self.read(os.path.join(self.whole, "results.csv")))

    # -- (a) interrupted and resumed -------------------------------------------

    def test_killed_sweep_resumes_without_recomputing(self):
        out = os.path.join(self.tmp, "killed")
        # TMPDIR: the killed sweep cannot remove its temporary directory; the test's does
        proc = subprocess.Popen([MLSSIM, "sweep", self.sweep, "-j", "1", "--out", out],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                                env=dict(os.environ, TMPDIR=self.tmp))
        deadline = time.time() + 60
        while not self.point_files(out) and proc.poll() is None and time.time() < deadline:
            time.sleep(0.005)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        finished = self.point_files(out)
        self.assertGreaterEqual(len(finished), 1)
        self.assertLess(len(finished), POINTS, "the sweep ended before it could be killed")
        self.assertFalse(os.path.exists(os.path.join(out, "results.csv")))
        saved = {n: (os.stat(os.path.join(out, "points", n)).st_mtime_ns, self.read(os.path.join(out, "points", n)))
                 for n in finished}

        resumed = self.run_sweep("-j", "1", "--out", out)
        self.assertIn("skipped %d finished point" % len(finished), resumed.stderr)
        for name, (mtime, text) in saved.items():
            path = os.path.join(out, "points", name)
            self.assertEqual(os.stat(path).st_mtime_ns, mtime, name + " was recomputed")
            self.assertEqual(self.read(path), text)
        self.assertEqual(len(self.point_files(out)), POINTS)
        self.assertEqual(self.read(os.path.join(out, "results.csv")),
                         self.read(os.path.join(self.whole, "results.csv")))
        self.assertEqual(without_wall_time(json.loads(self.read(os.path.join(out, "results.json")))),
                         without_wall_time(json.loads(self.read(os.path.join(self.whole, "results.json")))))

    def start_sweep(self, out):
        return subprocess.Popen([MLSSIM, "sweep", self.sweep, "-j", "1", "--out", out],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                                env=dict(os.environ, TMPDIR=self.tmp))

    def test_sigkilled_sweep_takes_its_children(self):
        out = os.path.join(self.tmp, "orphans")
        proc = self.start_sweep(out)
        wait_for(lambda: children_of(proc.pid), poll=0.005)
        kids = children_of(proc.pid)
        self.assertTrue(kids, "the sweep started no child")
        os.kill(proc.pid, signal.SIGKILL)  # the sweep alone, not its process group
        proc.wait()
        try:
            wait_for(lambda: not any(map(running, kids)), timeout=10, poll=0.02)
        except AssertionError:
            pass  # the assertion below names them
        alive = [k for k in kids if running(k)]
        for k in alive:
            os.kill(k, signal.SIGKILL)
        self.assertEqual(alive, [], "children outlived the killed sweep")

    def test_second_sweep_on_the_same_results_is_refused(self):
        out = os.path.join(self.tmp, "locked")
        first = self.start_sweep(out)
        try:
            wait_for(lambda: children_of(first.pid), poll=0.005)
            second = self.run_sweep("-j", "1", "--out", out, check=False)
            self.assertEqual(second.returncode, 1, second.stderr)
            self.assertIn("another mlssim sweep is running", second.stderr)
        finally:
            os.killpg(first.pid, signal.SIGKILL)
            first.wait()

    def test_corrupt_point_records_are_recomputed(self):
        out = os.path.join(self.tmp, "corrupt")
        shutil.copytree(self.whole, out)
        names = self.point_files(out)
        corruptions = [b"{not json", b'{"format": 1, "id": [], "params": 3}', b"\xff\xfe", b""]
        for name, text in zip(names, corruptions):
            with open(os.path.join(out, "points", name), "wb") as f:
                f.write(text)
        proc = self.run_sweep("-j", "2", "--out", out)
        self.assertIn("skipped %d finished point" % (POINTS - len(corruptions)), proc.stderr)
        self.assertEqual(self.read(os.path.join(out, "results.csv")),
                         self.read(os.path.join(self.whole, "results.csv")))

    # -- (b) shards --------------------------------------------------------------

    def test_shards_merged_equal_the_whole_sweep(self):
        shared = os.path.join(self.tmp, "shared")
        separate = []
        for i in (1, 2, 3):
            proc = self.run_sweep("--shard", "%d/3" % i, "-j", "1", "--out", shared)
            self.assertIn("shard %d/3" % i, proc.stderr)
            self.assertFalse(os.path.exists(os.path.join(shared, "results.csv")))
            own = os.path.join(self.tmp, "shard%d" % i)
            self.run_sweep("--shard", "%d/3" % i, "-j", "1", "--out", own)
            self.assertEqual(len(self.point_files(own)), 2)  # points i-1 and i+2
            separate.append(own)
        whole_csv = self.read(os.path.join(self.whole, "results.csv"))
        whole_json = without_wall_time(json.loads(self.read(os.path.join(self.whole, "results.json"))))

        self.run_sweep("--merge", "--out", shared)
        self.assertEqual(self.read(os.path.join(shared, "results.csv")), whole_csv)

        merged = os.path.join(self.tmp, "merged")
        self.run_sweep("--merge", "--out", merged, "--from", separate[0], "--from", separate[1],
                       "--from", separate[2])
        self.assertEqual(self.read(os.path.join(merged, "results.csv")), whole_csv)
        self.assertEqual(without_wall_time(json.loads(self.read(os.path.join(merged, "results.json")))),
                         whole_json)
        self.assertEqual(len(self.point_files(merged)), POINTS)

    def test_merge_with_a_missing_shard_writes_nothing(self):
        out = os.path.join(self.tmp, "partial")
        self.run_sweep("--shard", "1/3", "--out", out)
        proc = self.run_sweep("--merge", "--out", out, check=False)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("4 of 6 points have no finished record", proc.stderr)
        self.assertFalse(os.path.exists(os.path.join(out, "results.csv")))
        self.assertFalse(os.path.exists(os.path.join(out, "results.json")))

    # -- (c) bad parameters, refused before anything runs ------------------------

    def refused(self, text, name, expect):
        sweep = os.path.join(self.tmp, name)
        with open(sweep, "w") as f:
            f.write(text)
        out = os.path.join(self.tmp, "out-" + name)
        proc = self.run_sweep("--out", out, sweep=sweep, check=False)
        self.assertNotEqual(proc.returncode, 0, text)
        lines = proc.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, proc.stderr)
        self.assertIn(name, lines[0])
        for word in expect:
            self.assertIn(word, lines[0])
        self.assertFalse(os.path.exists(os.path.join(out, "points")), "points/ created for " + name)
        return lines[0]

    def test_unknown_parameter_is_refused(self):
        self.refused("trace: trace\ngrid:\n  acc_bits: [16]\n  acc_bit: [12]\n", "unknown-param.yaml",
                     ["acc_bit", "unknown parameter"])
        self.refused("trace: trace\ngrid: {elem: [e2m4]}\npoints:\n  - {elem: e2m4, colour: red}\n",
                     "unknown-point-param.yaml", ["colour"])

    def test_invalid_values_are_refused(self):
        # the bad value is the last one, so the valid points before it must not run either
        self.refused("trace: trace\ngrid:\n  elem: [e2m4, e9m1]\n", "bad-elem.yaml", ["grid.elem", "e9m1"])
        self.refused("trace: trace\ngrid:\n  rows: [16, 0]\n", "bad-rows.yaml", ["grid.rows", "got 0"])
        self.refused("trace: trace\ngrid:\n  acc_overflow: [saturate, foo]\n", "bad-overflow.yaml",
                     ["grid.acc_overflow", "foo"])
        self.refused("trace: trace\ngrid:\n  acc_bits: [16, 99]\n", "bad-acc-bits.yaml", ["grid.acc_bits", "99"])
        self.refused("trace: trace\ngrid:\n  tech: [paper-unit, no-such-table]\n", "bad-tech.yaml",
                     ["grid.tech", "no-such-table"])
        self.refused("trace: trace\ngrid:\n  rows: [4]\n  tree_stages: [0, 5]\n", "bad-stages.yaml",
                     ["tree_stages=5", "--tree-stages"])
        self.refused('{"trace": "trace", "grid": {"chunk": [16, "many"]}}', "bad-chunk.json",
                     ["grid.chunk", "many"])
        self.refused("trace: trace\nlayers: [a, nope]\ngrid: {elem: [e2m4]}\n", "bad-layer.yaml", ["nope"])

    # -- (d) malformed sweep files -------------------------------------------------

    def test_malformed_files_are_refused(self):
        self.refused("trace: trace\ngrid: {elem: [e2m4}\n", "bad-syntax.yaml", ["not valid YAML"])
        self.refused('{"trace": "trace", "grid": {"elem": ["e2m4",]}}', "bad-syntax.json", ["not valid JSON"])
        self.refused("grid:\n  elem: [e2m4]\n", "no-trace.yaml", ["missing 'trace'"])
        self.refused("trace: trace\npasses: fwd\n", "no-grid.yaml", ["missing 'grid'"])
        self.refused("trace: no-such-dir\ngrid: {elem: [e2m4]}\n", "bad-trace.yaml", ["no-such-dir"])
        self.refused("trace: trace\ngrid: [e2m4]\n", "grid-list.yaml", ["grid must be a map"])
        self.refused("", "empty.yaml", ["empty"])
        proc = self.run_sweep("--out", os.path.join(self.tmp, "x"), sweep=os.path.join(self.tmp, "none.yaml"),
                              check=False)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("none.yaml", proc.stderr)

    def test_bad_command_lines_are_refused(self):
        for args, expect in [(["--shard", "4/3", "--out", "o"], "--shard"), (["-j", "0", "--out", "o"], "-j"),
                             (["--merge", "--shard", "1/2", "--out", "o"], "--merge")]:
            proc = self.run_sweep(*args, check=False)
            self.assertNotEqual(proc.returncode, 0)
            self.assertIn(expect, proc.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
