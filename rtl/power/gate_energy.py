#!/usr/bin/python3
"""Energy per action of the MLS array's blocks from gate-level power analysis
(docs/energy.md#11-energy-from-gates, where the command line and the output layout are stated).

    /usr/bin/python3 rtl/power/gate_energy.py --elem E --scale S --acc-bits N --trace DIR
        --layers NAME --passes P [--clock-mhz F] --out FILE.ert.yaml [--json FILE.json]
        [--mlssim PATH] [--cache DIR]

For one configuration and one layer-pass of a trace: `mlssim vectors` writes
the pass's codes; each block (element multiplier, PE, group scaler, adder
tree, output accumulator, and the fp units whose RTL is in rtl/src) is
synthesized to the OSU 0.18 um cells (Yosys), simulated on its operand stream
from that pass (Icarus), and priced by OpenSTA's per-pin energies times the
simulated transitions (rtl/power/gates/steps.py). Writes the energy per
action in pJ as an ERT in the layout of `mlssim energy --export-ert`, and with
--json the per-block cells, area, internal/switching/leakage split and the
number of actions simulated. Results are cached per block under --cache
(default build/gate_cache) by netlist and stimulus.
"""
import argparse
import concurrent.futures
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gates import blocks as B  # noqa: E402
from gates import fp_units  # noqa: E402
from gates import steps  # noqa: E402
from gates.vectors import PassVectors, VectorError  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))
# The binary: --mlssim PATH, $MLSSIM, build/sim/mlssim, then PATH (RegistryError when none).
from mlssim_registry import RegistryError, find_mlssim  # noqa: E402,F401
# Bump when the pin-energy parse or the combination of energies changes: it
# invalidates cached results the netlist key does not cover.
FLOW_VERSION = 1
# Actions simulated per block (a sample of the pass, docs/energy.md#energy-from-gates).
PRODUCTS, CHUNKS, OUTPUTS = 3000, 1500, 120
# The 16-row tree is 25,000 cells: Icarus takes about 0.3 s per cycle, so it sees fewer outputs.
TREE_OUTPUTS = 48
# Formats and widths the RTL and the flow support.
ELEM_E, ELEM_M, ACC_RANGE = range(0, 4), range(0, 7), range(8, 33)


class FlowError(Exception):
    pass


def check_tools():
    packages = [("yosys", "yosys"), ("iverilog", "iverilog"), ("vvp", "iverilog"), ("sta", "opensta")]
    for tool, package in packages:
        if not shutil.which(tool):
            raise FlowError(f"{tool} not found: install the Debian package {package} (.ci/install-deps)")
    for path in (steps.LIBERTY, steps.CELLS_V):
        if not os.path.exists(path):
            raise FlowError(f"{path} not found: install the Debian package qflow-tech-osu018 (.ci/install-deps)")


def check_config(args):
    e, m = B.parse_format(args.elem, "--elem")
    if e not in ELEM_E or m not in ELEM_M or e + m == 0:
        raise FlowError(f"--elem {args.elem}: unsupported width (the flow takes e0m1..e3m6)")
    eg, mg = B.parse_format(args.scale, "--scale")
    if mg > 1 or eg > 8:
        raise FlowError(f"--scale {args.scale}: unsupported width (the RTL's scaler takes E_g <= 8, M_g 0 or 1)")
    if args.acc_bits not in ACC_RANGE:
        raise FlowError(f"--acc-bits {args.acc_bits}: unsupported width (the flow takes 8..32)")
    if args.clock_mhz <= 0:
        raise FlowError(f"--clock-mhz {args.clock_mhz}: must be positive")
    return (e, m), (eg, mg)


def write_vectors(args, mlssim, out):
    cmd = [mlssim, "vectors", args.trace, "--layers", args.layers, "--passes", args.passes, "--elem", args.elem,
           "--scale", args.scale, "--acc-bits", str(args.acc_bits), "--out", out] + args.vector_flags
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise FlowError((r.stderr.strip().splitlines() or ["mlssim vectors failed"])[-1])


def digest(*parts):
    h = hashlib.sha256()
    for p in parts:
        h.update(p if isinstance(p, bytes) else json.dumps(p, sort_keys=True).encode())
    return h.hexdigest()[:20]


def netlist_key(block):
    """What the netlist depends on: the block, its harness, its RTL, the Yosys script."""
    sources = b"".join(open(f, "rb").read() for f in block.source_files())
    sources += "".join(block.texts[name] for name in sorted(block.texts)).encode()
    return digest(block.name, block.wrapper(), sources, steps.synthesis_script(block), FLOW_VERSION)


def measure(block, cache, clock_mhz):
    """One block: synthesis and per-pin energies cached by netlist, the
    simulation by stimulus too. Returns the per-action figures."""
    nkey = netlist_key(block)
    work = os.path.join(cache, f"{block.name}-{nkey}")
    words = block.stimulus_words()
    skey = digest(words_digest(words), clock_mhz, block.actions)
    result_path = os.path.join(work, f"run-{skey}.json")
    if os.path.exists(result_path):
        with open(result_path) as f:
            return json.load(f)
    os.makedirs(work, exist_ok=True)
    if not os.path.exists(os.path.join(work, "pins.json")):
        cells = steps.synthesize(block, work)
        energies = steps.pin_energy(work)
        with open(os.path.join(work, "cells.json"), "w") as f:
            json.dump(cells, f)
        with open(os.path.join(work, "pins.json"), "w") as f:
            json.dump(energies, f)
    with open(os.path.join(work, "cells.json")) as f:
        cells = json.load(f)
    with open(os.path.join(work, "pins.json")) as f:
        energies = json.load(f)
    sim_dir = tempfile.mkdtemp(dir=work)
    try:
        for name in ("sim.v",):
            shutil.copy(os.path.join(work, name), sim_dir)
        toggles = steps.simulate(block, sim_dir)
    finally:
        shutil.rmtree(sim_dir, ignore_errors=True)
    energy = steps.combine(work, toggles, energies, clock_mhz)
    per = 1e12 / block.actions
    result = {"cells": energy["cells"], "area_um2": cells["area_um2"], "internal_pj": energy["internal"] * per,
              "switching_pj": energy["switching"] * per, "leakage_pj": energy["leakage"] * per,
              "actions": block.actions, "cycles": toggles["cycles"],
              "activity_source": "icarus zero-delay simulation of the netlist on the pass's operands, "
                                 "per-net transitions x OpenSTA per-pin energies"}
    result["energy_pj"] = result["internal_pj"] + result["switching_pj"] + result["leakage_pj"]
    tmp = result_path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(result, f)
    os.replace(tmp, result_path)
    return result


def words_digest(words):
    return hashlib.sha256("\n".join(map(str, words)).encode()).digest()


def build_blocks(v, elem, scale, acc_bits, wrap, trace, layer):
    blocks = [B.multiplier(v, elem, PRODUCTS), B.processing_element(v, elem, acc_bits, wrap, PRODUCTS),
              B.group_scaler(v, scale, acc_bits, CHUNKS), B.adder_tree(v, TREE_OUTPUTS),
              B.output_accumulator(v, OUTPUTS)]
    return blocks + fp_units.blocks(v, OUTPUTS, PRODUCTS, trace, layer)


def derive(results):
    """The local accumulator (PE less multiplier), the fp32 add as the array
    uses it (tree and output accumulator, weighted by their additions)."""
    pe, mul = results["pe"], results["multiplier"]
    acc = {k: pe[k] - mul[k] for k in ("internal_pj", "switching_pj", "leakage_pj", "energy_pj", "cells",
                                       "area_um2")}
    acc.update(actions=pe["actions"], activity_source="pe - multiplier on the same products")
    results["local_accumulator"] = acc
    return results


def fp32_add_price(results):
    tree, oacc = results["adder_tree"], results["output_accumulator"]
    return ((tree["energy_pj"] * tree["actions"] + oacc["energy_pj"] * oacc["actions"]) /
            (tree["actions"] + oacc["actions"]))


# (component, action, price) in the order `mlssim energy --export-ert` writes them.
def ert_entries(results):
    # A gated product (--gating) holds the operand registers and the accumulator
    # (clock gated): no net switches, so it costs the blocks' leakage for the cycle
    # (docs/energy.md#data-dependence).
    entries = [("mls_array.multiplier", "mul", results["multiplier"]["energy_pj"]),
               ("mls_array.multiplier", "mul_gated", results["multiplier"]["leakage_pj"]),
               ("mls_array.local_accumulator", "add", results["local_accumulator"]["energy_pj"]),
               ("mls_array.local_accumulator", "add_gated", results["local_accumulator"]["leakage_pj"]),
               ("mls_array.group_scaler", "scale", results["group_scaler"]["energy_pj"]),
               ("fp_units.fp32", "add", fp32_add_price(results))]
    for name, component, action in fp_units.ERT_ORDER:
        if name in results:
            entries.append((component, action, results[name]["energy_pj"]))
    return entries


def ert_text(entries, note):
    text = ("# Energy reference table (Accelergy ERT layout), written by rtl/power/gate_energy.py.\n"
            f"# Energy per action in pJ, from gates (OSU 0.18 um cells, Yosys, Icarus, OpenSTA)\n# for {note}.\n"
            "ERT:\n  version: '0.3'\n  tables:\n")
    open_component = None
    for component, action, price in entries:
        if component != open_component:
            text += f"  - name: {component}\n    actions:\n"
            open_component = component
        text += f"    - name: {action}\n      arguments: null\n      energy: {price!r}\n"
    return text


def write_atomically(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--elem", required=True)
    ap.add_argument("--scale", required=True)
    ap.add_argument("--acc-bits", type=int, required=True)
    ap.add_argument("--acc-overflow", default="saturate", choices=["saturate", "wrap"])
    ap.add_argument("--trace", required=True)
    ap.add_argument("--layers", required=True)
    ap.add_argument("--passes", required=True)
    ap.add_argument("--clock-mhz", type=float, default=100.0)
    ap.add_argument("--out", required=True)
    ap.add_argument("--json")
    ap.add_argument("--mlssim")
    ap.add_argument("--cache", default=os.path.join(ROOT, "build", "gate_cache"))
    ap.add_argument("--jobs", type=int, default=2)
    args, rest = ap.parse_known_args(argv)
    # Per-operand formats go to mlssim vectors as they are (--elem-w, --elem-a, --elem-e, ...).
    for flag in rest[::2]:
        if not flag.startswith(("--elem-", "--scale-")):
            ap.error(f"unrecognized argument {flag}")
    args.vector_flags = rest
    return args


def run_flow(args):
    check_tools()
    elem, scale = check_config(args)
    mlssim = find_mlssim(args.mlssim)
    with tempfile.TemporaryDirectory() as tmp:
        write_vectors(args, mlssim, os.path.join(tmp, "v"))
        v = PassVectors(os.path.join(tmp, "v"))
    todo = build_blocks(v, elem, scale, args.acc_bits, int(args.acc_overflow == "wrap"), args.trace, args.layers)
    os.makedirs(args.cache, exist_ok=True)
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        measured = list(pool.map(lambda b: measure(b, args.cache, args.clock_mhz), todo))
    results = derive({b.name: r for b, r in zip(todo, measured)})
    note = (f"elements {args.elem}, group scales {args.scale}, a {args.acc_bits}-bit accumulator, "
            f"{args.layers} {args.passes} of {args.trace}, {args.clock_mhz:g} MHz")
    return results, ert_text(ert_entries(results), note)


def main(argv):
    args = parse_args(argv)
    try:
        results, ert = run_flow(args)
    except (FlowError, RegistryError, VectorError, steps.StepError, OSError) as e:
        print(f"gate_energy: {e}", file=sys.stderr)
        return 1
    write_atomically(args.out, ert)
    if args.json:
        doc = {"config": {"elem": args.elem, "scale": args.scale, "acc_bits": args.acc_bits,
                          "trace": args.trace, "layer": args.layers, "pass": args.passes,
                          "clock_mhz": args.clock_mhz, "liberty": steps.LIBERTY},
               "blocks": results, "fp32_add_array_pj": fp32_add_price(results)}
        write_atomically(args.json, json.dumps(doc, indent=1, sort_keys=True) + "\n")
    for name, r in sorted(results.items()):
        print(f"{name:20} {r['energy_pj']:9.4f} pJ/action  (int {r['internal_pj']:.4f} sw {r['switching_pj']:.4f} "
              f"leak {r['leakage_pj']:.5f})  cells {r['cells']}  actions {r['actions']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
