#!/usr/bin/python3
"""Train a network with the MLS array's arithmetic in the loop (docs/python.md#training).

    PYTHONPATH=build/python /usr/bin/python3 tools/train.py --model resnet20 --preset paper-cifar \\
        --steps 200 --seed 0 --out runs/r20-cifar

Models: resnet20, vit and cnn (a four-product CNN for the accuracy table) (traces/dump_resnet20.py, traces/dump_vit.py) on sklearn's
digits with their split and optimizers (traces/dump_common.py), gpt
(traces/gpt_model.py: next-character prediction on a text Debian ships). Every
Conv2d and Linear (and the ViT's recorded matmuls, the GPT's functional products)
runs its forward, backward-data and backward-weight products through mlssim;
--fp32 trains the same network in plain torch. Any run parameter is a flag
(--elem e2m1, --acc-bits 32, ...), as on `mlssim run`.

Writes DIR/curve.csv (every step: step, batch loss, train and held-out accuracy at the
evaluated steps, blank at the others, seconds),
DIR/curve.png and DIR/summary.json (the final figures, the configuration and every
layer's event counts).
"""
import argparse
import csv
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "traces"))

import mlssim  # noqa: E402
import mlssim.torch as mt  # noqa: E402


class SmallCNN(torch.nn.Module):
    """Four products on the 8x8 digits (conv 1-16, conv 16-32, 2x2 max pool, conv 32-32, linear 512-10):
    a network the accuracy table (docs/accuracy.md) can train many times over."""

    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = torch.nn.Conv2d(16, 32, 3, padding=1)
        self.conv3 = torch.nn.Conv2d(32, 32, 3, padding=1)
        self.fc = torch.nn.Linear(32 * 4 * 4, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv2(F.relu(self.conv1(x)))), 2)
        return self.fc(F.relu(self.conv3(x)).flatten(1))


def adam(model, args):
    return torch.optim.Adam(model.parameters(), lr=args.lr)


def digits_task(kind):
    """(model, optimizer maker, data, loss, accuracy) of a digits model, as its dump script trains it."""
    import dump_common
    if kind == "cnn":
        return SmallCNN(), adam, dump_common.load_data, None, 3e-3, 64
    if kind == "resnet20":
        import dump_resnet20 as d
        return d.ResNet20(), d.sgd, dump_common.load_data, d.upsample, 0.1, 32
    import dump_vit as d
    return d.ViT(), d.adamw, dump_common.load_data, None, 3e-3, 64


def load_task(args):
    """model, optimizer, (x, y, x_test, y_test), loss(logits, y), accuracy(model, x, y)."""
    if args.model == "gpt":
        try:
            import gpt_model
        except ImportError:
            sys.exit("train.py: --model gpt needs traces/gpt_model.py (the transformers work)")
        x, y, xt, yt, vocab, _ = gpt_model.load_text()
        model = convert(gpt_model.GPT(len(vocab)), args)
        opt = torch.optim.AdamW(model.parameters(), lr=args.lr or 3e-3, weight_decay=0.01)
        return model, opt, (x, y, xt, yt), gpt_model.lm_loss, gpt_model.next_char_accuracy, 32
    model, make_opt, load, transform, lr, batch = digits_task(args.model)
    args.lr = args.lr or lr
    import dump_common
    data = load(args.seed, transform)
    convert(model, args)
    return (model, make_opt(model, args), data, F.cross_entropy,
            lambda m, xs, ys: dump_common.accuracy(m, xs, ys, 64), batch)


def convert(model, args):
    """The model with MLS products (unless --fp32), before its optimizer is made."""
    if not args.fp32:
        mt.convert(model, preset=args.preset, layer_config=args.layer_config, unquantized=args.unquantized,
                   threads=args.threads, functional=args.model == "gpt", **mls_config(args))
    return model


def run_flags(parser):
    """Every run parameter the module takes, as mlssim run spells it; values are left as text."""
    for p in mlssim.parameters():
        if p["group"] in ("quant", "operand", "array") and p["sweep"] and p["name"] != "seed":  # --seed: both
            flag = "--" + p["name"].replace("_", "-")
            if p["kind"] == "boolean":
                parser.add_argument(flag, dest="mls_" + p["name"], action="store_const", const=True)
            else:
                parser.add_argument(flag, dest="mls_" + p["name"], help=p["help"])


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", choices=("resnet20", "vit", "gpt", "cnn"), required=True,
                   help="cnn: the small digits CNN of the accuracy table")
    p.add_argument("--preset", help="a preset (mlssim run --preset), its unquantized layers included")
    p.add_argument("--unquantized", help="layers left in fp32 (first, classifier, names, patterns, none)")
    p.add_argument("--layer-config", help="per-layer settings, as mlssim run --layer-config")
    p.add_argument("--fp32", action="store_true", help="plain torch: no MLS arithmetic")
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--seed", type=int, default=0, help="initial weights, data split, batches (and, unless "
                   "--rounding-seed, the stochastic rounding)")
    p.add_argument("--rounding-seed", dest="mls_seed", help="seed of the stochastic-rounding draws "
                   "(mlssim run --seed; default: --seed)")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--eval-every", type=int, default=0, help="steps between evaluations (0: steps / 10)")
    p.add_argument("--eval-images", type=int, default=256, help="train and held-out examples per evaluation")
    p.add_argument("--threads", type=int, default=0, help="mlssim worker threads, and torch's when not 0 "
                   "(0: every core)")
    p.add_argument("--out", required=True)
    run_flags(p)
    return p.parse_args(argv)


def mls_config(args):
    config = {k[4:]: v for k, v in vars(args).items() if k.startswith("mls_") and v is not None}
    # A stochastic-rounding seed follows --seed unless --rounding-seed is given.
    config.setdefault("seed", args.seed)
    return config


def evaluate(model, accuracy, data, n):
    x, y, xt, yt = data
    return accuracy(model, x[:n], y[:n]), accuracy(model, xt[:n], yt[:n])


def train(args):
    if args.threads > 0:  # a sweep's -j counts a point as one CPU: torch's own ops too
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    model, opt, data, loss_fn, accuracy, batch = load_task(args)
    batch = args.batch_size or batch
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * s / args.steps)))
    gen = torch.Generator().manual_seed(args.seed)
    every = args.eval_every or max(1, args.steps // 10)
    rows, start = [], time.time()
    x, y = data[0], data[1]
    for step in range(1, args.steps + 1):
        idx = torch.randint(len(x), (batch,), generator=gen)
        loss = loss_fn(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        row = {"step": step, "loss": round(loss.item(), 6), "train_accuracy": "", "test_accuracy": ""}
        if step % every == 0 or step == args.steps:
            train_acc, test_acc = evaluate(model, accuracy, data, args.eval_images)
            row.update(train_accuracy=round(train_acc, 6), test_accuracy=round(test_acc, 6))
        rows.append(dict(row, seconds=round(time.time() - start, 2)))
        if row["test_accuracy"] != "":
            print(" ".join(f"{k} {v}" for k, v in rows[-1].items()), flush=True)
    return model, rows


def write_outputs(args, model, rows):
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "curve.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    stats = {} if args.fp32 else mt.mls_stats(model)
    totals = {p: {} for p in mlssim.PASSES}
    for layer in stats.values():
        for p in mlssim.PASSES:
            for k, v in layer[p].items():
                totals[p][k] = totals[p].get(k, 0) + v
    last = rows[-1]  # the last step is always evaluated
    summary = {"model": args.model, "preset": args.preset, "fp32": args.fp32, "steps": args.steps,
               "seed": args.seed, "config": {} if args.fp32 else mls_config(args),
               "train_loss": last["loss"] if math.isfinite(last["loss"]) else None,  # diverged: null, not NaN
               "train_accuracy": last["train_accuracy"],
               "test_accuracy": last["test_accuracy"], "seconds": last["seconds"],
               "events": totals, "layers": stats}
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    plot(args, rows)
    return summary


def plot(args, rows):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    evaluated = [r for r in rows if r["test_accuracy"] != ""]
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.5))
    a.plot([r["step"] for r in rows], [r["loss"] for r in rows], lw=0.8)
    a.set_xlabel("step")
    a.set_ylabel("training loss (batch)")
    a.set_yscale("log")
    steps = [r["step"] for r in evaluated]
    b.plot(steps, [r["train_accuracy"] for r in evaluated], marker="o", label="train")
    b.plot(steps, [r["test_accuracy"] for r in evaluated], marker="s", label="held-out")
    b.set_xlabel("step")
    b.set_ylabel("accuracy")
    b.set_ylim(0, 1)
    b.legend()
    what = "fp32" if args.fp32 else (args.preset or "MLS " + (args.mls_elem or "e2m4"))
    fig.suptitle(f"{args.model} on {'text' if args.model == 'gpt' else 'digits'}: {what}, seed {args.seed}")
    fig.tight_layout()
    fig.savefig(os.path.join(args.out, "curve.png"), dpi=100)


def main(argv=None):
    """Trains as the flags say and writes the outputs; returns the summary."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        model, rows = train(args)
    except ValueError as e:
        sys.exit(f"train.py: error: {e}")
    summary = write_outputs(args, model, rows)
    print(f"wrote {os.path.join(args.out, 'curve.csv')}, curve.png, summary.json")
    return summary


if __name__ == "__main__":
    main()
