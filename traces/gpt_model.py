"""A small decoder-only character-level GPT and the Debian text it learns, written the ordinary way.

Attention is functional (``q @ k.transpose(-2, -1)``, a causal mask, softmax,
``att @ v``), the blocks are pre-norm with LayerNorm, a GELU MLP and residual
adds, and the output layer is tied to the token embedding through ``F.linear``,
so the recorder sees products as plain PyTorch writes them (traces/README.md).
traces/dump_gpt.py trains it and dumps ``traces/gpt-chars``; tools that train
with the array's arithmetic import ``GPT``, ``load_text`` and ``lm_loss`` from here.

The text is ``/usr/share/common-licenses/GPL-3`` (Debian's base-files package,
present on every Debian system): 35,149 characters, the first 90% for training,
the rest held out.
"""

import hashlib

import torch
import torch.nn.functional as F
from torch import nn

TEXT = "/usr/share/common-licenses/GPL-3"


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention: one nn.Linear for Q, K and V, functional products, an output nn.Linear."""

    def __init__(self, dim, heads, context):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.register_buffer("causal", torch.ones(context, context, dtype=torch.bool).tril())

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.qkv(x).split(d, dim=-1)
        q, k, v = (z.view(b, t, self.heads, d // self.heads).transpose(1, 2) for z in (q, k, v))
        att = (q @ k.transpose(-2, -1)) * (d // self.heads) ** -0.5
        att = att.masked_fill(~self.causal[:t, :t], float("-inf")).softmax(-1)
        return self.proj((att @ v).transpose(1, 2).reshape(b, t, d))


class Block(nn.Module):
    def __init__(self, dim, heads, context):
        super().__init__()
        self.ln1 = nn.LayerNorm(dim)
        self.attn = CausalSelfAttention(dim, heads, context)
        self.ln2 = nn.LayerNorm(dim)
        self.fc = nn.Linear(dim, 4 * dim)
        self.out = nn.Linear(4 * dim, dim)

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.out(F.gelu(self.fc(self.ln2(x))))


class GPT(nn.Module):
    """Token and position embeddings, ``depth`` blocks, a final LayerNorm and the tied output layer."""

    def __init__(self, vocab, dim=48, depth=2, heads=4, context=32):
        super().__init__()
        self.context = context
        self.tok = nn.Embedding(vocab, dim)
        self.pos = nn.Embedding(context, dim)
        self.blocks = nn.Sequential(*[Block(dim, heads, context) for _ in range(depth)])
        self.ln = nn.LayerNorm(dim)
        self.apply(self._init)

    @staticmethod
    def _init(module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def forward(self, idx):
        """Token ids [B, T] (T <= context) to logits [B, T, vocab]."""
        x = self.tok(idx) + self.pos(torch.arange(idx.shape[1], device=idx.device))
        return F.linear(self.ln(self.blocks(x)), self.tok.weight)


def lm_loss(logits, targets):
    """Mean cross-entropy of the next character over every position."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def load_text(path=TEXT, context=32, train_fraction=0.9):
    """The text as windows of ``context`` character ids and their next-character targets.

    Returns (x_train, y_train, x_test, y_test, vocab, text digest): every window
    starting in the first ``train_fraction`` of the text trains, the windows of
    the rest are held out (every ``context``-th one: no two overlap)."""
    with open(path, "rb") as f:
        raw = f.read()
    text = raw.decode("utf-8")
    vocab = sorted(set(text))
    ids = torch.tensor([vocab.index(c) for c in text], dtype=torch.long)
    windows = ids.unfold(0, context + 1, 1)
    split = int(len(ids) * train_fraction)
    train, test = windows[:split - context], windows[split:][::context]
    return (train[:, :-1], train[:, 1:], test[:, :-1], test[:, 1:], "".join(vocab),
            hashlib.sha256(raw).hexdigest())


@torch.no_grad()
def next_char_accuracy(model, x, y, batch=None):
    """Share of positions whose most likely next character is the right one (eval mode)."""
    batch = batch or len(x)
    model.eval()
    correct = sum((model(x[i:i + batch]).argmax(-1) == y[i:i + batch]).sum().item()
                  for i in range(0, len(x), batch))
    model.train()
    return correct / y.numel()
