"""The run parameters end to end (docs/developing.md#adding-a-parameter): sweep
point ids, flag defaults, range errors and the report's "config".

The ids below were computed with the code before the parameter table existed
(`mlssim sweep FILE --list`, commit c26f08c) and are the independent
expectation: a point id hashes the canonical parameters, so a change in their
names, order, types or defaults would orphan every finished point of every
results directory. Run by CTest with MLSSIM = the built binary and
MLSSIM_SOURCE_DIR = the repo root.
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
        "08d91a89a617", "2a9ce2bcded3", "d935832fdc49", "3dbf85a0b620", "f7703b0fa114", "0fcf2cff1af7",
        "105f93a6d357", "70e09b7d60ea", "f0952e01aec0", "023511eae5cb", "245ff7c43882", "641feabd3034",
        "9c3873d59418", "8b2280200f5e", "35220ca8201b", "c4f8b91dd6d5", "cedf56f90e67", "b841570d129a",
        "cc1867847461", "1ef3ef6868c2", "15657784b595", "8cc66112fa90", "17a3ad793693", "6c9ddc320977",
        "0c067756712b", "7ceb3e91b368", "fe05a4a2b04b", "bca4bf80a94a", "f79b30376b57", "8ae4c88d9ffe",
        "5108f716766a", "039ac6a944d2", "eb74968a2924", "25b497a5e2ca", "8e087373025d", "c3c6af9fbe42",
        "7786455ce8e5", "28d1c1dbda0b", "908d13f8b65b", "7dc7d1be28c4", "c7364db44f6c", "1cd816f109ea",
        "ef5adea4e801", "f9c11606051c", "e8445e3a58be"],
    "array_shape.yaml": [
        "9b4fb10a8c6c", "a95160ff7793", "4b9b402aeff9", "4a1f5ffd7d4d", "aed0af932bf6", "bee13d7ef757",
        "7c4db0652ef1", "0892cd03045d", "743a44affc4e", "9d41570c6861", "bf7e0a2e0a7a", "30d2e90c876c",
        "49f45a6d4351", "c9b20a950831", "0478a492a02f", "a705bdcd3332"],
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
EVERY_IDS = ["9fd07350fe9b", "cbce35fbcf0d", "1d0f4ce38f60", "34d8fa7e6cf4", "6a866e986d9c"]
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
