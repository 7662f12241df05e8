#!/usr/bin/python3
"""Train a CIFAR-style ResNet-20 on sklearn's digits and dump one iteration.

The digits (8x8, 10 classes) are upsampled to 32x32 and repeated to 3
channels, so the network has exactly the CIFAR ResNet-20 conv shapes (19
Conv2d layers) while training in about a minute on one CPU core. After
training, one forward + backward of ``--dump-batch`` test images is recorded
with mls_trace as an mls-trace/1 directory (docs/reference.md#trace-format).
"""

import sys

import torch
import torch.nn.functional as F
from torch import nn

import dump_common
from mls_trace import ConvTraceRecorder


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


def upsample(x):
    """8x8 digits to the CIFAR input: 32x32 bilinear, repeated to 3 channels."""
    return F.interpolate(x, size=(32, 32), mode="bilinear", align_corners=False).repeat(1, 3, 1, 1)


def sgd(model, args):
    """SGD with momentum (and the shared cosine decay), which gives a stable final accuracy for a short run."""
    return torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, weight_decay=5e-4)


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


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = dump_common.parse_args(argv, __doc__.splitlines()[0], steps=300, batch_size=32, dump_batch=2, lr=0.1,
                                  log_every=50, out="resnet20-digits")
    recorder, source, acc, loss = dump_common.dump(argv, "traces/dump_resnet20.py", args, ResNet20,
                                                   ConvTraceRecorder, sgd, transform=upsample, accuracy_batch=256)
    recorder.write(args.out, "resnet20", source=source,
                   extra_files={"README.md": readme_text(source)})
    print(f"final test acc {acc:.4f}  dump loss {loss.item():.4f}  "
          f"wrote {len(recorder.records)} conv layers to {args.out}")


if __name__ == "__main__":
    main()
