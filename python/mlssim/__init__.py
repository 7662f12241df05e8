"""mlssim: the MLS golden model from Python (docs/python.md).

Arrays are numpy float32 in and out. Every run parameter is a keyword argument
named as in sweep files (``elem_w``, ``acc_bits``, ``clip``, ...), parsed by the
parameter table the command line uses, so a bad value raises ``ValueError``
with the message ``mlssim`` prints. Results are bit for bit those of
``mlssim quantize --dequant`` and ``mlssim conv``.
"""
import json

import numpy as np

from . import _mlssim

__all__ = ["quantize", "conv2d", "linear", "matmul", "layer", "parameters", "presets", "layer_kinds", "PASSES"]

PASSES = ("fwd", "bwd-data", "bwd-weight")


def parameters():
    """The run parameters (sim/params): dicts with name, group, kind, default, help, sweep."""
    return _mlssim.parameters()


def presets():
    """The presets (--preset): dicts with name, help, values (parameter -> text), unquantized."""
    return _mlssim.presets()


def layer_kinds():
    """The layer kinds a trace manifest may name."""
    return _mlssim.layer_kinds()


def _text(value):
    """A keyword value as its flag takes it: True -> "true", 16 -> "16"."""
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    return str(value)


def _kwargs(config):
    return [(name, _text(value)) for name, value in config.items() if value is not None]


def quantize(x, elem="e2m4", scale="e8m1", group="nc", rounding="nearest", seed=0, scale_rule="cover",
             clip=False, name="x", block_axis=None, random=None, threads=0):
    """The dequantized tensor, bit for bit what ``mlssim quantize IN.npy --dequant`` writes.

    ``name`` keys the stochastic-rounding draws as the CLI's input file stem
    does; ``random`` supplies them instead (``--random``); ``threads`` 0 uses
    every core (the result does not depend on it).
    """
    config = {"elem": elem, "scale": scale, "group": group, "rounding": rounding, "seed": seed,
              "scale_rule": scale_rule, "clip": clip}
    return _mlssim.quantize(x, name, _kwargs(config), block_axis, random, threads)


def layer(kind, pass_, weight, input, grad_output=None, name="conv", preset=None, threads=0, keys=None,
          default_groups=False, **config):
    """One layer's passes of any kind (``mlssim conv --kind``).

    ``pass_`` is a pass name, giving ``(result, stats)``, or a list of them,
    giving a list of such pairs from one quantization of the operands.
    ``keys`` holds the kind's manifest keys (stride, padding, ...).
    ``default_groups``: when neither config nor preset sets a grouping, a kind that
    blocks by default (linear, matmul, a 1x1 conv) runs with ``mlssim run``'s default
    block grouping instead of ``mlssim conv``'s nc (the torch layers set it).
    """
    passes = [pass_] if isinstance(pass_, str) else list(pass_)
    if isinstance(threads, bool) or not isinstance(threads, int):
        raise ValueError(f"--threads must be an integer, got {threads!r}")
    out = _mlssim.layer_passes(kind, json.dumps(keys or {}), passes, weight, input, grad_output, name,
                               _kwargs(config), preset or "", threads, default_groups)
    return out[0] if isinstance(pass_, str) else out


def conv2d(pass_, weight, input, grad_output=None, stride=1, padding=0, dilation=1, groups=1, **config):
    """The golden result of a conv2d pass and its event counts (``mlssim conv``).

    weight [Co, Ci/groups, Kh, Kw], input [N, Ci, H, W], grad_output [N, Co, Ho, Wo];
    stride, padding, dilation: an int or an (h, w) pair. Returns (result, stats).
    """
    keys = {"stride": _pair(stride), "padding": _pair(padding), "dilation": _pair(dilation), "groups": groups}
    return layer("conv2d", pass_, weight, input, grad_output, keys=keys, **config)


def linear(pass_, weight, input, grad_output=None, **config):
    """A linear layer's pass (``mlssim conv --kind linear``): weight [out, in], input [..., in]."""
    return layer("linear", pass_, weight, input, grad_output, **config)


def matmul(pass_, weight, input, grad_output=None, **config):
    """A matmul's pass (``mlssim conv --kind matmul``): input is the first operand [..., M, K],
    weight the second [..., K, N]; bwd-data is input's gradient, bwd-weight weight's."""
    return layer("matmul", pass_, weight, input, grad_output, **config)


def _pair(value):
    return list(value) if isinstance(value, (tuple, list)) else value
