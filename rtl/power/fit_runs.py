#!/usr/bin/python3
"""Runs the gate-level flow over the design of experiments that the osu018
energy table is fitted to, and writes rtl/power/osu18_gates.csv
(docs/energy.md#energy-from-gates).

    nice /usr/bin/python3 rtl/power/fit_runs.py [--out CSV] [--jobs N] [--quick]

Every block depends on few parameters, so each gets its own sweep on one
layer-pass (layer2.1.conv1 forward of traces/resnet20-digits):
  multiplier          every element format e0m1..e3m6 (X = Y)
  local accumulator   acc_bits 12..32 at e2m4 and e3m2, a few at e2m1
  group scaler        acc_bits 12..32 at e8m0 and e8m1
  tree, output accumulator, fp units: once (they see fp32 values only).
Rows marked `holdout` (e3m2 and e2m6 multipliers, 20-bit accumulators and
scalers) are left out of the fit and judge it. --quick: a few rows (the test).
"""
import argparse
import concurrent.futures
import csv
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gate_energy as G  # noqa: E402
from gates import blocks as B  # noqa: E402
from gates import fp_units  # noqa: E402
from gates.vectors import PassVectors  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
TRACE, LAYER, PASS = os.path.join(G.ROOT, "traces", "resnet20-digits"), "layer2.1.conv1", "fwd"
ELEMS = ["e0m1", "e0m2", "e0m3", "e0m4", "e0m6", "e1m1", "e1m2", "e1m4", "e2m1", "e2m2", "e2m3", "e2m4", "e2m6",
         "e3m1", "e3m2", "e3m4", "e3m6"]
ACC_RUNS = [("e2m4", a) for a in (12, 16, 20, 24, 28, 32)] + [("e3m2", a) for a in (12, 16, 20, 24, 32)] + \
           [("e2m1", a) for a in (12, 16, 24)]
SCALE_RUNS = [(s, a) for s in ("e8m0", "e8m1") for a in (12, 16, 20, 24, 28, 32)]
HOLDOUT_ELEMS, HOLDOUT_ACC = {"e3m2", "e2m6"}, 20
FIELDS = ["block", "role", "elem", "scale", "acc_bits", "energy_pj", "internal_pj", "switching_pj", "leakage_pj",
          "cells", "area_um2", "actions"]
QUICK = {"elems": ["e2m1", "e3m2"], "acc": [("e2m4", 16)], "scale": [("e8m1", 16)]}


class Args:
    def __init__(self, elem, scale, acc_bits):
        self.elem, self.scale, self.acc_bits = elem, scale, acc_bits
        self.trace, self.layers, self.passes, self.vector_flags = TRACE, LAYER, PASS, []


def vectors(mlssim, elem, scale, acc_bits, tmp):
    out = os.path.join(tmp, f"{elem}-{scale}-{acc_bits}")
    if not os.path.exists(out):
        G.write_vectors(Args(elem, scale, acc_bits), mlssim, out)
    return PassVectors(out)


def plan(mlssim, tmp, quick):
    """(row fields, [blocks]) of every run; a row's energy is its blocks' first
    less the rest (the local accumulator: PE less multiplier)."""
    runs = []
    for elem in (QUICK["elems"] if quick else ELEMS):
        v = vectors(mlssim, elem, "e8m1", 16, tmp)
        role = "holdout" if elem in HOLDOUT_ELEMS else "fit"
        runs.append(({"block": "multiplier", "role": role, "elem": elem},
                     [B.multiplier(v, B.parse_format(elem, "elem"), G.PRODUCTS)]))
    for elem, acc in (QUICK["acc"] if quick else ACC_RUNS):
        v = vectors(mlssim, elem, "e8m1", acc, tmp)
        f = B.parse_format(elem, "elem")
        role = "holdout" if acc == HOLDOUT_ACC else "fit"
        runs.append(({"block": "local_accumulator", "role": role, "elem": elem, "acc_bits": acc},
                     [B.processing_element(v, f, acc, 0, G.PRODUCTS), B.multiplier(v, f, G.PRODUCTS)]))
    for scale, acc in (QUICK["scale"] if quick else SCALE_RUNS):
        v = vectors(mlssim, "e2m4", scale, acc, tmp)
        role = "holdout" if acc == HOLDOUT_ACC else "fit"
        runs.append(({"block": "group_scaler", "role": role, "scale": scale, "acc_bits": acc},
                     [B.group_scaler(v, B.parse_format(scale, "scale"), acc, G.CHUNKS)]))
    if not quick:
        v = vectors(mlssim, "e2m4", "e8m1", 16, tmp)
        fixed = [B.adder_tree(v, G.TREE_OUTPUTS), B.output_accumulator(v, G.OUTPUTS)] + \
            fp_units.blocks(v, G.OUTPUTS, G.PRODUCTS, TRACE, LAYER)
        runs += [({"block": b.name, "role": "fit"}, [b]) for b in fixed]
    return runs


def row_of(fields, results):
    first, rest = results[0], results[1:]
    row = {k: "" for k in FIELDS}
    row.update(fields)
    for k in ("energy_pj", "internal_pj", "switching_pj", "leakage_pj", "cells", "area_um2"):
        value = first[k] - sum(r[k] for r in rest)
        row[k] = f"{value:.6g}" if isinstance(value, float) else value
    row["actions"] = first["actions"]
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(HERE, "osu018_gates.csv"))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--cache", default=os.path.join(G.ROOT, "build", "gate_cache"))
    ap.add_argument("--mlssim")
    args = ap.parse_args()
    G.check_tools()
    mlssim = G.find_mlssim(args.mlssim)
    with tempfile.TemporaryDirectory() as tmp:
        runs = plan(mlssim, tmp, args.quick)
    blocks = [b for _, bs in runs for b in bs]
    os.makedirs(args.cache, exist_ok=True)
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        measured = iter(list(pool.map(lambda b: G.measure(b, args.cache, 100.0), blocks)))
    rows = [row_of(fields, [next(measured) for _ in bs]) for fields, bs in runs]
    tmp_out = args.out + ".tmp"
    with open(tmp_out, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    os.replace(tmp_out, args.out)
    for r in rows:
        print(" ".join(f"{r[k]}" for k in FIELDS))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (G.FlowError, G.RegistryError, G.steps.StepError) as e:
        print(f"fit_runs: {e}", file=sys.stderr)
        sys.exit(1)
