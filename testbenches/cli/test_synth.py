"""mlssim synth (docs/scale.md#synthetic-traces): traces of synthetic tensors
from a SCALE-Sim CSV or a JSON layer list. The expectations are written here
from the documentation: output shapes from the convolution formula, the
distributions' statistics (He-scaled weights, ReLU activations with log-normal
channel scales, errors spread over three decades), determinism by seed, the
one-line file:line:column errors, and the shipped topologies' products against
the figures torchvision publishes for the networks."""
import glob
import importlib.util
import json
import os
import re
import shutil
import sys
import tempfile
import unittest

import numpy as np

from clitest import ROOT, mlssim

TOPOLOGIES = os.path.join(ROOT, "topologies")


# A small network with every form the JSON takes: padding, stride, groups
# (depthwise), dilation, a forward-only layer, linear and matmul.
SMALL = {
    "model": "small",
    "layers": [
        {"name": "stem", "kind": "conv2d", "weight": [32, 3, 3, 3], "input": [3, 12, 12], "stride": 2, "padding": 1},
        {"name": "dw", "kind": "conv2d", "weight": [32, 1, 3, 3], "input": [32, 6, 6], "padding": [1, 1],
         "groups": 32},
        {"name": "pw", "weight": [64, 32, 1, 1], "input": [32, 6, 6]},
        {"name": "dil", "kind": "conv2d", "weight": [16, 64, 3, 3], "input": [64, 6, 6], "dilation": 2,
         "padding": 2, "grad_output": False},
        {"name": "fc", "kind": "linear", "weight": [10, 200], "input": [5, 200]},
        {"name": "qk", "kind": "matmul", "input": [2, 5, 8], "weight": [2, 8, 5]},
    ],
}
BATCH = 4


def conv_out(h, k, stride, pad, dil):
    return (h + 2 * pad - dil * (k - 1) - 1) // stride + 1


def pair(v):
    return v if isinstance(v, list) else [v, v]


def expected_shapes(layer, batch):
    """The tensors' shapes, from the layer's definition (docs/scale.md#topologies)."""
    kind = layer.get("kind", "conv2d")
    w, a = list(layer["weight"]), [batch] + list(layer["input"])
    if kind == "conv2d":
        s, p, d = (pair(layer.get(k, dflt)) for k, dflt in (("stride", 1), ("padding", 0), ("dilation", 1)))
        e = [batch, w[0]] + [conv_out(a[2 + i], w[2 + i], s[i], p[i], d[i]) for i in range(2)]
    elif kind == "linear":
        e = a[:-1] + [w[0]]
    else:
        w = [batch] + w
        e = a[:-1] + [w[-1]]
    return w, a, e


class Synth(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name
        self.topo = os.path.join(self.dir, "small.json")
        with open(self.topo, "w") as f:
            json.dump(SMALL, f, indent=1)

    def tearDown(self):
        self.tmp.cleanup()

    def synth(self, topo, out, *extra):
        proc = mlssim("synth", topo, "--out", out, *extra, ok=None)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        return out

    def test_trace_runs_bit_exact_with_the_topology_shapes(self):
        trace = self.synth(self.topo, os.path.join(self.dir, "t"), "--batch", BATCH, "--seed", 5)
        manifest = json.load(open(os.path.join(trace, "manifest.json")))
        self.assertEqual(manifest["format"], "mls-trace/2")
        self.assertEqual([l["name"] for l in manifest["layers"]], [l["name"] for l in SMALL["layers"]])
        for layer, entry in zip(SMALL["layers"], manifest["layers"]):
            w, a, e = expected_shapes(layer, BATCH)
            self.assertEqual(list(np.load(os.path.join(trace, entry["weight"])).shape), w, layer["name"])
            self.assertEqual(list(np.load(os.path.join(trace, entry["input"])).shape), a, layer["name"])
            if layer.get("grad_output", True):
                self.assertEqual(list(np.load(os.path.join(trace, entry["grad_output"])).shape), e, layer["name"])
            else:
                self.assertNotIn("grad_output", entry)
            self.assertEqual(np.load(os.path.join(trace, entry["weight"])).dtype, np.float32)
        report = os.path.join(self.dir, "r.json")
        proc = mlssim("run", trace, "--check", "--report", report, "--no-progress", "--quiet", ok=None)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        r = json.load(open(report))
        self.assertTrue(r["total"]["bit_exact"])
        # every layer's three passes, the forward-only layer's forward pass
        self.assertEqual(len(r["layers"]), 3 * len(SMALL["layers"]) - 2)

    def test_distributions_have_their_documented_statistics(self):
        trace = self.synth(self.topo, os.path.join(self.dir, "t"), "--batch", 16)
        load = lambda name: np.load(os.path.join(trace, name)).astype(np.float64)
        # He: std sqrt(2 / fan_in), fan_in = Ci/groups * Kh * Kw (a linear layer's inputs); mean 0
        for name, fan_in in (("pw", 32), ("dil", 64 * 9), ("fc", 200), ("stem", 27)):
            w = load(f"{name}.weight.npy")
            he = np.sqrt(2.0 / fan_in)
            self.assertLess(abs(w.std() / he - 1), 0.10, name)
            self.assertLess(abs(w.mean()), 4 * he / np.sqrt(w.size), name)
        # ReLU activations: half the values exactly 0, per-channel scales log-normal with sigma 0.5
        a = load("pw.input.npy")  # [16, 32, 6, 6]
        self.assertGreaterEqual(a.min(), 0.0)
        self.assertLess(abs((a == 0).mean() - 0.5), 0.03)
        rms = np.sqrt((a ** 2).mean(axis=(0, 2, 3)) * 2)  # of c * |z| over the nonzero half: c
        self.assertLess(abs(np.log(rms).std() - 0.5), 0.2)
        # the first layer's input (images) is signed
        stem = load("stem.input.npy")
        self.assertLess(abs((stem < 0).mean() - 0.5), 0.05)
        # errors: per-sample scales 10^-u, u stratified over [0, 3): sample n in [3n/N, 3(n+1)/N)
        e = load("pw.grad_output.npy")
        sample_rms = np.sqrt((e ** 2).mean(axis=(1, 2, 3)))
        decades = np.log10(sample_rms[0] / sample_rms)
        self.assertGreater(decades[-1], 3 * (16 - 2) / 16 - 0.3)
        self.assertLess(decades.max(), 3.3)
        self.assertTrue(np.all(np.diff(decades) > -0.3))

    def test_same_seed_same_bytes_other_seed_other_values(self):
        a = self.synth(self.topo, os.path.join(self.dir, "a"), "--seed", 11)
        b = self.synth(self.topo, os.path.join(self.dir, "b"), "--seed", 11)
        c = self.synth(self.topo, os.path.join(self.dir, "c"), "--seed", 12)
        files = sorted(os.listdir(a))
        self.assertEqual(files, sorted(os.listdir(b)))
        for f in files:
            if f.endswith(".npy"):
                self.assertEqual(open(os.path.join(a, f), "rb").read(), open(os.path.join(b, f), "rb").read(), f)
                self.assertFalse(np.array_equal(np.load(os.path.join(a, f)), np.load(os.path.join(c, f))), f)

    def test_scalesim_csv_is_a_conv_without_padding(self):
        csv = os.path.join(self.dir, "net.csv")
        with open(csv, "w") as f:
            # SCALE-Sim's header (its files carry extra columns and trailing commas) and an empty row
            f.write("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, "
                    "Strides,,Eh\n,,,,,,,,\nConv1, 11, 9, 3, 3, 3, 8, 2,,\nConv2,5,4,3,1,8,6,1,\n")
        trace = self.synth(csv, os.path.join(self.dir, "t"), "--batch", 2)
        m = json.load(open(os.path.join(trace, "manifest.json")))
        self.assertEqual(m["model"], "net")
        shapes = {l["name"]: [list(np.load(os.path.join(trace, l[k])).shape) for k in ("weight", "input",
                                                                                       "grad_output")]
                  for l in m["layers"]}
        self.assertEqual(shapes["Conv1"], [[8, 3, 3, 3], [2, 3, 11, 9], [2, 8, 5, 4]])
        self.assertEqual(shapes["Conv2"], [[6, 8, 3, 1], [2, 8, 5, 4], [2, 6, 3, 4]])
        self.assertEqual(m["layers"][0]["padding"], [0, 0])
        proc = mlssim("run", trace, "--check", "--no-progress", "--quiet", ok=None)
        self.assertEqual(proc.returncode, 0, proc.stderr)

    def assert_refused(self, name, text, where, words):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        out = os.path.join(self.dir, "never")
        proc = mlssim("synth", path, "--out", out, ok=None)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, proc.stderr)
        self.assertIn(f"{path}:{where}:", lines[0])
        for w in words:
            self.assertIn(w, lines[0])
        self.assertFalse(os.path.exists(out))
        self.assertEqual(glob.glob(out + "*"), [])

    def test_malformed_csv_is_refused_with_file_line_and_column(self):
        header = "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides"

        def refused(name, rows, line, token, words, nth=0):
            """The error points at the nth+1 occurrence of `token` on 1-based `line` (its first character)."""
            text = rows[line - 1]
            col = -1
            for _ in range(nth + 1):
                col = text.index(token, col + 1)
            self.assert_refused(name, "\n".join(rows) + "\n", f"{line}:{col + 1}", words)

        refused("h.csv", ["Layer name, IFMAP Height, Width, Filter Height"], 1, "Width",
                ["column 3", "IFMAP Width", "'Width'"])
        refused("n.csv", [header, "c1,8,8,3,3,3,4,1", "c2,8,8,x,3,4,4,1"], 3, "x", ["Filter Height", "'x'"])
        refused("z.csv", [header, "c1,8,8,3,3,0,4,1"], 2, "0", ["Channels", "'0'"])
        short = "c1,8,8,3,3,3,4"  # the error points past the line's end
        self.assert_refused("s.csv", header + "\n" + short + "\n", f"2:{len(short) + 1}", ["7 columns"])
        refused("k.csv", [header, "c1,4,4,5,3,3,4,1"], 2, "5", ["Filter Height 5", "IFMAP Height 4"])
        refused("d.csv", [header, "c1,8,8,3,3,3,4,1", "", "c1,8,8,3,3,4,4,1"], 4, "c1", ["repeated"])
        refused("b.csv", [header, "conv 1,8,8,3,3,3,4,1"], 2, "conv", ["Layer name", "' '"])
        refused("q.csv", [header, '"c1",8,8,3,3,3,4,1'], 2, '"', ["quoted"])
        self.assert_refused("e.csv", header + "\n", "2:1", ["no layers"])

    def test_malformed_json_is_refused_with_file_line_and_column(self):
        good = '{"name": "c", "weight": [4, 3, 3, 3], "input": [3, 8, 8]}'

        def refused(name, lines, line, token, words):
            """`token` is where the error points: its first character on 1-based `line`."""
            self.assert_refused(name, "\n".join(lines) + "\n", f"{line}:{lines[line - 1].index(token) + 1}", words)

        refused("syntax.json", ['{"layers": [', "  " + good + ",", '  {"name": }', "]}"], 3, "}",
                ["not valid JSON"])
        refused("key.json", ['{"layers": [', "  " + good + ",",
                             '  {"name": "d", "weight": [4, 4, 3, 3], "input": [4, 8, 8], "strid": 2}', "]}"],
                3, '"strid"', ["unknown key 'strid'"])
        refused("rank.json", ['{"layers": [', '  {"name": "c",', '   "weight": [4, 3, 3],', '   "input": [3, 8, 8]}',
                              "]}"], 3, "[", ["weight", "4 dimensions"])
        refused("groups.json", ['{"layers": [', '  {"name": "c", "weight": [4, 3, 3, 3], "input": [6, 8, 8], '
                                '"groups": 4}', "]}"], 2, "{", ["layer 'c'", "input"])
        refused("kind.json", ['{"layers": [', ' {"name": "c", "kind": "lstm", "weight": [4, 3], "input": [3]}]}'],
                2, '"lstm"', ["lstm"])
        refused("lin.json", ['{"layers": [', ' {"name": "f", "kind": "linear", "weight": [4, 3], "input": [5], '
                             '"stride": 2}]}'], 2, "2}", ["conv2d key"])
        refused("big.json", ['{"layers": [', ' {"name": "c", "weight": [4, 3, 9, 9], "input": [3, 8, 8]}]}'],
                2, "{", ["smaller than the kernel"])
        refused("empty.json", ['{"model": "x", "layers": []}'], 1, "[]", ["non-empty"])
        refused("type.json", ['{"layers": [', ' {"name": "c", "weight": [4, 3, 3, 3], "input": [3, 8, 8], '
                              '"padding": -1}]}'], 2, "-1", ["padding", "'-1'"])

    def test_existing_out_is_refused_and_nothing_is_left_on_error(self):
        out = os.path.join(self.dir, "t")
        os.mkdir(out)
        proc = mlssim("synth", self.topo, "--out", out, ok=None)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("exists", proc.stderr)
        self.assertEqual(os.listdir(out), [])
        proc = mlssim("synth", self.topo, "--out", os.path.join(self.dir, "x"), "--batch", 0, ok=None)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("--batch", proc.stderr)


def load_generator():
    spec = importlib.util.spec_from_file_location("make_topologies", os.path.join(TOPOLOGIES, "make_topologies.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def products(topo):
    """Multiply-accumulates of one forward pass at batch 1, from the layer list."""
    total = 0
    for l in topo["layers"]:
        w, a, e = expected_shapes(l, 1)
        if l.get("kind", "conv2d") == "matmul":
            total += int(np.prod(a)) * w[-1]
        else:  # each output sums weight elements of one output channel (Ci/groups * Kh * Kw, or in)
            total += int(np.prod(e)) * int(np.prod(w[1:]))
    return total


class ShippedTopologies(unittest.TestCase):
    def test_files_are_the_generator_output(self):
        for name, text in load_generator().outputs().items():
            with open(os.path.join(TOPOLOGIES, name)) as f:
                self.assertEqual(f.read(), text, f"topologies/{name}: rerun topologies/make_topologies.py")

    def test_products_match_the_published_figures(self):
        # torchvision's model table: GFLOPS (multiply-adds) 1.81, 4.09, 0.30 at 224 x 224
        for name, gmacs, layers in (("resnet18", 1.81, 21), ("resnet50", 4.09, 54), ("mobilenet_v2", 0.30, 53)):
            topo = json.load(open(os.path.join(TOPOLOGIES, name + ".json")))
            self.assertEqual(len(topo["layers"]), layers, name)
            self.assertLess(abs(products(topo) / 1e9 / gmacs - 1), 0.015, (name, products(topo)))
        mobilenet = json.load(open(os.path.join(TOPOLOGIES, "mobilenet_v2.json")))
        depthwise = [l for l in mobilenet["layers"] if l.get("groups", 1) > 1]
        self.assertEqual(len(depthwise), 17)
        self.assertTrue(all(l["groups"] == l["input"][0] == l["weight"][0] for l in depthwise))
        # one ViT-B/16 encoder block: 197 tokens of 768, 12 heads, MLP 3072
        vit = json.load(open(os.path.join(TOPOLOGIES, "vit_b16_block.json")))
        t, d = 197, 768
        self.assertEqual(products(vit), t * d * 3 * d + 2 * t * t * d + t * d * d + 2 * t * d * 4 * d)

    def test_each_shipped_topology_synthesizes_and_runs(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        # ResNet-50 (189 MB at batch 1) only through the topology check, which
        # synth makes before it looks at --out: an --out in a missing directory
        # is then the only error
        proc = mlssim("synth", os.path.join(TOPOLOGIES, "resnet50.json"), "--out", os.path.join(tmp.name, "no", "t"),
                      ok=None)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("--out", proc.stderr)
        self.assertNotIn("resnet50.json", proc.stderr)
        for name, layer in (("mobilenet_v2.json", "features.17.conv.1.0"), ("vit_b16_block.json", "blocks.0.attn.q_kt")):
            out = os.path.join(tmp.name, name)
            proc = mlssim("synth", os.path.join(TOPOLOGIES, name), "--out", out, ok=None)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            proc = mlssim("run", out, "--layers", layer, "--passes", "fwd", "--check", "--quiet", "--no-progress",
                          ok=None)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            shutil.rmtree(out)

    def test_csv_resnet18_gives_the_json_shapes(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        csv = json.load(open(os.path.join(TOPOLOGIES, "resnet18.json")))
        traces = {}
        for name in ("resnet18.csv", "resnet18.json"):
            out = os.path.join(tmp.name, name)
            proc = mlssim("synth", os.path.join(TOPOLOGIES, name), "--out", out, ok=None)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            m = json.load(open(os.path.join(out, "manifest.json")))
            traces[name] = {l["name"]: (np.load(os.path.join(out, l["weight"]), mmap_mode="r").size,
                                        np.load(os.path.join(out, l["grad_output"]), mmap_mode="r").shape)
                            for l in m["layers"]}
        self.assertEqual(len(traces["resnet18.json"]), len(csv["layers"]))
        for name, (w, e) in traces["resnet18.json"].items():
            cw, ce = traces["resnet18.csv"][name]
            self.assertEqual(cw, w, name)
            self.assertEqual(ce[0], e[0], name)
            self.assertEqual(int(np.prod(ce)), int(np.prod(e)), name)  # fc: [1, 1000, 1, 1] against [1, 1000]


if __name__ == "__main__":
    unittest.main()
