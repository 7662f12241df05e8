"""What TraceRecorder sees through a torch function mode: functional products and vector ops.

A ``torch.overrides.TorchFunctionMode`` (torch 1.13 and later) sees every torch
function and tensor method the model calls at the Python level, so products
written as functions (``q @ k.transpose(-2, -1)``, ``torch.matmul``, ``bmm``,
two-operand ``einsum``, ``F.linear``, ``F.conv2d``, and the two products inside
``F.scaled_dot_product_attention`` where torch has it) are recorded like layers,
named after the module that runs them (``blocks.0.attn.matmul``, then
``blocks.0.attn.matmul_1``, ...). A product inside a module the recorder hooks
(nn.Linear calls F.linear) belongs to that module and is left to its hook.

Products it cannot record (``torch.mm``, ``baddbmm``, conv1d, LSTM, the fused
multi-head attention, a product in a custom autograd Function, ...) are listed
in ``unrecorded`` with their MACs, and the recorder refuses to write the trace
unless told to drop them. Softmax, layer and batch norms, activations and the
residual add of two same-shape activations are listed in ``vector_ops`` with
their output shape and the recorded product that ran before them.

Calls on which no tensor requires grad (constants, masks, data preparation)
are not part of the training iteration and are ignored.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

import mls_products
from mls_products import Unsupported, param_like

try:
    from torch.overrides import TorchFunctionMode
except ImportError:  # torch before 1.13
    TorchFunctionMode = None

PRODUCTS = {"matmul": "matmul", "__matmul__": "matmul", "__rmatmul__": "rmatmul", "bmm": "bmm",
            "einsum": "einsum", "linear": "linear", "conv2d": "conv2d"}
ACTIVATIONS = {"relu", "relu6", "gelu", "silu", "sigmoid", "tanh", "elu", "selu", "celu", "leaky_relu",
               "hardswish", "hardsigmoid", "hardtanh", "mish", "softplus", "softsign", "logsigmoid",
               "prelu", "glu", "rrelu"}
VECTOR = {"softmax": "softmax", "log_softmax": "softmax", "layer_norm": "layer_norm",
          "batch_norm": "batch_norm", "add": "residual_add", "__add__": "residual_add",
          "__radd__": "residual_add", "__iadd__": "residual_add"}
VECTOR_MODULES = (nn.LayerNorm, nn.modules.batchnorm._BatchNorm, nn.Softmax, nn.LogSoftmax)


def require_function_mode():
    """Functional recording needs TorchFunctionMode; say which torch lacks it."""
    if TorchFunctionMode is None:
        raise RuntimeError(f"mls_trace: torch {torch.__version__} has no torch.overrides.TorchFunctionMode "
                           "(torch 1.13 or later), so functional products cannot be recorded; "
                           "upgrade torch or use ConvTraceRecorder")


def _tensors(args):
    for a in args:
        if torch.is_tensor(a):
            yield a
        elif isinstance(a, (list, tuple)):
            yield from (t for t in a if torch.is_tensor(t))


def _is_vector_module(module):
    return isinstance(module, VECTOR_MODULES) or type(module).__module__ == "torch.nn.modules.activation"


def _residual(args, out):
    """Two activations of the output's shape, one computed in this iteration (a broadcast bias or
    mask, or an add of a parameter or of a view of one, is not a residual)."""
    if len(args) < 2 or not (torch.is_tensor(args[0]) and torch.is_tensor(args[1])):
        return False
    a, b = args[0], args[1]
    return (a.shape == b.shape == out.shape and (a.grad_fn is not None or b.grad_fn is not None)
            and not param_like(a) and not param_like(b))


class FunctionalLog:
    """Products, vector ops and unrecorded products of one recorded iteration, in execution order.

    ``is_recorded_module(m)``: whether a module's own product is left to its hook;
    ``wanted``: the layer names to record (None: all); ``to_array``: the copy kept of a tensor.
    """

    def __init__(self, is_recorded_module, wanted, to_array):
        self.is_recorded_module, self.wanted, self.to_array = is_recorded_module, wanted, to_array
        self.stack = []          # (qualified name, module) of the modules running now
        self.records = {}        # functional layer name -> {"kind", "params", "weight", "input", "grad_output"}
        self.order = []          # recorded layer names (modules' and functional) in execution order
        self.vector_ops = []
        self.unrecorded = []     # (name, function, MACs or None, reason)
        self.recorded_macs = 0
        self.used_params = set()  # ids of parameters that reached a recorded product
        self._counts = {}

    def name_for(self, label, vector=False):
        """<module>.<label> (a norm or activation module's own op: <module>), _1, _2... on repeats."""
        prefix, module = self.stack[-1] if self.stack else ("", None)
        base = prefix if vector and module is not None and prefix and _is_vector_module(module) else \
            (f"{prefix}.{label}" if prefix else label)
        n = self._counts.get(base, 0)
        self._counts[base] = n + 1
        return base if n == 0 else f"{base}_{n}"

    def module_ran(self, name, label, args, out):
        """A hooked module recorded its product: keep the execution order and the MAC total."""
        self.order.append(name)
        self.recorded_macs += mls_products.macs(label, args, {}, out) or 0

    def seen(self, func_name, args, kwargs, out):
        """One call the mode passed through (out is its result)."""
        in_hooked = self.stack and self.is_recorded_module(self.stack[-1][1])
        if func_name in PRODUCTS or func_name in mls_products.UNRECORDED:
            if in_hooked:
                return  # the module's own product: its hook records it
            label = PRODUCTS.get(func_name, func_name)
            if label == "einsum" and len(list(_tensors(args[1:]))) != 2:
                self.unrecorded_call("einsum", args, kwargs, out, "einsum of other than two operands")
            elif label in PRODUCTS.values():
                self.record(self.name_for(label), label, args, kwargs, out)
            else:
                self.unrecorded_call(label, args, kwargs, out, "no trace kind covers it")
            return
        plain = func_name[:-1] if func_name.endswith("_") and not func_name.endswith("__") else func_name
        if (plain in VECTOR or plain in ACTIVATIONS) and torch.is_tensor(out):
            self.vector(plain, args, out)

    def unrecorded_call(self, label, args, kwargs, out, reason):
        self.unrecorded.append((self.name_for(label), label, mls_products.macs(label, args, kwargs, out), reason))

    def record(self, name, label, args, kwargs, out):
        """Record one functional product as layer ``name`` (its gradient arrives in backward)."""
        try:
            product = mls_products.resolve(label, args, kwargs)
        except Unsupported as e:
            self.unrecorded.append((name, label, mls_products.macs(label, args, kwargs, out), str(e)))
            return
        if not torch.is_grad_enabled() or not out.requires_grad:
            reason = "it runs without autograd (in a torch.autograd.Function's forward or under no_grad)"
            self.unrecorded.append((name, label, mls_products.macs(label, args, kwargs, out), reason))
            return
        if self.wanted is not None and name not in self.wanted:
            return
        if name in self.records:
            raise RuntimeError(f"product {name!r} recorded twice")
        record = {"kind": product.kind, "params": product.params,
                  "weight": self.to_array(product.weight), "input": self.to_array(product.input)}
        to_grad, to_array = product.to_grad, self.to_array
        out.register_hook(lambda g: record.__setitem__("grad_output", to_array(to_grad(g))))
        self.records[name] = record
        self.order.append(name)
        self.recorded_macs += mls_products.macs(label, args, kwargs, out) or 0
        for t in _tensors(args):
            base = t._base if t._base is not None else t
            if isinstance(base, nn.Parameter):
                self.used_params.add(id(base))

    def vector(self, label, args, out):
        """One vector op; ``label`` is a torch function's name without a trailing underscore."""
        op = "activation" if label in ACTIVATIONS else VECTOR[label]
        if op == "residual_add" and not _residual(args, out):
            return
        entry = {"name": self.name_for("add" if op == "residual_add" else label, vector=True), "op": op}
        if op == "activation":
            entry["fn"] = label
        entry.update(shape=[int(s) for s in out.shape], after=self.last_product())
        self.vector_ops.append(entry)

    def last_product(self):
        return self.order[-1] if self.order else None

    def sdpa(self, args, kwargs):
        """F.scaled_dot_product_attention (torch 2.0 and later) as the two recorded products
        Q K^T and P V around a recorded softmax; the mask, scale and dropout as torch defines them."""
        bound = dict(zip(["query", "key", "value", "attn_mask", "dropout_p", "is_causal", "scale"], args))
        bound.update(kwargs)
        q, k, v = bound["query"], bound["key"], bound["value"]
        base = self.name_for("sdpa")
        kt = k.transpose(-2, -1)
        scores = torch.matmul(q, kt)
        self.record(f"{base}.qk", "matmul", (q, kt), {}, scores)
        scale = bound.get("scale")
        scores = scores * (1 / math.sqrt(q.shape[-1]) if scale is None else scale)
        if bound.get("is_causal"):
            causal = torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool, device=q.device).tril()
            scores = scores.masked_fill(~causal, float("-inf"))
        mask = bound.get("attn_mask")
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf")) if mask.dtype == torch.bool else scores + mask
        att = scores.softmax(-1)
        self.vector_ops.append({"name": f"{base}.softmax", "op": "softmax", "shape": list(att.shape),
                                "after": self.last_product()})
        if bound.get("dropout_p"):
            att = F.dropout(att, bound["dropout_p"])
        out = torch.matmul(att, v)
        self.record(f"{base}.pv", "matmul", (att, v), {}, out)
        return out


def _requires_grad(args, kwargs):
    return any(t.requires_grad for t in _tensors(list(args) + list(kwargs.values())))


RecordingMode = None
if TorchFunctionMode is not None:
    class RecordingMode(TorchFunctionMode):
        """Passes every call through and tells ``log`` about products and vector ops."""

        def __init__(self, log):
            super().__init__()
            self.log = log

        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            name = getattr(func, "__name__", "")
            if not _requires_grad(args, kwargs):
                return func(*args, **kwargs)
            if name == "scaled_dot_product_attention":
                return self.log.sdpa(args, kwargs)
            out = func(*args, **kwargs)
            if torch.is_tensor(out) or (isinstance(out, tuple) and out and torch.is_tensor(out[0])):
                self.log.seen(name, args, kwargs, out)
            return out
