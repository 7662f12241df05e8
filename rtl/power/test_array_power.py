#!/usr/bin/python3
"""Tests of the whole array's gate-level power (docs/rtl.md#power-of-the-whole-array).

    test_array_power.py cells    every cell model generated from the liberty
                                 (gates/cell_models.py) equals Debian's event-
                                 simulator model of it (osu018_stdcells.v) under
                                 Icarus: all input combinations, and random
                                 clock/data/set/reset sequences for the
                                 flip-flops                              (default suite)
    test_array_power.py toggles  a synthesized block's netlist counted two ways:
                                 Verilator's toggle counters on the generated
                                 models against Icarus's VCD on Debian's models
                                 (steps.count_toggles), net for net       (default suite)
    test_array_power.py array    array_energy.py on conv1 bwd-weight at 2 x 2:
                                 the netlist gives the golden outputs and the
                                 SystemC model's cycles; every block has cells
                                 and energy; the clock net toggles twice per
                                 window edge                             (label gates)
MLSSIM names the binary, MLS_REF the testbench's library (array).
"""
import json
import os
import random
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from gates import array_netlist as A  # noqa: E402
from gates import cell_models, steps  # noqa: E402
import array_energy as E  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(HERE))


def run(cmd, cwd):
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    assert r.returncode == 0, f"{' '.join(cmd)}: {r.stdout[-2000:]} {r.stderr[-2000:]}"
    return r.stdout


def cell_stimulus(name, cell, rng):
    """Input words: every combination, or for a sequential cell a random walk
    in which each step changes one input (so every edge is an event)."""
    inputs = cell["inputs"]
    if not cell["seq"]:
        return [[(v >> i) & 1 for i in range(len(inputs))] for v in range(1 << len(inputs))]
    word, words = [0] * len(inputs), []
    for pin in ("R", "S"):  # start out of reset when the cell has one
        if pin in inputs:
            word[inputs.index(pin)] = 1
    for _ in range(400):
        word = list(word)
        i = rng.randrange(len(inputs))
        # Asynchronous controls are asserted one step in eight.
        word[i] = (rng.random() < 0.125) ^ 1 if inputs[i] in ("R", "S") else word[i] ^ 1
        words.append(word)
    return words


def cell_bench(name, cell, words):
    ins, outs = cell["inputs"], list(cell["outputs"])
    conn = ", ".join(f".{p}(in[{i}])" for i, p in enumerate(ins))
    lines = [f"module tb_{name};", f"  reg [{len(ins) - 1}:0] in;"]
    for tag in ("gen", "deb"):
        lines.append(f"  wire [{len(outs) - 1}:0] {tag};")
        lines.append(f"  {'GEN_' if tag == 'gen' else ''}{name} u_{tag} ({conn}, "
                     + ", ".join(f".{p}({tag}[{j}])" for j, p in enumerate(outs)) + ");")
    lines.append("  initial begin")
    for w in words:
        bits = "".join(str(b) for b in reversed(w))
        lines.append(f"    in = {len(ins)}'b{bits}; #1; $display(\"{name} %b %b %b\", in, gen, deb);")
    return "\n".join(lines + ["  end", "endmodule", ""])


def test_cells():
    cells = cell_models.read_cells(steps.LIBERTY)
    modelled = [n for n, c in cells.items() if not c.get("tristate")]
    generated = cell_models.verilog_models(steps.LIBERTY, modelled)
    generated = re.sub(r"^module (\w+)", r"module GEN_\1", generated, flags=re.M)
    rng = random.Random(26)
    benches = [cell_bench(n, cells[n], cell_stimulus(n, cells[n], rng)) for n in modelled]
    with tempfile.TemporaryDirectory() as tmp:
        for name, text in (("gen.v", generated), ("tb.v", "\n".join(benches))):
            with open(os.path.join(tmp, name), "w") as f:
                f.write(text)
        run(["iverilog", "-g2005", "-o", "tb.vvp", "tb.v", "gen.v", steps.CELLS_V], tmp)
        out = run(["vvp", "-n", "tb.vvp"], tmp)
    compared = {}
    for line in out.splitlines():
        name, _, gen, deb = line.split()
        if "x" in deb:  # a flip-flop before its first clock or reset
            continue
        assert gen == deb, f"{name}: generated model {gen}, Debian's {deb} ({line})"
        compared[name] = compared.get(name, 0) + 1
    for name in modelled:
        need = 1 << len(cells[name]["inputs"]) if not cells[name]["seq"] else 300
        assert compared.get(name, 0) >= need, f"{name}: only {compared.get(name, 0)} known outputs compared"
    print(f"{len(modelled)} cells: {sum(compared.values())} outputs equal to Debian's models")


# The toggle test's design: mls_pe's netlist fed by an LFSR (RTL) every cycle.
TOGGLE_TOP = """module tt_top (input clk_i, input rst_ni);
  reg [31:0] lfsr;
  always @(posedge clk_i or negedge rst_ni)
    if (!rst_ni) lfsr <= 32'h1d872b41;
    else lfsr <= {lfsr[30:0], lfsr[31] ^ lfsr[21] ^ lfsr[1] ^ lfsr[0]};
  wire [15:0] acc;
  wire ovf;
  mls_pe u_dut (.clk_i(clk_i), .rst_ni(rst_ni), .valid_i(lfsr[0] | lfsr[9]), .first_i(&lfsr[4:2]),
                .x_code_i(lfsr[16:10]), .y_code_i(lfsr[27:21]), .acc_o(acc), .ovf_o(ovf));
endmodule
"""
# Reset released at 3, counting from 43 (clock low) to 2042: 400 clock transitions.
TOGGLE_TB = """module tb;
  reg clk = 0, rst = 0;
  tt_top u (.clk_i(clk), .rst_ni(rst));
  always #5 clk = ~clk;
  initial begin #3 rst = 1; #40 $dumpfile("a.vcd"); $dumpvars(1, u.u_dut); #2000 $finish; end
endmodule
"""
TOGGLE_MAIN = """#include "Vtt_top.h"
#include <verilated_cov.h>
int main() {
  Vtt_top top;
  top.clk_i = 0; top.rst_ni = 1; top.eval();
  top.rst_ni = 0; top.eval();  // a negative edge, as Icarus's x -> 0 at time 0 is
  for (int t = 1; t < 2043; ++t) {
    if (t == 3) top.rst_ni = 1;
    if (t % 5 == 0) top.clk_i = !top.clk_i;
    top.eval();
    if (t == 43) top.contextp()->coveragep()->zero();
  }
  top.contextp()->coveragep()->write("cov.dat");
}
"""


def toggle_netlist(tmp):
    files = " ".join(os.path.join(ROOT, "rtl", "src", s + ".sv") for s in ("mls_elem_decode", "mls_elem_mul", "mls_pe"))
    script = (f"read_verilog -sv {files}; hierarchy -top mls_pe -chparam PROD_REG 1; synth -flatten -top mls_pe; "
              f"dfflibmap -liberty {steps.LIBERTY}; abc -liberty {steps.LIBERTY}; opt_clean; splitnets; "
              f"rename -hide w:*; rename -enumerate; opt_clean; write_verilog -noattr -noexpr pe.v")
    run(["yosys", "-q", "-p", script], tmp)
    with open(os.path.join(tmp, "pe.v")) as f:
        used = A.used_cells(f.read())
    with open(os.path.join(tmp, "cells.v"), "w") as f:
        f.write(cell_models.verilog_models(steps.LIBERTY, used))
    for name, text in (("top.v", TOGGLE_TOP), ("tb.v", TOGGLE_TB), ("main.cpp", TOGGLE_MAIN)):
        with open(os.path.join(tmp, name), "w") as f:
            f.write(text)


def test_toggles():
    with tempfile.TemporaryDirectory() as tmp:
        toggle_netlist(tmp)
        run(["iverilog", "-g2005", "-o", "tb.vvp", "tb.v", "top.v", "pe.v", steps.CELLS_V], tmp)
        run(["vvp", "-n", "tb.vvp"], tmp)
        icarus = {n: c for n, c in steps.count_toggles(os.path.join(tmp, "a.vcd")).items() if c}
        run(["verilator", "--cc", "--exe", "--build", "-j", "2", "--top-module", "tt_top", "-Wno-fatal", "-Wno-lint",
             "-Wno-style", "--coverage-toggle", "--coverage-underscore", "-O1", "-o", "tt", "top.v", "pe.v", "cells.v",
             "main.cpp"], tmp)
        run([os.path.join(tmp, "obj_dir", "tt")], tmp)
        counted = E.read_toggles(os.path.join(tmp, "cov.dat"), scope="u_dut")
        verilator = {n: c for n, c in counted.items() if c}
    assert icarus["clk_i"] == 400, f"clk_i toggled {icarus['clk_i']} times in the window, not 400"
    differ = sorted(n for n in set(icarus) | set(verilator) if icarus.get(n) != verilator.get(n))
    assert not differ, f"{len(differ)} nets differ, e.g. " + ", ".join(
        f"{n}: icarus {icarus.get(n)} verilator {verilator.get(n)}" for n in differ[:5])
    assert len(icarus) > 100, f"only {len(icarus)} nets toggled"
    print(f"{len(icarus)} nets, {sum(icarus.values())} transitions: Verilator's counters equal Icarus's VCD")


def test_array():
    mlssim = os.environ.get("MLSSIM") or os.path.join(ROOT, "build", "sim", "mlssim")
    mls_ref = os.environ.get("MLS_REF") or os.path.join(ROOT, "build", "ref", "libmls_ref.a")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "array.json")
        cmd = ["/usr/bin/python3", os.path.join(HERE, "array_energy.py"), "--trace",
               os.path.join(ROOT, "traces", "resnet20-digits"), "--layers", "conv1", "--passes", "bwd-weight",
               "--rows", "2", "--cols", "2", "--mlssim", mlssim, "--mls-ref", mls_ref, "--json", out]
        print(run(cmd, tmp))
        with open(out) as f:
            result = json.load(f)
    gates, model = result["gates"], result["model"]
    # The array's cycle formula (docs/architecture.md): m-tiles x p x chunk tiles
    # x chunk, plus 6 + tree stages; conv1 bwd-weight at 2 x 2 (m 16, p 27, 128
    # chunks of 16): 8 x 27 x 64 x 16 + 7.
    assert gates["cycles"] == model["cycles"] == 8 * 27 * 64 * 16 + 7, (gates["cycles"], model["cycles"])
    assert gates["window_edges"] in (gates["cycles"] + 1, gates["cycles"] + 2), gates["window_edges"]
    for block in A.MODEL_BLOCKS:
        g = gates["blocks"][block]
        assert g["cells"] > 0 and g["energy"] > 0, f"{block}: {g}"
    total = sum(g["energy"] for g in gates["blocks"].values())
    assert abs(total - gates["energy_pj"]) <= 1e-9 * total


if __name__ == "__main__":
    {"cells": test_cells, "toggles": test_toggles, "array": test_array}[sys.argv[1]]()
