#!/usr/bin/python3
"""How much a block's energy per action moves with its data, measured with the
gate-level flow (docs/energy.md#data-dependence).

    nice /usr/bin/python3 rtl/power/data_dependence.py [--elem e2m4] [--scale e8m1] [--acc-bits 16]

The multiplier, the local accumulator (PE less multiplier) and the group
scaler of one configuration, on the operand streams of several layer-passes
of traces/resnet20-digits, and on a near-constant stream (one chunk of the
first pass repeated). Then the zero operands: the multiplier and the PE on
the products with a zero operand only, on the others only, and on the whole
stream with the zero-operand products gated (the harness holds the previous
operands and the accumulator adds nothing, which is what an operand
clock gate does): the energy a gated product keeps, as a fraction of an
average product's, is what `--gating` assumes (gated_fraction).
"""
import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gate_energy as G  # noqa: E402
from gates import blocks as B  # noqa: E402
from gates.vectors import PassVectors  # noqa: E402

PASSES = [("conv1", "fwd"), ("layer2.1.conv1", "fwd"), ("layer2.1.conv1", "bwd-weight"),
          ("layer2.1.conv1", "bwd-data"), ("layer3.2.conv2", "fwd")]


class Args:
    def __init__(self, a, layer, pass_):
        self.elem, self.scale, self.acc_bits = a.elem, a.scale, a.acc_bits
        self.trace, self.layers, self.passes, self.vector_flags = a.trace, layer, pass_, []


def energies(blocks, cache):
    return {b.name: G.measure(b, cache, 100.0) for b in blocks}


def per_pass(v, a, cache):
    elem, scale = B.parse_format(a.elem, "--elem"), B.parse_format(a.scale, "--scale")
    bl = [B.multiplier(v, elem, G.PRODUCTS), B.processing_element(v, elem, a.acc_bits, 0, G.PRODUCTS),
          B.group_scaler(v, scale, a.acc_bits, G.CHUNKS)]
    r = energies(bl, cache)
    zeros = sum(1 for x, y in bl[0].stimulus if is_zero(x, elem) or is_zero(y, elem))
    return (r["multiplier"]["energy_pj"], r["pe"]["energy_pj"] - r["multiplier"]["energy_pj"],
            r["group_scaler"]["energy_pj"], zeros / len(bl[0].stimulus))


def is_zero(code, elem):
    e, m = elem
    return code & ((1 << (e + m)) - 1) == 0


def constant_stream(block, period=16):
    """The first `period` cycles of the block's stream, repeated: near-constant data."""
    head = block.stimulus[:period]
    block.stimulus = [head[i % period] for i in range(len(block.stimulus))]
    block.actions = len(block.stimulus)
    return block


def zero_split(v, a, cache):
    """Multiplier and PE energy per product: zero-operand products only, the
    others only, and everything with the zero-operand products gated."""
    elem = B.parse_format(a.elem, "--elem")
    mul, pe = B.multiplier(v, elem, G.PRODUCTS), B.processing_element(v, elem, a.acc_bits, 0, G.PRODUCTS)
    zero = [is_zero(x, elem) or is_zero(y, elem) for x, y in mul.stimulus]
    out = {}
    for label, keep in (("zero operand", True), ("nonzero", False)):
        m = B.multiplier(v, elem, G.PRODUCTS)
        p = B.processing_element(v, elem, a.acc_bits, 0, G.PRODUCTS)
        m.stimulus = [s for s, z in zip(m.stimulus, zero) if z == keep]
        p.stimulus = [s for s, z in zip(p.stimulus, zero) if z == keep]
        m.actions, p.actions = len(m.stimulus), len(p.stimulus)
        r = energies([m, p], cache)
        out[label] = (r["multiplier"]["energy_pj"], r["pe"]["energy_pj"])
    # Gated: a zero-operand product leaves the operand registers as they were
    # (x, y held) and adds nothing (the PE is fed a held product of its own:
    # the stream holds the previous codes with first_i low, which re-adds the
    # previous product; so the PE's gated figure is an upper bound).
    held_m, held_p, last = [], [], None
    for (x, y), (_, _, first), z in zip(mul.stimulus, pe.stimulus, zero):
        if not z or last is None:
            last = (x, y)
        held_m.append(last)
        held_p.append((last[0], last[1], first if not z else 0))
    mul.stimulus, pe.stimulus = held_m, held_p
    r = energies([mul, pe], cache)
    full = energies([B.multiplier(v, elem, G.PRODUCTS)], cache)["multiplier"]["energy_pj"]
    n, nz = len(zero), sum(zero)
    gated_mul = (r["multiplier"]["energy_pj"] * n - out["nonzero"][0] * (n - nz)) / max(1, nz)
    out["gated"] = (gated_mul / full, nz / n)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--elem", default="e2m4")
    ap.add_argument("--scale", default="e8m1")
    ap.add_argument("--acc-bits", type=int, default=16)
    ap.add_argument("--trace", default=os.path.join(G.ROOT, "traces", "resnet20-digits"))
    ap.add_argument("--cache", default=os.path.join(G.ROOT, "build", "gate_cache"))
    ap.add_argument("--mlssim")
    a = ap.parse_args()
    G.check_tools()
    mlssim = G.find_mlssim(a.mlssim)
    print(f"{a.elem}, {a.scale}, {a.acc_bits}-bit accumulator; pJ per action (100 MHz, OSU 0.18 um)")
    print(f"| layer-pass | multiplier | local accumulator | group scaler | products with a zero operand |")
    print("|---|---|---|---|---|")
    first = None
    for layer, pass_ in PASSES:
        with tempfile.TemporaryDirectory() as tmp:
            G.write_vectors(Args(a, layer, pass_), mlssim, os.path.join(tmp, "v"))
            v = PassVectors(os.path.join(tmp, "v"))
        mul, acc, scale, zeros = per_pass(v, a, a.cache)
        print(f"| {layer} {pass_} | {mul:.3f} | {acc:.3f} | {scale:.3f} | {100 * zeros:.0f}% |")
        if first is None:
            first = v
    elem, scale = B.parse_format(a.elem, "--elem"), B.parse_format(a.scale, "--scale")
    c = energies([constant_stream(B.multiplier(first, elem, G.PRODUCTS)),
                  constant_stream(B.processing_element(first, elem, a.acc_bits, 0, G.PRODUCTS)),
                  constant_stream(B.group_scaler(first, scale, a.acc_bits, G.CHUNKS))], a.cache)
    print(f"| near-constant ({PASSES[0][0]} {PASSES[0][1]}, 16 cycles repeated) | {c['multiplier']['energy_pj']:.3f} | "
          f"{c['pe']['energy_pj'] - c['multiplier']['energy_pj']:.3f} | {c['group_scaler']['energy_pj']:.3f} | |")
    z = zero_split(first, a, a.cache)
    print(f"\n{PASSES[0][0]} {PASSES[0][1]}: multiplier / PE per product, zero-operand products only: "
          f"{z['zero operand'][0]:.3f} / {z['zero operand'][1]:.3f} pJ; the others: "
          f"{z['nonzero'][0]:.3f} / {z['nonzero'][1]:.3f} pJ")
    print(f"gated (operands held on the {100 * z['gated'][1]:.0f}% zero-operand products): a gated multiply keeps "
          f"{100 * z['gated'][0]:.1f}% of an average multiply's energy")
    return 0


if __name__ == "__main__":
    sys.exit(main())
