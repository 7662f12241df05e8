"""`mlssim merge` prints the whole run's accumulator overflow summary, as a
one-process run does (docs/scale.md#run---shard-in-and-mlssim-merge): the
overflow and addition counts summed over every shard and the widest
acc_bits_needed of any shard's layer-passes.

The hand-made case: seven shard reports, six of whose layer-passes say
`--acc-bits 17` would have had no overflow and one says 18: the run needs 18.
The expected line is written out here from the counts put into the reports."""
import json
import os
import tempfile
import unittest

import numpy as np

from clitest import mlssim, conv_layer, write_trace


def fnv1a64(data):
    h = 0xcbf29ce484222325
    for byte in data:
        h = ((h ^ byte) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def checksum(layers):
    """A partial report's `shard.checksum`: FNV-1a over the compact JSON text of its layers, keys sorted."""
    return fnv1a64(json.dumps(layers, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode())


def load(path):
    with open(path) as f:
        return json.load(f)


def save(path, report):
    with open(path, "w") as f:
        json.dump(report, f)


def warning_line(overflow, adds, acc_bits, mode, needed):
    return ("warning: %d of %d local-accumulator additions left the %d-bit range (rate %.2e, %s); "
            "--acc-bits %d would have none" % (overflow, adds, acc_bits, overflow / adds, mode, needed))


class MergeOverflow(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.trace = os.path.join(cls.tmp.name, "trace")
        rng = np.random.default_rng(7)
        write_trace(cls.trace, [conv_layer(rng, "a", 8, 4, 6), conv_layer(rng, "b", 6, 8, 6),
                                conv_layer(rng, "c", 4, 6, 5)])

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.tmp.name, name)

    def shards(self, count, *flags):
        parts = []
        for i in range(1, count + 1):
            parts.append(self.path("part%d-%d%s.json" % (i, count, "".join(flags))))
            mlssim("run", self.trace, *flags, "--shard", "%d/%d" % (i, count), "--no-progress", "--quiet",
                   "--report", parts[-1])
        return parts

    def test_the_checksum_is_the_one_run_writes(self):
        part = load(self.shards(2)[0])
        self.assertEqual(checksum(part["layers"]), part["shard"]["checksum"])

    def test_seven_shards_six_needing_17_bits_one_18(self):
        parts = self.shards(7)
        overflow = adds = 0
        for i, path in enumerate(parts):
            part = load(path)
            for j, entry in enumerate(part["layers"]):
                entry["acc_bits_needed"] = 18 if (i, j) == (4, 0) else 17
                entry["events"]["acc_overflow"] = 3 + i
                entry["stats"]["local_accumulator"]["acc_overflow"] = 3 + i
                overflow += 3 + i
                adds += entry["events"]["acc_add"]
            part["shard"]["checksum"] = checksum(part["layers"])
            save(path, part)
        proc = mlssim("merge", *parts, "--report", self.path("merged7.json"))
        self.assertEqual(proc.stderr.strip().splitlines(), [warning_line(overflow, adds, 16, "saturate", 18)])
        total = load(self.path("merged7.json"))["total"]
        self.assertEqual((total["acc_bits_needed"], total["events"]["acc_overflow"]), (18, overflow))

    def test_the_same_line_as_a_one_process_run(self):
        """An 8-bit accumulator overflows for real: the merge prints the line the whole run prints."""
        whole = mlssim("run", self.trace, "--acc-bits", 8, "--no-progress", "--quiet",
                       "--report", self.path("whole8.json"))
        line = whole.stderr.strip().splitlines()
        self.assertEqual(len(line), 1, whole.stderr)
        self.assertIn("would have none", line[0])
        merged = mlssim("merge", *self.shards(3, "--acc-bits", "8"), "--report", self.path("merged8.json"))
        self.assertEqual(merged.stderr.strip().splitlines(), line)

    def test_no_overflow_no_line(self):
        proc = mlssim("merge", *self.shards(2, "--acc-bits", "32"), "--report", self.path("merged32.json"))
        self.assertEqual(proc.stderr, "")
        self.assertEqual(load(self.path("merged32.json"))["total"]["events"]["acc_overflow"], 0)


if __name__ == "__main__":
    unittest.main()
