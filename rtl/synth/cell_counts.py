#!/usr/bin/python3
"""Synthesizes each RTL block with Yosys for a set of formats and tabulates the
cell counts (docs/rtl.md#cell-counts).

Every block is flattened, synthesized with `synth` and mapped by ABC to a
generic gate library (AND, NAND, OR, NOR, XOR, XNOR, MUX; ABC adds NOT), so the
counts compare designs, not technologies. Flip-flops are counted apart.

    /usr/bin/python3 rtl/synth/cell_counts.py [--out CSV] [--jobs N] [--quick]

--quick synthesizes one configuration per block of the MLS array (a smoke test
of the flow); --baselines only the baseline designs' units (fp32_mul, fp32_add,
bf16_mul, fp8_e4m3_mul, fp16_add), each read alone as its module specialized
to the unit (rtl/baselines.py: the adders are fp_add, the multipliers fp_mul,
at the format's widths).
"""
import argparse
import concurrent.futures
import csv
import json
import os
import subprocess
import sys
import tempfile

RTL = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, RTL)
import baselines  # noqa: E402
SOURCES = ["mls_elem_decode", "mls_elem_mul", "mls_pe", "mls_group_scaler", "mls_fp32_add",
           "mls_adder_tree", "mls_out_acc"]
GATES = "AND,NAND,OR,NOR,XOR,XNOR,MUX"
FIELDS = ["block", "config", "elem", "acc_bits", "scale", "rows", "cells", "logic_cells", "flip_flops"]

ELEM_FORMATS = ["e0m1", "e0m2", "e0m3", "e0m4", "e0m6", "e1m1", "e1m2", "e1m4", "e2m1", "e2m2", "e2m3",
                "e2m4", "e2m6", "e3m1", "e3m2", "e3m4", "e3m6"]
ACC_BITS = [12, 16, 20, 24, 28, 32]
SCALE_FORMATS = ["e8m0", "e8m1"]
TREE_ROWS = [2, 4, 8, 16]


def parse_format(name):
    e, m = name[1:].split("m")
    return int(e), int(m)


def configs(quick, baselines_only=False):
    """(block, top module, parameters, table fields) of every synthesis run."""
    units = [("baseline", b, {}, {"config": b}) for b in baselines.UNITS]
    if baselines_only:
        return units
    runs = []
    for f in ELEM_FORMATS[11:12] if quick else ELEM_FORMATS:
        e, m = parse_format(f)
        runs.append(("mul", "mls_elem_mul", {"EX": e, "MX": m, "EY": e, "MY": m}, {"elem": f}))
    for a in ACC_BITS[1:2] if quick else ACC_BITS:
        runs.append(("pe", "mls_pe", {"EX": 2, "MX": 4, "EY": 2, "MY": 4, "ACC_BITS": a},
                     {"elem": "e2m4", "acc_bits": a}))
    for s in SCALE_FORMATS[1:] if quick else SCALE_FORMATS:
        e, m = parse_format(s)
        for a in ACC_BITS[1:2] if quick else ACC_BITS:
            runs.append(("scaler", "mls_group_scaler", {"ACC_BITS": a, "EGX": e, "MGX": m, "EGY": e, "MGY": m},
                         {"acc_bits": a, "scale": s}))
    if not quick:
        runs.append(("fp32_add", "mls_fp32_add", {}, {}))
    for r in TREE_ROWS[:1] if quick else TREE_ROWS:
        runs.append(("tree", "mls_adder_tree", {"ROWS": r}, {"rows": r}))
    return runs if quick else runs + units


def synthesize(top, params):
    """Cell counts of one run: (all cells, flip-flops). A baseline unit is read
    alone, as its module specialized to the unit (the power flow reads it so)."""
    chparams = "".join(f" -chparam {k} {v}" for k, v in params.items())
    with tempfile.TemporaryDirectory() as tmp:
        if top in baselines.UNITS:
            files = baselines.write_specialized(top, tmp)
        else:
            files = " ".join(os.path.join(RTL, "src", s + ".sv") for s in SOURCES)
        stat = os.path.join(tmp, "stat.json")
        script = (f"read_verilog -sv {files}; hierarchy -top {top}{chparams}; synth -flatten -top {top}; "
                  f"abc -g {GATES}; opt_clean; tee -q -o {stat} stat -json")
        r = subprocess.run(["yosys", "-q", "-p", script], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"yosys failed on {top} {params}: {r.stderr.strip() or r.stdout.strip()}")
        with open(stat) as f:
            modules = json.load(f)["modules"]
    # After the flattening synthesis the top (renamed by -chparam) is the only module.
    if len(modules) != 1:
        raise RuntimeError(f"yosys left {len(modules)} modules for {top} {params}")
    design = next(iter(modules.values()))
    cells = design["num_cells"]
    flops = sum(n for name, n in design["num_cells_by_type"].items() if "DFF" in name)
    return cells, flops


def expected_flip_flops(block, params):
    """Registers the RTL declares, so a synthesis that optimised a block away
    (or a block that lost its registers) is caught: the PE's accumulator and
    overflow flag; per tree level the live slots (value + valid) and the tile's
    valid bit and 2-bit tag; none in the combinational blocks."""
    if block == "pe":
        return params["ACC_BITS"] + 1
    if block == "tree":
        rows, levels, flops = params["ROWS"], 0, 0
        while (1 << levels) < rows:
            levels += 1
            flops += -(-rows // (1 << levels)) * 33 + 3
        return flops
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(RTL, "synth", "cell_counts.csv"))
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--baselines", action="store_true")
    args = ap.parse_args()
    runs = configs(args.quick, args.baselines)
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        results = list(pool.map(lambda run: synthesize(run[1], run[2]), runs))
    rows = []
    for (block, top, params, fields), (cells, flops) in zip(runs, results):
        if flops != expected_flip_flops(block, params) or cells <= flops:
            raise RuntimeError(f"{block} {params}: {cells} cells, {flops} flip-flops; "
                               f"expected {expected_flip_flops(block, params)} flip-flops and some logic")
        config = " ".join(f"{k}={v}" for k, v in params.items()) or "-"
        rows.append({"block": block, "config": config, "elem": "", "acc_bits": "", "scale": "", "rows": "",
                     **fields, "cells": cells, "logic_cells": cells - flops, "flip_flops": flops})
    tmp = args.out + ".tmp"
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        w.writeheader()
        w.writerows(rows)
    os.replace(tmp, args.out)
    for r in rows:
        print(f"{r['block']:9} {r['config']:48} cells {r['cells']:6}  flip-flops {r['flip_flops']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
