"""bench/e2e_train_iteration.py on a two-layer network (the benchmark itself
runs ResNet-18 at batch 32 and is never part of the test suite): it must
synthesize the trace, run it at -j 1 and -j 2 with --check, and record
products equal to the count written out here from the shapes, the same
cycles at both -j, a non-zero peak memory, and nothing when mlssim fails."""
import json
import os
import subprocess
import tempfile
import unittest

from clitest import MLSSIM, ROOT

BENCH = os.path.join(ROOT, "bench", "e2e_train_iteration.py")

TOPOLOGY = {"model": "tiny", "layers": [
    {"name": "c1", "kind": "conv2d", "weight": [8, 3, 3, 3], "input": [3, 10, 10], "stride": 2, "padding": 1},
    {"name": "fc", "kind": "linear", "weight": [5, 40], "input": [40]},
]}


def expected_macs(batch):
    # conv: Ho = Wo = (10 + 2 - 3) // 2 + 1 = 5; fwd and bwd-weight N*Co*Ho*Wo*Ci*9,
    # bwd-data (zero insertion) N*Ci*H*W*Co*9. linear: N*out*in per pass, under its
    # default k32 grouping (docs/layers.md#default-groupings) with fwd's reduction of
    # in = 40 streamed as ceil(40 / 32) = 2 blocks of 32 (24 zero taps); bwd-data's 5
    # and bwd-weight's N = 3 are one block each.
    conv_fwd = batch * 8 * 5 * 5 * 3 * 9
    conv_bwd_data = batch * 3 * 10 * 10 * 8 * 9
    fc = batch * 5 * 40
    fc_fwd = batch * 5 * 2 * 32
    return 2 * conv_fwd + conv_bwd_data + fc_fwd + 2 * fc


class BenchE2E(unittest.TestCase):
    def run_bench(self, work, *extra):
        topo = os.path.join(work, "tiny.json")
        with open(topo, "w") as f:
            json.dump(TOPOLOGY, f)
        return subprocess.run(["/usr/bin/python3", BENCH, "--mlssim", MLSSIM, "--topology", topo, "--batch", "3",
                               "--jobs", "1,2", "--work", work, *extra], capture_output=True, text=True, timeout=300)

    def test_records_both_job_counts(self):
        with tempfile.TemporaryDirectory() as work:
            p = self.run_bench(work)
            self.assertEqual(p.returncode, 0, p.stderr)
            with open(os.path.join(work, "results.json")) as f:
                res = json.load(f)
        self.assertEqual([r["jobs"] for r in res["runs"]], [1, 2])
        self.assertTrue(res["same_macs_and_cycles"])
        for r in res["runs"]:
            self.assertEqual(r["macs"], expected_macs(3))
            self.assertTrue(r["bit_exact"])
            self.assertGreater(r["peak_rss_tree_bytes"], 1 << 20)
            self.assertGreaterEqual(r["peak_rss_tree_bytes"], r["peak_rss_process_bytes"])
            self.assertGreater(r["wall_seconds"], 0)
            self.assertGreater(r["cpu_seconds"], 0)
        self.assertIn("| 2 |", p.stdout)

    def test_a_failing_run_leaves_no_results(self):
        with tempfile.TemporaryDirectory() as work:
            p = self.run_bench(work, "--", "--elem", "nonsense")
            self.assertNotEqual(p.returncode, 0)
            self.assertIn("-j 1 exited", p.stderr)
            self.assertFalse(os.path.exists(os.path.join(work, "results.json")))


if __name__ == "__main__":
    unittest.main()
