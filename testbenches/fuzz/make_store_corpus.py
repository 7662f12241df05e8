#!/usr/bin/python3
"""Writes the seed corpora of the store harnesses (docs/fuzzing.md) into
testbenches/fuzz/corpus/<target>/ for fuzz_merge, fuzz_resume and
fuzz_point_record: files the program itself wrote (partial reports of a two-way
split, --resume entries, sweep point records of a small trace) and near misses
(an edit the checksum finds, a negative count, a huge shard count, ...), each
named for what it is. Needs a built mlssim and numpy:

    /usr/bin/python3 testbenches/fuzz/make_store_corpus.py build/sim/mlssim
"""
import copy
import json
import os
import pathlib
import subprocess
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "cli"))
os.environ.setdefault("MLSSIM", "mlssim")
import numpy as np  # noqa: E402
from clitest import conv_layer, linear_layer, write_trace  # noqa: E402
from corpus_writer import write_corpora  # noqa: E402

FNV_BASIS, FNV_PRIME = 0xCBF29CE484222325, 0x100000001B3


def checksum(value, sort_keys=True):
    h = FNV_BASIS
    for b in json.dumps(value, separators=(",", ":"), sort_keys=sort_keys, ensure_ascii=False).encode():
        h = ((h ^ b) * FNV_PRIME) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def text(value):
    return (json.dumps(value, indent=1) + "\n").encode()


def run(mlssim, *args):
    subprocess.run([mlssim, *map(str, args)], check=True, capture_output=True)


def merge_seeds(parts):
    seeds = {"valid_two_parts.json": text(parts), "valid_one_part.json": text(parts[0])}
    edited = copy.deepcopy(parts)
    edited[0]["layers"][0]["cycles"] += 1000
    seeds["bad_edit_without_checksum.json"] = text(edited)

    def resealed(change):
        p = copy.deepcopy(parts)
        change(p)
        for part in p:
            part["shard"]["checksum"] = checksum(part["layers"])
        return text(p)
    seeds["bad_negative_count.json"] = resealed(lambda p: p[0]["layers"][0]["events"].update(acc_add=-1))
    seeds["bad_index_zero.json"] = resealed(lambda p: p[0]["shard"].update(index=0))
    seeds["bad_huge_count.json"] = resealed(lambda p: p[1]["shard"].update(count=2 ** 63))
    seeds["bad_float_count.json"] = resealed(lambda p: p[0]["layers"][0].update(macs=1.5))

    def overflow(p):
        for part in p:
            e = next(e for e in part["layers"] if "m" in e)
            e.update(blocks=2, macs=6 * 10 ** 18, macs_useful=6 * 10 ** 18, cycles=6 * 10 ** 18)
            e["events"].update(mul=6 * 10 ** 18, cycles=6 * 10 ** 18)
    seeds["bad_overflow.json"] = resealed(overflow)
    seeds["bad_same_shard.json"] = text([parts[0], parts[0]])
    return seeds


def resume_seeds(store):
    seeds = {}
    entry_file = json.loads((store / "c1.fwd.json").read_text())
    seeds["valid_c1_fwd.json"] = b"\x01" + text(entry_file)
    seeds["valid_unknown_macs.json"] = b"\x00" + text(entry_file)
    e = copy.deepcopy(entry_file)
    e["entry"]["cycles"] += 1000
    seeds["bad_edit.json"] = b"\x01" + text(e)
    for name, change in [("bad_negative", lambda x: x.update(macs=-1)),
                         ("bad_wrong_macs", lambda x: x.update(macs=x["macs"] + 1)),
                         ("bad_few_cycles", lambda x: x.update(cycles=1))]:
        e = copy.deepcopy(entry_file)
        change(e["entry"])
        e["checksum"] = checksum(e["entry"])
        seeds[name + ".json"] = b"\x01" + text(e)
    seeds["bad_other_layer.json"] = b"\x01" + (store / "fc.fwd.json").read_bytes()
    seeds["bad_old_format.json"] = b"\x01" + text(entry_file["entry"])
    return seeds


def record_seeds(points):
    seeds = {}
    for i, path in enumerate(sorted(points.iterdir())):
        seeds["valid_or_other_point_%d.json" % i] = path.read_bytes()
    first = json.loads(sorted(points.iterdir())[0].read_text())

    def resealed(change):
        r = copy.deepcopy(first)
        change(r)
        r.pop("checksum")
        r["checksum"] = checksum(r, sort_keys=False)
        return text(r)
    seeds["bad_negative_cycles.json"] = resealed(lambda r: r["metrics"].update(cycles=-1))
    seeds["bad_mul_not_macs.json"] = resealed(lambda r: r["metrics"].update(mul=r["metrics"]["mul"] + 1))
    seeds["bad_nan.json"] = resealed(lambda r: r["metrics"].update(utilization=float("nan")))
    edited = copy.deepcopy(first)
    edited["metrics"]["cycles"] += 1000
    seeds["bad_edit.json"] = text(edited)
    return seeds


def main():
    mlssim = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/sim/mlssim")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        rng = np.random.default_rng(5)
        write_trace(tmp / "trace", [conv_layer(rng, "c1", co=4, ci=3, h=5, batch=1),
                                    linear_layer(rng, "fc", 3, 8, rows=2)])
        for i in (1, 2):
            run(mlssim, "run", tmp / "trace", "--quiet", "--no-progress", "--shard", "%d/2" % i,
                "--report", tmp / ("part%d.json" % i))
        parts = [json.loads((tmp / ("part%d.json" % i)).read_text()) for i in (1, 2)]
        run(mlssim, "run", tmp / "trace", "--quiet", "--no-progress", "--resume", tmp / "store")
        (tmp / "s.yaml").write_text("trace: t\npasses: [fwd]\ngrid:\n  elem: [e2m4, e3m4]\n")
        os.symlink(tmp / "trace", tmp / "t")
        subprocess.run([mlssim, "sweep", "s.yaml", "-j", "1", "--out", "res"], check=True, capture_output=True,
                       cwd=tmp)
        corpora = {"fuzz_merge": merge_seeds(parts), "fuzz_resume": resume_seeds(tmp / "store"),
                   "fuzz_point_record": record_seeds(tmp / "res" / "points")}
    write_corpora(corpora)


if __name__ == "__main__":
    main()
