"""mlssim run's progress without a terminal (docs/scale.md#progress): one
stderr line per finished layer-pass, with the layer, the pass, its MACs, its
seconds and the run's ETA, whether or not stderr is a terminal; stdout is
line-buffered, so each table row is out before the next pass starts. The MAC
counts are checked against the grouped-product sizes written here from the
layer shapes (docs/reference.md#lowering-to-a-grouped-product), and against
the report."""
import json
import os
import re
import subprocess
import tempfile
import unittest

import numpy as np

from clitest import MLSSIM, mlssim, write_trace

LINE = re.compile(r"^run: (\d+)/(\d+) (\S+) (\S+): (\d+) MACs in ([0-9.e+-]+) s( \(resumed\))?, ETA (\S+)$")
WORKER_LINE = re.compile(r"^run\[(\d+)/(\d+)\]: (\d+)/(\d+) (\S+) (\S+): (\d+) MACs in ([0-9.e+-]+) s, ETA (\S+)$")

# name, Co, Ci, K, H, stride, padding, batch, with grad_output
LAYERS = [("a", 6, 5, 3, 6, 1, 1, 2, True), ("b", 9, 6, 3, 7, 2, 1, 2, True), ("c", 4, 9, 1, 4, 1, 0, 2, False)]


def expected_macs(layer, pass_):
    """m * p * g * k of each pass, padding and zero-insertion taps included."""
    _, co, ci, k, h, s, p, n, _ = layer
    ho = (h + 2 * p - k) // s + 1
    if pass_ == "bwd-data":  # every input position takes all Co * K * K taps (zero insertion)
        return n * ci * h * h * co * k * k
    return co * n * ho * ho * ci * k * k  # fwd and bwd-weight: the same products


def make_trace(root):
    rng = np.random.default_rng(1)
    layers = []
    for name, co, ci, k, h, s, p, n, with_e in LAYERS:
        ho = (h + 2 * p - k) // s + 1
        entry = {"name": name, "kind": "conv2d", "stride": s, "padding": p}
        tensors = {"weight": rng.standard_normal((co, ci, k, k)), "input": rng.standard_normal((n, ci, h, h))}
        if with_e:
            tensors["grad_output"] = rng.standard_normal((n, co, ho, ho))
        layers.append((entry, tensors))
    write_trace(root, layers)


class Progress(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.trace = os.path.join(self.tmp.name, "trace")
        make_trace(self.trace)
        self.report = os.path.join(self.tmp.name, "r.json")

    def tearDown(self):
        self.tmp.cleanup()

    def run_mlssim(self, *args, **kw):
        # --acc-bits 24: no overflow warning joins the progress lines
        proc = mlssim("run", self.trace, "--report", self.report, "--acc-bits", "24", *args, timeout=120, **kw)
        with open(self.report) as f:
            return proc, json.load(f)

    def test_one_line_per_layer_pass_through_a_pipe(self):
        proc, report = self.run_mlssim("--check")
        lines = proc.stderr.splitlines()
        entries = report["layers"]
        # a and b: three passes each; c has no grad_output: forward only
        self.assertEqual(len(lines), 7, proc.stderr)
        self.assertEqual(len(entries), 7)
        for i, (line, entry) in enumerate(zip(lines, entries)):
            m = LINE.match(line)
            self.assertIsNotNone(m, line)
            done, total, layer, pass_, macs, seconds, resumed, eta = m.groups()
            self.assertEqual((int(done), int(total)), (i + 1, 7))
            self.assertEqual((layer, pass_), (entry["name"], entry["pass"]))
            spec = next(l for l in LAYERS if l[0] == layer)
            self.assertEqual(int(macs), expected_macs(spec, pass_), line)
            self.assertEqual(int(macs), entry["macs"])
            self.assertGreaterEqual(float(seconds), 0.0)
            self.assertIsNone(resumed)
            self.assertRegex(eta, r"^(-|\d+:\d\d(:\d\d)?)$")
        self.assertEqual(LINE.match(lines[-1]).group(8), "0:00")

    def test_no_progress_silences_them(self):
        proc, _ = self.run_mlssim("--no-progress")
        self.assertEqual(proc.stderr, "")

    def test_stdout_is_line_buffered(self):
        # stdout and stderr into one pipe: with a line-buffered stdout each row
        # comes before its pass's progress line (the row is printed first); a
        # fully buffered stdout would put every row after every progress line.
        proc = subprocess.run([MLSSIM, "run", self.trace, "--acc-bits", "24"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, timeout=120)
        self.assertEqual(proc.returncode, 0, proc.stdout)
        lines = proc.stdout.splitlines()
        progress = [i for i, l in enumerate(lines) if LINE.match(l)]
        self.assertEqual(len(progress), 7)
        for n, i in enumerate(progress):
            row = lines[i - 1].split()
            self.assertEqual(tuple(row[:2]), LINE.match(lines[i]).group(3, 4), lines[i - 1])
            if n:
                self.assertEqual(progress[n - 1], i - 2)  # row, line, row, line, ...

    def test_workers_lines_name_their_worker(self):
        proc, report = self.run_mlssim("-j", 2)
        lines = [WORKER_LINE.match(l) for l in proc.stderr.splitlines()]
        self.assertTrue(all(lines), proc.stderr)
        self.assertEqual(sorted((m.group(5), m.group(6)) for m in lines),
                         sorted((e["name"], e["pass"]) for e in report["layers"]))
        # the count and the ETA are the whole run's, whichever worker finished the layer-pass
        self.assertEqual([(int(m.group(3)), int(m.group(4))) for m in lines], [(i, 7) for i in range(1, 8)])
        # the workers claim layer-passes as they go (docs/scale.md#run--j-n): on a loaded machine one may take
        # all seven of this small run before the other starts, so each line names one of the two, not both
        self.assertTrue({m.group(1, 2) for m in lines} <= {("1", "2"), ("2", "2")}, proc.stderr)
        self.assertEqual(lines[-1].group(9), "0:00")
        for m in lines:
            self.assertEqual(int(m.group(7)), expected_macs(next(l for l in LAYERS if l[0] == m.group(5)), m.group(6)))


if __name__ == "__main__":
    unittest.main()
