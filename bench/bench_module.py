#!/usr/bin/python3
"""The golden model through the Python module against its C++ bench (bench/README.md#the-python-module).

    PYTHONPATH=build/python /usr/bin/python3 bench/bench_module.py [TRACE] [--passes fwd] [--repeat 5] [--step]

Runs every layer-pass of a trace (default: the bundled ResNet-20, forward) through
mlssim.layer on one thread and reports simulated MACs per CPU-second of that thread,
the operands' quantization and the lowering included. Then runs
build/bench/mlssim_bench_golden on the same trace and passes, which times the same
work in C++ (quantize_layer, lowering, golden_pass per layer, one thread, CPU
seconds), and prints the ratio of the two: like for like. Beside it, the C++ bench's
golden figure without the quantization (mlssim_bench's way of counting) and the
module's rate with its quantization time taken out. --step also times one training
step (forward, backward-data, backward-weight of every product) of a converted
ResNet-20 on a batch of 32 upsampled digits, wall and CPU seconds, with every core.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
import mlssim  # noqa: E402


def module_rate(trace, passes, repeat):
    with open(os.path.join(trace, "manifest.json")) as f:
        layers = json.load(f)["layers"]
    tensors = [{r: np.load(os.path.join(trace, e[r])) for r in ("weight", "input", "grad_output")} for e in layers]
    best, macs = None, 0
    for _ in range(repeat):
        t0, macs = time.thread_time(), 0
        for entry, t in zip(layers, tensors):
            keys = {k: entry[k] for k in ("stride", "padding", "dilation", "groups") if k in entry}
            for _, stats in mlssim.layer(entry["kind"], passes, t["weight"], t["input"],
                                         t["grad_output"], keys=keys, name=entry["name"], threads=1):
                macs += stats["mul"]
        spent = time.thread_time() - t0
        best = spent if best is None else min(best, spent)
    return macs, best


def quantize_seconds(trace, repeat):
    """CPU seconds of this thread quantizing every layer's W, A and E once (mlssim.quantize,
    the same quantizer with the default formats), best of `repeat`: the module's share
    that the C++ bench leaves out."""
    with open(os.path.join(trace, "manifest.json")) as f:
        layers = json.load(f)["layers"]
    tensors = [np.load(os.path.join(trace, e[r])) for e in layers for r in ("weight", "input", "grad_output")]
    best = None
    for _ in range(repeat):
        t0 = time.thread_time()
        for t in tensors:
            mlssim.quantize(t, rounding="stochastic", threads=1)
        spent = time.thread_time() - t0
        best = spent if best is None else min(best, spent)
    return best


def bench_rates(trace, passes, repeat, exe):
    """mlssim_bench_golden's two figures in MACs per CPU-second: quantization and lowering
    included (the module's work), and the golden passes alone (mlssim_bench's way)."""
    out = subprocess.run([exe, trace, "--passes", ",".join(passes), "--repeat", str(repeat)],
                         capture_output=True, text=True, check=True).stdout
    whole = re.search(r"^golden, quantization included\s+([\d.]+)\s+([\d.e+]+)$", out, re.M)
    alone = re.search(r"^golden model\s+([\d.]+)\s+([\d.e+]+)$", out, re.M)
    return float(whole.group(2)), float(alone.group(2))


def training_step():
    import torch
    import torch.nn.functional as F
    sys.path.insert(0, os.path.join(ROOT, "traces"))
    import dump_common
    import dump_resnet20
    import mlssim.torch as mt
    torch.manual_seed(0)
    x, y, _, _ = dump_common.load_data(0, dump_resnet20.upsample)
    model = mt.convert(dump_resnet20.ResNet20())
    times = []
    for step in range(3):
        w0, c0 = time.time(), time.process_time()
        F.cross_entropy(model(x[step * 32:(step + 1) * 32]), y[step * 32:(step + 1) * 32]).backward()
        times.append((time.time() - w0, time.process_time() - c0))
    macs = sum(s[p]["mul"] for s in mt.mls_stats(model).values() for p in mlssim.PASSES) / 3
    return times, macs


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("trace", nargs="?", default=os.path.join(ROOT, "traces", "resnet20-digits"))
    p.add_argument("--passes", default="fwd", help="comma list (default fwd)")
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--step", action="store_true")
    p.add_argument("--bench", default=os.path.join(ROOT, "build", "bench", "mlssim_bench_golden"),
                   help="the C++ golden bench binary (mlssim_bench_golden)")
    args = p.parse_args()
    passes = args.passes.split(",")
    macs, seconds = module_rate(args.trace, passes, args.repeat)
    rate = macs / seconds
    print(f"module, 1 thread : {seconds:8.3f} CPU s  {rate:10.3g} MACs per CPU-second ({macs} MACs, {args.passes}, "
          f"best of {args.repeat}; quantization included)")
    golden, alone = bench_rates(args.trace, passes, args.repeat, args.bench)
    print(f"C++ golden       : {golden:10.3g} MACs per CPU-second, quantization included; {alone:10.3g} without it")
    print(f"module / C++     : {rate / golden:.3f} (like for like: quantization and lowering in both)")
    quant = quantize_seconds(args.trace, args.repeat)
    bare = macs / (seconds - quant)
    print(f"without quantizing: module {bare:10.3g} MACs per CPU-second ({quant:.3f} CPU s of quantizing left out), "
          f"{bare / alone:.3f} of the C++ golden passes alone")
    if args.step:
        times, step_macs = training_step()
        for wall, cpu in times:
            print(f"ResNet-20 training step, batch 32: {wall:.2f} s wall, {cpu:.2f} s CPU "
                  f"({step_macs / 1e9:.2f} G MACs, {step_macs / cpu:.3g} MACs per CPU-second)")


if __name__ == "__main__":
    main()
