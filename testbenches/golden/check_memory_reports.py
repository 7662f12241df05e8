"""The memory system against stored reports (docs/testing.md#regression-against-a-stored-report):
the bundled traces run with buffers and a DRAM channel that stall the array, and every
report entry (events, stall cycles, cycles, traffic in bytes and elements, outputs'
bit-exactness) must equal the stored report's, timing fields aside. The stored reports
were recorded from the commit before the memory system lost its own SystemC processes
(issue 25), so any change in when a refill, a stall or a write-back happens fails here.

Run by CTest (trace.memory_reports) with MLSSIM = the built binary and
MLSSIM_SOURCE_DIR = the repo root. Re-bless on purpose with
  mlssim run TRACE FLAGS... --check --expect testbenches/golden/NAME.report.json --bless
"""
import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cli"))
from clitest import TRACES, mlssim, untimed  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))

# (stored report, trace, flags): the first is the memory system of docs/architecture.md's
# speed figures (Y double-buffered in 2 KiB, a 32-byte channel with 20 edges of latency).
CASES = [
    ("resnet20-digits-memory", "resnet20-digits",
     ["--x-buffer-kb", "64", "--y-buffer-kb", "2", "--out-buffer-kb", "4", "--dram-bw", "32",
      "--dram-latency", "20"]),
    ("vit-digits-memory", "vit-digits",
     ["--x-buffer-kb", "4", "--y-buffer-kb", "1", "--out-buffer-kb", "1", "--dram-bw", "0",
      "--dram-latency", "3", "--dataflow", "weight-stationary"]),
]


def comparable(report):
    """The report without its timing fields and the trace's location."""
    r = untimed(report)
    r.pop("trace", None)
    return r


class StoredMemoryReports(unittest.TestCase):
    def test_every_entry_equals_the_stored_report(self):
        for name, trace, flags in CASES:
            with self.subTest(name), tempfile.TemporaryDirectory() as tmp:
                stored = os.path.join(HERE, f"{name}.report.json")
                path = os.path.join(tmp, "r.json")
                mlssim("run", os.path.join(TRACES, trace), *flags, "--check", "--quiet", "--no-progress",
                       "--report", path, "--expect", stored)
                with open(path) as f:
                    got = comparable(json.load(f))
                with open(stored) as f:
                    want = comparable(json.load(f))
                self.assertGreater(want["total"]["stall_cycles"], 0, "the case must stall the array")
                self.assertEqual(len(got["layers"]), len(want["layers"]))
                for g, w in zip(got["layers"], want["layers"]):
                    self.assertEqual(g, w, f"{w['name']} {w['pass']}")
                self.assertEqual(got, want)


if __name__ == "__main__":
    unittest.main()
