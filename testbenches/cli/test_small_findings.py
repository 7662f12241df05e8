"""The smaller findings of issue 29 (finding 9), one test each.

- an empty path for --report, --outputs, --vcd is an error, never silently no output;
- --passes fwd,fwd runs the pass once, as --layers c,c runs the layer once;
- an mls-trace/1 manifest holds conv2d layers only: linear, matmul and
  conv_transpose2d layers need mls-trace/2;
- an interrupted `run -j` ends by the signal, like one process (a shell's $? is 130
  for SIGINT and 143 for SIGTERM; Python's returncode is -2 and -15);
- SIGKILL of `run -j` or `sweep` leaves its mlssim-run-*/mlssim-sweep-* folder,
  which the next run or sweep removes (its owner's PID, in the name, is dead).
"""
import json
import os
import signal
import subprocess
import tempfile
import unittest

import numpy as np

from clitest import MLSSIM, mlssim, conv_layer, linear_layer, write_trace, load_json, children_of, wait_for


class Base(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name
        self.trace = os.path.join(self.dir, "trace")
        rng = np.random.default_rng(9)
        write_trace(self.trace, [conv_layer(rng, "c1", co=4, ci=3, h=5, batch=1),
                                 conv_layer(rng, "c2", co=4, ci=4, h=5, batch=1)])

    def tearDown(self):
        self.tmp.cleanup()

    def p(self, name):
        return os.path.join(self.dir, name)


class EmptyPaths(Base):
    def test_empty_output_paths_are_errors(self):
        for flag in ("--report", "--outputs", "--vcd"):
            proc = mlssim("run", self.trace, "--passes", "fwd", "--quiet", flag, "", ok=False)
            self.assertEqual(proc.returncode, 1, proc.stderr)
            self.assertIn(flag, proc.stderr)
            self.assertIn("empty", proc.stderr)
            self.assertEqual(len(proc.stderr.strip().splitlines()), 1, proc.stderr)
        proc = mlssim("merge", self.p("x.json"), "--report", "", ok=False)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn("--report", proc.stderr)


class Dedup(Base):
    def test_a_pass_listed_twice_runs_once_like_a_layer_listed_twice(self):
        once, twice, layers_twice = self.p("once.json"), self.p("twice.json"), self.p("layers.json")
        mlssim("run", self.trace, "--passes", "fwd", "--quiet", "--report", once)
        mlssim("run", self.trace, "--passes", "fwd,fwd", "--quiet", "--report", twice)
        mlssim("run", self.trace, "--passes", "fwd", "--layers", "c1,c1,c2", "--quiet", "--report", layers_twice)
        keys = [(e["name"], e["pass"]) for e in load_json(twice)["layers"]]
        self.assertEqual(keys, [("c1", "fwd"), ("c2", "fwd")])
        # c1 fwd: Co x (N Ho Wo) x (Ci Kh Kw) = 4 x 25 x 27; c2 fwd: 4 x 25 x 36
        self.assertEqual(load_json(twice)["total"]["macs"], 4 * 25 * 27 + 4 * 25 * 36)
        for other in (once, layers_twice):
            self.assertEqual(load_json(twice)["total"]["cycles"], load_json(other)["total"]["cycles"])


class TraceVersion(Base):
    def test_mls_trace_1_holds_conv2d_layers_only(self):
        rng = np.random.default_rng(1)
        lin_entry, lin_tensors = linear_layer(rng, "fc", 3, 8)
        # matmul: input [M, K] times weight [K, N]
        mm_tensors = dict(lin_tensors, weight=lin_tensors["weight"].T.copy())
        kinds = [(lin_entry, lin_tensors),
                 ({"name": "mm", "kind": "matmul"}, mm_tensors)]
        for entry, tensors in kinds:
            root = self.p("v1-" + entry["kind"])
            write_trace(root, [(entry, tensors)], fmt="mls-trace/1")
            proc = mlssim("run", root, "--passes", "fwd", "--quiet", ok=False)
            self.assertEqual(proc.returncode, 1, proc.stderr)
            self.assertIn("mls-trace/2", proc.stderr)
            self.assertIn(entry["kind"], proc.stderr)
            write_trace(root, [(entry, tensors)], fmt="mls-trace/2")
            mlssim("run", root, "--passes", "fwd", "--quiet")
        root = self.p("v1-transposed")
        t = {"weight": rng.standard_normal((3, 2, 3, 3)), "input": rng.standard_normal((1, 3, 4, 4)),
             "grad_output": None}
        write_trace(root, [({"name": "up", "kind": "conv_transpose2d"}, t)], fmt="mls-trace/1")
        proc = mlssim("run", root, "--passes", "fwd", "--quiet", ok=False)
        self.assertIn("conv_transpose2d", proc.stderr)
        self.assertIn("mls-trace/2", proc.stderr)
        # conv2d stays valid in /1
        root = self.p("v1-conv")
        write_trace(root, [conv_layer(rng, "c", co=2, ci=2, h=4, batch=1)], fmt="mls-trace/1")
        mlssim("run", root, "--passes", "fwd", "--quiet")


class Interrupts(Base):
    """A run long enough (a few seconds at -j 2) to be interrupted while its workers run."""

    def setUp(self):
        super().setUp()
        rng = np.random.default_rng(4)
        self.big = self.p("big")
        write_trace(self.big, [conv_layer(rng, "b%d" % i, co=32, ci=32, h=16, batch=2) for i in range(6)])
        self.tmpdir = self.p("tmp")
        os.mkdir(self.tmpdir)
        self.env = dict(os.environ, TMPDIR=self.tmpdir)

    def start(self, *args):
        return subprocess.Popen([MLSSIM, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, env=self.env)

    def leftovers(self, prefix):
        return [n for n in os.listdir(self.tmpdir) if n.startswith(prefix)]

    def interrupted_j_run_exits_like_one_process(self, sig):
        proc = self.start("run", self.big, "-j", "2", "--quiet", "--report", self.p("r.json"))
        wait_for(lambda: len(children_of(proc.pid)) == 2)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
        self.assertEqual(proc.returncode, -sig, err)  # a shell shows 128 + sig
        self.assertIn("interrupted", err.decode())
        self.assertFalse(os.path.exists(self.p("r.json")))
        self.assertEqual(self.leftovers("mlssim-run-"), [])

    def test_sigint_ends_the_run_like_one_process(self):
        self.interrupted_j_run_exits_like_one_process(signal.SIGINT)

    def test_sigterm_ends_the_run_like_one_process(self):
        self.interrupted_j_run_exits_like_one_process(signal.SIGTERM)

    def test_a_shell_sees_130_and_143(self):
        for sig, status in ((signal.SIGINT, 130), (signal.SIGTERM, 143)):
            script = ('"$0" run "$1" -j 2 --quiet --report "$2" & pid=$!; '
                      'while [ "$(pgrep -c -P $pid)" != 2 ]; do sleep 0.01; done; kill -%d $pid; wait $pid; echo $?'
                      % int(sig))
            proc = subprocess.run(["bash", "-c", script, MLSSIM, self.big, self.p("r.json")], capture_output=True,
                                  text=True, timeout=120, env=self.env)
            self.assertEqual(proc.stdout.strip(), str(status), proc.stderr)

    def test_a_killed_j_run_leaves_a_folder_the_next_run_removes(self):
        proc = self.start("run", self.big, "-j", "2", "--quiet", "--report", self.p("r.json"))
        wait_for(lambda: len(children_of(proc.pid)) == 2)
        self.assertEqual(len(self.leftovers("mlssim-run-")), 1)
        proc.kill()
        proc.wait()
        self.assertEqual(len(self.leftovers("mlssim-run-")), 1)  # SIGKILL cannot be caught
        mlssim("run", self.trace, "-j", "2", "--quiet", env=self.env)
        self.assertEqual(self.leftovers("mlssim-run-"), [])

    def test_a_killed_sweep_leaves_a_folder_the_next_sweep_removes(self):
        sweep = self.p("s.yaml")
        with open(sweep, "w") as f:
            f.write("trace: %s\npasses: [fwd]\ngrid:\n  elem: [e2m4, e3m4, e4m3]\n" % self.big)
        out = self.p("res")
        proc = self.start("sweep", sweep, "-j", "1", "--out", out)
        wait_for(lambda: len(children_of(proc.pid)) == 1)
        proc.kill()
        proc.wait()
        self.assertEqual(len(self.leftovers("mlssim-sweep-")), 1)
        mlssim("sweep", sweep, "--list", env=self.env)  # --list runs nothing and cleans nothing
        small = self.p("small.yaml")
        with open(small, "w") as f:
            f.write("trace: %s\npasses: [fwd]\ngrid:\n  elem: [e2m4]\n" % self.trace)
        mlssim("sweep", small, "-j", "1", "--out", self.p("res2"), env=self.env)
        self.assertEqual(self.leftovers("mlssim-sweep-"), [])


if __name__ == "__main__":
    unittest.main()
