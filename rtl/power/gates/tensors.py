"""The baselines' operands: the layer's own float32 tensors from the trace (not
the MLS codes, whose few mantissa bits would make an fp32 multiplier look
idle). Forward products of a conv2d (groups 1) or linear layer, output by
output, each output's whole reduction in (input channel, kh, kw) order.
Plain Python (no numpy), so the flow runs on any python3.
"""
import array
import ast
import json
import os
import sys

from gates.vectors import VectorError


def read_npy(path):
    """(flat float32 values, shape) of a little-endian float32 C-order .npy."""
    with open(path, "rb") as f:
        if f.read(6) != b"\x93NUMPY":
            raise VectorError(f"{path}: not a .npy file")
        major = f.read(2)[0]
        n = int.from_bytes(f.read(2 if major == 1 else 4), "little")
        header = ast.literal_eval(f.read(n).decode("latin1"))
        if header["descr"] != "<f4" or header["fortran_order"]:
            raise VectorError(f"{path}: expected little-endian float32 in C order, got {header['descr']}")
        values = array.array("f")
        values.frombytes(f.read())
    if sys.byteorder != "little":
        values.byteswap()
    return values, tuple(header["shape"])


def layer_entry(trace, layer):
    with open(os.path.join(trace, "manifest.json")) as f:
        for entry in json.load(f)["layers"]:
            if entry["name"] == layer:
                return entry
    raise VectorError(f"{trace}: no layer {layer!r} in manifest.json")


def _strides(shape):
    out, step = [], 1
    for n in reversed(shape):
        out.append(step)
        step *= n
    return list(reversed(out))


def forward_products(trace, layer, count):
    """About `count` (x, y) float pairs: whole reductions of outputs spread
    evenly over the forward pass; None after each output."""
    entry = layer_entry(trace, layer)
    w, ws = read_npy(os.path.join(trace, entry["weight"]))
    x, xs = read_npy(os.path.join(trace, entry["input"]))
    if entry["kind"] == "linear":
        outs, ins = ws
        rows = len(x) // ins
        per_output, outputs = ins, [(o, r) for r in range(rows) for o in range(outs)]
        def reduction(o, r):
            return ((w[o * ins + i], x[r * ins + i]) for i in range(ins))
    elif entry["kind"] == "conv2d" and entry.get("groups", 1) == 1:
        co, ci, kh, kw = ws
        n, _, h, wd = xs
        (sh, sw), (ph, pw), (dh, dw) = entry["stride"], entry["padding"], entry["dilation"]
        ho, wo = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1, (wd + 2 * pw - dw * (kw - 1) - 1) // sw + 1
        xst = _strides(xs)
        per_output, outputs = ci * kh * kw, [(m, p) for m in range(co) for p in range(n * ho * wo)]
        def reduction(m, p):
            b, rest = divmod(p, ho * wo)
            oy, ox = divmod(rest, wo)
            for c in range(ci):
                for i in range(kh):
                    for j in range(kw):
                        iy, ix = oy * sh - ph + i * dh, ox * sw - pw + j * dw
                        inside = 0 <= iy < h and 0 <= ix < wd
                        y = x[b * xst[0] + c * xst[1] + iy * xst[2] + ix] if inside else 0.0
                        yield w[((m * ci + c) * kh + i) * kw + j], y
    else:
        raise VectorError(f"{layer}: the baselines' operands are read for conv2d (groups 1) and linear layers only")
    wanted = max(1, -(-count // per_output))
    stride = max(1, len(outputs) // wanted)
    for key in outputs[::stride][:wanted]:
        yield from reduction(*key)
        yield None
