"""Splitting a run (docs/scale.md): `run -j 2`, `run --shard I/3` + `mlssim
merge`, and a run killed with SIGKILL then resumed with `--resume DIR` all
give the report of one whole run apart from its timing fields; merge refuses
partials that do not make one run exactly once."""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

import numpy as np

from clitest import MLSSIM, load_json, mlssim, untimed, write_trace


# name, Co, Ci, K, H, stride, padding (batch 2); a linear layer too.
CONVS = [("c1", 8, 3, 3, 10, 1, 1), ("c2", 12, 8, 3, 10, 2, 1), ("c3", 6, 12, 1, 5, 1, 0), ("c4", 16, 6, 3, 9, 1, 1)]


# The resume test's trace: a layer-pass of about 0.1 s after the first three,
# so the kill lands inside it.
SLOW = CONVS[:1] + [("slow", 64, 32, 3, 16, 1, 1)] + CONVS[1:]


def make_trace(root, seed=2, convs=CONVS):
    rng = np.random.default_rng(seed)
    layers = []
    for name, co, ci, k, h, s, p in convs:
        ho = (h + 2 * p - k) // s + 1
        entry = {"name": name, "kind": "conv2d", "stride": s, "padding": p}
        tensors = {"weight": rng.standard_normal((co, ci, k, k)), "input": np.abs(rng.standard_normal((2, ci, h, h))),
                   "grad_output": rng.standard_normal((2, co, ho, ho)) * 1e-3}
        layers.append((entry, tensors))
    layers.append(({"name": "fc", "kind": "linear"}, {"weight": rng.standard_normal((10, 24)),
                                                       "input": rng.standard_normal((3, 24)),
                                                       "grad_output": rng.standard_normal((3, 10))}))
    write_trace(root, layers)


class Split(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.trace = os.path.join(cls.tmp.name, "trace")
        make_trace(cls.trace)
        cls.whole = os.path.join(cls.tmp.name, "whole.json")
        cls.mlssim("run", cls.trace, "--check", "--report", cls.whole)
        cls.parts = []
        for i in (1, 2, 3):
            cls.parts.append(os.path.join(cls.tmp.name, f"part{i}.json"))
            cls.mlssim("run", cls.trace, "--check", "--shard", f"{i}/3", "--report", cls.parts[-1])

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    @staticmethod
    def mlssim(*args, expect=0):
        proc = subprocess.run([MLSSIM, *map(str, args)], capture_output=True, text=True, timeout=120)
        if proc.returncode != expect:
            raise AssertionError(f"mlssim {' '.join(map(str, args))}: exit {proc.returncode}: {proc.stderr}")
        return proc

    def out(self, name):
        return os.path.join(self.tmp.name, name)

    def test_whole_run_covers_every_layer_pass(self):
        r = load_json(self.whole)
        self.assertTrue(r["total"]["bit_exact"])
        self.assertEqual([(e["name"], e["pass"]) for e in r["layers"]],
                         [(n, p) for n in ["c1", "c2", "c3", "c4", "fc"] for p in ("fwd", "bwd-data", "bwd-weight")])

    def test_jobs_2_equals_jobs_1(self):
        self.mlssim("run", self.trace, "--check", "-j", 2, "--report", self.out("j2.json"))
        self.assertEqual(untimed(load_json(self.out("j2.json"))), untimed(load_json(self.whole)))

    def test_jobs_2_with_unquantized_layers_and_energy_equals_jobs_1(self):
        """paper-cifar keeps c1 (first) and fc (the classifier) in fp32; the parent prices the merged report."""
        flags = ["--preset", "paper-cifar", "--tech", "paper-unit", "--check"]
        self.mlssim("run", self.trace, *flags, "--report", self.out("pc1.json"))
        self.mlssim("run", self.trace, *flags, "-j", 2, "--report", self.out("pc2.json"))
        one, two = load_json(self.out("pc1.json")), load_json(self.out("pc2.json"))
        self.assertEqual(untimed(two), untimed(one))
        self.assertEqual(sorted({e["name"] for e in one["layers"] if e.get("unquantized")}), ["c1", "fc"])
        self.assertIsNotNone(one["total"]["energy"]["fp32_over_mls"])

    def test_merge_refuses_partials_with_other_unquantized_layers(self):
        other = self.out("other_unquantized.json")
        self.mlssim("run", self.trace, "--check", "--shard", "3/3", "--unquantized", "first", "--report", other)
        self.refused([self.parts[0], self.parts[1], other], ["unquantized"])

    def test_a_workers_mismatch_fails_the_whole_run(self):
        # a broken multiplier: every worker's --check fails (exit 4), and so does the run, with its report
        self.mlssim("run", self.trace, "--check", "-j", 2, "--inject-fault", "mul-lsb", "--report", self.out("bad.json"),
                    expect=4)
        self.assertFalse(load_json(self.out("bad.json"))["total"]["bit_exact"])

    def test_shards_merge_into_the_whole_run(self):
        keys = [[(e["name"], e["pass"]) for e in load_json(p)["layers"]] for p in self.parts]
        flat = [k for part in keys for k in part]
        self.assertEqual(len(flat), 15)
        self.assertEqual(len(set(flat)), 15)  # each layer-pass in exactly one shard
        self.assertTrue(all(keys))
        # balanced by products: no shard has more than the largest layer-pass over an even share
        macs = [load_json(p)["total"]["macs"] for p in self.parts]
        self.assertLess(max(macs) - min(macs), max(e["macs"] for e in load_json(self.whole)["layers"]) * 1.5)
        self.mlssim("merge", *reversed(self.parts), "--report", self.out("merged.json"))
        self.assertEqual(untimed(load_json(self.out("merged.json"))), untimed(load_json(self.whole)))
        # the totals are the sums of the whole run's entries
        whole = load_json(self.whole)
        self.assertEqual(load_json(self.out("merged.json"))["total"]["cycles"], sum(e["cycles"] for e in whole["layers"]))

    def test_claimed_shards_share_out_the_whole_run(self):
        """--claims DIR: each --shard process runs the layer-passes it claims first, largest first. Run one
        after the other, the first claims all 15 and the second none; the two still merge into the whole run."""
        claims = self.out("claims")
        os.mkdir(claims)
        first, second = self.out("claimed1.json"), self.out("claimed2.json")
        self.mlssim("run", self.trace, "--check", "--shard", "1/2", "--claims", claims, "--report", first)
        self.mlssim("run", self.trace, "--check", "--shard", "2/2", "--claims", claims, "--report", second)
        ran = [(e["name"], e["pass"]) for e in load_json(first)["layers"]]
        self.assertEqual(sorted(ran), sorted((e["name"], e["pass"]) for e in load_json(self.whole)["layers"]))
        # layers by their largest estimated layer-pass (docs/scale.md#progress: 2000 x ceil(m / 16) x p x
        # ceil(r / 16) + products): c4 bwd-data (m 6, p 2 x 9 x 9, r 16 x 9) 2000 x 1458 + 139,968 = 3,055,968
        # leads c2 bwd-data (m 8, p 2 x 10 x 10, r 12 x 9) 2000 x 1400 + 172,800, though c2's has more products
        self.assertEqual([n for n, _ in ran[::3]], ["c4", "c2", "c1", "c3", "fc"])
        self.assertEqual(load_json(second)["layers"], [])
        self.assertEqual(len(os.listdir(claims)), 15)
        self.mlssim("merge", second, first, "--report", self.out("claimed.json"))
        self.assertEqual(untimed(load_json(self.out("claimed.json"))), untimed(load_json(self.whole)))

    def test_a_layer_another_shard_began_comes_last(self):
        """A layer with a layer-pass claimed elsewhere is left for last (no second quantization of it while
        untouched layers remain): another process claimed c4 fwd, so c4's other passes run after the rest."""
        claims = self.out("claims-begun")
        os.mkdir(claims)
        self.mlssim("run", self.trace, "--shard", "1/2", "--claims", claims, "--layers", "c4", "--passes", "fwd",
                    "--report", self.out("begun1.json"))
        self.mlssim("run", self.trace, "--shard", "2/2", "--claims", claims, "--report", self.out("begun2.json"))
        ran = [(e["name"], e["pass"]) for e in load_json(self.out("begun2.json"))["layers"]]
        self.assertEqual([n for n, _ in ran], ["c2"] * 3 + ["c1"] * 3 + ["c3"] * 3 + ["fc"] * 3 + ["c4"] * 2)
        self.assertEqual(ran[-2:], [("c4", "bwd-data"), ("c4", "bwd-weight")])

    def refused(self, args, words):
        target = self.out("refused.json")
        proc = self.mlssim("merge", *args, "--report", target, expect=1)
        lines = proc.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, proc.stderr)
        for w in words:
            self.assertIn(w, lines[0])
        self.assertFalse(os.path.exists(target))

    def test_merge_refuses_incomplete_repeated_or_foreign_partials(self):
        self.refused(self.parts[:2], ["in no partial report", "shards not given: 3/3"])
        self.refused([self.parts[0], self.parts[0], self.parts[2]], ["both shard 1/3"])
        self.refused([self.whole], [self.whole, "not a partial report"])
        other_config = self.out("rows8.json")
        self.mlssim("run", self.trace, "--check", "--rows", 8, "--shard", "2/3", "--report", other_config)
        self.refused([self.parts[0], other_config, self.parts[2]], [other_config, "another config"])
        other_split = self.out("of2.json")
        self.mlssim("run", self.trace, "--check", "--shard", "2/2", "--report", other_split)
        self.refused([self.parts[0], other_split, self.parts[2]], [other_split, "another"])
        # the same names and shapes with one tensor changed: another trace
        changed = os.path.join(self.tmp.name, "changed")
        shutil.copytree(self.trace, changed)
        w = np.load(os.path.join(changed, "c1.weight.npy"))
        w[0, 0, 0, 0] += 1
        np.save(os.path.join(changed, "c1.weight.npy"), w)
        foreign = self.out("foreign.json")
        self.mlssim("run", changed, "--check", "--shard", "3/3", "--report", foreign)
        self.refused([self.parts[0], self.parts[1], foreign], [foreign, "another trace"])
        # a partial whose entry was deleted: that layer-pass is missing
        cut = load_json(self.parts[1])
        gone = cut["layers"].pop()
        with open(self.out("cut.json"), "w") as f:
            json.dump(cut, f)
        self.refused([self.parts[0], self.out("cut.json"), self.parts[2]], [f"{gone['name']} {gone['pass']}"])
        # an entry without its counts
        broken = load_json(self.parts[1])
        del broken["layers"][0]["events"]
        with open(self.out("broken.json"), "w") as f:
            json.dump(broken, f)
        self.refused([self.parts[0], self.out("broken.json"), self.parts[2]], ["not a run report", "events"])

    def test_split_flags_that_need_one_whole_run_are_refused(self):
        for args, words in ((["--shard", "1/2", "--tech", "paper-unit"], ["--shard", "--tech"]),
                            (["-j", 2, "--outputs", self.out("o")], ["--outputs", "-j"]),
                            (["--resume", self.out("rd"), "--vcd", self.out("w.vcd")], ["--vcd", "--resume"]),
                            (["--shard", "4/3"], ["--shard must be I/N"]),
                            (["--claims", self.tmp.name], ["--claims", "give --shard too"]),
                            (["--shard", "1/2", "--claims", self.out("no-such-dir")], ["--claims", "no such directory"]),
                            (["--shard", "1/2", "--claims", ""], ["--claims", "path is empty"]),
                            (["-j", 0], ["-j must be in [1, 256]"])):
            proc = self.mlssim("run", self.trace, *args, "--report", self.out("never.json"), expect=1)
            self.assertEqual(len(proc.stderr.strip().splitlines()), 1, proc.stderr)
            for w in words:
                self.assertIn(w, proc.stderr)
            self.assertFalse(os.path.exists(self.out("never.json")))


class TraceChecked(unittest.TestCase):
    """--trace-checked FILE (what -j's parent gives its workers): the trace's
    data is not read up front, only each layer's when it runs, against the
    fingerprint the file gives."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.trace = os.path.join(self.tmp.name, "trace")
        make_trace(self.trace)
        # A NaN in the last layer's input, after the trace was checked.
        path = os.path.join(self.trace, "fc.input.npy")
        x = np.load(path)
        x[1, 3] = np.nan
        np.save(path, x)

    def tearDown(self):
        self.tmp.cleanup()

    def checked(self, layers, trace=None, name="checked.json"):
        path = os.path.join(self.tmp.name, name)
        with open(path, "w") as f:
            json.dump({"format": "mlssim-checked-trace/1", "trace": trace or self.trace, "layers": layers}, f)
        return path

    def run_mlssim(self, *args):
        report = os.path.join(self.tmp.name, "r.json")
        proc = subprocess.run([MLSSIM, "run", self.trace, "--passes", "fwd", "--report", report, *args],
                              capture_output=True, text=True, timeout=120)
        self.assertFalse(os.path.exists(report))
        return proc

    def test_the_data_is_read_when_its_layer_runs(self):
        # Unchecked, the NaN refuses the run before anything runs.
        proc = self.run_mlssim()
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn("NaN", proc.stderr)
        self.assertNotIn("run: 1/", proc.stderr)
        # With fingerprints that match nothing, the first layer to run is
        # refused as changed: fc's data was never read up front.
        names = ["c1", "c2", "c3", "c4", "fc"]
        proc = self.run_mlssim("--trace-checked", self.checked({n: "0" * 16 for n in names}))
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn("layer 'c1'", proc.stderr)
        self.assertIn("the tensors changed since the trace was loaded", proc.stderr)
        self.assertNotIn("NaN", proc.stderr)

    def test_a_file_for_another_trace_or_short_of_a_layer_is_refused(self):
        for layers, trace, words in (({"c1": "0" * 16}, None, ["layer 'c2'", "not among the layers"]),
                                     ({}, "/elsewhere", ["checks the trace", "/elsewhere"]),
                                     ({"c1": "0x" + "0" * 14}, None, ["'c1'", "16 hex digits"])):
            proc = self.run_mlssim("--trace-checked", self.checked(layers, trace))
            self.assertEqual(proc.returncode, 1, proc.stderr)
            self.assertEqual(len(proc.stderr.strip().splitlines()), 1, proc.stderr)
            for w in words + ["checked.json"] * (trace is not None or "hex" in words[-1]):
                self.assertIn(w, proc.stderr)


class DocumentedSlurmScript(unittest.TestCase):
    """docs/scale.md's job-array script, run as Slurm would run each task of
    a 3-task array (plain bash: #SBATCH lines are comments), then merged."""

    def test_array_tasks_then_merge_give_the_whole_run(self):
        docs = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "docs",
                            "scale.md")
        with open(docs) as f:
            text = f.read()
        block = text.split("<!-- scale-slurm-script -->", 1)[1]
        script = block.split("```bash\n", 1)[1].split("```", 1)[0]
        self.assertIn("#SBATCH --array=", script)
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        trace, out = os.path.join(tmp.name, "trace"), os.path.join(tmp.name, "out")
        make_trace(trace)
        env = dict(os.environ, TRACE=trace, OUT=out, SLURM_ARRAY_TASK_COUNT="3",
                   PATH=os.path.dirname(os.path.abspath(MLSSIM)) + os.pathsep + os.environ["PATH"])
        for task in (1, 2, 3):
            env["SLURM_ARRAY_TASK_ID"] = str(task)
            proc = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=120)
            self.assertEqual(proc.returncode, 0, proc.stderr)
        parts = sorted(os.path.join(out, f) for f in os.listdir(out) if f.startswith("part-"))
        self.assertEqual(len(parts), 3)
        merged = os.path.join(tmp.name, "report.json")
        whole = os.path.join(tmp.name, "whole.json")
        mlssim("merge", *parts, "--report", merged, timeout=60)
        mlssim("run", trace, "--check", "--report", whole, "--no-progress", timeout=120)
        self.assertEqual(untimed(load_json(merged)), untimed(load_json(whole)))


class Resume(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.trace = os.path.join(self.tmp.name, "trace")
        make_trace(self.trace, seed=5, convs=SLOW)

    def tearDown(self):
        self.tmp.cleanup()

    def test_killed_then_resumed_run_gives_the_same_report(self):
        whole = os.path.join(self.tmp.name, "whole.json")
        mlssim("run", self.trace, "--check", "--report", whole, "--no-progress", timeout=120)
        keep = os.path.join(self.tmp.name, "keep")
        resumed = os.path.join(self.tmp.name, "resumed.json")
        args = [MLSSIM, "run", self.trace, "--check", "--resume", keep, "--report", resumed]
        # Killed right after its third layer-pass reports done: the kill lands
        # before the run can finish (the process is stopped first, so it cannot
        # race ahead while the line is read).
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        seen = 0
        for line in proc.stderr:
            if line.startswith("run: "):
                seen += 1
            if seen == 3:
                proc.send_signal(signal.SIGSTOP)
                break
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        self.assertEqual(proc.returncode, -signal.SIGKILL)
        kept = [f for f in os.listdir(keep) if f != "run.json"]
        self.assertGreaterEqual(len(kept), 3)
        self.assertLess(len(kept), 18)
        self.assertFalse(os.path.exists(resumed))
        done = subprocess.run(args, capture_output=True, text=True, timeout=120)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(done.stderr.count("(resumed)"), len(kept))
        self.assertEqual(untimed(load_json(resumed)), untimed(load_json(whole)))
        # and a run with another config refuses the directory
        other = subprocess.run(args + ["--rows", "8"], capture_output=True, text=True, timeout=120)
        self.assertEqual(other.returncode, 1)
        self.assertIn("another run", other.stderr)


if __name__ == "__main__":
    unittest.main()
