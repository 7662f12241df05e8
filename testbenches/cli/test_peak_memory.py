"""Peak memory grows with the tensors, not with the products
(docs/scale.md#memory). An unrolled input (im2col, zero insertion) has one
slot per product of its row; the lowering generates those rows when a
consumer needs them instead of storing them. Each case below has small
tensors but a stored Y table several times their size: the bound is set from
the tensor sizes, well under what storing the table alone would take, and the
child's peak resident set (getrusage of the waited-for child) must stay under
it. The forward result is also checked against numpy's convolution in double.
A run also holds one layer's tensors at a time, not the whole trace: every
tensor is read and checked when the trace is loaded, then read again when its
layer runs, and refused if it changed in between."""
import json
import os
import resource
import subprocess
import tempfile
import unittest

import numpy as np

from clitest import MLSSIM, mlssim

MB = 1 << 20
# Under AddressSanitizer (.ci/sanitize) resident memory is mostly shadow and
# quarantine: the runs and their results are still checked, their peaks not.
SANITIZED = os.environ.get("MLSSIM_SANITIZED") == "1"


def run_measured(*args):
    """Runs mlssim in a child of its own (so RUSAGE_CHILDREN is its peak alone)
    and returns (completed process, peak RSS in bytes)."""
    probe = (
        "import resource, subprocess, sys\n"
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "sys.stdout.write(p.stdout); sys.stderr.write(p.stderr)\n"
        "print('PEAK', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)\n"
        "sys.exit(p.returncode)\n"
    )
    p = subprocess.run(["/usr/bin/python3", "-c", probe, MLSSIM, *map(str, args)], capture_output=True, text=True,
                       timeout=300)
    peak = [line for line in p.stderr.splitlines() if line.startswith("PEAK ")]
    return p, int(peak[-1].split()[1]) * 1024  # ru_maxrss is in KiB on Linux


class MemoryTest(unittest.TestCase):
    def assertLessIfMeasured(self, peak, bound, msg):
        if not SANITIZED:
            self.assertLess(peak, bound, msg)


class PeakMemory(MemoryTest):
    def test_forward_conv_keeps_no_unrolled_input(self):
        # 16 x 64 x 3 x 3 over a 64 x 256 x 256 input, padding 1: 604 M products.
        # Its unrolled input would be p x g x k = 65536 x 64 x 9 int32 = 151 MB;
        # the tensors (float, quantized, result) about 40 MB.
        rng = np.random.default_rng(7)
        w = (rng.standard_normal((16, 64, 3, 3)) * 0.05).astype(np.float32)
        a = np.abs(rng.standard_normal((1, 64, 256, 256))).astype(np.float32)
        with tempfile.TemporaryDirectory() as d:
            np.save(os.path.join(d, "w.npy"), w)
            np.save(os.path.join(d, "a.npy"), a)
            out = os.path.join(d, "o.npy")
            p, peak = run_measured("conv", "--pass", "fwd", "--weight", os.path.join(d, "w.npy"), "--input",
                                   os.path.join(d, "a.npy"), "--padding", 1, "--out", out)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertLessIfMeasured(peak, 110 * MB, f"peak RSS {peak / MB:.0f} MB")
            got = np.load(out).astype(np.float64)
        windows = np.lib.stride_tricks.sliding_window_view(np.pad(a, ((0, 0), (0, 0), (1, 1), (1, 1))), (3, 3),
                                                           axis=(2, 3))
        ref = np.tensordot(windows.astype(np.float64), w.astype(np.float64), axes=([1, 4, 5], [1, 2, 3]))
        ref = ref.transpose(0, 3, 1, 2)
        self.assertEqual(got.shape, ref.shape)
        rel = np.linalg.norm(got - ref) / np.linalg.norm(ref)
        self.assertLess(rel, 0.05, "the quantized convolution is far from the exact one")

    def test_zero_insertion_backward_data_keeps_no_unrolled_error(self):
        # A 7 x 7 stride-2 stem: its zero-insert backward-data pass streams
        # 16384 x 16 x 49 error slots (51 MB as a table, held twice over
        # before: the lowering's indices and the array's codes); the tensors
        # are under 4 MB.
        topo = {"model": "stem", "layers": [{"name": "stem", "kind": "conv2d", "weight": [16, 16, 7, 7],
                                             "input": [16, 128, 128], "stride": 2, "padding": 3}]}
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "topo.json")
            with open(path, "w") as f:
                json.dump(topo, f)
            trace = os.path.join(d, "trace")
            mlssim("synth", path, "--out", trace, timeout=120)
            p, peak = run_measured("run", trace, "--check", "--report", os.path.join(d, "r.json"))
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn("all bit-exact", p.stdout)
            self.assertLessIfMeasured(peak, 60 * MB, f"peak RSS {peak / MB:.0f} MB")
            with open(os.path.join(d, "r.json")) as f:
                report = json.load(f)
        # Every pass ran: 16 x 16 x 49 taps over 64 x 64 outputs (fwd and
        # bwd-weight) and over 128 x 128 inputs (bwd-data, zero insertion).
        macs = {e["pass"]: e["macs"] for e in report["layers"]}
        self.assertEqual(macs, {"fwd": 16 * 16 * 49 * 64 * 64, "bwd-weight": 16 * 16 * 49 * 64 * 64,
                                "bwd-data": 16 * 16 * 49 * 128 * 128})


def synth(d, layers):
    path = os.path.join(d, "topo.json")
    with open(path, "w") as f:
        json.dump({"model": "t", "layers": layers}, f)
    trace = os.path.join(d, "trace")
    mlssim("synth", path, "--out", trace, timeout=120)
    return trace


# Eight 1 x 1 layers, each with a 4 MiB input: 40 MiB of tensors in all.
EIGHT = [{"name": f"l{i}", "kind": "conv2d", "weight": [16, 64, 1, 1], "input": [64, 128, 128]} for i in range(8)]


class OneLayerAtATime(MemoryTest):
    def test_the_trace_is_not_held_whole(self):
        with tempfile.TemporaryDirectory() as d:
            trace = synth(d, EIGHT)
            p, peak = run_measured("run", trace, "--passes", "fwd", "--check", "--quiet", "--no-progress")
            self.assertEqual(p.returncode, 0, p.stderr)
            # Holding all eight layers took 93 MB; one at a time about 31 MB.
            self.assertLessIfMeasured(peak, 60 * MB, f"peak RSS {peak / MB:.0f} MB")

    def test_a_tensor_changed_during_the_run_is_refused(self):
        with tempfile.TemporaryDirectory() as d:
            trace = synth(d, EIGHT)
            report = os.path.join(d, "r.json")
            proc = subprocess.Popen([MLSSIM, "run", trace, "--passes", "fwd", "--report", report], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE, text=True)
            # The first finished layer-pass: the trace was loaded and checked,
            # and the last layer's tensors will be read again when it runs.
            lines = [proc.stderr.readline()]
            self.assertTrue(lines[0].startswith("run: 1/8 l0 fwd"), lines[0])
            target = os.path.join(trace, "l7.input.npy")
            a = np.load(target)
            np.save(target, a * 2.0)
            rest = proc.stderr.read()
            proc.stderr.close()
            self.assertNotEqual(proc.wait(timeout=300), 0)
            self.assertIn("l7.input.npy", rest)
            self.assertIn("changed since the trace was loaded", rest)
            self.assertFalse(os.path.exists(report))


if __name__ == "__main__":
    unittest.main()
