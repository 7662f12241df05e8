"""Functional products in the trace's operand layout, and the MACs of every product torch can run.

``resolve(label, args, kwargs)`` turns one call of a product the recorder supports
(``torch.matmul`` and ``@``, ``bmm``, two-operand ``einsum``, ``F.linear``,
``F.conv2d``) into a ``Product``: the manifest kind and keys, the trace's
``weight`` and ``input`` tensors (transposes, reshapes and broadcasts resolved,
docs/reference.md#trace-format) and ``to_grad``, which maps the gradient of the
call's output onto the layout of the trace's ``grad_output``. A call it cannot
express raises ``Unsupported`` with the reason.

How a matrix product maps to a kind: both operands are brought to
``[batch..., M, K]`` and ``[batch..., K, N]``. If one operand is shared by the
whole batch (broadcast, or a 2-D parameter), the product is a ``linear`` with
that operand as its weight (its gradient sums over the batch, as a linear
layer's does); otherwise it is a ``matmul`` with both operands expanded to the
common batch dims (the format does not broadcast).

``macs(label, args, kwargs, out)`` is the multiply-accumulate count of a call,
for products the recorder cannot record too (``mm``, ``addmm``, ``baddbmm``,
the conv and RNN functions, ...), or None where it has no formula.
"""

import math

import torch
from torch import nn


class Unsupported(Exception):
    """A product call the trace format cannot express (the message says why)."""


class Product:
    """One resolved product: kind, manifest keys, operands and the gradient map."""

    def __init__(self, kind, weight, input, to_grad, params=None):
        self.kind, self.weight, self.input, self.to_grad = kind, weight, input, to_grad
        self.params = params or {}


def param_like(t):
    """A parameter, a view of one, or a leaf the caller optimizes: a weight, not an activation."""
    base = t._base if t._base is not None else t
    return isinstance(base, nn.Parameter) or (base.is_leaf and base.requires_grad)


def _is_batched(t, batch_rank):
    """Whether a [..., R, C] operand varies along the batch (any batch dim above 1)."""
    return any(s != 1 for s in t.shape[:-2]) and batch_rank > 0


def from_matrices(a, b, out_to_mn, a_param, b_param):
    """The product of a [..., M, K] and b [..., K, N] (broadcasting batch dims);
    out_to_mn maps the call's output gradient to [batch..., M, N]; a_param and
    b_param say whether the operands as called were parameters (param_like)."""
    batch = list(torch.broadcast_shapes(a.shape[:-2], b.shape[:-2]))
    if a.shape[-1] != b.shape[-2]:
        raise Unsupported(f"operands {tuple(a.shape)} and {tuple(b.shape)} do not chain")
    a_batched, b_batched = _is_batched(a, len(batch)), _is_batched(b, len(batch))
    shared_b = (batch and not b_batched) or (not batch and b_param)
    shared_a = (batch and not a_batched) or (not batch and not shared_b and a_param)
    if shared_b:  # x @ W: linear with weight W^T [N, K]
        w = b.reshape(b.shape[-2:]).transpose(0, 1)
        return Product("linear", w, a.expand(batch + list(a.shape[-2:])), out_to_mn)
    if shared_a:  # W @ x: linear on x^T with weight W [M, K]
        x = b.expand(batch + list(b.shape[-2:])).transpose(-2, -1)
        return Product("linear", a.reshape(a.shape[-2:]), x, lambda g: out_to_mn(g).transpose(-2, -1))
    return Product("matmul", b.expand(batch + list(b.shape[-2:])), a.expand(batch + list(a.shape[-2:])), out_to_mn)


def matmul(a, b):
    """torch.matmul's semantics, including 1-D operands (a vector gets a unit M or N)."""
    if a.dim() == 0 or b.dim() == 0:
        raise Unsupported("matmul of a scalar")
    params = param_like(a), param_like(b)
    squeeze = []
    if a.dim() == 1:
        a, squeeze = a.unsqueeze(0), squeeze + [-2]
    if b.dim() == 1:
        b, squeeze = b.unsqueeze(-1), squeeze + [-1]

    def to_mn(g):
        for dim in squeeze:
            g = g.unsqueeze(dim)
        return g
    return from_matrices(a, b, to_mn, *params)


def _einsum_letters(spec, t):
    """The letters of one operand, '...' expanded to upper-case letters (left-aligned on the right)."""
    if "..." not in spec:
        return spec
    n_ell = t.dim() - (len(spec) - 3)
    return spec.replace("...", "".join(chr(ord("Z") - i) for i in reversed(range(n_ell))))


def einsum(equation, a, b):
    """A two-operand einsum as batch dims x [M, K] x [K, N] (indices grouped and flattened)."""
    equation = equation.replace(" ", "")
    lhs, _, rhs = equation.partition("->")
    specs = lhs.split(",")
    la, lb = _einsum_letters(specs[0], a), _einsum_letters(specs[1], b)
    if "->" not in equation:  # implicit output: the letters seen once, sorted (ellipsis first)
        rhs = "".join(sorted(c for c in set(la + lb) if (la + lb).count(c) == 1))
    lo = rhs if "..." not in rhs else rhs.replace("...", "".join(c for c in la if c.isupper()))
    if len(set(la)) < len(la) or len(set(lb)) < len(lb):
        raise Unsupported(f"einsum {equation!r} repeats an index within one operand (a diagonal)")
    if set(la) - set(lb) - set(lo) or set(lb) - set(la) - set(lo):
        raise Unsupported(f"einsum {equation!r} sums an index of one operand alone")
    size = {c: s for c, s in list(zip(la, a.shape)) + list(zip(lb, b.shape))}
    if any(size[c] != s for c, s in list(zip(la, a.shape)) + list(zip(lb, b.shape))):
        raise Unsupported(f"einsum {equation!r} broadcasts an index")
    bat = [c for c in lo if c in la and c in lb]
    m, n = [c for c in lo if c in la and c not in lb], [c for c in lo if c in lb and c not in la]
    k = [c for c in la if c in lb and c not in lo]
    bshape = [size[c] for c in bat]
    mm, kk, nn_ = (math.prod(size[c] for c in group) for group in (m, k, n))
    a3 = a.permute([la.index(c) for c in bat + m + k]).reshape(bshape + [mm, kk])
    b3 = b.permute([lb.index(c) for c in bat + k + n]).reshape(bshape + [kk, nn_])
    order = [lo.index(c) for c in bat + m + n]
    return from_matrices(a3, b3, lambda g: g.permute(order).reshape(bshape + [mm, nn_]), param_like(a), param_like(b))


def linear(x, w):
    """F.linear(x, w): weight [out, in] as given (a transposed parameter is fine), input [..., in]."""
    if w.dim() == 1:
        w, unit = w.unsqueeze(0), True
    else:
        unit = False
    if x.dim() == 1:
        x, lead = x.unsqueeze(0), True
    else:
        lead = False

    def to_grad(g):
        g = g.unsqueeze(-1) if unit else g
        return g.unsqueeze(0) if lead else g
    return Product("linear", w, x, to_grad)


def _pair(value):
    return [value, value] if isinstance(value, int) else [int(v) for v in value]


def conv2d(x, w, stride=1, padding=0, dilation=1, groups=1):
    """F.conv2d with zero padding (a 'same' padding must be symmetric); an unbatched input gets N = 1."""
    dilation = _pair(dilation)
    if padding == "valid":
        padding = [0, 0]
    elif padding == "same":
        if any(d * (k - 1) % 2 for k, d in zip(w.shape[2:], dilation)):
            raise Unsupported("conv2d padding='same' is asymmetric for this kernel")
        padding = [d * (k - 1) // 2 for k, d in zip(w.shape[2:], dilation)]
    params = {"stride": _pair(stride), "padding": _pair(padding), "dilation": dilation, "groups": int(groups)}
    if x.dim() == 3:
        return Product("conv2d", w, x.unsqueeze(0), lambda g: g.unsqueeze(0), params)
    return Product("conv2d", w, x, lambda g: g, params)


def _bind(fn, args, kwargs, names):
    """Positional and keyword arguments of a call as one dict over names."""
    bound = dict(zip(names, args))
    bound.update(kwargs or {})
    missing = [n for n in names[:2] if n not in bound]
    if missing:
        raise Unsupported(f"{fn} called without {missing}")
    return bound


def resolve(label, args, kwargs):
    """The Product of one recordable call; label is matmul, rmatmul, bmm, einsum, linear or conv2d."""
    if label in ("matmul", "bmm"):
        return matmul(args[0], args[1]) if len(args) > 1 else matmul(args[0], kwargs["other"])
    if label == "rmatmul":  # b.__rmatmul__(a) is a @ b
        return matmul(args[1], args[0])
    if label == "einsum":
        operands = args[1:] if len(args) > 2 else list(args[1])
        return einsum(args[0], *operands)
    if label == "linear":
        bound = _bind(label, args, kwargs, ["input", "weight", "bias"])
        return linear(bound["input"], bound["weight"])
    bound = _bind(label, args, kwargs, ["input", "weight", "bias", "stride", "padding", "dilation", "groups"])
    keys = {k: bound[k] for k in ("stride", "padding", "dilation", "groups") if k in bound}
    return conv2d(bound["input"], bound["weight"], **keys)


# Products the recorder cannot record; the mode still sees them, names them and counts their MACs.
UNRECORDED = {"mm", "addmm", "baddbmm", "addbmm", "mv", "addmv", "dot", "vdot", "inner", "outer", "ger",
              "tensordot", "chain_matmul", "multi_dot", "conv1d", "conv3d", "conv_transpose1d",
              "conv_transpose2d", "conv_transpose3d", "convolution", "_convolution", "conv_tbc", "bilinear",
              "lstm", "gru", "rnn_tanh", "rnn_relu", "lstm_cell", "gru_cell", "rnn_tanh_cell", "rnn_relu_cell",
              "multi_head_attention_forward", "scaled_dot_product_attention"}


def einsum_macs(equation, operands):
    """MACs of an einsum contracted left to right, pair by pair (torch's order without opt_einsum)."""
    lhs, _, rhs = equation.replace(" ", "").partition("->")
    letters = [_einsum_letters(s, t) for s, t in zip(lhs.split(","), operands)]
    size = {c: s for ls, t in zip(letters, operands) for c, s in zip(ls, t.shape)}
    out = set(rhs.replace("...", "".join(c for ls in letters for c in ls if c.isupper())))
    if "->" not in equation:
        joined = "".join(letters)
        out = {c for c in joined if joined.count(c) == 1}
    total, current = 0, set(letters[0])
    for i in range(1, len(letters)):
        union = current | set(letters[i])
        total += math.prod(size[c] for c in union)
        later = set("".join(letters[i + 1:])) | out
        current = union & later
    return total


def _rnn_macs(label, args):
    """Every 2-D weight of the RNN multiplies every (time step, sequence) row of its input."""
    rows = args[0].numel() // args[0].shape[-1]
    if label.endswith("_cell"):
        return rows * (args[2].numel() + args[3].numel())
    # The flat weight list, not the initial state (h0, c0), which is a tuple of 3-D tensors.
    lists = [a for a in args if isinstance(a, (list, tuple)) and a and all(torch.is_tensor(t) for t in a)]
    return rows * max(sum(w.numel() for w in weights if w.dim() == 2) for weights in lists)


def _mha_macs(args):
    """F.multi_head_attention_forward (query [Lq, N, E], key [Lk, N, Ek], value [Lk, N, Ev]):
    the three input projections, Q K^T and P V, and the output projection."""
    query, key, value = args[:3]
    e, lq, lk = query.shape[-1], query.shape[0], key.shape[0]
    n = query.numel() // (lq * e)
    return n * (lq * e * e + lk * e * key.shape[-1] + lk * e * value.shape[-1] + 2 * lq * lk * e + lq * e * e)


def _conv_macs(label, args, out):
    transposed = "transpose" in label or (label in ("convolution", "_convolution") and bool(args[6]))
    weight_row = args[1][0].numel()
    return (args[0].numel() if transposed else out.numel()) * weight_row


def macs(label, args, kwargs, out):
    """Multiply-accumulates of one product call (its output is out), or None without a formula."""
    try:
        return _macs(label, list(args) + list((kwargs or {}).values()), out)
    except (IndexError, AttributeError, TypeError, ValueError, StopIteration, KeyError):
        return None


def _macs(label, args, out):
    out = out if torch.is_tensor(out) else out[0]
    if label in ("mm", "mv", "matmul", "bmm", "dot", "vdot", "inner"):
        return out.numel() * args[0].shape[-1]
    if label == "rmatmul":
        return out.numel() * args[1].shape[-1]
    if label in ("addmm", "addmv", "baddbmm"):
        return out.numel() * args[1].shape[-1]
    if label == "addbmm":
        return args[1].shape[0] * out.numel() * args[1].shape[-1]
    if label in ("outer", "ger"):
        return out.numel()
    if label == "linear":
        return out.numel() * args[1].shape[-1]
    if label == "bilinear":
        return args[0].numel() // args[0].shape[-1] * args[2].numel()
    if label == "conv_tbc":
        return None
    if label.startswith("conv") or label in ("convolution", "_convolution"):
        return _conv_macs(label, args, out)
    if label.startswith(("lstm", "gru", "rnn_")):
        return _rnn_macs(label, args)
    if label == "multi_head_attention_forward":
        return _mha_macs(args)
    if label == "einsum":
        operands = args[1:] if len(args) > 2 else list(args[1])
        return einsum_macs(args[0], operands)
    return None
