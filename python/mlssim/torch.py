"""mlssim.torch: PyTorch layers whose products run the golden MLS arithmetic (docs/python.md).

Each forward, backward-data and backward-weight product of a ``Conv2d``,
``Linear`` or ``matmul`` goes through ``mlssim`` (``mlssim conv`` bit for bit):
its operands are quantized as the golden model quantizes them for that pass
(per-operand formats, groupings, stochastic rounding keyed by the layer's name
and a seed), accumulated in an ``acc_bits`` local accumulator with its overflow
policy, and scaled and summed in fp32 in the array's order. Biases,
normalisation, activations, the loss and the optimizer stay in torch.

Stochastic rounding: call ``i`` of a layer (its i-th forward, counted from 0,
and the backward of that forward) uses seed ``(seed + i * 0x9E3779B97F4A7C15)
mod 2^64``, so every step draws afresh and a run is reproducible from ``seed``.
"""
import fnmatch
import json

import numpy as np
import torch
import torch.nn.functional as F

import mlssim

__all__ = ["Conv2d", "Linear", "Matmul", "matmul", "convert", "mls_stats", "MlsConfig"]

_SEED_STEP = 0x9E3779B97F4A7C15
_MASK64 = (1 << 64) - 1
_EVENTS = ("mul", "acc_add", "acc_overflow", "scale", "tree_add", "out_acc", "final_mul", "write_out", "requant")


class MlsConfig:
    """A layer's run parameters (sweep names), preset and worker threads, checked once."""

    def __init__(self, preset=None, threads=0, **config):
        self.preset = preset
        self.threads = threads
        self.config = {k: v for k, v in config.items() if v is not None}
        # The CLI's parser checks the names and values now, not at the first step.
        mlssim.linear("fwd", np.zeros((1, 1), np.float32), np.zeros((1, 1), np.float32), preset=preset,
                      threads=1, **self.config)
        # Neither the config nor the preset sets a grouping: `run`'s default groupings
        # (a block grouping for linear, matmul and 1x1 convs; docs/layers.md).
        names = {p["name"] for p in mlssim.parameters() if p["name"].startswith("group")}
        preset_values = next((p["values"] for p in mlssim.presets() if p["name"] == preset), {})
        self.default_groups = not any(k in names for k in [*self.config, *preset_values])

    def seed_of(self, call):
        base = int(self.config.get("seed", 0))
        return (base + call * _SEED_STEP) & _MASK64

    def run(self, kind, passes, name, call, weight, input, grad_output=None, keys=None):
        config = dict(self.config, seed=self.seed_of(call))
        return mlssim.layer(kind, passes, weight, input, grad_output, name=name, preset=self.preset,
                            threads=self.threads, keys=keys, default_groups=self.default_groups, **config)


def _numpy(t):
    return t.detach().to(torch.float32).contiguous().cpu().numpy()


def _new_stats():
    return {p: dict.fromkeys(_EVENTS, 0) for p in mlssim.PASSES} | {"calls": 0}


def _count(stats, pass_, counts):
    for key, value in counts.items():
        stats[pass_][key] = stats[pass_].get(key, 0) + value


class _Product(torch.autograd.Function):
    """One MLS layer product: forward in the forward pass, backward-data and
    backward-weight (those autograd asks for) from one quantization of W, A, E."""

    @staticmethod
    def forward(ctx, input, weight, layer):
        call = layer.mls_stats["calls"]
        layer.mls_stats["calls"] += 1
        out, counts = layer.mls_run("fwd", call, weight, input)
        _count(layer.mls_stats, "fwd", counts)
        ctx.save_for_backward(input, weight)
        ctx.layer, ctx.call = layer, call
        return torch.from_numpy(out).to(input.device)

    @staticmethod
    def backward(ctx, grad_output):
        input, weight = ctx.saved_tensors
        layer = ctx.layer
        passes = [p for p, need in (("bwd-data", ctx.needs_input_grad[0]), ("bwd-weight", ctx.needs_input_grad[1]))
                  if need]
        grads = {}
        if passes:
            for p, (result, counts) in zip(passes, layer.mls_run(passes, ctx.call, weight, input, grad_output)):
                _count(layer.mls_stats, p, counts)
                grads[p] = torch.from_numpy(result).to(grad_output.device)
        return grads.get("bwd-data"), grads.get("bwd-weight"), None


class _MlsLayer:
    """What Conv2d and Linear share: name, configuration, counts."""

    def mls_setup(self, name, mls_config):
        self.mls_name = name
        self.mls_config = mls_config
        self.mls_stats = _new_stats()

    def mls_run(self, passes, call, weight, input, grad_output=None):
        go = None if grad_output is None else _numpy(grad_output)
        return self.mls_config.run(self.mls_kind, passes, self.mls_name, call, _numpy(weight), _numpy(input), go,
                                   self.mls_keys())


class Conv2d(torch.nn.Conv2d, _MlsLayer):
    """torch.nn.Conv2d with MLS products; takes torch's arguments plus
    name= (the stochastic-rounding key, as a trace's layer name), preset=,
    threads= and run parameters by sweep name."""

    mls_kind = "conv2d"

    def __init__(self, *args, name="conv", preset=None, threads=0, **kwargs):
        torch_keys = {k: kwargs.pop(k) for k in list(kwargs) if k in _CONV_ARGS}
        super().__init__(*args, **torch_keys)
        if self.padding_mode != "zeros" or isinstance(self.padding, str):
            raise ValueError(f"{name}: MLS Conv2d takes numeric zero padding, not {self.padding!r}/{self.padding_mode}")
        self.mls_setup(name, MlsConfig(preset, threads, **kwargs))

    def mls_keys(self):
        return {"stride": list(self.stride), "padding": list(self.padding), "dilation": list(self.dilation),
                "groups": self.groups}

    def forward(self, x):
        out = _Product.apply(x, self.weight, self)
        return out if self.bias is None else out + self.bias.view(1, -1, 1, 1)


_CONV_ARGS = ("stride", "padding", "dilation", "groups", "bias", "padding_mode", "device", "dtype")


class Linear(torch.nn.Linear, _MlsLayer):
    """torch.nn.Linear with MLS products (the bias is added in torch)."""

    mls_kind = "linear"

    def __init__(self, in_features, out_features, bias=True, name="linear", preset=None, threads=0, **kwargs):
        super().__init__(in_features, out_features, bias=bias)
        self.mls_setup(name, MlsConfig(preset, threads, **kwargs))

    def mls_keys(self):
        return {}

    def forward(self, x):
        out = _Product.apply(x, self.weight, self)
        return out if self.bias is None else out + self.bias


class _Matmul(_MlsLayer):
    mls_kind = "matmul"

    def mls_keys(self):
        return {}


class Matmul(torch.nn.Module, _MlsLayer):
    """A module computing a @ b with MLS products; convert() puts one in place of
    each recorded matmul (a module named RecordedMatmul, as traces/mls_trace.py has)."""

    mls_kind = "matmul"

    def __init__(self, name="matmul", preset=None, threads=0, **config):
        super().__init__()
        self.mls_setup(name, MlsConfig(preset, threads, **config))

    def mls_keys(self):
        return {}

    def forward(self, a, b):
        return _Product.apply(a, b.contiguous(), self)


_matmuls = {}


def matmul(a, b, name="matmul", preset=None, threads=0, **config):
    """a @ b with MLS products (a [..., M, K], b [..., K, N], equal batch dims).
    Counts accumulate in mlssim.torch.matmul_stats(name)."""
    key = (name, preset, json.dumps(config, sort_keys=True, default=str))
    if key not in _matmuls:
        m = _Matmul()
        m.mls_setup(name, MlsConfig(preset, threads, **config))
        _matmuls[key] = m
    # matmul's "weight" is its second operand, "input" its first.
    return _Product.apply(a, b, _matmuls[key])


def matmul_stats(name="matmul"):
    """The counts of every mlssim.torch.matmul call named `name`, summed."""
    total = _new_stats()
    for (n, _, _), m in _matmuls.items():
        if n == name:
            total["calls"] += m.mls_stats["calls"]
            for p in mlssim.PASSES:
                _count(total, p, m.mls_stats[p])
    return total


def _layer_config(layer_config):
    """A --layer-config file (YAML or JSON) or a dict: pattern -> settings."""
    if layer_config is None:
        return {}
    if isinstance(layer_config, dict):
        return layer_config
    with open(layer_config) as f:
        text = f.read()
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        import yaml
        return yaml.safe_load(text)


_LAYER_KEYS = None


def _settings(name, entries, config, unquantized):
    """The layer's run parameters and whether it stays fp32, as run --layer-config applies them."""
    global _LAYER_KEYS
    if _LAYER_KEYS is None:
        _LAYER_KEYS = {p["name"] for p in mlssim.parameters() if p["group"] in ("quant", "operand")}
    merged, off = dict(config), name in unquantized
    for pattern, keys in entries.items():
        if not fnmatch.fnmatchcase(name, pattern):
            continue
        for key, value in keys.items():
            if key == "unquantized":
                off = bool(value)
            elif key in _LAYER_KEYS:
                merged[key] = value
            else:
                raise ValueError(f"layer config: {pattern!r}: unknown key {key!r} "
                                 f"(known: {', '.join(sorted(_LAYER_KEYS))}, unquantized)")
    return merged, off


def _unquantized(names, classifier, listed):
    """The layers a --unquantized list (first, last, classifier, names, patterns) names."""
    out = set()
    for item in [i for i in listed.split(",") if i and i != "none"]:
        if item in ("first", "last"):
            out.add(names[0] if item == "first" else names[-1])
        elif item == "classifier":
            out.update([classifier] if classifier else [])
        else:
            matched = fnmatch.filter(names, item)
            if not matched:
                raise ValueError(f"--unquantized: {item!r} matches no layer")
            out.update(matched)
    return out


def _replacement(name, module, preset, threads, config):
    if type(module).__name__ == "RecordedMatmul":
        # Still an instance of the recorded class, so a trace recorder finds it.
        cls = type("Mls" + type(module).__name__, (Matmul, type(module)), {})
        return cls(name=name, preset=preset, threads=threads, **config)
    if isinstance(module, torch.nn.Conv2d):
        new = Conv2d(module.in_channels, module.out_channels, module.kernel_size, stride=module.stride,
                     padding=module.padding, dilation=module.dilation, groups=module.groups,
                     bias=module.bias is not None, name=name, preset=preset, threads=threads, **config)
    else:
        new = Linear(module.in_features, module.out_features, bias=module.bias is not None, name=name,
                     preset=preset, threads=threads, **config)
    # The same Parameter objects: an optimizer made before convert() keeps training them.
    new.weight = module.weight
    new.bias = module.bias
    return new


def convert(model, preset=None, layer_config=None, unquantized=None, threads=0, functional=False, **config):
    """Replaces every torch.nn.Conv2d and Linear of `model` (in place; returned)
    by an MLS layer named by its qualified name, holding the same parameters. `preset` sets a bundle of
    parameters and its unquantized layers (paper-cifar: the first layer and the
    classifier stay fp32) unless `unquantized` ("first,classifier", names,
    patterns or "none") is given; `layer_config` (a file or a dict, as run's
    --layer-config) overrides parameters per layer or marks layers unquantized.
    functional=True also runs the forward's functional products (torch.matmul, @,
    bmm, F.linear: attention, tied output layers) through MLS."""
    layers = [(n, m) for n, m in model.named_modules()
              if type(m) in (torch.nn.Conv2d, torch.nn.Linear) or type(m).__name__ == "RecordedMatmul"]
    names = [n for n, _ in layers]
    classifier = names[-1] if layers and isinstance(layers[-1][1], torch.nn.Linear) else ""
    if unquantized is None:
        unquantized = next((p["unquantized"] for p in mlssim.presets() if p["name"] == preset), [])
        unquantized = ",".join(unquantized)
    off = _unquantized(names, classifier, unquantized) if names else set()
    entries = _layer_config(layer_config)
    for name, module in layers:
        settings, stays_fp32 = _settings(name, entries, config, off)
        if stays_fp32:
            continue
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, _replacement(name, module, preset, threads, settings))
    if functional:
        _FunctionalProducts(model, preset, threads, config).attach()
    return model


# What `a @ b`, a.matmul(b), torch.matmul and bmm reach a torch function mode as.
_MATMULS = (torch.matmul, torch.bmm, torch.Tensor.__matmul__, torch.Tensor.matmul, torch.Tensor.bmm)


class _FunctionalProducts(torch.overrides.TorchFunctionMode):
    """The model's functional products (torch.matmul, @, bmm, F.linear) through MLS
    during its forward: the i-th product of a forward is layer "<kind>.<i>" (its counts
    in model.mls_functional)."""

    def __init__(self, model, preset, threads, config):
        super().__init__()
        self.model, self.preset, self.threads, self.config = model, preset, threads, config
        self.layers, self.index = {}, 0
        model.mls_functional = self.layers

    def attach(self):
        def enter(module, args):
            self.index = 0
            self.__enter__()

        def leave(module, args, out):
            self.__exit__(None, None, None)

        self.model.register_forward_pre_hook(enter)
        self.model.register_forward_hook(leave)

    def layer(self, kind):
        name = f"{kind}.{self.index}"
        self.index += 1
        if name not in self.layers:
            layer = Matmul(name=name, preset=self.preset, threads=self.threads, **self.config)
            layer.mls_kind = kind
            self.layers[name] = layer
        return self.layers[name]

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in _MATMULS and not kwargs and args[0].dim() >= 2 \
                and args[1].dim() >= 2 and args[0].shape[:-2] == args[1].shape[:-2]:
            return _Product.apply(args[0].contiguous(), args[1].contiguous(), self.layer("matmul"))
        if func is F.linear and len(args) >= 2:
            bias = args[2] if len(args) > 2 else kwargs.get("bias")
            out = _Product.apply(args[0].contiguous(), args[1], self.layer("linear"))
            return out if bias is None else out + bias
        return func(*args, **kwargs)


def mls_stats(model):
    """Every MLS layer's counts, by name: {name: {pass: {event: count}, "calls": n}}."""
    stats = {m.mls_name: m.mls_stats for m in model.modules() if isinstance(m, _MlsLayer)}
    for name, layer in getattr(model, "mls_functional", {}).items():
        stats[name] = layer.mls_stats
    return stats
