#!/usr/bin/python3
"""Train a CIFAR-style ResNet-20 on sklearn's digits and dump one iteration.

The digits (8x8, 10 classes) are upsampled to 32x32 and repeated to 3
channels, so the network has exactly the CIFAR ResNet-20 conv shapes (19
Conv2d layers) while training in about a minute on one CPU core. After
training, one forward + backward of ``--dump-batch`` test images is recorded
with mls_trace as an mls-trace/1 directory (docs/reference.md#trace-format).
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

from mls_trace import ConvTraceRecorder

HERE = os.path.dirname(os.path.abspath(__file__))


class BasicBlock(nn.Module):
    """Two 3x3 convs with an "option A" (parameter-free) shortcut, as in the
    original CIFAR ResNet, so only the 19 main-path convs carry weights."""

    def __init__(self, in_ch, out_ch, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.stride = stride
        self.pad_ch = out_ch - in_ch

    def shortcut(self, x):
        # Subsample spatially and zero-pad the new channels (split evenly).
        if self.stride != 1:
            x = x[:, :, ::self.stride, ::self.stride]
        if self.pad_ch:
            half = self.pad_ch // 2
            x = F.pad(x, (0, 0, 0, 0, half, self.pad_ch - half))
        return x

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNet20(nn.Module):
    def __init__(self, num_classes=10, blocks_per_stage=3):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        stages, in_ch = [], 16
        for i, width in enumerate((16, 32, 64)):
            blocks = []
            for j in range(blocks_per_stage):
                stride = 2 if i > 0 and j == 0 else 1
                blocks.append(BasicBlock(in_ch, width, stride))
                in_ch = width
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = stages
        self.fc = nn.Linear(64, num_classes)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        out = F.adaptive_avg_pool2d(out, 1).flatten(1)
        return self.fc(out)


def load_data(seed, test_fraction=0.2):
    """Digits as [N,3,32,32] float tensors, standardized with train stats,
    split by a seeded permutation so the split is reproducible."""
    digits = load_digits()
    x = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
    y = torch.tensor(digits.target, dtype=torch.long)
    x = F.interpolate(x, size=(32, 32), mode="bilinear", align_corners=False)
    x = x.repeat(1, 3, 1, 1)
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    n_test = int(len(x) * test_fraction)
    test, train = perm[:n_test], perm[n_test:]
    mean, std = x[train].mean(), x[train].std()
    x = (x - mean) / std
    return x[train], y[train], x[test], y[test]


@torch.no_grad()
def accuracy(model, x, y, batch=256):
    model.eval()
    correct = sum((model(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum().item()
                  for i in range(0, len(x), batch))
    model.train()
    return correct / len(x)


def train(model, x, y, x_test, y_test, args):
    """SGD with momentum and a cosine learning-rate decay over --steps, which
    gives a stable final accuracy for a short run."""
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9,
                          weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 0.5 * (1 + math.cos(math.pi * s / args.steps)))
    gen = torch.Generator().manual_seed(args.seed)
    model.train()
    start, loss = time.time(), float("nan")
    for step in range(1, args.steps + 1):
        idx = torch.randint(len(x), (args.batch_size,), generator=gen)
        loss = F.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % args.log_every == 0 or step == args.steps:
            print(f"step {step:4d}  loss {loss.item():.4f}  "
                  f"test acc {accuracy(model, x_test, y_test):.4f}  "
                  f"({time.time() - start:.0f} s)", flush=True)
    return loss.item()


def readme_text(source):
    return f"""# resnet20-digits sample trace

An mls-trace/1 trace (../../docs/reference.md#trace-format) of the 19 Conv2d layers of a
CIFAR-style ResNet-20 during one training iteration (forward + backward,
cross-entropy loss, BatchNorm in training mode) on a batch of
{source['dump_batch']} test images of sklearn's digits data set (8x8 upsampled
bilinearly to 32x32, repeated to 3 channels).

- command (from the repo root): `{source['command']}`
- seed: {source['seed']}
- training steps before the dump: {source['step']} (batch {source['batch_size']},
  SGD lr {source['lr']} momentum 0.9 weight decay 5e-4, cosine decay)
- test accuracy at dump time: {source['accuracy']:.4f} on {source['test_images']} images
- loss of the dumped iteration: {source['dump_loss']:.4f}
- labels of the dumped images: {source['dump_labels']}
- torch {source['torch']}, numpy {source['numpy']}

Per layer: `<name>.weight.npy` [Co,Ci,3,3], `<name>.input.npy` [N,Ci,H,W]
and `<name>.grad_output.npy` [N,Co,Ho,Wo], float32. Regenerate with the
command above; see ../README.md.
"""


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--dump-batch", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--log-every", type=int, default=50)
    p.add_argument("--out", default=os.path.join(HERE, "resnet20-digits"))
    return p.parse_args(argv)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    torch.use_deterministic_algorithms(True)

    x, y, x_test, y_test = load_data(args.seed)
    model = ResNet20()
    train(model, x, y, x_test, y_test, args)
    acc = accuracy(model, x_test, y_test)

    # The dumped iteration: the first test images, a plain training step's
    # forward and backward (no optimizer step is needed for the trace).
    xb, yb = x_test[:args.dump_batch], y_test[:args.dump_batch]
    recorder = ConvTraceRecorder(model)
    with recorder:
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()

    source = {
        "command": shlex.join(["/usr/bin/python3", "traces/dump_resnet20.py"]
                              + argv),
        "seed": args.seed, "step": args.steps, "batch_size": args.batch_size,
        "lr": args.lr, "dump_batch": args.dump_batch,
        "accuracy": round(acc, 4), "test_images": len(x_test),
        "dump_loss": round(loss.item(), 4), "dump_labels": yb.tolist(),
        "torch": torch.__version__, "numpy": np.__version__,
    }
    recorder.write(args.out, "resnet20", source=source,
                   extra_files={"README.md": readme_text(source)})
    print(f"final test acc {acc:.4f}  dump loss {loss.item():.4f}  "
          f"wrote {len(recorder.records)} conv layers to {args.out}")


if __name__ == "__main__":
    main()
