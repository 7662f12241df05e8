#!/usr/bin/env python3
"""One layer-pass through the whole RTL array, held against the SystemC model
and the analytic cycle formula (docs/rtl.md#the-whole-array).

    array_check.py --mlssim BIN --array BIN --trace DIR --layer NAME --pass P
                   --rows R --cols C --work DIR [--fault cycles|values] [-- FLAGS]

writes the vectors (`mlssim vectors`), runs the SystemC model (`mlssim run
--check`, ideal memory: the default), runs the RTL (`mls_rtl_array --vectors`)
and requires: the RTL's `mismatches` 0, its `cycles` equal to the SystemC
report's and to the formula of docs/architecture.md evaluated here from the
pass's sizes. With --fault the RTL binary is a fault build and the check passes
only when that fault shows: in the cycles (--fault cycles) or in the values
(--fault values). FLAGS go to both mlssim commands (formats, --chunk ...).
"""
import argparse
import json
import math
import os
import re
import subprocess
import sys
import time


def run(cmd):
    proc = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if proc.returncode not in (0, 1):
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr}")
    return proc


def meta_of(path):
    with open(path) as f:
        return dict(line.split(None, 1) for line in f.read().splitlines())


def formula_cycles(meta, rows, cols):
    """docs/architecture.md: sum over (m-tile, p, chunk tile) of the tile's
    longest chunk, plus 6 + tree stages (one per level of the R-input tree)."""
    m, p, g, k, chunk = (int(meta[key]) for key in ("m", "p", "g", "k", "chunk"))
    per_group = -(-k // chunk)
    total = g * per_group
    length = [min(chunk, k - (j % per_group) * chunk) for j in range(total)]
    per_block = sum(max(length[t:t + rows]) for t in range(0, total, rows))
    tree_stages = max(1, math.ceil(math.log2(rows)))
    return -(-m // cols) * p * per_block + 6 + tree_stages


def main():
    ap = argparse.ArgumentParser()
    for name in ("mlssim", "array", "trace", "layer", "work"):
        ap.add_argument("--" + name, required=True)
    ap.add_argument("--pass", dest="pass_name", required=True)
    ap.add_argument("--rows", type=int, required=True)
    ap.add_argument("--cols", type=int, required=True)
    ap.add_argument("--fault", choices=("cycles", "values"))
    ap.add_argument("flags", nargs="*")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    vec = os.path.join(a.work, "vectors")
    report = os.path.join(a.work, "report.json")
    common = [a.trace, "--layers", a.layer, "--passes", a.pass_name,
              "--rows", str(a.rows), "--cols", str(a.cols), *a.flags]
    for cmd in ([a.mlssim, "vectors", *common, "--out", vec],
                [a.mlssim, "run", *common, "--check", "--quiet", "--no-progress", "--report", report]):
        proc = run(cmd)
        if proc.returncode != 0:
            sys.exit(f"{' '.join(cmd)} failed: {proc.stderr}")
    with open(report) as f:
        entry = json.load(f)["layers"][0]
    if not entry["bit_exact"] or entry["stall_cycles"] != 0:
        sys.exit(f"the SystemC run is not bit exact or stalled: {entry}")
    start = time.monotonic()
    proc = run([a.array, "--vectors", vec])
    seconds = time.monotonic() - start
    last = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    got = re.fullmatch(r"cycles (\d+) mismatches (\d+)", last)
    if not got:
        sys.exit(f"mls_rtl_array printed no result line: {proc.stdout}{proc.stderr}")
    cycles, mismatches = int(got.group(1)), int(got.group(2))
    formula = formula_cycles(meta_of(os.path.join(vec, "meta.txt")), a.rows, a.cols)
    print(f"{a.layer} {a.pass_name} {a.rows}x{a.cols}: rtl cycles {cycles} mismatches {mismatches}, "
          f"systemc cycles {entry['cycles']}, formula {formula}; rtl {cycles / seconds:.3g} cycles/s, "
          f"systemc {entry['cycles'] / entry['sim_seconds']:.3g} cycles/s")
    if a.fault == "cycles":
        ok = cycles != entry["cycles"] and cycles != formula
    elif a.fault == "values":
        ok = mismatches > 0 and proc.returncode == 1
    else:
        ok = mismatches == 0 and proc.returncode == 0 and cycles == entry["cycles"] == formula
    if not ok:
        sys.stderr.write(proc.stderr)
        sys.exit("FAIL" + (f": the fault ({a.fault}) went unnoticed" if a.fault else ""))
    print("ok")


if __name__ == "__main__":
    main()
