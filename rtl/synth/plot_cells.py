#!/usr/bin/python3
"""Plots the synthesized cell counts (cell_counts.csv) beside the width scaling
of the energy model (docs/rtl.md#cell-counts-and-the-energy-model), and prints
the comparison tables of docs/rtl.md.

    /usr/bin/python3 rtl/synth/plot_cells.py [--csv CSV] [--out PNG]

The energy model's per-action formulas are restated here from
sim/energy/energy_model.cpp with its horowitz-45nm coefficients (the two-point
fits of docs/energy.md), so the two growths can be set side by side; both are
shown relative to the default widths (e2m4, 16-bit accumulator, e8m1).
"""
import argparse
import csv
import math
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def fit(u1, v1, y1, u2, v2, y2):
    det = u1 * v2 - u2 * v1
    return (y1 * v2 - y2 * v1) / det, (u1 * y2 - u2 * y1) / det


# horowitz-45nm: int8/int32 add 0.03/0.1 pJ, int8/int32 multiply 0.2/3.1 pJ; a mux bit is half an adder bit.
ADD_OP, ADD_BIT = fit(1, 8, 0.03, 1, 32, 0.1)
MUL_OP, MUL_PP = fit(1, 64, 0.2, 1, 1024, 3.1)
MUX_BIT = 0.5 * ADD_BIT


def stages(n):
    s = 0
    while (1 << s) < n + 1:
        s += 1
    return s


def parse_format(name):
    e, m = name[1:].split("m")
    return int(e), int(m)


def model_mul(fmt):
    e, m = parse_format(fmt)
    a = m if e == 0 else m + 1
    shift = 0 if e == 0 else (1 << e) - 2
    return MUL_OP + MUL_PP * a * a + MUX_BIT * stages(2 * shift) * (2 * a + 2 * shift)


def model_acc(bits):
    return ADD_OP + ADD_BIT * bits


def model_scaler(bits, scale):
    e, m = parse_format(scale)
    w = bits + 2 * m
    return 2 * m * (ADD_OP + ADD_BIT * w) + (ADD_OP + ADD_BIT * (e + 1)) + MUX_BIT * stages(w - 1) * w


# horowitz-45nm's floating-point units (energy_model.cpp fp_multiplier, fp_adder):
# fitted to fp16/fp32 multiply 1.1/3.7 pJ and add 0.4/0.9 pJ.
FP_MUL_BIT, FP_MUL_PP = fit(16, 11 * 11, 1.1, 32, 24 * 24, 3.7)
FP_ADD_BIT, FP_ADD_ALIGN = fit(16, 11 * stages(10), 0.4, 32, 24 * stages(23), 0.9)
# The baseline units' formats (exponent, mantissa bits); e4m3 is priced as an fp multiplier of its format.
BASELINE_FORMATS = {"fp32_mul": (8, 23), "fp32_add": (8, 23), "bf16_mul": (8, 7), "fp8_e4m3_mul": (4, 3),
                    "fp16_add": (5, 10)}


def model_baseline(unit):
    e, m = BASELINE_FORMATS[unit]
    if unit.endswith("_mul"):
        return FP_MUL_BIT * (1 + e + m) + FP_MUL_PP * (m + 1) ** 2
    return FP_ADD_BIT * (1 + e + m) + FP_ADD_ALIGN * (m + 1) * stages(m)


def load(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def table(title, header, rows):
    print(f"\n**{title}**\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for r in rows:
        print("| " + " | ".join(str(x) for x in r) + " |")


def counts(rows):
    """The cell counts by block, from the CSV's rows."""
    by = lambda block: [r for r in rows if r["block"] == block]  # noqa: E731
    c = {"mul": {r["elem"]: int(r["cells"]) for r in by("mul")},
         "pe": {int(r["acc_bits"]): int(r["logic_cells"]) for r in by("pe")},
         "scaler": {(int(r["acc_bits"]), r["scale"]): int(r["cells"]) for r in by("scaler")},
         "tree": {int(r["rows"]): int(r["cells"]) for r in by("tree")},
         "add": int(by("fp32_add")[0]["cells"]) if by("fp32_add") else None,
         "baseline": {r["config"]: int(r["cells"]) for r in by("baseline")}}
    c["acc"] = {b: n - c["mul"]["e2m4"] for b, n in c["pe"].items()}  # the PE less its multiplier
    return c


def tables(c):
    mul, acc, scaler, tree, add, baseline = c["mul"], c["acc"], c["scaler"], c["tree"], c["add"], c["baseline"]
    table("Element multiplier (X = Y format), relative to e2m4", ["format", "cells", "cells / e2m4",
          "energy model / e2m4"],
          [(f, mul[f], f"{mul[f] / mul['e2m4']:.2f}", f"{model_mul(f) / model_mul('e2m4'):.2f}") for f in mul])
    table("Local accumulator (PE logic less the e2m4 multiplier), relative to 16 bits",
          ["acc_bits", "cells", "cells / acc16", "energy model / acc16"],
          [(b, acc[b], f"{acc[b] / acc[16]:.2f}", f"{model_acc(b) / model_acc(16):.2f}") for b in sorted(acc)])
    table("Group scaler (E_g = 8), relative to acc 16 e8m1", ["acc_bits", "scale", "cells", "cells / ref",
          "energy model / ref"],
          [(b, s, n, f"{n / scaler[(16, 'e8m1')]:.2f}", f"{model_scaler(b, s) / model_scaler(16, 'e8m1'):.2f}")
           for (b, s), n in sorted(scaler.items())])
    if baseline:
        table("Baseline units, relative to the e2m4 element multiplier", ["unit", "cells", "cells / e2m4 mul",
              "horowitz-45nm / e2m4 mul"],
              [(u, n, f"{n / mul['e2m4']:.2f}", f"{model_baseline(u) / model_mul('e2m4'):.2f}")
               for u, n in baseline.items()])
    if add:
        table("Adder tree", ["rows", "cells", "cells / ((rows - 1) x fp32 adder)"],
              [(r, n, f"{n / ((r - 1) * add):.2f}") for r, n in sorted(tree.items())])


def plot_multiplier(ax, mul):
    fmts = sorted(mul, key=model_mul)
    ax.plot([model_mul(f) / model_mul("e2m4") for f in fmts], [mul[f] / mul["e2m4"] for f in fmts], "o")
    for f in fmts:
        ax.annotate(f, (model_mul(f) / model_mul("e2m4"), mul[f] / mul["e2m4"]), fontsize=7,
                    xytext=(3, 3), textcoords="offset points")
    lim = max(max(mul.values()) / mul["e2m4"], max(model_mul(f) for f in fmts) / model_mul("e2m4")) * 1.05
    ax.plot([0, lim], [0, lim], ":", color="grey", label="equal growth")
    ax.set_xlabel("energy model, element_mul / e2m4")
    ax.set_ylabel("synthesized cells / e2m4")
    ax.set_title("element multiplier (X = Y)")
    ax.legend()


def plot_accumulators(ax, acc, scaler):
    bits = sorted(acc)
    ax.plot(bits, [acc[b] / acc[16] for b in bits], "o-", label="accumulator cells")
    ax.plot(bits, [model_acc(b) / model_acc(16) for b in bits], "--", label="energy model acc_add")
    for s, mark in (("e8m0", "s"), ("e8m1", "^")):
        ax.plot(bits, [scaler[(b, s)] / scaler[(16, "e8m1")] for b in bits], mark + "-",
                label=f"scaler cells, {s}")
        ax.plot(bits, [model_scaler(b, s) / model_scaler(16, "e8m1") for b in bits], ":",
                label=f"energy model scale, {s}")
    ax.set_xlabel("acc_bits")
    ax.set_ylabel("relative to acc 16 (scalers: acc 16 e8m1)")
    ax.set_title("local accumulator and group scaler")
    ax.legend(fontsize=7)


def plot_tree(ax, tree, add):
    r = sorted(tree)
    ax.plot(r, [tree[x] for x in r], "o-", label="tree cells")
    if add:
        ax.plot(r, [(x - 1) * add for x in r], "--", label="(rows - 1) x fp32 adder cells")
    ax.set_xlabel("rows (tree inputs)")
    ax.set_ylabel("cells")
    ax.set_title("pipelined fp32 adder tree")
    ax.legend()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--csv", default=os.path.join(HERE, "cell_counts.csv"))
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "img", "rtl_cells.png"))
    args = ap.parse_args()
    c = counts(load(args.csv))
    tables(c)
    fig, ax = plt.subplots(1, 3, figsize=(15, 4.6))
    plot_multiplier(ax[0], c["mul"])
    plot_accumulators(ax[1], c["acc"], c["scaler"])
    plot_tree(ax[2], c["tree"], c["add"])
    fig.suptitle("Yosys cell counts (generic gates) against the energy model's width scaling (horowitz-45nm)")
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
