"""What the dump scripts share: arguments, the digits data, training, accuracy, the dumped iteration.

dump_resnet20.py, dump_vit.py and dump_gpt.py differ in their model, optimizer, data, loss and the
README they write beside the trace; each calls dump() with those and writes its trace.
"""

import argparse
import math
import os
import shlex
import time

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits

HERE = os.path.dirname(os.path.abspath(__file__))


def parse_args(argv, description, steps, batch_size, dump_batch, lr, log_every, out):
    """The scripts' common flags; the defaults are each script's recorded setting (traces/README.md)."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--steps", type=int, default=steps)
    p.add_argument("--batch-size", type=int, default=batch_size)
    p.add_argument("--dump-batch", type=int, default=dump_batch)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lr", type=float, default=lr)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--log-every", type=int, default=log_every)
    p.add_argument("--out", default=os.path.join(HERE, out))
    p.add_argument("--mls", nargs="?", const="default", metavar="PRESET",
                   help="train (and record) with the MLS arithmetic in the loop (mlssim.torch, needs "
                        "PYTHONPATH=build/python): the defaults, or a preset (paper-cifar, ...); --steps is N")
    return p.parse_args(argv)


def mls_convert(model, args):
    """The model with its products through the golden MLS arithmetic (docs/python.md), when --mls asks."""
    if not args.mls:
        return model
    try:
        import mlssim.torch as mt
    except ImportError:
        raise SystemExit("--mls needs the mlssim module: build it and set PYTHONPATH=build/python")
    return mt.convert(model, preset=None if args.mls == "default" else args.mls, seed=args.seed)


def load_data(seed, transform=None, test_fraction=0.2):
    """Digits as [N, 1, 8, 8] float tensors (reshaped by transform, if given), standardized with
    the train statistics, split by a seeded permutation so the split is reproducible."""
    digits = load_digits()
    x = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
    y = torch.tensor(digits.target, dtype=torch.long)
    if transform is not None:
        x = transform(x)
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    n_test = int(len(x) * test_fraction)
    test, train_idx = perm[:n_test], perm[n_test:]
    mean, std = x[train_idx].mean(), x[train_idx].std()
    x = (x - mean) / std
    return x[train_idx], y[train_idx], x[test], y[test]


@torch.no_grad()
def accuracy(model, x, y, batch=None):
    """Test accuracy in eval mode, batch images at a time (None: all at once)."""
    batch = batch or len(x)
    model.eval()
    correct = sum((model(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum().item()
                  for i in range(0, len(x), batch))
    model.train()
    return correct / len(x)


def train(model, data, args, optimizer, accuracy_batch=None, loss_fn=F.cross_entropy, metric=accuracy):
    """optimizer(model, args) with a cosine learning-rate decay over --steps; loss_fn(output, target)
    is minimized, metric(model, x_test, y_test, batch) logged as the test accuracy."""
    x, y, x_test, y_test = data
    opt = optimizer(model, args)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * s / args.steps)))
    gen = torch.Generator().manual_seed(args.seed)
    model.train()
    start = time.time()
    for step in range(1, args.steps + 1):
        idx = torch.randint(len(x), (args.batch_size,), generator=gen)
        loss = loss_fn(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % args.log_every == 0 or step == args.steps:
            print(f"step {step:4d}  loss {loss.item():.4f}  "
                  f"test acc {metric(model, x_test, y_test, accuracy_batch):.4f}  "
                  f"({time.time() - start:.0f} s)", flush=True)


def dump(argv, script, args, make_model, recorder_class, optimizer, transform=None, accuracy_batch=None,
         data=None, loss_fn=F.cross_entropy, metric=accuracy):
    """Trains make_model() on the digits (or on data: x, y, x_test, y_test), then records one plain
    training step's forward and backward of the first --dump-batch test samples (no optimizer step is
    needed for the trace). loss_fn and metric as in train().
    Returns (recorder, source: the trace's provenance, accuracy, loss of the dumped iteration)."""
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    torch.use_deterministic_algorithms(True)

    data = load_data(args.seed, transform) if data is None else data
    model = mls_convert(make_model(), args)
    train(model, data, args, optimizer, accuracy_batch, loss_fn, metric)
    x_test, y_test = data[2], data[3]
    acc = metric(model, x_test, y_test, accuracy_batch)

    xb, yb = x_test[:args.dump_batch], y_test[:args.dump_batch]
    recorder = recorder_class(model)
    with recorder:
        loss = loss_fn(model(xb), yb)
        loss.backward()

    source = {
        "command": shlex.join(["/usr/bin/python3", script] + argv),
        "seed": args.seed, "step": args.steps, "batch_size": args.batch_size,
        "lr": args.lr, "dump_batch": args.dump_batch,
        "accuracy": round(acc, 4), "test_images": len(x_test),
        "dump_loss": round(loss.item(), 4), "dump_labels": yb.tolist(),
        "torch": torch.__version__, "numpy": np.__version__,
    }
    if args.mls:
        import mlssim.torch as mt
        stats = mt.mls_stats(model)
        source["mls"] = {"preset": args.mls, "acc_overflow": sum(s[p]["acc_overflow"] for s in stats.values()
                                                                 for p in ("fwd", "bwd-data", "bwd-weight")),
                         "acc_add": sum(s[p]["acc_add"] for s in stats.values() for p in ("fwd", "bwd-data", "bwd-weight"))}
    return recorder, source, acc, loss
