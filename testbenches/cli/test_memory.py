"""The memory system and the dataflows end to end (docs/architecture.md#the-memory-system):
the report's traffic against the tensors' sizes, stalls against the bandwidth,
the refusal of a buffer smaller than one tile, and every dataflow bit-exact with
today's cycles under the ideal memory.

Run by CTest with MLSSIM = the built binary and MLSSIM_SOURCE_DIR = the repo root.
"""
import json
import math
import os
import tempfile
import unittest

import numpy as np

from clitest import TRACES, mlssim

TRACE = os.path.join(TRACES, "resnet20-digits")
LAYER = "layer1.0.conv1"  # 3x3, stride 1, pad 1: every input element is read
BYTE_KEYS = ["dram_read_bytes", "dram_write_bytes", "x_buffer_read_bytes", "y_buffer_read_bytes",
             "out_buffer_write_bytes", "x_dram_read_bytes", "y_dram_read_bytes"]
ELEMENT_KEYS = ["x_dram_read", "x_scale_dram_read", "y_dram_read", "y_scale_dram_read", "out_dram_write",
                "x_buffer_read", "x_scale_buffer_read", "y_buffer_read", "y_scale_buffer_read", "out_buffer_write"]


def shape(tensor):
    return np.load(os.path.join(TRACE, f"{LAYER}.{tensor}.npy"), mmap_mode="r").shape


def run(tmp, *flags, check=True, layers=LAYER):
    path = os.path.join(tmp, "r.json")
    if os.path.exists(path):
        os.remove(path)
    proc = mlssim("run", TRACE, "--layers", layers, "--quiet", "--no-progress", "--report", path, *flags,
                  ok=True if check else None)
    if proc.returncode != 0:
        return proc, None
    with open(path) as f:
        return proc, json.load(f)


class Traffic(unittest.TestCase):
    def test_keys_in_every_entry_and_the_total(self):
        with tempfile.TemporaryDirectory() as tmp:
            _, r = run(tmp, "--passes", "fwd,bwd-data,bwd-weight")
        for entry in r["layers"] + [r["total"]]:
            with self.subTest(entry.get("pass", "total")):
                self.assertEqual(entry["stall_cycles"], 0)
                for key in BYTE_KEYS:
                    self.assertIn(key, entry["traffic"])
                for key in ELEMENT_KEYS:
                    self.assertIn(key, entry["traffic"]["elements"])
        for key in BYTE_KEYS:
            self.assertEqual(r["total"]["traffic"][key], sum(l["traffic"][key] for l in r["layers"]))

    def test_compulsory_traffic_when_everything_fits(self):
        # Ideal memory and large buffers with a finite bandwidth both read each
        # tensor element and group scale once; a streaming Y buffer reads more.
        w, a = shape("weight"), shape("input")
        co, ci, n = w[0], w[1], a[0]
        elem_bits, scale_bits = 1 + 2 + 4, 8 + 1  # e2m4, e8m1
        with tempfile.TemporaryDirectory() as tmp:
            for flags in ([], ["--x-buffer-kb", 1024, "--y-buffer-kb", 1024, "--dram-bw", 16]):
                with self.subTest(flags=flags):
                    _, r = run(tmp, "--passes", "fwd", *flags)
                    e = r["layers"][0]["traffic"]["elements"]
                    self.assertEqual(e["x_dram_read"], math.prod(w))
                    self.assertEqual(e["y_dram_read"], math.prod(a))
                    self.assertEqual(e["x_scale_dram_read"], co * ci)  # nc grouping
                    self.assertEqual(e["y_scale_dram_read"], n * ci)
                    bits = (math.prod(w) + math.prod(a)) * elem_bits + (co * ci + n * ci) * scale_bits
                    self.assertGreaterEqual(r["layers"][0]["traffic"]["dram_read_bytes"], bits // 8)
                    self.assertEqual(r["layers"][0]["traffic"]["dram_write_bytes"], 4 * co * math.prod(a) // ci)
            _, r = run(tmp, "--passes", "fwd", "--y-buffer-kb", 1, "--dram-bw", 16)
            self.assertGreater(r["layers"][0]["traffic"]["elements"]["y_dram_read"], math.prod(a))

    def test_bandwidth_bound_cycles(self):
        # One byte per cycle: the pass cannot end before its bytes have moved,
        # and the channel never idles, so it ends within 1% + 64 cycles of that.
        with tempfile.TemporaryDirectory() as tmp:
            _, r = run(tmp, "--passes", "fwd", "--dram-bw", 1, "--check")
        l = r["layers"][0]
        moved = l["traffic"]["dram_read_bytes"] + l["traffic"]["dram_write_bytes"]
        self.assertTrue(l["bit_exact"])
        issues = l["cycles"] - l["stall_cycles"] - l["events"]["pipeline_depth"]
        self.assertGreater(moved, 2 * issues, "the case must be bandwidth bound")
        self.assertGreaterEqual(l["cycles"], moved)
        self.assertLessEqual(l["cycles"], moved + moved // 100 + 64)
        self.assertGreater(l["stall_cycles"], 0)


class Refusals(unittest.TestCase):
    def test_a_buffer_smaller_than_one_tile_is_refused_before_anything_runs(self):
        with tempfile.TemporaryDirectory() as tmp:
            for flag in ("--x-buffer-kb", "--y-buffer-kb"):
                with self.subTest(flag):
                    # conv1's backward-weight tiles (X: 16 columns x 2 x 1024
                    # elements; Y: 2 x 1024) pass 1 KiB: refused before layer1 runs.
                    proc, r = run(tmp, flag, 1, "--passes", "fwd,bwd-weight", check=False,
                                  layers="conv1,layer1.0.conv1")
                    self.assertEqual(proc.returncode, 1)
                    self.assertIsNone(r)
                    self.assertEqual(proc.stdout, "")
                    lines = proc.stderr.splitlines()
                    self.assertEqual(len(lines), 1, proc.stderr)
                    self.assertIn(f"{flag} must hold one", lines[0])
                    self.assertRegex(lines[0], r"\(\d+ bytes\), got 1 KiB \(layer 'conv1' bwd-weight\)$")

    def test_bad_values(self):
        with tempfile.TemporaryDirectory() as tmp:
            for flags, message in ((["--dataflow", "diagonal"], "unknown dataflow"),
                                   (["--dram-bw", "-1"], "--dram-bw must be in [0, 1048576]")):
                proc, _ = run(tmp, *flags, check=False)
                self.assertEqual(proc.returncode, 1)
                self.assertIn(message, proc.stderr)


class Dataflows(unittest.TestCase):
    def test_every_dataflow_is_bit_exact_with_todays_cycles(self):
        with tempfile.TemporaryDirectory() as tmp:
            _, base = run(tmp, "--passes", "fwd,bwd-data,bwd-weight", "--check")
            for df in ("baseline", "weight-stationary", "output-stationary"):
                with self.subTest(df):
                    _, r = run(tmp, "--passes", "fwd,bwd-data,bwd-weight", "--check", "--dataflow", df)
                    self.assertEqual(r["config"]["dataflow"], df)
                    self.assertTrue(r["total"]["bit_exact"])
                    for got, want in zip(r["layers"], base["layers"]):
                        self.assertEqual(got["cycles"], want["cycles"])
                        self.assertEqual(got["events"]["mul"], want["events"]["mul"])
                        if df == "weight-stationary":  # X held for every p: read once per m-tile
                            self.assertEqual(got["events"]["read_x"] * got["p"], want["events"]["read_x"])


if __name__ == "__main__":
    unittest.main()
