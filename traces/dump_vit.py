#!/usr/bin/python3
"""Train a small vision transformer on sklearn's digits and dump one iteration.

The 8x8 digits are cut into 2x2 patches (16 tokens of width 32), which pass
two pre-norm transformer blocks (4 heads, MLP 64) and a mean-pooled linear
head. After a short training run, one forward + backward of ``--dump-batch``
test images is recorded with mls_trace's TraceRecorder as an mls-trace/2
directory (docs/reference.md#trace-format): the patch embedding (conv2d), every
linear layer and the attention matmuls Q K^T and P V (through RecordedMatmul).
Deterministic with ``--threads 1``: the files come out byte-identical.
"""

import argparse
import math
import os
import shlex
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from torch import nn

from mls_trace import RecordedMatmul, TraceRecorder

HERE = os.path.dirname(os.path.abspath(__file__))


class Attention(nn.Module):
    """Multi-head self-attention from nn.Linear and two recorded matmuls."""

    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.qk = RecordedMatmul()   # Q K^T: [B, h, T, d] x [B, h, d, T]
        self.pv = RecordedMatmul()   # P V:   [B, h, T, T] x [B, h, T, d]
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, t, d = x.shape
        dh = d // self.heads
        q, k, v = self.qkv(x).reshape(b, t, 3, self.heads, dh).permute(2, 0, 3, 1, 4)
        att = (self.qk(q, k.transpose(-2, -1).contiguous()) * dh ** -0.5).softmax(-1)
        return self.proj(self.pv(att, v).transpose(1, 2).reshape(b, t, d))


class Block(nn.Module):
    def __init__(self, dim, heads, hidden):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.fc2(F.gelu(self.fc1(self.norm2(x))))


class ViT(nn.Module):
    def __init__(self, patch=2, dim=32, depth=2, heads=4, hidden=64, classes=10, size=8):
        super().__init__()
        self.patch = nn.Conv2d(1, dim, patch, stride=patch)
        self.pos = nn.Parameter(torch.randn(1, (size // patch) ** 2, dim) * 0.02)
        self.blocks = nn.Sequential(*[Block(dim, heads, hidden) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        tokens = self.patch(x).flatten(2).transpose(1, 2) + self.pos
        return self.head(self.norm(self.blocks(tokens)).mean(1))


def load_data(seed, test_fraction=0.2):
    """Digits as [N, 1, 8, 8], standardized with the train statistics, split
    by a seeded permutation."""
    digits = load_digits()
    x = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
    y = torch.tensor(digits.target, dtype=torch.long)
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    n_test = int(len(x) * test_fraction)
    test, train = perm[:n_test], perm[n_test:]
    mean, std = x[train].mean(), x[train].std()
    x = (x - mean) / std
    return x[train], y[train], x[test], y[test]


@torch.no_grad()
def accuracy(model, x, y):
    model.eval()
    correct = (model(x).argmax(1) == y).sum().item()
    model.train()
    return correct / len(x)


def train(model, x, y, x_test, y_test, args):
    """AdamW with a cosine decay over --steps."""
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.05)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * s / args.steps)))
    gen = torch.Generator().manual_seed(args.seed)
    start = time.time()
    for step in range(1, args.steps + 1):
        idx = torch.randint(len(x), (args.batch_size,), generator=gen)
        loss = F.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % args.log_every == 0 or step == args.steps:
            print(f"step {step:4d}  loss {loss.item():.4f}  test acc {accuracy(model, x_test, y_test):.4f}  "
                  f"({time.time() - start:.0f} s)", flush=True)


def readme_text(source, layers):
    kinds = {}
    for layer in layers:
        kinds[layer["kind"]] = kinds.get(layer["kind"], 0) + 1
    counts = ", ".join(f"{n} {k}" for k, n in kinds.items())
    return f"""# vit-digits sample trace

An mls-trace/2 trace (../../docs/reference.md#trace-format) of a small vision
transformer during one training iteration (forward + backward, cross-entropy
loss) on a batch of {source['dump_batch']} test images of sklearn's digits data
set (8x8, one channel). {len(layers)} layers: {counts}.

The model: 2x2 patches embedded by a conv2d (16 tokens of width 32), a
learned position embedding, two pre-norm transformer blocks (4 heads of width
8, MLP 32-64-32 with GELU) and a mean-pooled linear head. Per block the trace
holds `attn.qkv`, `attn.qk` (Q K^T, kind matmul), `attn.pv` (P V, matmul),
`attn.proj`, `fc1` and `fc2`. Not recorded (the recorder says so when it
runs): the position embedding (an addition), LayerNorms and biases.

- command (from the repo root): `{source['command']}`
- seed: {source['seed']}
- training steps before the dump: {source['step']} (batch {source['batch_size']},
  AdamW lr {source['lr']} weight decay 0.05, cosine decay)
- test accuracy at dump time: {source['accuracy']:.4f} on {source['test_images']} images
- loss of the dumped iteration: {source['dump_loss']:.4f}
- labels of the dumped images: {source['dump_labels']}
- torch {source['torch']}, numpy {source['numpy']}

Shapes per kind: linear weight [out, in], input [N, 16, in], grad_output
[N, 16, out]; matmul input (first operand) [N, 4, 16, K], weight (second
operand) [N, 4, K, M], grad_output [N, 4, 16, M]; conv2d as usual. Regenerate
with the command above; see ../README.md.
"""


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=400)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--dump-batch", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--log-every", type=int, default=100)
    p.add_argument("--out", default=os.path.join(HERE, "vit-digits"))
    return p.parse_args(argv)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    torch.use_deterministic_algorithms(True)

    x, y, x_test, y_test = load_data(args.seed)
    model = ViT()
    train(model, x, y, x_test, y_test, args)
    acc = accuracy(model, x_test, y_test)

    xb, yb = x_test[:args.dump_batch], y_test[:args.dump_batch]
    recorder = TraceRecorder(model)
    with recorder:
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()

    source = {
        "command": shlex.join(["/usr/bin/python3", "traces/dump_vit.py"] + argv),
        "seed": args.seed, "step": args.steps, "batch_size": args.batch_size,
        "lr": args.lr, "dump_batch": args.dump_batch,
        "accuracy": round(acc, 4), "test_images": len(x_test),
        "dump_loss": round(loss.item(), 4), "dump_labels": yb.tolist(),
        "torch": torch.__version__, "numpy": np.__version__,
    }
    layers = recorder.manifest_layers()
    recorder.write(args.out, "vit", source=source, extra_files={"README.md": readme_text(source, layers)})
    print(f"final test acc {acc:.4f}  dump loss {loss.item():.4f}  wrote {len(layers)} layers to {args.out}")


if __name__ == "__main__":
    main()
