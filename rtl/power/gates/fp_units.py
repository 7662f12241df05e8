"""The floating-point units of the array (final scale) and of the baselines
(fp32, bf16, fp8 e4m3 multipliers; fp32 and fp16 adders), each a
combinational module `a_i, b_i -> y_o` in rtl/src. The final scale multiplies
the pass's output accumulators by its tensor scale F. The baselines take the
layer's own forward float32 tensors (gates/tensors.py) as their format holds
them: fp32 as they are, bf16 rounded, fp8 e4m3 scaled per tensor to 448 and
rounded; the adders accumulate each output's products in their format (fp32;
fp16 of the e4m3 products, the fp8-fp16acc array). Which module at which
parameters makes each unit is rtl/baselines.py's table. A unit whose RTL is
absent is left out (and so is its ERT entry).
"""
import os
import struct
import sys

from gates import tensors
from gates.blocks import RTL_SRC, Block

sys.path.insert(0, os.path.dirname(RTL_SRC))
import baselines  # noqa: E402

# (block, ERT component, ERT action) in the order of `mlssim energy --export-ert`. The
# fp32 multiply is priced from the fp32 baseline's multiplies (one per MAC), the
# array's final scale (one per output) is in the JSON as final_scale.
ERT_ORDER = [("fp32_mul", "fp_units.fp32", "mul"), ("fp16_add", "fp_units.fp16", "add"),
             ("fp8_e4m3_mul", "fp_units.fp8_e4m3", "mul"), ("bf16_mul", "fp_units.bf16", "mul")]
WIDTH = {"fp32_mul": 32, "fp32_add": 32, "bf16_mul": 16, "fp8_e4m3_mul": 8, "fp16_add": 16}


def available(unit):
    return os.path.exists(baselines.source(unit))


def f32_bits(x):
    return struct.unpack("<I", struct.pack("<f", float(x)))[0]


def bf16_bits(x):
    b = f32_bits(x)
    return ((b + 0x7FFF + ((b >> 16) & 1)) >> 16) & 0xFFFF  # round to nearest even


def f16_bits(x):
    return struct.unpack("<H", struct.pack("<e", max(-65504.0, min(65504.0, float(x)))))[0]


def as_f32(x):
    return struct.unpack("<f", struct.pack("<f", float(x)))[0]


def as_f16(x):
    return struct.unpack("<e", struct.pack("<e", max(-65504.0, min(65504.0, float(x)))))[0]


def _e4m3_table():
    """Every finite e4m3 code (bias 7, no infinities, S.1111.111 is NaN) and its value."""
    codes = []
    for code in range(0x7F):
        e, m = code >> 3, code & 7
        value = (m / 8.0) * 2.0 ** -6 if e == 0 else (1 + m / 8.0) * 2.0 ** (e - 7)
        codes.append((value, code))
    return codes


E4M3 = _e4m3_table()


def e4m3_bits(x):
    """Nearest e4m3 code (ties to the even code), saturating at 448."""
    mag = min(abs(x), 448.0)
    best = min(E4M3, key=lambda vc: (abs(vc[0] - mag), vc[1] & 1))
    return best[1] | (0x80 if x < 0 else 0)


OUT_WIDTH = {"fp8_e4m3_mul": 32}  # the e4m3 product is exact in fp32


def _unit(name, unit, width):
    """The unit as the module of its own name that rtl/baselines.py specializes."""
    out = OUT_WIDTH.get(unit, width)
    return Block(name, unit, {}, [("a_i", width), ("b_i", width)], ("y_o", out), sources=[],
                 texts={unit + ".sv": baselines.specialized(unit)})


def e4m3_value(code):
    e, m = (code >> 3) & 15, code & 7
    mag = (m / 8.0) * 2.0 ** -6 if e == 0 else (1 + m / 8.0) * 2.0 ** (e - 7)
    return -mag if code & 0x80 else mag


def fp8_pairs(pairs):
    """The pairs as an fp8 array holds them: each operand stream scaled so that
    its largest magnitude is e4m3's 448 (a per-tensor scale), then rounded.
    Returns the codes and the two scales."""
    live = [p for p in pairs if p]
    sx = 448.0 / max(1e-30, max(abs(x) for x, _ in live))
    sy = 448.0 / max(1e-30, max(abs(y) for _, y in live))
    return [(e4m3_bits(p[0] * sx), e4m3_bits(p[1] * sy)) if p else None for p in pairs], sx, sy


def multiplier_unit(unit, pairs, to_bits):
    b = _unit(unit, unit, WIDTH[unit])
    b.stimulus = [(to_bits(p[0]), to_bits(p[1])) for p in pairs if p]
    b.actions = len(b.stimulus)
    return b


def adder_unit(unit, products, rounding, to_bits):
    """An accumulator in the adder's format over each output's products;
    `rounding` rounds a Python float to that format (RNE)."""
    b = _unit(unit, unit, WIDTH[unit])
    acc = 0.0
    for product in products:
        if product is None:
            acc = 0.0
            continue
        product = rounding(product)
        b.stimulus.append((to_bits(acc), to_bits(product)))
        acc = rounding(acc + product)
    b.actions = len(b.stimulus)
    return b


def final_scale(v, outputs):
    b = _unit("final_scale", "fp32_mul", 32)
    b.stimulus = [(acc, v.final_scale) for _key, acc in v.sample_outputs(outputs)]
    b.actions = len(b.stimulus)
    return b


def blocks(v, outputs, products, trace, layer):
    """The fp units whose RTL is present: the final scale on the pass's output
    accumulators, the baselines on the layer's forward float32 tensors."""
    units = []
    pairs = list(tensors.forward_products(trace, layer, products))
    fp8, sx, sy = fp8_pairs(pairs)
    if available("fp32_mul"):
        units += [final_scale(v, outputs), multiplier_unit("fp32_mul", pairs, f32_bits)]
    if available("bf16_mul"):
        units.append(multiplier_unit("bf16_mul", pairs, bf16_bits))
    if available("fp8_e4m3_mul"):
        b = _unit("fp8_e4m3_mul", "fp8_e4m3_mul", 8)
        b.stimulus = [p for p in fp8 if p]
        b.actions = len(b.stimulus)
        units.append(b)
    if available("fp32_add"):
        units.append(adder_unit("fp32_add", [as_f32(p[0] * p[1]) if p else None for p in pairs], as_f32, f32_bits))
    if available("fp16_add"):
        # The e4m3 products with the tensor scales taken out (in the tensors' own
        # range, as the fp16 accumulator must hold them: scaled, they overflow it).
        products = [e4m3_value(p[0]) * e4m3_value(p[1]) / (sx * sy) if p else None for p in fp8]
        units.append(adder_unit("fp16_add", products, as_f16, f16_bits))
    return units
