#!/usr/bin/python3
"""The digits accuracy table of docs/accuracy.md: formats trained with the MLS arithmetic in the loop.

    PYTHONPATH=build/python /usr/bin/python3 tools/accuracy_table.py --steps 100 --seeds 0,1,2 \\
        --work build/train-table --doc docs/accuracy.md

Trains tools/train.py's small digits CNN once per configuration and seed, and
writes the table (held-out accuracy and final training loss: mean, spread over the
seeds, the local-accumulator overflow rate, and the energy per product of one
iteration of the same CNN on `mlssim run`) into the marked section of the document
(ctest -L train-table regenerates it) and docs/img/accuracy_energy.png (energy per
product against trained accuracy, the Pareto front marked). Each run's curve.csv, curve.png and
summary.json stay under --work.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mlssim_figures  # noqa: E402
import sweep_accuracy  # noqa: E402
import train  # noqa: E402

# (train.py flags, what the paper's tables compare the configuration with). The flags
# are the row's label; the defaults are e2m4 elements, e8m1 scales, nc groups and a
# 16-bit saturating accumulator.
CONFIGS = [
    ("--fp32", "baseline"),
    ("--preset paper-cifar", "e2m1, e8m1, nc, 16-bit, --clip, conv1 and fc in fp32"),
    ("--elem e2m1", "element width"),
    ("", "element width; the defaults"),
    ("--acc-bits 32", "accumulator width"),
    ("--elem e2m1 --scale e8m0", "M_g = 0 against e2m1's M_g = 1"),
    ("--elem e2m1 --group c", "grouping"),
    ("--elem e2m1 --group n", "grouping"),
    ("--elem e2m1 --group tensor", "grouping"),
    ("--elem e3m1 --group tensor", "tensor-wide e3 against grouped e2"),
    ("--preset mxfp4", "block-scaled (k32, e8m0, nearest)"),
    ("--preset nvfp4", "block-scaled (k16, e4m3, nearest)"),
]


def label_of(flags):
    return flags or "(defaults)"


BEGIN, END = "<!-- train-table begin -->", "<!-- train-table end -->"


def run_dir(args, flags, seed):
    return os.path.join(args.work, flags.replace("--", "").replace(" ", "_") or "defaults", f"seed{seed}")


def run_all(args):
    """Every configuration and seed: trained, or (--from-work) read back from summary.json."""
    results = {}
    for flags, _ in CONFIGS:
        label = label_of(flags)
        for seed in args.seeds:
            out = run_dir(args, flags, seed)
            if args.from_work:
                with open(os.path.join(out, "summary.json")) as f:
                    results.setdefault(label, []).append(json.load(f))
                continue
            argv = ["--model", "cnn", "--steps", str(args.steps), "--seed", str(seed), "--eval-every",
                    str(args.steps), "--eval-images", "2000", "--out", out, *flags.split()]
            results.setdefault(label, []).append(train.main(argv))
    return results


def record_trace(work):
    """One fp32 training iteration of the CNN (batch 64) as a trace, for the energy column."""
    import torch
    import torch.nn.functional as F
    sys.path.insert(0, os.path.join(train.ROOT, "traces"))
    import dump_common
    from mls_trace import TraceRecorder
    torch.manual_seed(0)
    x, y, _, _ = dump_common.load_data(0)
    model = train.SmallCNN()
    recorder = TraceRecorder(model)
    with recorder:
        F.cross_entropy(model(x[:64]), y[:64]).backward()
    path = os.path.join(work, "cnn-trace")
    recorder.write(path, "digits-cnn")
    return path


def iteration_figures(trace, flags, mlssim_bin, work):
    """One iteration of the CNN on `mlssim run --tech horowitz-45nm --accuracy`: pJ per product,
    arithmetic + memory, of the MLS design (fp32: of the fp32 baseline design, on the same run),
    and the one-iteration error proxy, rel_error_fp32 averaged over the quantized layer-passes
    (0 for fp32)."""
    report = os.path.join(work, "energy.json")
    design = "fp32" if flags == "--fp32" else "mls"
    run_flags = [] if design == "fp32" else flags.split()
    subprocess.run([mlssim_bin, "run", trace, *run_flags, "--tech", "horowitz-45nm", "--accuracy", "--quiet",
                    "--no-progress", "--report", report], check=True, capture_output=True)
    with open(report) as f:
        r = json.load(f)
    total = r["total"]
    # Per product of the whole workload: layers left in fp32 count too.
    energy = total["energy"]["total"][design] / (total["events"]["mul"] + total.get("macs_unquantized", 0))
    errors = [entry["rel_error_fp32"] for entry in r["layers"] if entry.get("rel_error_fp32") is not None]
    return energy, 0.0 if design == "fp32" else statistics.mean(errors)


def overflow_rate(summary):
    events = summary["events"]
    adds = sum(events[p].get("acc_add", 0) for p in events)
    over = sum(events[p].get("acc_overflow", 0) for p in events)
    return over / adds if adds else 0.0


def spread(values, fmt):
    mean = statistics.mean(values)
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{fmt.format(mean)} ± {fmt.format(sd)} ({fmt.format(min(values))}-{fmt.format(max(values))})"


def table(results, figures, args, seconds):
    lines = [f"Small digits CNN (tools/train.py --model cnn), {args.steps} steps of batch 64, Adam 3e-3 with "
             f"cosine decay, seeds {', '.join(map(str, args.seeds))}; held-out accuracy on the 359 test digits; "
             f"mean ± standard deviation (min-max). Energy: pJ per product of one training iteration of the "
             f"same CNN (batch 64, fp32 tensors) on `mlssim run --tech horowitz-45nm`, arithmetic + memory; "
             f"proxy: that run's `rel_error_fp32` (`--accuracy`) averaged over its quantized layer-passes. "
             f"Training took {seconds / 60:.0f} min.", "",
             "| train.py flags | compares | held-out accuracy | loss of the last batch | acc_overflow / acc_add | "
             "one-iteration proxy | pJ / MAC |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for flags, compares in CONFIGS:
        label = label_of(flags)
        runs = results[label]
        rate = statistics.mean(overflow_rate(s) for s in runs)
        lines.append(f"| {label} | {compares} | {spread([s['test_accuracy'] for s in runs], '{:.4f}')} | "
                     f"{spread([s['train_loss'] for s in runs], '{:.3f}')} | {rate:.2e} | {figures[label][1]:.4f} | "
                     f"{figures[label][0]:.3f} |")
    return "\n".join(lines) + "\n"


def plot(results, energies, path):
    """Energy per product against held-out accuracy, with the seeds' spread and the Pareto front
    (drawn as tools/plot_sweep.py draws a sweep's trained points: sweep_accuracy.py)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    labels = list(map(label_of, (c[0] for c in CONFIGS)))
    configs = [(label, energies[label], [s["test_accuracy"] for s in results[label]]) for label in labels]
    fig, ax = plt.subplots(figsize=(8, 5))
    means, _ = sweep_accuracy.draw(ax, configs, labels=False)
    ax.set_xscale("log")
    ax.set_xlabel("energy per MAC, arithmetic + memory (pJ, horowitz-45nm)")
    ax.set_ylabel("held-out accuracy after training (mean, min-max)")
    ax.legend(loc="lower right")
    ax.set_title("Digits CNN trained with the MLS arithmetic in the loop")
    fig.tight_layout()
    points = [(energy, mean) for energy, mean, _ in means]
    left_out = mlssim_figures.place_labels(ax, points, [label for _, _, label in means], markers=points, fontsize=7)
    if left_out:
        fig.text(0.995, 0.005, "labels left out (no room): " + ", ".join(left_out), ha="right", va="bottom",
                 fontsize=7, color="0.4")
    fig.savefig(path, dpi=100)


def write_doc(path, text):
    with open(path) as f:
        doc = f.read()
    head, _, rest = doc.partition(BEGIN)
    _, _, tail = rest.partition(END)
    with open(path, "w") as f:
        f.write(head + BEGIN + "\n" + text + END + tail)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--work", required=True)
    p.add_argument("--doc", required=True)
    p.add_argument("--mlssim", default=os.path.join(train.ROOT, "build", "sim", "mlssim"))
    p.add_argument("--from-work", type=float, metavar="MINUTES",
                   help="read the runs back from --work (their training took MINUTES) instead of training")
    args = p.parse_args()
    args.seeds = [int(s) for s in args.seeds.split(",")]
    start = time.time()
    results = run_all(args)
    seconds = time.time() - start if not args.from_work else args.from_work * 60
    trace = record_trace(args.work)
    figures = {label_of(flags): iteration_figures(trace, flags, args.mlssim, args.work) for flags, _ in CONFIGS}
    energies = {label: f[0] for label, f in figures.items()}
    text = table(results, figures, args, seconds)
    print(text)
    write_doc(args.doc, text)
    plot(results, energies, os.path.join(os.path.dirname(os.path.abspath(args.doc)), "img", "accuracy_energy.png"))


if __name__ == "__main__":
    main()
