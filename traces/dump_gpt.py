#!/usr/bin/python3
"""Train a small character-level GPT on Debian's GPL-3 text and dump one iteration.

The model (gpt_model.py) is decoder-only: token and position embeddings, two
pre-norm blocks (4 heads, causal functional attention, GELU MLP, residual
adds), a final LayerNorm and an output layer tied to the token embedding.
After a short training run on windows of 32 characters, one forward +
backward of ``--dump-batch`` held-out windows is recorded with mls_trace's
TraceRecorder as an mls-trace/2 directory (docs/reference.md#trace-format): every
nn.Linear, the attention products ``q @ k^T`` and ``att @ v`` and the tied
output ``F.linear`` (functional products, through the recorder's function
mode), and the softmax, LayerNorms, GELUs and residual adds as ``vector_ops``.
Deterministic with ``--threads 1``: the files come out byte-identical.
"""

import sys

import torch

import dump_common
import gpt_model
from mls_trace import TraceRecorder


def adamw(model, args):
    """AdamW (and the shared cosine decay)."""
    return torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)


@torch.no_grad()
def held_out_loss(model, x, y):
    model.eval()
    loss = gpt_model.lm_loss(model(x), y).item()
    model.train()
    return loss


def readme_text(source, manifest):
    kinds = {}
    for layer in manifest["layers"]:
        kinds[layer["kind"]] = kinds.get(layer["kind"], 0) + 1
    counts = ", ".join(f"{n} {k}" for k, n in kinds.items())
    ops = {}
    for op in manifest["vector_ops"]:
        ops[op["op"]] = ops.get(op["op"], 0) + 1
    vector = ", ".join(f"{n} {k}" for k, n in ops.items())
    return f"""# gpt-chars sample trace

An mls-trace/2 trace (../../docs/reference.md#trace-format) of a small decoder-only
transformer during one training iteration (forward + backward, next-character
cross-entropy) on {source['dump_batch']} held-out windows of {source['context']} characters of
`{source['text']}` (Debian's base-files package; sha256 {source['text_sha256'][:16]}...,
{source['vocab']} distinct characters). {len(manifest['layers'])} layers: {counts};
{len(manifest['vector_ops'])} vector ops: {vector}.

The model (../gpt_model.py): token and position embeddings of width
{source['dim']}, {source['depth']} pre-norm blocks (4 heads of width {source['dim'] // 4}, causal
attention written as `q @ k.transpose(-2, -1)`, masked softmax and `att @ v`;
MLP {source['dim']}-{4 * source['dim']}-{source['dim']} with GELU; residual adds), a final LayerNorm and an output layer
tied to the token embedding (`F.linear(x, tok.weight)`). Per block the trace
holds `attn.qkv`, `attn.matmul` (q k^T, kind matmul), `attn.matmul_1` (att v,
matmul), `attn.proj`, `fc` and `out`; the last layer `linear` is the tied output
layer. Not recorded (no products): the embedding lookups, LayerNorm scales and biases.

- command (from the repo root): `{source['command']}`
- seed: {source['seed']}
- training steps before the dump: {source['step']} (batch {source['batch_size']} windows,
  AdamW lr {source['lr']} weight decay 0.01, cosine decay)
- held-out next-character accuracy at dump time: {source['accuracy']:.4f} over {source['test_windows']} windows
- held-out loss (mean cross-entropy, nats per character): {source['test_loss']:.4f}
  (a uniform guess: {source['uniform_loss']:.4f})
- loss of the dumped iteration: {source['dump_loss']:.4f}
- torch {source['torch']}, numpy {source['numpy']}

Shapes: linear weight [out, in], input [{source['dump_batch']}, {source['context']}, in], grad_output
[{source['dump_batch']}, {source['context']}, out]; matmul input (first operand)
[{source['dump_batch']}, 4, {source['context']}, K], weight (second operand) [{source['dump_batch']}, 4, K, N],
grad_output [{source['dump_batch']}, 4, {source['context']}, N]. Regenerate with the command above; see
../README.md.
"""


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = dump_common.parse_args(argv, __doc__.splitlines()[0], steps=600, batch_size=32, dump_batch=2, lr=3e-3,
                                  log_every=100, out="gpt-chars")
    torch.manual_seed(args.seed)
    x, y, x_test, y_test, vocab, digest = gpt_model.load_text()
    made = []

    def make_model():
        made.append(gpt_model.GPT(len(vocab)))
        return made[-1]
    recorder, source, acc, loss = dump_common.dump(
        argv, "traces/dump_gpt.py", args, make_model, TraceRecorder, adamw, accuracy_batch=256,
        data=(x, y, x_test, y_test), loss_fn=gpt_model.lm_loss, metric=gpt_model.next_char_accuracy)
    model = made[-1]
    source.pop("dump_labels")
    source["test_windows"] = source.pop("test_images")
    source.update(text=gpt_model.TEXT, text_sha256=digest, vocab=len(vocab), context=model.context,
                  dim=model.tok.weight.shape[1], depth=len(model.blocks),
                  test_loss=round(held_out_loss(model, x_test, y_test), 4),
                  uniform_loss=round(float(torch.log(torch.tensor(float(len(vocab))))), 4))
    preview = {"layers": recorder.manifest_layers(), "vector_ops": recorder.log.vector_ops}
    manifest = recorder.write(args.out, "gpt", source=source, extra_files={"README.md": readme_text(source, preview)})
    print(f"final next-char acc {acc:.4f}  held-out loss {source['test_loss']:.4f}  dump loss {loss.item():.4f}  "
          f"wrote {len(manifest['layers'])} layers, {len(manifest['vector_ops'])} vector ops to {args.out}")


if __name__ == "__main__":
    main()
