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

import sys

import torch
import torch.nn.functional as F
from torch import nn

import dump_common
from mls_trace import RecordedMatmul, TraceRecorder


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


def adamw(model, args):
    """AdamW (and the shared cosine decay)."""
    return torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.05)


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


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = dump_common.parse_args(argv, __doc__.splitlines()[0], steps=400, batch_size=64, dump_batch=4, lr=3e-3,
                                  log_every=100, out="vit-digits")
    recorder, source, acc, loss = dump_common.dump(argv, "traces/dump_vit.py", args, ViT, TraceRecorder, adamw)
    layers = recorder.manifest_layers()
    recorder.write(args.out, "vit", source=source, extra_files={"README.md": readme_text(source, layers)})
    print(f"final test acc {acc:.4f}  dump loss {loss.item():.4f}  wrote {len(layers)} layers to {args.out}")


if __name__ == "__main__":
    main()
