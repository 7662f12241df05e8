#!/usr/bin/env python3
"""One layer-pass through the whole RTL array, held against the SystemC model
and the analytic cycle formula (docs/rtl.md#the-whole-array).

    array_check.py --mlssim BIN --array BIN --trace DIR --layer NAME --pass P
                   --rows R --cols C --work DIR [--fault cycles|values --model-fault F]
                   [--leave] [-- FLAGS]

writes the vectors (`mlssim vectors`), runs the SystemC model (`mlssim run
--check`, ideal memory: the default), runs the RTL (`mls_rtl_array --vectors`)
and requires: the RTL's `mismatches` 0, its `cycles` equal to the SystemC
report's and to the formula of docs/architecture.md evaluated here from the
pass's sizes. With --fault the RTL runs the fault build --model-fault (ctrl or
final-rounding: mls_rtl_array --fault) and the check passes only when that
fault shows: in the cycles (--fault cycles) or in the values (--fault values). FLAGS go to both mlssim commands (formats, --chunk ...).
--leave also compares, edge by edge, when each chunk tile leaves the adder
trees and each output leaves the output accumulators: the RTL's
--leave-log against the SystemC model's VCD (`mlssim run --vcd`: the
adder_tree and output_accumulator `out_valid` signals), both counted from the
first issue edge.
"""
import argparse
import json
import math
import os
import re
import subprocess
import sys


def run(cmd):
    proc = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if proc.returncode not in (0, 1):
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr}")
    return proc


def meta_of(path):
    with open(path) as f:
        return dict(line.split(None, 1) for line in f.read().splitlines())


def pass_chunk(meta, rows, array_chunk):
    """The chunk the pass runs with (docs/rtl.md#row-filling): --chunk, unless a
    block-grouped pass (fill_rows balanced) would leave rows idle, g ceil(k / chunk)
    < R; then the c in [1, min(chunk, k)] with the fewest cycles of chunk tiles,
    ceil(g ceil(k / c) / R) c, the longest on a tie. Evaluated here by
    enumeration, from the pass's sizes, not read from the vectors."""
    g, k = int(meta["g"]), int(meta["k"])
    if meta.get("fill_rows") != "balanced" or g * -(-k // array_chunk) >= rows:
        return array_chunk
    cost = {c: -(-(g * -(-k // c)) // rows) * c for c in range(1, min(array_chunk, k) + 1)}
    return min(cost, key=lambda c: (cost[c], -c))


def formula_cycles(meta, rows, cols, chunk):
    """docs/architecture.md: sum over (m-tile, p, chunk tile) of the tile's
    longest chunk, plus 6 + tree stages (one per level of the R-input tree)."""
    m, p, g, k = (int(meta[key]) for key in ("m", "p", "g", "k"))
    per_group = -(-k // chunk)
    total = g * per_group
    length = [min(chunk, k - (j % per_group) * chunk) for j in range(total)]
    per_block = sum(max(length[t:t + rows]) for t in range(0, total, rows))
    tree_stages = max(1, math.ceil(math.log2(rows)))
    return -(-m // cols) * p * per_block + 6 + tree_stages


def vcd_leave_edges(path):
    """(tile edges, output edges) from the SystemC VCD, relative to the first issue.
    A register written at edge e shows in the VCD half a period later, so each
    signal is sampled at e * period + period / 2."""
    want = {("controller", "issue_valid"): "issue", ("adder_tree", "out_valid"): "tile",
            ("output_accumulator", "out_valid"): "output", ("SystemC", "clk"): "clk"}
    ids, scope, changes, now = {}, [], {}, 0
    with open(path) as f:
        for line in f:
            tok = line.split()
            if not tok:
                continue
            if tok[0] == "$scope":
                scope.append(tok[2])
            elif tok[0] == "$upscope":
                scope.pop()
            elif tok[0] == "$var" and (scope[-1], tok[4]) in want:
                ids[tok[3]] = want[(scope[-1], tok[4])]
            elif tok[0].startswith("#"):
                now = int(tok[0][1:])
            elif tok[0][0] in "01" and tok[0][1:] in ids:
                changes.setdefault(ids[tok[0][1:]], []).append((now, int(tok[0][0])))
    rises = [t for t, v in changes["clk"] if v == 1]
    period = rises[1] - rises[0]

    def high_edges(name):
        edges, since = [], None
        for t, v in changes.get(name, []) + [(now + 1, 0)]:  # the end of the dump
            if v == 1 and since is None:
                since = t
            elif v == 0 and since is not None:
                first = -(-(since - period // 2) // period)
                last = -(-(t - period // 2) // period)
                edges.extend(range(first, last))
                since = None
        return edges

    start = high_edges("issue")[0]
    return [e - start for e in high_edges("tile")], [e - start for e in high_edges("output")]


def rtl_leave_edges(path):
    tiles, outputs = [], []
    with open(path) as f:
        for line in f:
            kind, edge = line.split()[:2]
            (tiles if kind == "tile" else outputs).append(int(edge))
    return tiles, outputs


def vector_sets(vec):
    """The vector sets of one layer-pass: DIR itself, or, for a pass `run`
    simulates as several blocks (DIR/blocks.txt), DIR/block0 .. block<n-1>."""
    listing = os.path.join(vec, "blocks.txt")
    if not os.path.exists(listing):
        return [vec]
    return [os.path.join(vec, f"block{b}") for b in range(int(meta_of(listing)["blocks"]))]


def run_rtl(array, vec, extra=()):
    """mls_rtl_array on every vector set of the pass, one after another: cycles
    and mismatches summed (run sums its blocks' cycles alike), the worst exit
    code, the speed of the longest set, each set's meta.txt; `error` says why
    when a set failed (no result line, or an exit other than 0 and 1)."""
    r = {"cycles": 0, "mismatches": 0, "returncode": 0, "speed": 0.0, "metas": [], "error": ""}
    longest = -1
    for path in vector_sets(vec):
        proc = subprocess.run([array, "--vectors", path, *extra], capture_output=True, text=True,
                              stdin=subprocess.DEVNULL)
        got = re.fullmatch(r"cycles (\d+) mismatches (\d+)", proc.stdout.strip().splitlines()[-1]
                           if proc.stdout.strip() else "")
        if not got or proc.returncode not in (0, 1):
            r["error"] = f"mls_rtl_array printed no result line: {proc.stdout}{proc.stderr}"
            return r
        cycles = int(got.group(1))
        r["cycles"] += cycles
        r["mismatches"] += int(got.group(2))
        r["returncode"] = max(r["returncode"], proc.returncode)
        r["metas"].append(meta_of(os.path.join(path, "meta.txt")))
        speed = re.search(r"([0-9.e+]+) cycles/s", proc.stdout)
        if speed and cycles > longest:
            longest, r["speed"] = cycles, float(speed.group(1))
    return r


def expected(metas, rows, cols, flags, entry):
    """(chunk, formula cycles) of the pass: the formula summed over its blocks,
    each with the chunk evaluated here from its own sizes (a decomposed pass's
    blocks differ); the first block's chunk, which the SystemC report gives.
    An error line as third item when a block's vectors or the report hold
    another chunk."""
    chunks = [pass_chunk(meta, rows, array_chunk(flags)) for meta in metas]
    for meta, chunk in zip(metas, chunks):
        if int(meta["chunk"]) != chunk:
            return chunks[0], None, f"chunk: expected {chunk}, the vectors say {meta['chunk']}"
    if int(entry["chunk"]) != chunks[0]:
        return chunks[0], None, f"chunk: expected {chunks[0]}, the SystemC report says {entry['chunk']}"
    return chunks[0], sum(formula_cycles(m, rows, cols, c) for m, c in zip(metas, chunks)), ""


def array_chunk(flags):
    """The --chunk among the mlssim flags (--chunk N or --chunk=N), else mlssim's default 16."""
    for i, flag in enumerate(flags):
        if flag == "--chunk" and i + 1 < len(flags):
            return int(flags[i + 1])
        if flag.startswith("--chunk="):
            return int(flag.split("=", 1)[1])
    return 16


def parse_args():
    ap = argparse.ArgumentParser()
    for name in ("mlssim", "array", "trace", "layer", "work"):
        ap.add_argument("--" + name, required=True)
    ap.add_argument("--pass", dest="pass_name", required=True)
    ap.add_argument("--rows", type=int, required=True)
    ap.add_argument("--cols", type=int, required=True)
    ap.add_argument("--fault", choices=("cycles", "values"))
    ap.add_argument("--model-fault", choices=("ctrl", "final-rounding"))
    ap.add_argument("--leave", action="store_true")
    ap.add_argument("flags", nargs="*")
    return ap.parse_args()


def main():
    a = parse_args()
    os.makedirs(a.work, exist_ok=True)
    vec = os.path.join(a.work, "vectors")
    report = os.path.join(a.work, "report.json")
    # No grouping flag: both commands take run's default groupings (k32 on
    # linear, matmul and 1x1 conv layers, whose passes fill idle rows).
    common = [a.trace, "--layers", a.layer, "--passes", a.pass_name,
              "--rows", str(a.rows), "--cols", str(a.cols), *a.flags]
    for cmd in ([a.mlssim, "vectors", *common, "--out", vec],
                [a.mlssim, "run", *common, "--check", "--quiet", "--no-progress", "--report", report,
                 *(["--vcd", os.path.join(a.work, "systemc.vcd")] if a.leave else [])]):
        proc = run(cmd)
        if proc.returncode != 0:
            sys.exit(f"{' '.join(cmd)} failed: {proc.stderr}")
    with open(report) as f:
        entry = json.load(f)["layers"][0]
    if not entry["bit_exact"] or entry["stall_cycles"] != 0:
        sys.exit(f"the SystemC run is not bit exact or stalled: {entry}")
    leave_log = os.path.join(a.work, "leave.txt")
    if a.leave and len(vector_sets(vec)) > 1:
        sys.exit("--leave takes a pass of one block (the VCD runs the blocks one after another)")
    rtl = run_rtl(a.array, vec, [*(["--leave-log", leave_log] if a.leave else []),
                                 *(["--fault", a.model_fault] if a.model_fault else [])])
    if rtl["error"]:
        sys.exit(rtl["error"])
    cycles, mismatches, meta = rtl["cycles"], rtl["mismatches"], rtl["metas"][0]
    chunk, formula, why = expected(rtl["metas"], a.rows, a.cols, a.flags, entry)
    if why:
        sys.exit(why)
    blocks = f" ({len(rtl['metas'])} blocks)" if len(rtl["metas"]) > 1 else ""
    print(f"{a.layer} {a.pass_name} {a.rows}x{a.cols}{blocks} g {meta['g']} k {meta['k']} chunk {chunk}: rtl cycles "
          f"{cycles} mismatches {mismatches}, systemc cycles {entry['cycles']}, formula {formula}; rtl "
          f"{rtl['speed']:.3g} cycles/s, systemc {entry['cycles'] / entry['sim_seconds']:.3g} cycles/s")
    leave_ok = True
    if a.leave:
        sc_tiles, sc_outputs = vcd_leave_edges(os.path.join(a.work, "systemc.vcd"))
        rtl_tiles, rtl_outputs = rtl_leave_edges(leave_log)
        leave_ok = sc_tiles == rtl_tiles and sc_outputs == rtl_outputs and len(sc_outputs) > 0
        print(f"leave edges: {len(rtl_tiles)} tiles and {len(rtl_outputs)} outputs in the RTL, "
              f"{len(sc_tiles)} and {len(sc_outputs)} in the SystemC VCD, "
              f"{'all equal' if leave_ok else 'DIFFERENT'}")
    if a.fault == "cycles":
        ok = cycles != entry["cycles"] and cycles != formula
    elif a.fault == "values":
        ok = mismatches > 0 and rtl["returncode"] == 1
    else:
        ok = mismatches == 0 and rtl["returncode"] == 0 and cycles == entry["cycles"] == formula and leave_ok
    if not ok:
        sys.exit("FAIL" + (f": the fault ({a.fault}) went unnoticed" if a.fault else ""))
    print("ok")


if __name__ == "__main__":
    main()
