"""The floating-point units of the array (final scale) and of the baselines
(fp32, bf16, fp8 e4m3 multipliers; fp32 and fp16 adders), each a
combinational module `a_i, b_i -> y_o` in rtl/src, fed with the pass's own
values: the final scale multiplies each output accumulator by the pass's
tensor scale F; a baseline multiplier takes the pass's operand pairs as its
format holds them (the MLS element times its group scale, rounded to the
format); a baseline adder accumulates those products in its format, chunk
by chunk. A unit whose RTL is absent is left out (and so is its ERT entry).
"""
import os
import struct

from gates.blocks import RTL_SRC, Block

# (block, ERT component, ERT action) in the order of `mlssim energy --export-ert`.
ERT_ORDER = [("final_scale", "fp_units.fp32", "mul"), ("fp16_add", "fp_units.fp16", "add"),
             ("fp8_e4m3_mul", "fp_units.fp8_e4m3", "mul"), ("bf16_mul", "fp_units.bf16", "mul")]
WIDTH = {"fp32_mul": 32, "fp32_add": 32, "bf16_mul": 16, "fp8_e4m3_mul": 8, "fp16_add": 16}


def available(module):
    return os.path.exists(os.path.join(RTL_SRC, module + ".sv"))


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


def element_value(code, fmt):
    e, m = fmt
    sign = (code >> (e + m)) & 1
    exp = (code >> m) & ((1 << e) - 1) if e else 0
    man = code & ((1 << m) - 1)
    sig = ((1 if exp else 0) << m | man) if e else man
    shift = exp - 1 if exp else 0
    return (-1.0) ** sign * sig * 2.0 ** (shift - m)


def scale_value(code, fmt):
    e, m = fmt
    neg_exp, man = code >> m, code & ((1 << m) - 1)
    return (1 + man / 2.0 ** m) * 2.0 ** -neg_exp


OUT_WIDTH = {"fp8_e4m3_mul": 32}  # the e4m3 product is exact in fp32


def _unit(name, module, width):
    out = OUT_WIDTH.get(module, width)
    return Block(name, module, {}, [("a_i", width), ("b_i", width)], ("y_o", out), sources=[module])


def operand_pairs(v, products):
    """(x, y) real values of the pass's products, chunk by chunk; None between chunks."""
    ef, sf = v.formats()
    for key, j in v.sample_chunks(products):
        sx, sy = v.chunk_scales(key, j)
        gx, gy = scale_value(sx, sf), scale_value(sy, sf)
        for x, y in v.chunk_products(key, j):
            yield element_value(x, ef) * gx, element_value(y, ef) * gy
        yield None


def multiplier_unit(v, module, to_bits, products):
    b = _unit(module, module, WIDTH[module])
    b.stimulus = [(to_bits(x), to_bits(y)) for pair in operand_pairs(v, products) if pair for x, y in [pair]]
    b.actions = len(b.stimulus)
    return b


def adder_unit(v, module, rounding, to_bits, products):
    """`rounding` rounds a Python float to the adder's format (RNE)."""
    b = _unit(module, module, WIDTH[module])
    dtype = rounding
    acc = dtype(0)
    for pair in operand_pairs(v, products):
        if pair is None:
            acc = dtype(0)
            continue
        product = dtype(pair[0] * pair[1])
        b.stimulus.append((to_bits(acc), to_bits(product)))
        acc = dtype(acc + product)
    b.actions = len(b.stimulus)
    return b


def final_scale(v, outputs):
    b = _unit("final_scale", "fp32_mul", 32)
    b.stimulus = [(acc, v.final_scale) for _key, acc in v.sample_outputs(outputs)]
    b.actions = len(b.stimulus)
    return b


def blocks(v, outputs, products):
    units = []
    if available("fp32_mul"):
        units.append(final_scale(v, outputs))
        units.append(multiplier_unit(v, "fp32_mul", f32_bits, products))
    if available("bf16_mul"):
        units.append(multiplier_unit(v, "bf16_mul", bf16_bits, products))
    if available("fp8_e4m3_mul"):
        units.append(multiplier_unit(v, "fp8_e4m3_mul", e4m3_bits, products))
    if available("fp32_add"):
        units.append(adder_unit(v, "fp32_add", as_f32, f32_bits, products))
    if available("fp16_add"):
        units.append(adder_unit(v, "fp16_add", as_f16, f16_bits, products))
    return units
