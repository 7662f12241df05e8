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
import os
import subprocess
import sys
import tempfile

RTL = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIBERTY = "/usr/share/qflow/tech/osu018/osu018_stdcells.lib"
SOURCES = ["mls_elem_decode", "mls_elem_mul", "mls_pe", "mls_group_scaler", "mls_fp32_add", "mls_adder_tree",
           "mls_out_acc", "mls_column", "mls_pipe", "mls_array_ctrl", "mls_operand_buf", "fp_mul",
           "mls_final_scale", "mls_array"]
# Block of a module, by the start of its (parameterized) name.
BLOCKS = ["mls_array_ctrl", "mls_operand_buf", "mls_elem_decode", "mls_elem_mul", "mls_pe", "mls_group_scaler", "mls_adder_tree",
          "mls_out_acc", "mls_fp32_add", "mls_column", "fp_mul", "mls_final_scale", "mls_pipe", "mls_array"]


def block_of(module):
    """The block of a module name such as $paramod$<hash>\\mls_pe or
    $paramod\\mls_final_scale\\COLS=..."""
    for part in module.split("\\"):
        for b in sorted(BLOCKS, key=len, reverse=True):
            if part == b or part.startswith(b):
                return b
    return module


def synthesize(rows, cols, keep=None):
    """Yosys's `stat -liberty` text of the synthesized array (its JSON form is
    not valid JSON in Yosys 0.23 once a hierarchy is printed)."""
    files = " ".join(os.path.join(RTL, "src", s + ".sv") for s in SOURCES)
    params = {"ROWS": rows, "COLS": cols, "XAW": 2, "YAW": 2, "XSAW": 2, "YSAW": 2}
    chparams = "".join(f" -chparam {k} {v}" for k, v in params.items())
    with tempfile.TemporaryDirectory() as tmp:
        stat = os.path.join(tmp, "stat.txt")
        script = (f"read_verilog -sv {files}; hierarchy -top mls_array{chparams}; synth -top mls_array; "
                  f"dfflibmap -liberty {LIBERTY}; abc -liberty {LIBERTY}; opt_clean; "
                  f"tee -q -o {stat} stat -liberty {LIBERTY}")
        r = subprocess.run(["yosys", "-q", "-p", script], capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"yosys failed on {rows}x{cols}: {r.stderr.strip() or r.stdout.strip()}")
        with open(stat) as f:
            return f.read()


def parse_stat(text):
    """{module: (cells by type, own area)} from the `stat -liberty` text."""
    modules, name = {}, None
    for line in text.splitlines():
        tok = line.split()
        if line.startswith("=== ") and line.endswith(" ==="):
            name = line[4:-4]
            if name == "design hierarchy":
                break
            modules[name] = ({}, 0.0)
        elif name and line.startswith("     ") and len(tok) == 2 and tok[1].isdigit():
            modules[name][0][tok[0].lstrip("\\")] = int(tok[1])
        elif name and line.strip().startswith("Chip area for module"):
            modules[name] = (modules[name][0], float(tok[-1]))
    return modules


def totals(modules):
    """Per block: [cells, flip-flops, area um^2] of all its instances, each
    module's own cells only (its submodules count in their own blocks)."""
    count = {}  # instances of each module, from the top down

    def walk(name, n):
        count[name] = count.get(name, 0) + n
        for t, k in modules[name][0].items():
            if t in modules:
                walk(t, n * k)

    walk("mls_array", 1)
    out = {}
    for name, n in count.items():
        by_type, area = modules[name]
        own = {t: k for t, k in by_type.items() if t not in modules}
        b = out.setdefault(block_of(name), [0, 0, 0.0])
        b[0] += n * sum(own.values())
        b[1] += n * sum(k for t, k in own.items() if t.startswith("DFF"))
        b[2] += n * area
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shapes", default="4x8")
    ap.add_argument("--out")
    a = ap.parse_args()
    rows_out = []
    for shape in a.shapes.split(","):
        rows, cols = (int(v) for v in shape.split("x"))
        per_block = totals(parse_stat(synthesize(rows, cols)))
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
