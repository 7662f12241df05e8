#!/usr/bin/python3
"""The golden model through the Python module against its C++ bench (bench/README.md#the-python-module).

    PYTHONPATH=build/python /usr/bin/python3 bench/bench_module.py [TRACE] [--repeat 3] [--step]

Runs every layer-pass of a trace (default: the bundled ResNet-20) through
mlssim.layer on one thread and reports simulated MACs per CPU-second of that
thread (quantization of W, A and E and the lowering included, which the C++
bench leaves out), then runs build/bench/mlssim_bench on the same trace and
passes and prints its golden-model figure and the ratio. --step also times one
training step (forward, backward-data, backward-weight of every product) of a
converted ResNet-20 on a batch of 32 upsampled digits, wall and CPU seconds, with
every core.
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


def module_rate(trace, repeat):
    with open(os.path.join(trace, "manifest.json")) as f:
        layers = json.load(f)["layers"]
    tensors = [{r: np.load(os.path.join(trace, e[r])) for r in ("weight", "input", "grad_output")} for e in layers]
    best, macs = None, 0
    for _ in range(repeat):
        t0, macs = time.thread_time(), 0
        for entry, t in zip(layers, tensors):
            keys = {k: entry[k] for k in ("stride", "padding", "dilation", "groups") if k in entry}
            for _, stats in mlssim.layer(entry["kind"], list(mlssim.PASSES), t["weight"], t["input"],
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


def bench_rate(trace, repeat, exe):
    """The C++ bench's golden-model rate and its unit: MACs per CPU-second from a bench
    that prints CPU columns ("golden model  CPU_S  RATE  WALL_S  RATE"), else its
    older wall-time figure ("golden model  : S s  RATE MACs/s")."""
    out = subprocess.run([exe, trace, "--passes", ",".join(mlssim.PASSES), "--repeat", str(repeat)],
                         capture_output=True, text=True, check=True).stdout
    cpu = re.search(r"^golden model\s+([\d.]+)\s+([\d.e+]+)\s+[\d.]+\s+[\d.e+]+$", out, re.M)
    if cpu:
        return float(cpu.group(2)), "MACs per CPU-second"
    return float(re.search(r"golden model\s*:\s*([\d.]+) s\s+([\d.e+]+) MACs/s", out).group(2)), "MACs per wall second"


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
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--step", action="store_true")
    p.add_argument("--bench", default=os.path.join(ROOT, "build", "bench", "mlssim_bench"), help="the C++ bench binary")
    args = p.parse_args()
    macs, seconds = module_rate(args.trace, args.repeat)
    rate = macs / seconds
    print(f"module, 1 thread : {seconds:8.3f} CPU s  {rate:10.3g} MACs per CPU-second ({macs} MACs, best of {args.repeat})")
    quant = quantize_seconds(args.trace, args.repeat)
    bare = macs / (seconds - quant)
    print(f"of which quantizing: {quant:8.3f} CPU s; without it {bare:10.3g} MACs per CPU-second")
    golden, unit = bench_rate(args.trace, args.repeat, args.bench)
    print(f"C++ bench golden : {golden:10.3g} {unit}")
    print(f"module / bench   : {rate / golden:.3f} (quantization included), {bare / golden:.3f} (left out, as the bench does)")
    if args.step:
        times, step_macs = training_step()
        for wall, cpu in times:
            print(f"ResNet-20 training step, batch 32: {wall:.2f} s wall, {cpu:.2f} s CPU "
                  f"({step_macs / 1e9:.2f} G MACs, {step_macs / cpu:.3g} MACs per CPU-second)")


if __name__ == "__main__":
    main()
