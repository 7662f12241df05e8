"""Size budgets on every input, and no internal error on a large or hostile one
(docs/reference.md#size-budgets, issue 29 findings 5, 6 and 8).

Each case is an input past a documented limit, or one that used to end in an
internal error (exit 3) or an abort: it must now be refused with one line
naming the file (and the key or the count at fault), exit 1, quickly and in
bounded memory. Memory is measured as the peak resident set of the finished
child (wait4's rusage), never by sampling /proc; limits on address space
(RLIMIT_AS) are set in the child before it execs. The expectations are the
documented limits and counts computed here, not the program's output.
"""
import json
import os
import resource
import subprocess
import tempfile
import unittest

import numpy as np

from clitest import MLSSIM, ROOT, conv_layer, mlssim, write_trace

MB = 1 << 20
# Under AddressSanitizer resident memory is mostly shadow, and ASan reserves
# terabytes of address space: peaks and RLIMIT_AS cases are checked without it only.
SANITIZED = os.environ.get("MLSSIM_SANITIZED") == "1"
REPORT = os.path.join(ROOT, "testbenches", "golden", "resnet20-digits.report.json")
TRACE = os.path.join(ROOT, "traces", "resnet20-digits")

MAX_POINTS = 100000
MAX_LAYERS = 10000
MAX_LAYER_PASSES = 20000
NAMED_IN_MESSAGE = 5


# The child is started by a small probe process, not by this one: a forked
# child's peak RSS (wait4's ru_maxrss) starts from its parent's, and this
# process holds numpy. The probe (python -S, ~8 MB) sets RLIMIT_AS, waits for
# mlssim with wait4 and prints its exit status and peak on its last line.
PROBE = """
import os, resource, signal, subprocess, sys
limit, timeout = int(sys.argv[1]), int(sys.argv[2])
def preexec():
    if limit:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
child = subprocess.Popen(sys.argv[3:], stdin=subprocess.DEVNULL, preexec_fn=preexec)
signal.signal(signal.SIGALRM, lambda *_: child.kill())  # a hung child is killed, never left behind
signal.alarm(timeout)
_, status, usage = os.wait4(child.pid, 0)
print("PROBE", os.waitstatus_to_exitcode(status), usage.ru_maxrss * 1024, file=sys.stderr)
"""


def run_measured(*args, address_space=None, timeout=300):
    """Runs mlssim and returns (exit status, stdout, stderr, peak RSS in bytes of
    the finished mlssim). address_space: RLIMIT_AS in bytes, set before exec."""
    p = subprocess.run(["/usr/bin/python3", "-S", "-c", PROBE, str(address_space or 0), str(timeout), MLSSIM,
                        *map(str, args)], capture_output=True, text=True, timeout=timeout + 60, stdin=subprocess.DEVNULL)
    lines = p.stderr.splitlines()
    assert lines and lines[-1].startswith("PROBE "), p.stderr
    _, status, peak = lines[-1].split()
    return int(status), p.stdout, "\n".join(lines[:-1]) + "\n", int(peak)


def one_line_error(test, stderr, *needles):
    lines = stderr.strip().splitlines()
    test.assertEqual(len(lines), 1, stderr[:2000])
    for n in needles:
        test.assertIn(n, lines[0])
    return lines[0]


def tiny_trace(root, count, grad_output=False, kind=None):
    """A manifest of `count` 1x1 conv layers sharing three tiny tensors."""
    os.makedirs(root, exist_ok=True)
    np.save(os.path.join(root, "w.npy"), np.ones((1, 1, 1, 1), "<f4"))
    np.save(os.path.join(root, "x.npy"), np.ones((1, 1, 2, 2), "<f4"))
    np.save(os.path.join(root, "g.npy"), np.ones((1, 1, 2, 2), "<f4"))
    layers = []
    for i in range(count):
        layer = {"name": f"l{i}", "weight": "w.npy", "input": "x.npy"}
        if grad_output:
            layer["grad_output"] = "g.npy"
        if kind:
            layer["kind"] = kind
        layers.append(layer)
    with open(os.path.join(root, "manifest.json"), "w") as f:
        json.dump({"format": "mls-trace/2", "model": "tiny", "layers": layers}, f)
    return layers


class SynthNumbers(unittest.TestCase):
    def test_number_out_of_range_names_file_and_key(self):
        # Was "internal error: number overflow" with exit 3.
        with tempfile.TemporaryDirectory() as d:
            topo = os.path.join(d, "t.json")
            with open(topo, "w") as f:
                f.write('{"model": "m",\n "layers": [{"name": "c", "weight": [8, 1e400, 3, 3], "input": [1, 8, 8]}]}')
            p = mlssim("synth", topo, "--out", os.path.join(d, "out"), ok=None)
            self.assertEqual(p.returncode, 1, p.stderr)
            col = len(' "layers": [{"name": "c", "weight": [8, ') + 1
            one_line_error(self, p.stderr, f"{topo}:2:{col}:", "layers[0].weight[1]", "'1e400'", "out of range")
            self.assertFalse(os.path.exists(os.path.join(d, "out")))


class VectorsStream(unittest.TestCase):
    def test_vectors_memory_does_not_grow_with_the_files(self):
        # 32 x 32 x 3 x 3 over 32 x 40 x 40: m 32, p 1600, g 32, k 9, one chunk
        # per group: 1.6 M chunk lines, about 47 MB of files; held in memory
        # they took more than twice that. The bound is half the files' size.
        rng = np.random.default_rng(3)
        with tempfile.TemporaryDirectory() as d:
            write_trace(os.path.join(d, "t"), [conv_layer(rng, "c", 32, 32, 40, batch=1)])
            out = os.path.join(d, "v")
            rc, stdout, stderr, peak = run_measured("vectors", os.path.join(d, "t"), "--layers", "c",
                                                    "--passes", "fwd", "--out", out)
            self.assertEqual(rc, 0, stderr)
            sizes = {name: os.path.getsize(os.path.join(out, name)) for name in os.listdir(out)}
            total = sum(sizes.values())
            with open(os.path.join(out, "chunks.txt")) as f:
                chunk_lines = sum(1 for _ in f)
            self.assertEqual(chunk_lines, 32 * 1600 * 32)
            with open(os.path.join(out, "outputs.txt")) as f:
                self.assertEqual(sum(1 for _ in f), 32 * 1600)
            self.assertGreater(total, 40 * MB, sizes)
            if not SANITIZED:
                self.assertLess(peak, total // 2, f"peak RSS {peak} for {total} bytes of vectors")


class OutOfMemory(unittest.TestCase):
    @unittest.skipIf(SANITIZED, "ASan reserves more address space than any limit here")
    def test_bad_alloc_is_one_line_and_exit_1(self):
        # A 32768 x 32768 weight is 4 GiB of float32 (under the 16 GiB a trace
        # tensor may have); with 1 GiB of address space it cannot be drawn.
        with tempfile.TemporaryDirectory() as d:
            topo = os.path.join(d, "huge.json")
            with open(topo, "w") as f:
                json.dump({"layers": [{"name": "fc", "kind": "linear", "weight": [32768, 32768],
                                       "input": [8, 32768]}]}, f)
            out = os.path.join(d, "out")
            rc, _, stderr, _ = run_measured("synth", topo, "--out", out, address_space=1 << 30)
            self.assertEqual(rc, 1, stderr)
            one_line_error(self, stderr, "out of memory while drawing and writing the tensors of", topo)
            self.assertNotIn("internal error", stderr)
            self.assertEqual(os.listdir(d), ["huge.json"])


    @unittest.skipIf(SANITIZED, "ASan reserves more address space than any limit here")
    def test_run_under_any_address_limit_ends_cleanly(self):
        # From too little address space to start to enough: each run succeeds or
        # says "out of memory" on one line with exit 1 (a thread whose stack
        # cannot be mapped was exit 3, "internal error: Resource temporarily
        # unavailable"); never exit 3, never a signal. With too little space the
        # dynamic loader or the libraries' static initializers fail before main
        # runs, which no code of the program can catch: the range starts at the
        # first limit where `mlssim --help` (which starts the SystemC kernel) runs.
        start = next(mib for mib in range(8, 64) if run_measured("--help", address_space=mib * MB)[0] == 0)
        outcomes = set()
        for mib in range(start, start + 30, 2):
            rc, _, stderr, _ = run_measured("run", TRACE, "--layers", "conv1", "--check", "--quiet", "--no-progress",
                                            address_space=mib * MB, timeout=120)
            self.assertIn(rc, (0, 1), f"RLIMIT_AS {mib} MiB: exit {rc}: {stderr}")
            if rc == 1:
                one_line_error(self, stderr, "mlssim run: error: out of memory while")
            outcomes.add(rc)
        self.assertEqual(outcomes, {0, 1})


class ArgumentPlaceholders(unittest.TestCase):
    def test_a_value_holding_a_message_placeholder(self):
        # Found by fuzz_cli_values: boost's message substitutes %value% again in
        # the text it just inserted, so `-j 'a%value%'` hung forever.
        for args, needle in [(["-j", "a%value%"], "the argument ('a%value%') for option '--jobs' is invalid"),
                             (["--threads", "%value%%option%"], "('%value%%option%') for option '--threads'"),
                             (["--bo%canonical_option%"], "unrecognised option '--bo%canonical_option%'")]:
            p = mlssim("run", TRACE, *args, ok=None, timeout=20)
            self.assertEqual(p.returncode, 1, p.stderr)
            one_line_error(self, p.stderr, needle)


class SweepPoints(unittest.TestCase):
    def write_sweep(self, d, grid, points):
        path = os.path.join(d, "s.json")
        doc = {"trace": TRACE, "points": [{"seed": i} for i in range(points)]}
        if grid:
            doc["grid"] = grid
        with open(path, "w") as f:
            json.dump(doc, f)
        return path

    def test_points_count_with_the_grid(self):
        with tempfile.TemporaryDirectory() as d:
            # 2 grid points + 99,999 listed = 100,001: one over.
            path = self.write_sweep(d, {"rows": [4, 8]}, MAX_POINTS - 1)
            rc, _, stderr, peak = run_measured("sweep", path, "--list", timeout=60)
            self.assertEqual(rc, 1, stderr)
            one_line_error(self, stderr, path, f"{MAX_POINTS + 1} points (grid 2 + points {MAX_POINTS - 1})",
                           f"at most {MAX_POINTS}")
            if not SANITIZED:
                self.assertLess(peak, 200 * MB)

    def test_exactly_the_cap_is_accepted(self):
        with tempfile.TemporaryDirectory() as d:
            path = self.write_sweep(d, None, 3)
            p = mlssim("sweep", path, "--list")
            self.assertEqual(len([line for line in p.stdout.splitlines() if "seed=" in line]), 3, p.stdout)

    @unittest.skipIf(SANITIZED, "ASan reserves more address space than any limit here")
    def test_a_million_points_fail_fast_under_a_memory_limit(self):
        # Was SIGABRT (an uncaught bad_alloc) under a memory limit.
        with tempfile.TemporaryDirectory() as d:
            path = self.write_sweep(d, None, 1000000)
            rc, _, stderr, _ = run_measured("sweep", path, "--list", address_space=1 << 30, timeout=60)
            self.assertEqual(rc, 1, stderr)
            one_line_error(self, stderr, path)


class ManifestBudgets(unittest.TestCase):
    def test_too_many_layers_fail_fast(self):
        # 300,000 tiny layers (a 17 MB manifest) were all parsed and loaded: 2.9 GB.
        with tempfile.TemporaryDirectory() as d:
            tiny_trace(os.path.join(d, "t"), 300000)
            rc, _, stderr, peak = run_measured("vectors", os.path.join(d, "t"), "--layers", "l0", "--passes", "fwd",
                                               "--out", os.path.join(d, "v"), address_space=None if SANITIZED
                                               else 1 << 30, timeout=60)
            self.assertEqual(rc, 1, stderr)
            one_line_error(self, stderr, "manifest.json", f"more than {MAX_LAYERS} entries in 'layers'",
                           f"at most {MAX_LAYERS} layers")
            if not SANITIZED:
                self.assertLess(peak, 200 * MB)
            self.assertFalse(os.path.exists(os.path.join(d, "v")))

    def test_the_layer_cap_itself_loads(self):
        with tempfile.TemporaryDirectory() as d:
            tiny_trace(os.path.join(d, "t"), MAX_LAYERS)
            mlssim("vectors", os.path.join(d, "t"), "--layers", f"l{MAX_LAYERS - 1}", "--passes", "fwd",
                   "--out", os.path.join(d, "v"))

    def test_too_many_layer_passes(self):
        # 6,667 layers with grad_output run 3 passes each: 20,001 layer-passes.
        count = MAX_LAYER_PASSES // 3 + 1
        with tempfile.TemporaryDirectory() as d:
            tiny_trace(os.path.join(d, "t"), count, grad_output=True)
            p = mlssim("vectors", os.path.join(d, "t"), "--layers", "l0", "--passes", "fwd",
                       "--out", os.path.join(d, "v"), ok=None)
            self.assertEqual(p.returncode, 1, p.stderr)
            one_line_error(self, p.stderr, f"{count} layers make {3 * count} layer-passes",
                           f"at most {MAX_LAYER_PASSES}")

    def test_refused_layers_are_named_first_few_then_counted(self):
        # 40 layers of a kind no simulator knows and 9 good ones: the line names
        # 5 refusals and counts the other 35, and names 5 usable layers of 9.
        rng = np.random.default_rng(1)
        with tempfile.TemporaryDirectory() as d:
            root = os.path.join(d, "t")
            good = [conv_layer(rng, f"ok{i}", 2, 2, 4, batch=1) for i in range(9)]
            write_trace(root, good)
            with open(os.path.join(root, "manifest.json")) as f:
                manifest = json.load(f)
            bad = [{"name": f"pool{i}", "kind": "maxpool2d", "weight": "ok0.weight.npy", "input": "ok0.input.npy"}
                   for i in range(40)]
            manifest["layers"] = bad + manifest["layers"]
            with open(os.path.join(root, "manifest.json"), "w") as f:
                json.dump(manifest, f)
            p = mlssim("run", root, "--quiet", "--no-progress", ok=None)
            self.assertEqual(p.returncode, 1, p.stderr)
            line = one_line_error(self, p.stderr, "40 layers cannot be simulated", "and 35 more",
                                  "run the other 9 layers", "ok0,ok1,ok2,ok3,ok4,", "and 4 more")
            for i in range(NAMED_IN_MESSAGE):
                self.assertIn(f"'pool{i}'", line)
            self.assertNotIn("'pool5'", line)
            self.assertLess(len(line), 2000)


class EnergyOverflow(unittest.TestCase):
    COEFFICIENTS = {"int_add_op": 0.01, "int_add_bit": 0.003, "int_mul_op": 0.05, "int_mul_pp_bit": 0.002,
                    "shift_mux_bit": 0.001, "fp_add_bit": 0.03, "fp_add_align_bit": 0.002, "fp_mul_bit": 0.1,
                    "fp_mul_pp_bit": 0.005}
    FLAT = {"lowbit_mul": 0.2, "fp32_mul": 3.7, "fp32_add": 0.9, "int_acc_add": 0.05, "shift_add_scale": 0.05}

    def refused(self, table, key):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "table.json")
            with open(path, "w") as f:
                json.dump(table, f)
            out = os.path.join(d, "priced.json")
            p = mlssim("energy", REPORT, "--tech", path, "--out", out, ok=None)
            self.assertEqual(p.returncode, 1, p.stdout[-500:] + p.stderr)
            one_line_error(self, p.stderr, path, key)
            self.assertNotIn("inf", p.stdout)
            self.assertFalse(os.path.exists(out))

    def test_finite_coefficient_that_overflows_a_total(self):
        # 1e308 is finite, but 1e308 times a count is not: was accepted, printing
        # inf, JSON null totals and fp32_over_mls 0.0 with exit 0.
        self.refused({"unit": "pJ", "coefficients": dict(self.COEFFICIENTS, fp_mul_bit=1e308)},
                     "coefficients.fp_mul_bit")

    def test_finite_flat_price_that_overflows_a_total(self):
        self.refused({"unit": "pJ", "energy": dict(self.FLAT, fp32_mul=1e308)}, "energy.fp32_mul")

    def test_gated_fraction_is_a_fraction(self):
        # gated_fraction multiplies a price: 1e200 x 1e200 would overflow.
        self.refused({"unit": "pJ", "coefficients": dict(self.COEFFICIENTS, gated_fraction=1e200)},
                     "coefficients.gated_fraction")

    def test_largest_price_gives_finite_totals(self):
        # At the limit (1e250) every total is finite: an exact bound, checked here
        # from the printed JSON, where a non-finite value would be null.
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "table.json")
            with open(path, "w") as f:
                json.dump({"unit": "pJ", "energy": dict(self.FLAT, fp32_mul=1e250)}, f)
            out = os.path.join(d, "priced.json")
            mlssim("energy", REPORT, "--tech", path, "--out", out)
            with open(out) as f:
                energy = json.load(f)["total"]["energy"]
            self.assertGreater(energy["fp32"], 1e250)
            self.assertLess(energy["fp32"], 1e300)
            self.assertIsNotNone(energy["fp32_over_mls"])
            self.assertGreater(energy["fp32_over_mls"], 1.0)


if __name__ == "__main__":
    unittest.main()
