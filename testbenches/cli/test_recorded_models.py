"""Models recorded with traces/mls_trace.py's TraceRecorder run end to end:
a MobileNetV2 inverted-residual block (1x1 expand, 3x3 depthwise, 1x1
project) and a small transformer block (patch embedding, attention through
RecordedMatmul, MLP). Every recorded layer runs every pass bit-exact against
the golden model (--check), with a result close to the fp32 evaluation of
the unquantized tensors (--accuracy), and the depthwise conv's utilisation
is what docs/layers.md predicts: one processing element of R x C busy, so
1 / (R C) at most."""
import json
import os
import sys
import tempfile
import unittest
import io
import contextlib

import torch
import torch.nn.functional as F
from torch import nn

from clitest import TRACES, mlssim

sys.path.insert(0, TRACES)
from mls_trace import RecordedMatmul, TraceRecorder  # noqa: E402

torch.set_num_threads(1)


class InvertedResidual(nn.Module):
    def __init__(self, c, expand):
        super().__init__()
        h = c * expand
        self.expand = nn.Conv2d(c, h, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(h)
        self.dw = nn.Conv2d(h, h, 3, padding=1, groups=h, bias=False)
        self.bn2 = nn.BatchNorm2d(h)
        self.project = nn.Conv2d(h, c, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(c)

    def forward(self, x):
        out = F.relu6(self.bn1(self.expand(x)))
        out = F.relu6(self.bn2(self.dw(out)))
        return x + self.bn3(self.project(out))


class MobileNetBlock(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False)
        self.block = InvertedResidual(8, 4)
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        return self.fc(self.block(F.relu(self.stem(x))).mean((2, 3)))


class TinyTransformer(nn.Module):
    def __init__(self, dim=16, heads=2):
        super().__init__()
        self.heads = heads
        self.patch = nn.Conv2d(1, dim, 4, stride=4)
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.qk = RecordedMatmul()
        self.pv = RecordedMatmul()
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp1 = nn.Linear(dim, 2 * dim)
        self.mlp2 = nn.Linear(2 * dim, dim)
        self.head = nn.Linear(dim, 10)

    def forward(self, x):
        t = self.patch(x).flatten(2).transpose(1, 2)
        b, n, d = t.shape
        q, k, v = self.qkv(self.norm1(t)).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        att = (self.qk(q, k.transpose(-2, -1).contiguous()) * (d // self.heads) ** -0.5).softmax(-1)
        t = t + self.proj(self.pv(att, v).transpose(1, 2).reshape(b, n, d))
        t = t + self.mlp2(F.gelu(self.mlp1(self.norm2(t))))
        return self.head(t.mean(1))


def record(model, x, y, out):
    with contextlib.redirect_stderr(io.StringIO()):
        recorder = TraceRecorder(model)
    with recorder:
        F.cross_entropy(model(x), y).backward()
    return recorder.write(out, type(model).__name__)


class RecordedModels(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.tmp.cleanup()

    def run_trace(self, name, model, x, y):
        torch.manual_seed(0)
        trace = os.path.join(self.tmp.name, name)
        manifest = record(model, x, y, trace)
        report = os.path.join(self.tmp.name, name + ".json")
        mlssim("run", trace, "--check", "--accuracy", "--acc-bits", "24", "--quiet", "--no-progress",
               "--report", report)
        with open(report) as f:
            rep = json.load(f)
        names = [l["name"] for l in manifest["layers"]]
        self.assertEqual(sorted({(l["name"], l["pass"]) for l in rep["layers"]}),
                         sorted((n, p) for n in names for p in ("fwd", "bwd-data", "bwd-weight")))
        self.assertTrue(rep["total"]["bit_exact"])
        for layer in rep["layers"]:
            self.assertLess(layer["rel_error_fp32"], 0.25, (layer["name"], layer["pass"]))
        return manifest, {(l["name"], l["pass"]): l for l in rep["layers"]}

    def test_mobilenet_block_with_depthwise(self):
        torch.manual_seed(1)
        manifest, rep = self.run_trace("mobilenet", MobileNetBlock(), torch.randn(2, 3, 8, 8), torch.tensor([1, 3]))
        kinds = {l["name"]: (l["kind"], l.get("groups")) for l in manifest["layers"]}
        self.assertEqual(kinds["block.dw"], ("conv2d", 32))
        self.assertEqual(kinds["fc"], ("linear", None))
        dw = rep[("block.dw", "fwd")]
        self.assertEqual(dw["blocks"], 32)
        self.assertEqual((dw["m"], dw["g"], dw["k"]), (1, 1, 9))
        # One PE of 256 busy: at most 1 / (R C), less one pipeline fill per channel.
        self.assertLessEqual(dw["utilization"], 1 / 256)
        self.assertGreater(dw["utilization"], 0.5 / 256)

    def test_transformer_block_with_attention(self):
        torch.manual_seed(2)
        manifest, rep = self.run_trace("transformer", TinyTransformer(), torch.randn(2, 1, 8, 8),
                                       torch.tensor([4, 7]))
        kinds = [l["kind"] for l in manifest["layers"]]
        self.assertEqual(kinds.count("matmul"), 2)
        self.assertEqual(kinds.count("linear"), 5)
        self.assertEqual(rep[("qk", "fwd")]["blocks"], 2 * 2)  # batch x heads


if __name__ == "__main__":
    unittest.main()
