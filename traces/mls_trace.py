"""Record the products of one PyTorch training iteration as an mls-trace.

The trace format is the contract in docs/reference.md (trace format): a directory with
``manifest.json`` and, per layer, float32 little-endian C-order ``.npy`` files
for the weight, the layer's input and the gradient of the loss w.r.t. the
layer's output. Works with any ``nn.Module``.

``TraceRecorder`` records every ``nn.Conv2d`` (any groups), ``nn.ConvTranspose2d``,
``nn.Linear`` and ``RecordedMatmul`` by module hooks (kinds conv2d,
conv_transpose2d, linear and matmul, format mls-trace/2), and every functional
product -- ``q @ k.transpose(-2, -1)``, ``torch.matmul``, ``bmm``, two-operand
``einsum``, ``F.linear``, ``F.conv2d``, the products of scaled-dot-product
attention -- through a torch function mode (mls_mode.py; mls_products.py puts
their operands in the format's layout). Softmax, norms, activations and
residual adds become the manifest's ``vector_ops``.

Nothing is dropped silently: a product that ran but cannot be recorded makes
``write()`` fail naming it (``allow_unrecorded=True`` drops it and prints the
share of MACs dropped), and every module whose matrices reached no recorded
product is named in one warning line on stderr when the block ends (modules
that hold only per-channel vectors, such as norms, and embedding tables are
summed up in one note line: they hold no products). Biases are not part of
the format and are not recorded.

Typical use::

    rec = TraceRecorder(model)
    with rec:                       # hooks and the mode live only inside the block
        loss = loss_fn(model(x), y)
        loss.backward()
    rec.write("traces/my-model", model_name="my-model")

``ConvTraceRecorder`` is the former conv-only recorder (format mls-trace/1, module
hooks only), kept so that the bundled ResNet-20 trace regenerates byte for byte.
"""

import sys

import numpy as np
import torch
from torch import nn

from mls_mode import FunctionalLog, RecordingMode, require_function_mode
from trace_files import write_trace  # noqa: F401 (part of this module's interface)

FORMAT = "mls-trace/2"


class RecordedMatmul(nn.Module):
    """``torch.matmul(a, b)`` as a module, so a recorder can see it.

    ``a`` is [..., M, K] (the trace's ``input``), ``b`` is [..., K, N] (the
    trace's ``weight``, the second operand); their leading batch dims must be
    equal (the trace format does not broadcast). Without a recorder it is
    exactly ``torch.matmul``.
    """

    def forward(self, a, b):
        return torch.matmul(a, b)


def _pair(value):
    """Conv attributes are ints or tuples; the manifest wants two-element lists."""
    if isinstance(value, int):
        return [value, value]
    return [int(v) for v in value]


def _explicit_padding(conv):
    """Return the padding as [ph, pw], resolving the 'valid'/'same' strings.

    The simulator only models symmetric zero padding, so anything else is
    refused here rather than silently producing a trace of a different conv.
    """
    if conv.padding_mode != "zeros":
        raise ValueError(f"conv {conv!r}: padding_mode {conv.padding_mode!r} "
                         "is not supported (only zero padding)")
    if conv.padding == "valid":
        return [0, 0]
    if conv.padding == "same":
        pads = []
        for k, d in zip(conv.kernel_size, conv.dilation):
            if d * (k - 1) % 2:
                raise ValueError(f"conv {conv!r}: padding='same' is asymmetric "
                                 "for this kernel and cannot be expressed")
            pads.append(d * (k - 1) // 2)
        return pads
    return _pair(conv.padding)


def _to_f32(tensor):
    """A detached little-endian float32 C-order copy, as docs/reference.md#trace-format asks."""
    array = tensor.detach().to("cpu", torch.float32).numpy()
    return np.ascontiguousarray(array, dtype="<f4")


def _kind_of(module):
    """The manifest kind a module records as, or None."""
    if isinstance(module, nn.Conv2d):
        return "conv2d"
    if isinstance(module, nn.ConvTranspose2d):
        return "conv_transpose2d"
    if isinstance(module, nn.Linear):
        return "linear"
    if isinstance(module, RecordedMatmul):
        return "matmul"
    return None


def _layer_params(module, kind):
    """The manifest keys of a layer besides name, kind and files."""
    if kind == "conv2d":
        return {"stride": _pair(module.stride), "padding": _explicit_padding(module),
                "dilation": _pair(module.dilation), "groups": int(module.groups)}
    if kind == "conv_transpose2d":
        if module.padding_mode != "zeros":
            raise ValueError(f"conv {module!r}: padding_mode {module.padding_mode!r} "
                             "is not supported (only zero padding)")
        return {"stride": _pair(module.stride), "padding": _pair(module.padding),
                "dilation": _pair(module.dilation), "groups": int(module.groups),
                "output_padding": _pair(module.output_padding)}
    return {}


# Modules whose forward reads their children's weights directly instead of
# calling the children (nn.MultiheadAttention calls F.multi_head_attention_forward
# with out_proj.weight): hooks on those children never fire, so the module is
# reported whole and nothing inside it is recorded.
OPAQUE = (nn.MultiheadAttention,)
LOOKUPS = (nn.Embedding, nn.EmbeddingBag)


def _opaque_prefixes(model):
    return [name + "." for name, m in model.named_modules() if isinstance(m, OPAQUE)]


def _inside(name, prefixes):
    return any(name.startswith(p) for p in prefixes)


def recordable_modules(model, kinds):
    """(qualified name, module) of every module recorded as one of ``kinds``."""
    opaque = _opaque_prefixes(model)
    return [(name or "layer", m) for name, m in model.named_modules()
            if _kind_of(m) in kinds and not _inside(name, opaque)]


def unrecorded_modules(model, kinds, recorded_params=frozenset()):
    """(name, "type: its parameters", share of the model's parameters, has
    products) of every module holding parameters of its own that is not of a
    recorded kind and whose matrices did not all reach a recorded product
    (``recorded_params``: their ids); an opaque module (OPAQUE) counts with
    everything inside it. A module whose parameters are all vectors (a norm's
    scale and shift) or an embedding table (a lookup) holds no products."""
    total = sum(p.numel() for p in model.parameters()) or 1
    opaque = _opaque_prefixes(model)
    found = []
    for name, module in model.named_modules():
        if _inside(name, opaque):
            continue
        whole = isinstance(module, OPAQUE)
        if _kind_of(module) in kinds and not whole:
            continue
        everything = list(module.named_parameters(recurse=whole))
        named = [(n, p) for n, p in everything if id(p) not in recorded_params]
        own = [p for _, p in named]
        if not own or (len(own) < len(everything) and all(p.dim() < 2 for p in own)):
            continue  # its matrices reached recorded products; only vectors (biases) are left
        share = sum(p.numel() for p in own) / total
        params = ", ".join(n for n, _ in named)
        found.append((name or "(model)", f"{type(module).__name__}: {params}", share,
                      any(p.dim() >= 2 for p in own) and not isinstance(module, LOOKUPS)))
    return found


def warn_unrecorded(found, stream=None, reason="no trace kind covers it"):
    """One warning line per module that holds products it cannot record, and
    one note for the modules that hold only per-channel vectors."""
    stream = stream or sys.stderr
    vectors = [f for f in found if not f[3]]
    for name, kind, share, _ in (f for f in found if f[3]):
        print(f"mls_trace: warning: module '{name}' ({kind}, {100 * share:.1f}% of the model's parameters) "
              f"is not recorded: {reason}", file=stream)
    if vectors:
        types = sorted({f[1].split(":")[0] for f in vectors})
        share = sum(f[2] for f in vectors)
        print(f"mls_trace: note: {len(vectors)} modules with only per-channel parameters "
              f"({', '.join(types)}; {100 * share:.1f}% of the model's parameters) hold no products "
              "and are not recorded", file=stream)


class TraceRecorder:
    """Records every product of one iteration of ``model`` while used as a context manager.

    Inside the ``with`` block run exactly one iteration (forward and
    backward). Each hooked module (Conv2d, ConvTranspose2d, Linear,
    RecordedMatmul) and each functional product (mls_mode) records its weight
    (for a matmul: its second operand) and input at forward time (copies, so a
    later optimizer step or in-place op does not change them) and the gradient
    w.r.t. its output when backward reaches it; softmax, norms, activations and
    residual adds are kept as the manifest's ``vector_ops``.

    ``layers`` optionally restricts recording to these names. A product that
    ran but cannot be recorded makes ``write()`` fail naming it, unless
    ``allow_unrecorded`` (here or in ``write()``), which drops it and prints
    the share of the iteration's MACs dropped. Modules with parameters whose
    products were not recorded are reported on ``stream`` (stderr) when the
    block ends; ``unrecorded`` lists them.
    """

    KINDS = ("conv2d", "conv_transpose2d", "linear", "matmul")
    FORMAT = FORMAT
    FUNCTIONAL = True
    WHAT = "layers (Conv2d, ConvTranspose2d, Linear, RecordedMatmul)"
    SKIPPED = "no trace kind covers it"

    def __init__(self, model, layers=None, stream=None, allow_unrecorded=False):
        if self.FUNCTIONAL:
            require_function_mode()
        convs = recordable_modules(model, self.KINDS)
        self._wanted = None if layers is None else set(layers)
        if layers is not None:
            unknown = self._wanted - {name for name, _ in convs}
            if unknown and not self.FUNCTIONAL:  # functional names are known once the model ran
                raise ValueError(f"no recordable layer named {sorted(unknown)} in model")
            convs = [(n, m) for n, m in convs if n in self._wanted]
        if not convs and not self.FUNCTIONAL:
            raise ValueError(f"model has no {self.WHAT} to record")
        self._model, self._stream, self.allow_unrecorded = model, stream, allow_unrecorded
        self.unrecorded = unrecorded_modules(model, self.KINDS)
        if not self.FUNCTIONAL:
            warn_unrecorded(self.unrecorded, stream, self.SKIPPED)
        self._convs = convs
        self._handles = []
        self.records = {}
        self.log = FunctionalLog(self._is_hooked_kind, self._wanted, _to_f32)
        self._mode = None

    def _is_hooked_kind(self, module):
        return _kind_of(module) in self.KINDS

    def __enter__(self):
        self.records = {name: {} for name, _ in self._convs}
        self.log = FunctionalLog(self._is_hooked_kind, self._wanted, _to_f32)
        for name, conv in self._convs:
            self._handles.append(conv.register_forward_hook(self._forward_hook(name)))
        if self.FUNCTIONAL:
            for name, module in self._model.named_modules():
                self._handles.append(module.register_forward_pre_hook(self._enter_module(name)))
                self._handles.append(module.register_forward_hook(self._leave_module))
            self._mode = RecordingMode(self.log)
            self._mode.__enter__()
        return self

    def __exit__(self, *exc):
        if self._mode is not None:
            self._mode.__exit__(*exc)
            self._mode = None
        for handle in self._handles:
            handle.remove()
        self._handles = []
        if self.FUNCTIONAL:
            self.unrecorded = unrecorded_modules(self._model, self.KINDS, self.log.used_params)
            warn_unrecorded(self.unrecorded, self._stream, self.SKIPPED)
        return False

    def _enter_module(self, name):
        def hook(module, inputs):
            self.log.stack.append((name, module))
        return hook

    def _leave_module(self, module, inputs, output):
        if self.log.stack and self.log.stack[-1][1] is module:
            self.log.stack.pop()

    def _forward_hook(self, name):
        def hook(conv, inputs, output):
            record = self.records[name]
            # A conv called twice (weight sharing, two forwards in the block)
            # has no single input/grad_output, which the format needs.
            if "input" in record:
                raise RuntimeError(f"layer {name!r} ran twice while recording; "
                                   "record a single forward/backward")
            if isinstance(conv, RecordedMatmul):
                a, b = inputs
                if a.dim() < 2 or a.shape[:-2] != b.shape[:-2]:
                    raise ValueError(f"matmul {name!r}: operands {tuple(a.shape)} and {tuple(b.shape)} "
                                     "must be [..., M, K] and [..., K, N] with equal batch dims "
                                     "(expand them first: the trace format does not broadcast)")
                weight = b
            else:
                weight = conv.weight
            record["weight"] = _to_f32(weight)
            record["input"] = _to_f32(inputs[0])
            self.log.module_ran(name, _kind_of(conv), (inputs[0], weight), output)
            # A tensor hook on the output (rather than a module backward hook)
            # also fires when the conv's input does not require grad, e.g. the
            # first layer fed with data.
            if output.requires_grad:
                output.register_hook(self._grad_hook(name))
        return hook

    def _grad_hook(self, name):
        def hook(grad):
            self.records[name]["grad_output"] = _to_f32(grad)
        return hook

    def _layer_order(self):
        """Module order for the conv-only recorder; execution order (modules and functional products) else."""
        for name, _ in self._convs:
            if "input" not in self.records.get(name, {}):
                raise RuntimeError(f"layer {name!r} did not run while recording")
        if not self.FUNCTIONAL:
            return [name for name, _ in self._convs]
        order = self.log.order
        if not order:
            raise RuntimeError("no product was recorded: run the model's forward and backward inside the recorder")
        if len(set(order)) < len(order):
            raise RuntimeError(f"two recorded layers share a name: {sorted({n for n in order if order.count(n) > 1})}")
        unknown = (self._wanted or set()) - set(order)
        if unknown:
            raise ValueError(f"no recorded layer named {sorted(unknown)} (layers= names a module or a product "
                             "that ran, e.g. 'blocks.0.attn.matmul')")
        return order

    def _record(self, name):
        return self.records[name] if name in self.records else self.log.records[name]

    def manifest_layers(self, require_grad=True):
        """Manifest entries for the recorded layers (see _layer_order for their order).

        Raises if a layer never ran, or (with ``require_grad``) never received
        its gradient, so an incomplete iteration cannot become a trace.
        """
        modules = dict(self._convs)
        entries = []
        for name in self._layer_order():
            record = self._record(name)
            if require_grad and "grad_output" not in record:
                raise RuntimeError(f"layer {name!r} got no gradient: run "
                                   "loss.backward() inside the recorder")
            if name in modules:
                kind = _kind_of(modules[name])
                params = _layer_params(modules[name], kind)
            else:
                kind, params = record["kind"], record["params"]
            entry = {"name": name, "kind": kind, **params,
                     "weight": f"{name}.weight.npy", "input": f"{name}.input.npy"}
            if "grad_output" in record:
                entry["grad_output"] = f"{name}.grad_output.npy"
            entries.append(entry)
        return entries

    def check_unrecorded(self, allow):
        """Refuse (or, with allow, report on stream) the products that ran but were not recorded."""
        dropped = self.log.unrecorded
        if not dropped:
            return
        known = sum(m for _, _, m, _ in dropped if m is not None)
        total = self.log.recorded_macs + known
        share = f"{100 * known / total:.1f}%" if total else "0%"
        if any(m is None for _, _, m, _ in dropped):
            share = "at least " + share
        items = [f"'{name}' ({fn}, {'unknown' if m is None else f'{m:,}'} MACs: {reason})"
                 for name, fn, m, reason in dropped[:6]]
        if len(dropped) > 6:
            items.append(f"and {len(dropped) - 6} more")
        what = f"{len(dropped)} products ran but are not recorded ({share} of the iteration's forward MACs): " + \
            "; ".join(items)
        if not allow:
            raise RuntimeError(f"mls_trace: {what}; write them as a recorded product (@, torch.matmul, bmm, "
                               "two-operand einsum, F.linear, F.conv2d or a recorded module) or pass "
                               "allow_unrecorded=True to drop them")
        print(f"mls_trace: warning: allow_unrecorded: {what}; dropped {share} of the MACs",
              file=self._stream or sys.stderr)

    def write(self, out_dir, model_name, source=None, extra_files=None,
              require_grad=True, allow_unrecorded=None):
        """Write the trace to ``out_dir``; see :func:`write_trace`."""
        self.check_unrecorded(self.allow_unrecorded if allow_unrecorded is None else allow_unrecorded)
        layers = self.manifest_layers(require_grad)
        arrays = {}
        for entry in layers:
            record = self._record(entry["name"])
            for key in ("weight", "input", "grad_output"):
                if key in entry:
                    arrays[entry[key]] = record[key]
        manifest = {"format": self.FORMAT, "model": model_name, "layers": layers}
        if source is not None:
            manifest["source"] = source
        if self.FUNCTIONAL and self.log.vector_ops:
            manifest["vector_ops"] = self.log.vector_ops
        write_trace(out_dir, manifest, arrays, extra_files)
        return manifest


class ConvTraceRecorder(TraceRecorder):
    """The conv-only recorder: nn.Conv2d layers alone, format mls-trace/1
    (kept so that traces dumped with it regenerate byte for byte)."""

    KINDS = ("conv2d",)
    FORMAT = "mls-trace/1"
    FUNCTIONAL = False
    WHAT = "Conv2d layers"
    SKIPPED = "the conv-only recorder records Conv2d alone (TraceRecorder records more)"


def record_trace(model, run_iteration, out_dir, model_name, recorder_class=TraceRecorder, **write_args):
    """Run ``run_iteration()`` (one forward + backward) under a recorder and
    write the trace. Returns the manifest that was written."""
    recorder = recorder_class(model)
    with recorder:
        run_iteration()
    return recorder.write(out_dir, model_name, **write_args)


def record_conv_trace(model, run_iteration, out_dir, model_name, **write_args):
    """``record_trace`` with the conv-only recorder (mls-trace/1)."""
    recorder = ConvTraceRecorder(model)
    with recorder:
        run_iteration()
    return recorder.write(out_dir, model_name, **write_args)
