"""Counts read back from files are checked, and totals never wrap (issue 29, findings 3 and 4).

Shards' partial reports (merge, run -j), --resume entries and sweep point records
each carry a checksum of their content; a well-formed hand edit is found by it,
and counts that are negative, out of range or inconsistent with each other (macs
= m x p x g x k, events.mul = macs, cycles x rows x cols >= macs) are refused even
under a matching checksum. A merge part that fails is refused naming the file; a
resume entry that fails is computed again; a sweep point record that fails is
computed again by a sweep and refused, naming the file, by sweep --merge. Totals
are summed with checked arithmetic: an overflow is one error line and exit 1.

The checksum is computed here independently: FNV-1a (64-bit, standard basis) over
the compact JSON text (keys sorted for reports; in file order for point records).
"""
import copy
import json
import os
import tempfile
import unittest

import numpy as np

from clitest import mlssim, conv_layer, linear_layer, write_trace, load_json

FNV_BASIS, FNV_PRIME = 0xCBF29CE484222325, 0x100000001B3


def fnv1a64(data):
    h = FNV_BASIS
    for b in data:
        h = ((h ^ b) * FNV_PRIME) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def checksum(value, sort_keys=True):
    return fnv1a64(json.dumps(value, separators=(",", ":"), sort_keys=sort_keys, ensure_ascii=False).encode())


def save(path, value):
    with open(path, "w") as f:
        json.dump(value, f, indent=1)


class Base(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name
        rng = np.random.default_rng(5)
        self.trace = os.path.join(self.dir, "trace")
        write_trace(self.trace, [conv_layer(rng, "c1", co=4, ci=3, h=5, batch=1),
                                 linear_layer(rng, "fc", 3, 8, rows=2)])

    def tearDown(self):
        self.tmp.cleanup()

    def p(self, name):
        return os.path.join(self.dir, name)

    def assert_refused(self, proc, *words):
        self.assertEqual(proc.returncode, 1, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, proc.stderr)
        for w in words:
            self.assertIn(w, lines[0])


class MergeParts(Base):
    def setUp(self):
        super().setUp()
        self.parts = []
        for i in (1, 2):
            part = self.p("part%d.json" % i)
            mlssim("run", self.trace, "--quiet", "--no-progress", "--shard", "%d/2" % i, "--report", part)
            self.parts.append(part)

    def edited(self, index, edit, reseal=True):
        """Part `index` (0-based) changed by edit(part), written under a new name."""
        part = load_json(self.parts[index])
        edit(part)
        if reseal:
            part["shard"]["checksum"] = checksum(part["layers"])
        path = self.p("edited%d.json" % index)
        save(path, part)
        return path

    def merge(self, *parts, ok=False):
        return mlssim("merge", *parts, "--report", self.p("merged.json"), ok=ok)

    def test_an_untouched_part_carries_the_checksum_of_its_layers(self):
        for part in self.parts:
            p = load_json(part)
            self.assertEqual(p["shard"]["checksum"], checksum(p["layers"]))
        self.merge(*self.parts, ok=True)

    def test_a_well_formed_edit_is_refused_naming_the_file(self):
        def more_cycles(part):
            part["layers"][0]["cycles"] += 1000
            part["layers"][0]["events"]["cycles"] += 1000
        bad = self.edited(0, more_cycles, reseal=False)
        self.assert_refused(self.merge(bad, self.parts[1]), bad, "checksum")
        self.assertFalse(os.path.exists(self.p("merged.json")))

    def test_negative_counts_are_refused_under_a_matching_checksum(self):
        def negative(part):
            part["layers"][0]["events"]["acc_add"] = -5
        bad = self.edited(0, negative)
        self.assert_refused(self.merge(bad, self.parts[1]), bad, "acc_add", "negative")

    def test_counts_that_contradict_the_shape_are_refused(self):
        def wrong_macs(part):
            e = part["layers"][0]
            e["macs"] += 1
        bad = self.edited(0, wrong_macs)
        self.assert_refused(self.merge(bad, self.parts[1]), bad, "macs")

        def too_few_cycles(part):
            e = part["layers"][0]
            e["cycles"] = e["events"]["cycles"] = 1
        bad = self.edited(0, too_few_cycles)
        self.assert_refused(self.merge(bad, self.parts[1]), bad, "cycles")

    def test_shard_index_zero_is_refused(self):
        bad = self.edited(0, lambda part: part["shard"].update(index=0))
        self.assert_refused(self.merge(bad, self.parts[1]), bad, "index")

    def test_a_huge_shard_count_is_printed_as_it_is(self):
        bad = self.edited(1, lambda part: part["shard"].update(count=2 ** 63))
        proc = self.merge(self.parts[0], bad)
        self.assert_refused(proc, bad, "9223372036854775808")
        self.assertNotIn("/0 ", proc.stderr)

    def test_totals_that_overflow_are_an_error_not_a_wrapped_number(self):
        big = 6 * 10 ** 18  # two of them pass 2^63 - 1

        def huge(part):
            e = next(e for e in part["layers"] if "m" in e)
            e["blocks"] = 2  # m x p x g x k is one block's: no shape equality to keep
            e["macs"] = e["macs_useful"] = e["events"]["mul"] = big
            e["cycles"] = e["events"]["cycles"] = big
        a, b = self.edited(0, huge), self.edited(1, huge)
        proc = self.merge(a, b)
        self.assert_refused(proc, "overflows", "macs")
        self.assertFalse(os.path.exists(self.p("merged.json")))


class ResumeStore(Base):
    def run_resume(self, store, report):
        return mlssim("run", self.trace, "--quiet", "--no-progress", "--resume", store, "--report", report)

    def entries(self, store):
        return sorted(n for n in os.listdir(store) if n != "run.json" and n.endswith(".json"))

    def counts(self, report):
        return [(e["name"], e["pass"], e["macs"], e["cycles"], e["events"]) for e in load_json(report)["layers"]]

    def test_edited_and_damaged_entries_are_computed_again(self):
        store, clean = self.p("store"), self.p("clean.json")
        self.run_resume(store, clean)
        names = self.entries(store)
        self.assertGreaterEqual(len(names), 4)
        edits = [
            lambda e: e.update(cycles=e["cycles"] + 1000),  # a well-formed edit: the checksum finds it
            lambda e: e.update(macs=-1),
            lambda e: e.update(macs=2 ** 62, macs_useful=2 ** 62),
        ]
        for name, edit in zip(names, edits):
            path = os.path.join(store, name)
            stored = load_json(path)
            entry = stored.get("entry", stored)
            edit(entry)
            save(path, stored)
        resumed = self.p("resumed.json")
        proc = self.run_resume(store, resumed)
        self.assertEqual(self.counts(resumed), self.counts(clean))
        self.assertEqual(proc.stderr.count("computed again"), len(edits), proc.stderr)
        for name in names[:len(edits)]:
            self.assertIn(name, proc.stderr)
        again = mlssim("run", self.trace, "--quiet", "--resume", store, "--report", self.p("r2.json"))
        self.assertEqual(again.stderr.count("(resumed)"), len(names), again.stderr)
        self.assertEqual(self.counts(self.p("r2.json")), self.counts(clean))


class SweepRecords(Base):
    def setUp(self):
        super().setUp()
        self.sweep = self.p("s.yaml")
        with open(self.sweep, "w") as f:
            f.write("trace: %s\npasses: [fwd]\ngrid:\n  elem: [e2m4, e3m4]\n" % self.trace)
        self.out = self.p("res")
        mlssim("sweep", self.sweep, "-j", "1", "--out", self.out)
        self.points = os.path.join(self.out, "points")
        self.names = sorted(os.listdir(self.points))

    def test_records_carry_a_checksum_of_their_content(self):
        for n in self.names:
            r = load_json(os.path.join(self.points, n))
            body = {k: v for k, v in r.items() if k != "checksum"}
            self.assertEqual(r["checksum"], checksum(body, sort_keys=False))

    def edit(self, name, change, reseal):
        path = os.path.join(self.points, name)
        r = load_json(path)
        change(r)
        if reseal:
            r["checksum"] = checksum({k: v for k, v in r.items() if k != "checksum"}, sort_keys=False)
        save(path, r)
        return path

    def test_a_bad_record_is_computed_again_by_a_sweep(self):
        with open(os.path.join(self.out, "results.csv")) as f:
            clean_csv = f.read()
        self.edit(self.names[0], lambda r: r["metrics"].update(cycles=-1), reseal=True)
        self.edit(self.names[1], lambda r: r["metrics"].update(mul=r["metrics"]["mul"] + 7), reseal=False)
        proc = mlssim("sweep", self.sweep, "-j", "1", "--out", self.out)
        self.assertEqual(proc.stderr.count("computed again"), 2, proc.stderr)
        with open(os.path.join(self.out, "results.csv")) as f:
            self.assertEqual(f.read(), clean_csv)
        self.assertNotIn(",-1", clean_csv)

    def test_a_bad_record_is_refused_by_merge_naming_the_file(self):
        results = os.path.join(self.out, "results.csv")
        os.remove(results)
        bad = self.edit(self.names[0], lambda r: r["metrics"].update(cycles=r["metrics"]["cycles"] + 1000),
                        reseal=False)
        proc = mlssim("sweep", self.sweep, "--merge", "--out", self.out, ok=False)
        self.assert_refused(proc, bad, "checksum")
        self.assertFalse(os.path.exists(results))


if __name__ == "__main__":
    unittest.main()
