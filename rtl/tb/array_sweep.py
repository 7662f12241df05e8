#!/usr/bin/env python3
"""Many layer-passes through the whole RTL array, each held against the
SystemC model and the analytic cycle formula (docs/rtl.md#checking-a-whole-trace):
the reviewer's check of a trace of their own.

    array_sweep.py --mlssim BIN --array BIN --trace DIR --work DIR
                   [--layers A,B] [--passes fwd,bwd-data,bwd-weight]
                   [--shapes 4x8,6x12] [--leave] [--keep] [-- FLAGS]

For each shape: one `mlssim run --check` over the layers and passes (its
report gives the SystemC cycles; FLAGS as given, so the layers take run's
default groupings unless FLAGS set one), then per layer-pass `mlssim vectors`
and `mls_rtl_array --vectors` (a model is built on first use per
configuration). Prints one line per layer-pass: layer, pass, shape, RTL
cycles, SystemC cycles, the formula's, mismatches and a verdict; then a
summary. Layers default to every layer of the trace, passes to all three.
A layer-pass the RTL flow does not take (unquantized, several blocks) is
listed as refused with the reason; it is not a disagreement. Exit 0 when
every checked layer-pass agrees (and none failed), 1 otherwise.
--leave also compares each chunk tile's and output's leave edge with the
SystemC VCD (one VCD per layer-pass: slow on large layers). The vectors of
a layer-pass are deleted once it is checked unless --keep.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from array_check import expected, rtl_leave_edges, run_rtl, vcd_leave_edges, vector_sets  # noqa: E402

PASSES = ("fwd", "bwd-data", "bwd-weight")


def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)


def last_line(text):
    lines = text.strip().splitlines()
    return lines[-1] if lines else ""


def trace_layers(trace):
    with open(os.path.join(trace, "manifest.json")) as f:
        return [entry["name"] for entry in json.load(f)["layers"]]


def systemc_report(a, rows, cols, work):
    """One SystemC run over every layer-pass of this shape: {(layer, pass): entry}."""
    report = os.path.join(work, "report.json")
    proc = run([a.mlssim, "run", a.trace, "--layers", ",".join(a.layers), "--passes", ",".join(a.passes),
                "--rows", str(rows), "--cols", str(cols), *a.flags, "--check", "--quiet", "--no-progress",
                "--report", report])
    if proc.returncode != 0:
        sys.exit(f"mlssim run at {rows}x{cols} failed ({proc.returncode}): {last_line(proc.stderr)}")
    with open(report) as f:
        return {(e["name"], e["pass"]): e for e in json.load(f)["layers"]}


def systemc_vcd_edges(a, layer, pass_name, rows, cols, work):
    vcd = os.path.join(work, "systemc.vcd")
    proc = run([a.mlssim, "run", a.trace, "--layers", layer, "--passes", pass_name, "--rows", str(rows),
                "--cols", str(cols), *a.flags, "--quiet", "--no-progress", "--vcd", vcd])
    if proc.returncode != 0:
        return None
    edges = vcd_leave_edges(vcd)
    os.remove(vcd)
    return edges


def refusal(entry):
    if entry is None:
        return "not in the SystemC report"
    if entry.get("unquantized"):
        return "unquantized (not simulated)"
    return None


def check_pass(a, layer, pass_name, rows, cols, entry, work):
    """One layer-pass: a dict with the figures and `verdict` (ok, DIFFERENT, FAILED, refused)."""
    r = {"layer": layer, "pass": pass_name, "shape": f"{rows}x{cols}"}
    why = refusal(entry)
    if why:
        return {**r, "verdict": "refused", "why": why}
    vec = os.path.join(work, "vectors")
    shutil.rmtree(vec, ignore_errors=True)
    common = [a.trace, "--layers", layer, "--passes", pass_name, "--rows", str(rows), "--cols", str(cols), *a.flags]
    proc = run([a.mlssim, "vectors", *common, "--out", vec])
    if proc.returncode != 0:
        return {**r, "verdict": "FAILED", "why": "mlssim vectors: " + last_line(proc.stderr)}
    leave_log = os.path.join(work, "leave.txt")
    leave = a.leave and len(vector_sets(vec)) == 1  # the VCD of several blocks is not compared
    t0 = time.time()
    rtl = run_rtl(a.array, vec, ["--leave-log", leave_log] if leave else [])
    r["rtl_seconds"] = time.time() - t0
    if rtl["error"]:
        return {**r, "verdict": "FAILED", "why": last_line(rtl["error"])}
    chunk, formula, why = expected(rtl["metas"], rows, cols, a.flags, entry)
    meta = rtl["metas"][0]
    r.update(rtl=rtl["cycles"], mismatches=rtl["mismatches"], systemc=int(entry["cycles"]), formula=formula,
             chunk=chunk, bit_exact=entry["bit_exact"], g=int(meta["g"]), k=int(meta["k"]), blocks=len(rtl["metas"]),
             rtl_cycles_per_s=rtl["speed"],
             systemc_cycles_per_s=entry["cycles"] / entry["sim_seconds"] if entry["sim_seconds"] else 0.0)
    agree = (not why and r["mismatches"] == 0 and rtl["returncode"] == 0 and r["rtl"] == r["systemc"] == formula
             and r["bit_exact"] and entry["stall_cycles"] == 0)
    if why:
        r["why"] = why
    if leave and agree:
        edges = systemc_vcd_edges(a, layer, pass_name, rows, cols, work)
        agree = edges is not None and edges == rtl_leave_edges(leave_log) and len(edges[1]) > 0
        r["leave"] = "equal" if agree else "DIFFERENT"
    if not a.keep:
        shutil.rmtree(vec, ignore_errors=True)
    return {**r, "verdict": "ok" if agree else "DIFFERENT"}


def line_of(r):
    head = f"{r['layer']} {r['pass']} {r['shape']}"
    if r["verdict"] in ("refused", "FAILED"):
        return f"{head}: {r['verdict']}: {r['why']}"
    if r.get("blocks", 1) > 1:
        head += f" ({r['blocks']} blocks)"
    return (f"{head} g {r['g']} k {r['k']} chunk {r['chunk']}: rtl cycles {r['rtl']}, systemc cycles "
            f"{r['systemc']}, formula {r['formula']}, mismatches {r['mismatches']}"
            + (f", leave edges {r['leave']}" if "leave" in r else "") + f": {r['verdict']}"
            + (f" ({r['why']})" if r.get("why") else ""))


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for name in ("mlssim", "array", "trace", "work"):
        ap.add_argument("--" + name, required=True)
    ap.add_argument("--layers", help="comma-separated (default: every layer of the trace)")
    ap.add_argument("--passes", default=",".join(PASSES))
    ap.add_argument("--shapes", default="4x8", help="comma-separated RxC")
    ap.add_argument("--leave", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep each layer-pass's vectors")
    ap.add_argument("--json", help="also write every layer-pass's figures here")
    ap.add_argument("flags", nargs="*", help="flags for both mlssim commands (formats, --chunk, --group ...)")
    a = ap.parse_args()
    a.layers = a.layers.split(",") if a.layers else trace_layers(a.trace)
    a.passes = a.passes.split(",")
    for p in a.passes:
        if p not in PASSES:
            ap.error(f"unknown pass {p!r} (expected {', '.join(PASSES)})")
    try:
        a.shapes = [tuple(int(n) for n in s.lower().split("x")) for s in a.shapes.split(",")]
    except ValueError:
        ap.error(f"--shapes: expected RxC[,RxC...], got {a.shapes!r}")
    return a


def main():
    a = parse_args()
    results = []
    for rows, cols in a.shapes:
        work = os.path.join(a.work, f"{rows}x{cols}")
        os.makedirs(work, exist_ok=True)
        entries = systemc_report(a, rows, cols, work)
        for layer in a.layers:
            for pass_name in a.passes:
                r = check_pass(a, layer, pass_name, rows, cols, entries.get((layer, pass_name)), work)
                print(line_of(r), flush=True)
                results.append(r)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)
    count = {v: sum(r["verdict"] == v for r in results) for v in ("ok", "DIFFERENT", "FAILED", "refused")}
    cycles = sum(r.get("rtl", 0) for r in results if r["verdict"] == "ok")
    print(f"summary: {len(results)} layer-passes at {len(a.shapes)} shape(s): {count['ok']} agree "
          f"({cycles} RTL cycles, 0 mismatches), {count['DIFFERENT']} disagree, {count['FAILED']} failed, "
          f"{count['refused']} refused")
    return 0 if count["DIFFERENT"] == 0 and count["FAILED"] == 0 and count["ok"] > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
