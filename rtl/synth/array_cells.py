#!/usr/bin/python3
"""Cell counts and area of the whole RTL array (docs/rtl.md#the-whole-array).

    /usr/bin/python3 rtl/synth/array_cells.py [--shapes 4x8,8x8] [--out CSV]

Synthesizes rtl/src/mls_array.sv per shape (default formats: e2m4, e8m1,
16-bit saturating accumulator) with Yosys, keeping the hierarchy, maps it to
the OSU 0.18 um standard cells (qflow-tech-osu018, as the power flow does) and
prints, per block, the cells and area of all its instances. The operand
buffers' memories are built with 4-entry address widths (their real depth is
SRAM, not logic) and reported apart: the array total excludes them.
"""
import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile

RTL = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIBERTY = "/usr/share/qflow/tech/osu018/osu018_stdcells.lib"
SOURCES = ["mls_elem_decode", "mls_elem_mul", "mls_pe", "mls_group_scaler", "mls_fp32_add", "mls_adder_tree",
           "mls_out_acc", "mls_column", "mls_pipe", "mls_array_ctrl", "mls_operand_buf", "fp32_mul",
           "mls_final_scale", "mls_array"]
# Block of a module, by the start of its (parameterized) name.
BLOCKS = ["mls_array_ctrl", "mls_operand_buf", "mls_elem_mul", "mls_pe", "mls_group_scaler", "mls_adder_tree",
          "mls_out_acc", "mls_fp32_add", "mls_column", "fp32_mul", "mls_final_scale", "mls_pipe", "mls_array"]


def block_of(module):
    name = module.split("\\")[-1]
    for b in sorted(BLOCKS, key=len, reverse=True):
        if name.startswith(b):
            return b
    return name


def synthesize(rows, cols):
    files = " ".join(os.path.join(RTL, "src", s + ".sv") for s in SOURCES)
    params = {"ROWS": rows, "COLS": cols, "XAW": 2, "YAW": 2, "XSAW": 2, "YSAW": 2}
    chparams = "".join(f" -chparam {k} {v}" for k, v in params.items())
    with tempfile.TemporaryDirectory() as tmp:
        stat = os.path.join(tmp, "stat.json")
        script = (f"read_verilog -sv {files}; hierarchy -top mls_array{chparams}; synth -top mls_array; "
                  f"dfflibmap -liberty {LIBERTY}; abc -liberty {LIBERTY}; opt_clean; "
                  f"tee -q -o {stat} stat -json -liberty {LIBERTY}")
        r = subprocess.run(["yosys", "-q", "-p", script], capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"yosys failed on {rows}x{cols}: {r.stderr.strip() or r.stdout.strip()}")
        with open(stat) as f:
            return json.load(f)["modules"]


def totals(modules):
    """Per block: (cells, flip-flops, area um^2) of all its instances, own cells only
    (a module's submodules are counted in their own blocks)."""
    count = {}  # instances of each module, from the top down

    def walk(name, n):
        count[name] = count.get(name, 0) + n
        for t, k in modules[name]["num_cells_by_type"].items():
            if t in modules:
                walk(t, n * k)

    top = next(m for m in modules if block_of(m) == "mls_array")
    walk(top, 1)
    out = {}
    for name, n in count.items():
        m = modules[name]
        own = {t: k for t, k in m["num_cells_by_type"].items() if t not in modules}
        sub_area = 0.0  # the area Yosys reports for a module includes no submodule
        cells = sum(own.values())
        flops = sum(k for t, k in own.items() if t.startswith("DFF"))
        b = out.setdefault(block_of(name), [0, 0, 0.0])
        b[0] += n * cells
        b[1] += n * flops
        b[2] += n * (m.get("area", 0.0) - sub_area)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shapes", default="4x8")
    ap.add_argument("--out")
    a = ap.parse_args()
    rows_out = []
    for shape in a.shapes.split(","):
        rows, cols = (int(v) for v in shape.split("x"))
        per_block = totals(synthesize(rows, cols))
        core = [(b, v) for b, v in per_block.items() if b != "mls_operand_buf"]
        total = [sum(v[i] for _, v in core) for i in range(3)]
        print(f"\n{shape}: | block | cells | flip-flops | area (um^2) |")
        for b, v in sorted(per_block.items(), key=lambda kv: -kv[1][2]):
            print(f"| {b} | {v[0]} | {v[1]} | {v[2]:.0f} |")
            rows_out.append([shape, b, v[0], v[1], round(v[2])])
        print(f"| array without the buffers' memories | {total[0]} | {total[1]} | {total[2]:.0f} |")
        rows_out.append([shape, "total_without_buffers", total[0], total[1], round(total[2])])
    if a.out:
        with open(a.out, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["shape", "block", "cells", "flip_flops", "area_um2"])
            w.writerows(rows_out)


if __name__ == "__main__":
    main()
