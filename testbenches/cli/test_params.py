"""The run parameters end to end (docs/developing.md#adding-a-parameter): sweep
point ids, flag defaults, range errors and the report's "config".

The ids below were computed with the code before the parameter table existed
(`mlssim sweep FILE --list`, commit c26f08c) and are the independent
expectation: a point id hashes the canonical parameters, so a change in their
names, order, types or defaults would orphan every finished point of every
results directory. One deliberate exception: the points that set no grouping
(accumulator.yaml, array_shape.yaml, EVERY's first and third) were pinned
again when sweeps left their groupings to `run`'s defaults (docs/sweep.md):
they run differently from before, so their records must not be reused; every
point that sets a grouping keeps its c26f08c id. Run by CTest with MLSSIM =
the built binary and MLSSIM_SOURCE_DIR = the repo root.
"""
import json
import os
import re
import tempfile
import unittest

from clitest import ROOT, mlssim

TRACE = os.path.join(ROOT, "traces", "resnet20-digits")

IDS = {
    "accumulator.yaml": [
        "f7c495bdc55b", "d15720f2dddb", "5d6ecdfd80e7", "8738986f3005", "1995e7d35f84", "3cac45070ceb",
        "250569e86b52", "c28e4b573ab7", "05ebccd2b4fe", "49f3e13a8c1c", "217aa59ab219", "38f62348348f",
        "cb1e5fd5fbc7", "57fe3dcc9608", "a02e6dd9aa96", "8f73c39c94fb", "fd0ed19334a7", "c4d5a3c6d224",
        "756cf0e1ac91", "9d34be7e57c9", "c3c16ccc8087", "a8a01fbbca70", "a1a0823230d8", "979ab45476ab",
        "cfbef9e20462", "8730f1f276c0", "4769ceb3444e", "fe45ff4b3ee2", "af1d0147ca39", "46b43a24097d",
        "3bf0ed6d70ce", "01b2c72d3dd9", "1b8fb163d250", "fc37a5aa3cd0", "f9a2648e6543", "6a2a1d71f159",
        "60ebc4bc0239", "98141e113677", "17ca8df57d75", "95a8a5bb71db", "420bcee3bcae", "dd6644ad11a8",
        "06902001382c", "a9c5dad52aeb", "75b0e9f77c93"],
    "array_shape.yaml": [
        "30d1d5d4c2b9", "d688f020edb5", "9c954fce3b2e", "a10bfe7afe1a", "e85496ecda72", "afa9cd3cc074",
        "1a7e4cd89144", "951dd5ad422a", "795ad15ddabd", "1c08f91fe647", "08ddb0da7c76", "e7e53e3d599c",
        "7b08f366631b", "aa8c24aea9df", "5584c8486d66", "998b48f90a0b"],
    "paper_ablation.yaml": [
        "6d6ab3c7fa36", "2c076191810c", "6d07184e7822", "b07d348e9112", "6206963b8082", "455a2395909a",
        "4aeb0619c231", "e590946e1b1c", "35502ad24108", "3b92998ffec6", "2604d3a0a61f", "a7a4e03a3260",
        "8dbf1bfea7c8", "d27a3b6ca30a", "25afb1fdb939", "8770b42b9b79", "97609a0330a9", "909b6836b324",
        "ddf7c333c2f2", "d251cfb762f6", "17c449dffe9d", "ede8f094069e", "0013d56878e3", "9d3e6fd7d8ec"],
}

# Every parameter set away from its default at least once, names that
# canonicalize (a string "32" for rows), a seed past 2^32 and a table file.
EVERY = """\
trace: trace
passes: fwd,bwd-weight
layers: [a, b]
points:
  - {}
  - {rows: 8, cols: 4, acc_bits: 20, acc_overflow: wrap, chunk: 9, tree_stages: 2, elem: e1m3, scale: e4m0,
     group: tensor, rounding: nearest, seed: 12345678901, clip: true, tech: table.json}
  - {rows: "32", seed: 18446744073, clip: false, tech: mac-65nm}
  - {elem: e0m4, scale: e0m1, group: c}
  - {group: n, rounding: stochastic, acc_overflow: saturate, tree_stages: 0, chunk: 1}
"""
EVERY_IDS = ["6380046932c8", "cbce35fbcf0d", "a911db4460b9", "34d8fa7e6cf4", "6a866e986d9c"]
TABLE = {"tech": "test", "unit": "pJ",
         "energy": {"lowbit_mul": 1, "fp32_mul": 4, "fp32_add": 1, "int_acc_add": 0.1, "shift_add_scale": 0.2}}

DEFAULT_CONFIG = {"rows": 16, "cols": 16, "acc_bits": 16, "acc_overflow": "saturate", "chunk": 16,
                  "tree_stages": 4, "pipeline_depth": 10, "elem": "e2m4", "scale": "e8m1", "group": "nc",
                  "rounding": "stochastic", "seed": 0, "clip": False, "inject_fault": "none"}
FLAGS = ["--rows", "8", "--cols", "4", "--acc-bits", "20", "--acc-overflow", "wrap", "--chunk", "9",
         "--tree-stages", "2", "--elem", "e1m3", "--scale", "e4m0", "--group", "tensor", "--rounding", "nearest",
         "--seed", "18446744073709551615", "--clip", "--inject-fault", "mul-lsb"]
FLAGS_CONFIG = {"rows": 8, "cols": 4, "acc_bits": 20, "acc_overflow": "wrap", "chunk": 9, "tree_stages": 2,
                "pipeline_depth": 8, "elem": "e1m3", "scale": "e4m0", "group": "tensor", "rounding": "nearest",
                "seed": 18446744073709551615, "clip": True, "inject_fault": "mul-lsb"}


def listed_ids(sweep_file):
    out = mlssim("sweep", sweep_file, "--list").stdout
    return [m.group(1) for m in re.finditer(r"^([0-9a-f]{12}) point (\d+)", out, re.M)]


class PointIds(unittest.TestCase):
    def test_example_sweeps_keep_their_ids(self):
        for name, ids in IDS.items():
            with self.subTest(name):
                self.assertEqual(listed_ids(os.path.join(ROOT, "sweeps", name)), ids)

    def test_every_parameter_keeps_its_id(self):
        with tempfile.TemporaryDirectory() as tmp:
            with open(os.path.join(tmp, "table.json"), "w") as f:
                json.dump(TABLE, f)
            path = os.path.join(tmp, "every.yaml")
            with open(path, "w") as f:
                f.write(EVERY)
            self.assertEqual(listed_ids(path), EVERY_IDS)


class FinishedPoints(unittest.TestCase):
    def test_a_record_without_a_parameter_counts_as_its_default(self):
        """A record written before a parameter existed lacks it: the point ran at
        the default, so a resumed sweep keeps the record and the CSV shows the default."""
        with tempfile.TemporaryDirectory() as tmp:
            sweep = os.path.join(tmp, "s.yaml")
            with open(sweep, "w") as f:
                f.write(f"trace: {TRACE}\npasses: fwd\nlayers: conv1\ngrid: {{clip: [false], rows: [8, 16]}}\n")
            out = os.path.join(tmp, "res")
            mlssim("sweep", sweep, "-j", "1", "--out", out)
            points = os.path.join(out, "points")
            for name in os.listdir(points):
                with open(os.path.join(points, name)) as f:
                    record = json.load(f)
                del record["params"]["clip"]
                # as that version wrote it: the checksum (FNV-1a of the compact JSON in file
                # order, without the checksum) of the record without the parameter
                del record["checksum"]
                h = 0xCBF29CE484222325
                for b in json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode():
                    h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
                record["checksum"] = "%016x" % h
                with open(os.path.join(points, name), "w") as f:
                    json.dump(record, f)
            resumed = mlssim("sweep", sweep, "-j", "1", "--out", out)
            self.assertIn("skipped 2 finished point", resumed.stderr)
            with open(os.path.join(out, "results.csv")) as f:
                rows = f.read().splitlines()
            self.assertTrue(rows[0].startswith("index,id,rows,clip,"), rows[0])
            self.assertEqual([row.split(",")[3] for row in rows[1:]], ["false", "false"])


class Flags(unittest.TestCase):
    def test_help_shows_every_flag_with_its_default(self):
        expected = {"run": ["--rows arg (=16)", "--cols arg (=16)", "--acc-bits arg (=16)",
                            "--acc-overflow arg (=saturate)", "--chunk arg (=16)", "--tree-stages arg (=0)",
                            "--inject-fault arg (=none)", "--elem arg (=e2m4)", "--scale arg (=e8m1)",
                            "--group arg (=nc)", "--rounding arg (=stochastic)", "--seed arg (=0)", "--clip",
                            "--tech arg"],
                    "conv": ["--rows arg (=16)", "--acc-bits arg (=16)", "--inject-fault arg (=none)",
                             "--elem arg (=e2m4)", "--seed arg (=0)", "--clip"],
                    "quantize": ["--elem arg (=e2m4)", "--scale arg (=e8m1)", "--group arg (=nc)",
                                 "--rounding arg (=stochastic)", "--seed arg (=0)", "--clip"]}
        for command, flags in expected.items():
            text = mlssim(command, "--help").stdout
            for flag in flags:
                with self.subTest(f"{command} {flag}"):
                    self.assertIn(flag, text)
        self.assertNotIn("--rows", mlssim("quantize", "--help").stdout)
        self.assertNotIn("--tech", mlssim("conv", "--help").stdout)

    def test_out_of_range_values_name_the_flag(self):
        cases = [("--rows", "0", "--rows must be in [1, 1024], got 0"),
                 ("--cols", "1025", "--cols must be in [1, 1024], got 1025"),
                 ("--acc-bits", "7", "--acc-bits must be in [8, 62], got 7"),
                 ("--acc-bits", "63", "--acc-bits must be in [8, 62], got 63"),
                 ("--chunk", "0", "--chunk must be in [1, 65536], got 0"),
                 ("--tree-stages", "5", "--tree-stages must be in [0, max(1, ceil(log2 rows))] = [0, 4], got 5"),
                 ("--seed", "-1", "--seed must be an integer in [0, 2^64 - 1], got '-1'")]
        for flag, value, message in cases:
            with self.subTest(f"{flag} {value}"):
                proc = mlssim("run", TRACE, "--layers", "conv1", "--passes", "fwd", "--quiet", "--no-progress",
                              flag, value, ok=None)
                self.assertEqual(proc.returncode, 1)
                self.assertEqual(proc.stderr, f"mlssim run: error: {message}\n")

    def test_report_config_holds_every_parameter(self):
        with tempfile.TemporaryDirectory() as tmp:
            for flags, config in (([], DEFAULT_CONFIG), (FLAGS, FLAGS_CONFIG)):
                with self.subTest(" ".join(flags) or "defaults"):
                    report = os.path.join(tmp, "r.json")
                    mlssim("run", TRACE, "--layers", "conv1", "--passes", "fwd", "--quiet", "--no-progress",
                           "--report", report, *flags)
                    with open(report) as f:
                        got = json.load(f)["config"]
                    # Every key keeps its value; a parameter added later adds a key.
                    self.assertEqual({key: got.get(key) for key in config}, config)


if __name__ == "__main__":
    unittest.main()
