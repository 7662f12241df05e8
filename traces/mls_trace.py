"""Record the Conv2d layers of one PyTorch training iteration as an mls-trace.

The trace format is the contract in docs/reference.md (trace format): a directory with
``manifest.json`` and, per layer, float32 little-endian C-order ``.npy`` files
for the weight, the conv's input and the gradient of the loss w.r.t. the conv's
output. Works with any ``nn.Module``; only ``nn.Conv2d`` layers are recorded.

Typical use::

    rec = ConvTraceRecorder(model)
    with rec:                       # hooks live only inside the block
        loss = loss_fn(model(x), y)
        loss.backward()
    rec.write("traces/my-model", model_name="my-model")
"""

import json
import os
import shutil
import tempfile

import numpy as np
import torch
from torch import nn

FORMAT = "mls-trace/1"


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


class ConvTraceRecorder:
    """Hooks every nn.Conv2d of ``model`` while used as a context manager.

    Inside the ``with`` block run exactly one iteration (forward and
    backward). Each conv records its weight and input at forward time (copies,
    so a later optimizer step or in-place op does not change them) and the
    gradient w.r.t. its output when backward reaches it.

    ``layers`` optionally restricts recording to these qualified names.
    """

    def __init__(self, model, layers=None):
        convs = [(name or "conv", m) for name, m in model.named_modules()
                 if isinstance(m, nn.Conv2d)]
        if layers is not None:
            wanted = set(layers)
            unknown = wanted - {name for name, _ in convs}
            if unknown:
                raise ValueError(f"no Conv2d named {sorted(unknown)} in model")
            convs = [(n, m) for n, m in convs if n in wanted]
        if not convs:
            raise ValueError("model has no Conv2d layers to record")
        self._convs = convs
        self._handles = []
        self.records = {}

    def __enter__(self):
        self.records = {name: {} for name, _ in self._convs}
        for name, conv in self._convs:
            self._handles.append(
                conv.register_forward_hook(self._forward_hook(name)))
        return self

    def __exit__(self, *exc):
        for handle in self._handles:
            handle.remove()
        self._handles = []
        return False

    def _forward_hook(self, name):
        def hook(conv, inputs, output):
            record = self.records[name]
            # A conv called twice (weight sharing, two forwards in the block)
            # has no single input/grad_output, which the format needs.
            if "input" in record:
                raise RuntimeError(f"conv {name!r} ran twice while recording; "
                                   "record a single forward/backward")
            record["weight"] = _to_f32(conv.weight)
            record["input"] = _to_f32(inputs[0])
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

    def manifest_layers(self, require_grad=True):
        """Manifest entries for the recorded layers, in model order.

        Raises if a layer never ran, or (with ``require_grad``) never received
        its gradient, so an incomplete iteration cannot become a trace.
        """
        entries = []
        for name, conv in self._convs:
            record = self.records.get(name, {})
            if "input" not in record:
                raise RuntimeError(f"conv {name!r} did not run while recording")
            if require_grad and "grad_output" not in record:
                raise RuntimeError(f"conv {name!r} got no gradient: run "
                                   "loss.backward() inside the recorder")
            entry = {
                "name": name,
                "kind": "conv2d",
                "stride": _pair(conv.stride),
                "padding": _explicit_padding(conv),
                "dilation": _pair(conv.dilation),
                "groups": int(conv.groups),
                "weight": f"{name}.weight.npy",
                "input": f"{name}.input.npy",
            }
            if "grad_output" in record:
                entry["grad_output"] = f"{name}.grad_output.npy"
            entries.append(entry)
        return entries

    def write(self, out_dir, model_name, source=None, extra_files=None,
              require_grad=True):
        """Write the trace to ``out_dir``; see :func:`write_trace`."""
        layers = self.manifest_layers(require_grad)
        arrays = {}
        for entry in layers:
            record = self.records[entry["name"]]
            for key in ("weight", "input", "grad_output"):
                if key in entry:
                    arrays[entry[key]] = record[key]
        manifest = {"format": FORMAT, "model": model_name, "layers": layers}
        if source is not None:
            manifest["source"] = source
        write_trace(out_dir, manifest, arrays, extra_files)
        return manifest


def write_trace(out_dir, manifest, arrays, extra_files=None):
    """Atomically write manifest, arrays (file name -> ndarray) and text files.

    Everything goes to a temporary directory beside ``out_dir`` that is
    renamed into place at the end, so a failure leaves no partial trace. An
    existing ``out_dir`` is replaced only if it is empty or an old trace (has
    a manifest.json), never an unrelated directory.
    """
    out_dir = os.path.abspath(out_dir)
    if os.path.exists(out_dir):
        is_dir = os.path.isdir(out_dir)
        if not is_dir or (os.listdir(out_dir) and not os.path.exists(
                os.path.join(out_dir, "manifest.json"))):
            raise FileExistsError(f"{out_dir} exists and is not a trace; "
                                  "refusing to replace it")
    parent = os.path.dirname(out_dir)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(out_dir)}.tmp-",
                           dir=parent)
    try:
        os.chmod(tmp, 0o755)  # mkdtemp makes it private; a trace is shared
        for file_name, array in arrays.items():
            np.save(os.path.join(tmp, file_name),
                    np.ascontiguousarray(array, dtype="<f4"))
        for file_name, text in (extra_files or {}).items():
            with open(os.path.join(tmp, file_name), "w") as f:
                f.write(text)
        with open(os.path.join(tmp, "manifest.json"), "w") as f:
            f.write(_format_manifest(manifest))
        _replace_dir(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _format_manifest(manifest):
    """Indented JSON with one layer per line, so the file stays readable."""
    text = json.dumps({k: v for k, v in manifest.items() if k != "layers"},
                      indent=2)
    layers = ",\n".join("    " + json.dumps(layer)
                         for layer in manifest["layers"])
    head = text[:-2] + ",\n" if len(manifest) > 1 else "{\n"
    return head + '  "layers": [\n' + layers + "\n  ]\n}\n"


def _replace_dir(new, target):
    """Move ``new`` to ``target``, swapping out an old ``target`` if present.

    Directories cannot be renamed over non-empty ones, so the old trace is
    first moved aside; it is restored if the final rename fails.
    """
    if not os.path.exists(target):
        os.rename(new, target)
        return
    old = tempfile.mkdtemp(prefix=f".{os.path.basename(target)}.old-",
                           dir=os.path.dirname(target))
    os.rmdir(old)
    os.rename(target, old)
    try:
        os.rename(new, target)
    except BaseException:
        os.rename(old, target)
        raise
    shutil.rmtree(old)


def record_conv_trace(model, run_iteration, out_dir, model_name, **write_args):
    """Run ``run_iteration()`` (one forward + backward) under a recorder and
    write the trace. Returns the manifest that was written."""
    recorder = ConvTraceRecorder(model)
    with recorder:
        run_iteration()
    return recorder.write(out_dir, model_name, **write_args)
