#!/usr/bin/python3
"""Energy of the whole array on one layer-pass, from gates, against the sum of
per-block energies the `osu018` table predicts (docs/rtl.md#power-of-the-whole-array).

    /usr/bin/python3 rtl/power/array_energy.py --trace DIR --layers NAME --passes P
        --mls-ref LIB [--rows 4 --cols 8] [--clock-mhz 100] [--json FILE]
        [--mlssim PATH] [--cache DIR] [--jobs 2]

rtl/src/mls_array.sv (mls_rtl_array's formats: e2m4, e8m1, a 16-bit saturating
accumulator) is synthesized to the OSU 0.18 um cells as one netlist
(gates/array_netlist.py), Verilated with cell models generated from the
liberty (gates/cell_models.py) and run by rtl/tb/tb_array.cpp, unchanged, on
what `mlssim vectors` writes for the pass: the netlist must give the golden
outputs (0 mismatches) and the RTL's cycles. Verilator's toggle counters over
the pass (operand loading excluded, netlist_tb/Vmls_array.h) times OpenSTA's
per-pin energies, plus leakage, give the array's energy (gates/steps.py, as
for one block), per block by instance path. `mlssim run --tech osu018` on the
same pass gives the model's per-block sum. --mls-ref is the testbench's
library (build/ref/libmls_ref.a). Netlist, per-pin energies and binary are
cached under --cache (default build/gate_cache) by sources and scripts.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gate_energy import FlowError, check_tools, digest, write_atomically  # noqa: E402
from gates import array_netlist as A  # noqa: E402
from gates import cell_models, steps  # noqa: E402
from gates.model_sum import ModelError, model_energy  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))
from mlssim_registry import RegistryError, find_mlssim  # noqa: E402
HERE = os.path.dirname(os.path.abspath(__file__))
TB = os.path.join(ROOT, "rtl", "tb", "tb_array.cpp")
# Bump when the flow changes in a way the cache key (work_dir) misses: the
# renaming, the block map, the cell models, the pin-energy parse.
FLOW_VERSION = 1


def work_dir(cache, rows, cols):
    """What the netlist, its energies and its simulator depend on: the RTL, the
    Yosys script, the testbench and its wrapper (and FLOW_VERSION for the rest)."""
    files = A.sources() + [TB, os.path.join(HERE, "netlist_tb", "Vmls_array.h")]
    texts = b"".join(open(f, "rb").read() for f in files)
    return os.path.join(cache, f"array-{rows}x{cols}-{digest(texts, A.synthesis_script(rows, cols), FLOW_VERSION)}")


def cached(path, make):
    """The JSON at path, made by make() once."""
    if not os.path.exists(path):
        value = make()
        write_atomically(path, json.dumps(value))
    with open(path) as f:
        return json.load(f)


def verilate(work, rows, cols, mls_ref, jobs):
    """The netlist's simulator: tb_array.cpp on the Verilated netlist."""
    binary = os.path.join(work, "obj", "mls_netlist_array")
    if os.path.exists(binary):
        return binary
    with open(os.path.join(work, "sim.v")) as f:
        used = A.used_cells(f.read())
    with open(os.path.join(work, "cells.v"), "w") as f:
        f.write(cell_models.verilog_models(steps.LIBERTY, used))
    defines = " ".join(f"-DMLS_ARR_{k}={v}" for k, v in A.parameters(rows, cols).items())
    # -O0: the netlist's C++ is about 1.5 kB per cell with the toggle counters;
    # g++ at Verilator's -Os takes about four times as long for a faster run.
    cflags = f"-std=c++17 -O0 -I{ROOT} -I{ROOT}/rtl/tb -I{HERE}/netlist_tb {defines}"
    cmd = ["verilator", "--cc", "--exe", "--build", "-j", str(jobs), "--prefix", "Vgates_array",
           "--top-module", "mls_array", "-Wno-fatal", "-Wno-lint", "-Wno-style", "--x-assign", "fast",
           "--x-initial", "fast", "--coverage-toggle", "--coverage-underscore", "--Mdir", "obj",
           "-MAKEFLAGS", "OPT_FAST=-O0 OPT_SLOW=-O0 OPT_GLOBAL=-O0", "-CFLAGS", cflags,
           "-LDFLAGS", f"{os.path.abspath(mls_ref)} -lpthread", "-o", "mls_netlist_array",
           "sim.v", "cells.v", TB]
    steps.run(cmd, work, "verilator (the array's netlist)")
    return binary


def read_toggles(path, scope=None):
    """{net bit: transitions} from Verilator's coverage file (toggle points),
    of the instance named scope only when given."""
    toggles = {}
    with open(path, encoding="latin-1") as f:
        for line in f:
            m = re.match(r"C '(.*)' (\d+)$", line.rstrip("\n"))
            if not m:
                continue
            fields = dict(kv.split("\x02", 1) for kv in m.group(1).split("\x01") if "\x02" in kv)
            if scope and not fields.get("h", "").endswith("." + scope):
                continue
            if fields.get("page", "").startswith("v_toggle/"):
                toggles[fields["o"]] = toggles.get(fields["o"], 0) + int(m.group(2))
    return toggles


def simulate(binary, vectors, work):
    """Runs the pass; returns the testbench's figures and the toggles."""
    out = os.path.join(work, "toggles.dat")
    env = dict(os.environ, MLS_TOGGLE_OUT=out)
    start = time.time()
    r = subprocess.run([binary, "--vectors", vectors], capture_output=True, text=True, env=env)
    seconds = time.time() - start
    last = (r.stdout.strip().splitlines() or [""])[-1]
    m = re.match(r"cycles (\d+) mismatches (\d+)$", last)
    if r.returncode != 0 or not m or m.group(2) != "0":
        raise FlowError(f"the netlist's run failed: {last or r.stderr.strip()[-300:]}")
    with open(out + ".edges") as f:
        edges = int(f.read())
    toggles = read_toggles(out)
    os.remove(out)
    return {"cycles": int(m.group(1)), "window_edges": edges, "seconds": seconds, "toggles": toggles}


def write_vectors(mlssim, args, out):
    cmd = [mlssim, "vectors", args.trace, "--layers", args.layers, "--passes", args.passes, "--rows", str(args.rows),
           "--cols", str(args.cols), "--out", out]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise FlowError((r.stderr.strip().splitlines() or ["mlssim vectors failed"])[-1])


def prepare(args):
    """The cached netlist, block map, per-pin energies and simulator."""
    work = work_dir(args.cache, args.rows, args.cols)
    os.makedirs(work, exist_ok=True)
    blocks = cached(os.path.join(work, "blocks.json"), lambda: A.synthesize(work, args.rows, args.cols))
    energies = cached(os.path.join(work, "pins.json"), lambda: steps.pin_energy(work, top="mls_array"))
    binary = verilate(work, args.rows, args.cols, args.mls_ref, args.jobs)
    return work, blocks, energies, binary


def gate_energy(args, mlssim):
    work, blocks, energies, binary = prepare(args)
    with tempfile.TemporaryDirectory() as tmp:
        write_vectors(mlssim, args, os.path.join(tmp, "v"))
        run = simulate(binary, os.path.join(tmp, "v"), tmp)
    # The window: the edges from the one that starts the pass to the one that
    # raises done_o (the clock and leakage of those edges).
    window = {"cycles": run["window_edges"], "toggles": run["toggles"]}
    energy = steps.combine(work, window, energies, args.clock_mhz, group_of=blocks)
    to_pj = {k: {q: (v * 1e12 if q != "cells" else v) for q, v in g.items()} for k, g in energy["groups"].items()}
    clock = clock_pins_pj(work, energies, blocks, run["window_edges"])
    for name, g in to_pj.items():
        g["energy"] = g["internal"] + g["switching"] + g["leakage"]
        g["clock_pins"] = clock.get(name, 0.0)
    return {"cycles": run["cycles"], "window_edges": run["window_edges"], "sim_seconds": run["seconds"],
            "nets_counted": len(run["toggles"]), "blocks": to_pj,
            "clock_net_not_priced_pj": clock_net_pj(work, run["window_edges"]),
            "energy_pj": sum(g["energy"] for g in to_pj.values())}


def clock_net_pj(work, cycles):
    """The clock net's own charging, which neither flow prices (an ideal clock:
    OpenSTA charges the nets its cells drive; clk_i is a port): C V^2 / 2 per
    transition of the clock pins' capacitance, two transitions per cycle. No
    wire or clock buffers: a lower bound on a clock tree."""
    caps, volts = cell_models.pin_capacitances(steps.LIBERTY)
    farads = sum(caps.get((cell, pin), 0.0) * 1e-12 for cell, pins in steps.netlist_pins(
        os.path.join(work, "sta.v")).values() for pin, net in pins.items() if net == "clk_i")
    return farads * volts ** 2 / 2 * 2 * cycles * 1e12


def clock_pins_pj(work, energies, blocks, cycles):
    """Per block, the internal energy of its flip-flops' clock pins over the
    window (part of its energy): what clocking the registers costs."""
    instances = steps.netlist_pins(os.path.join(work, "sta.v"))
    out = {}
    for pin, e in energies["pins"].items():
        inst, port = pin.split("/")
        if instances[inst][1].get(port) == "clk_i":
            block = blocks.get(inst, "other")
            out[block] = out.get(block, 0.0) + e["internal"] * 2 * cycles * 1e12
    return out


def compare(gates, model):
    """Per block: gates, model (pJ), gates / model; the blocks the model does not price."""
    rows = []
    for block in A.MODEL_BLOCKS:
        g, m = gates["blocks"].get(block, {}).get("energy", 0.0), model["by_block"].get(block, 0.0)
        rows.append({"block": block, "gates_pj": g, "model_pj": m, "ratio": g / m if m else None})
    for block in sorted(set(gates["blocks"]) - set(A.MODEL_BLOCKS)):
        rows.append({"block": block, "gates_pj": gates["blocks"][block]["energy"], "model_pj": 0.0, "ratio": None})
    return rows


def print_table(result):
    macs = result["model"]["macs"]
    print(f"{'block':22} {'gates pJ':>13} {'model pJ':>13} {'gates/model':>11}  cells")
    for row in result["comparison"]:
        ratio = f"{row['ratio']:.3f}" if row["ratio"] else "-"
        cells = result["gates"]["blocks"].get(row["block"], {}).get("cells", 0)
        print(f"{row['block']:22} {row['gates_pj']:13.6g} {row['model_pj']:13.6g} {ratio:>11}  {cells}")
    g, m = result["gates"]["energy_pj"], result["model"]["sum_pj"]
    print(f"{'array':22} {g:13.6g} {m:13.6g} {g / m:11.3f}")
    print(f"per MAC ({macs} MACs): gates {g / macs:.4f} pJ, model {m / macs:.4f} pJ")
    print(f"not in either: the clock net's charging, {result['gates']['clock_net_not_priced_pj']:.6g} pJ")
    print(f"cycles: netlist {result['gates']['cycles']}, model {result['model']['cycles']}; "
          f"netlist simulation {result['gates']['sim_seconds']:.1f} s")


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trace", required=True)
    ap.add_argument("--layers", required=True)
    ap.add_argument("--passes", required=True)
    ap.add_argument("--rows", type=int, default=4)
    ap.add_argument("--cols", type=int, default=8)
    ap.add_argument("--mls-ref", required=True)
    ap.add_argument("--clock-mhz", type=float, default=100.0)
    ap.add_argument("--json")
    ap.add_argument("--mlssim")
    ap.add_argument("--cache", default=os.path.join(ROOT, "build", "gate_cache"))
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args(argv)
    if args.rows < 2 or args.cols < 1:
        ap.error("--rows must be at least 2 and --cols at least 1 (the RTL array's limits)")
    if not os.path.exists(args.mls_ref):
        ap.error(f"--mls-ref {args.mls_ref}: not found (build the mls_ref target)")
    return args


def main(argv):
    args = parse_args(argv)
    try:
        check_tools()
        mlssim = find_mlssim(args.mlssim)
        model = model_energy(mlssim, args.trace, args.layers, args.passes, args.rows, args.cols)
        gates = gate_energy(args, mlssim)
    except (FlowError, RegistryError, steps.StepError, cell_models.CellModelError, ModelError, OSError) as e:
        print(f"array_energy: {e}", file=sys.stderr)
        return 1
    if gates["cycles"] != model["cycles"]:
        print(f"array_energy: the netlist ran {gates['cycles']} cycles, the SystemC model {model['cycles']}",
              file=sys.stderr)
        return 1
    result = {"config": {"trace": args.trace, "layer": args.layers, "pass": args.passes, "rows": args.rows,
                         "cols": args.cols, "clock_mhz": args.clock_mhz, "liberty": steps.LIBERTY},
              "gates": gates, "model": model, "comparison": compare(gates, model)}
    if args.json:
        write_atomically(args.json, json.dumps(result, indent=1, sort_keys=True) + "\n")
    print_table(result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
