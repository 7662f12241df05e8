#!/usr/bin/env python3
"""Writes the topologies of this folder from the networks' definitions.

Each network is written out as its architecture defines it (torchvision's
ResNet-18, ResNet-50 (v1.5: the stride on the 3x3 convolution) and
MobileNetV2, and one encoder block of ViT-B/16), layer by layer, with the
layer names of the torchvision modules. Run it from anywhere; it rewrites the
files beside it:

    python3 topologies/make_topologies.py

The shipped files are this script's output (testbenches/cli/test_synth.py
checks that they still are). The format is in docs/scale.md#topologies.
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def conv(name, cin, cout, k, hw, stride=1, padding=0, groups=1, **extra):
    layer = {"name": name, "kind": "conv2d", "weight": [cout, cin // groups, k, k],
             "input": [cin, hw, hw], "stride": stride, "padding": padding}
    if groups != 1:
        layer["groups"] = groups
    layer.update(extra)
    return layer


def out_size(hw, k, stride, padding):
    return (hw + 2 * padding - k) // stride + 1


def linear(name, fin, fout, tokens=None, **extra):
    layer = {"name": name, "kind": "linear", "weight": [fout, fin],
             "input": ([tokens] if tokens else []) + [fin]}
    layer.update(extra)
    return layer


def resnet18():
    layers = [conv("conv1", 3, 64, 7, 224, stride=2, padding=3)]
    hw = 56  # after the 3x3 stride-2 max pool
    cin = 64
    for stage, width in enumerate([64, 128, 256, 512], start=1):
        for block in range(2):
            stride = 2 if stage > 1 and block == 0 else 1
            p = f"layer{stage}.{block}"
            layers.append(conv(p + ".conv1", cin, width, 3, hw, stride=stride, padding=1))
            hw_out = out_size(hw, 3, stride, 1)
            layers.append(conv(p + ".conv2", width, width, 3, hw_out, padding=1))
            if stride != 1 or cin != width:
                layers.append(conv(p + ".downsample.0", cin, width, 1, hw, stride=stride))
            cin, hw = width, hw_out
    layers.append(linear("fc", 512, 1000))
    return {"model": "resnet18", "layers": layers}


def resnet50():
    layers = [conv("conv1", 3, 64, 7, 224, stride=2, padding=3)]
    hw, cin = 56, 64
    for stage, (width, blocks) in enumerate(zip([64, 128, 256, 512], [3, 4, 6, 3]), start=1):
        for block in range(blocks):
            stride = 2 if stage > 1 and block == 0 else 1
            p = f"layer{stage}.{block}"
            layers.append(conv(p + ".conv1", cin, width, 1, hw))
            layers.append(conv(p + ".conv2", width, width, 3, hw, stride=stride, padding=1))
            hw_out = out_size(hw, 3, stride, 1)
            layers.append(conv(p + ".conv3", width, 4 * width, 1, hw_out))
            if block == 0:
                layers.append(conv(p + ".downsample.0", cin, 4 * width, 1, hw, stride=stride))
            cin, hw = 4 * width, hw_out
    layers.append(linear("fc", 2048, 1000))
    return {"model": "resnet50", "layers": layers}


def mobilenet_v2():
    # (expansion t, output channels c, repeats n, first stride s), as in the paper's Table 2
    settings = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]
    layers = [conv("features.0.0", 3, 32, 3, 224, stride=2, padding=1)]
    hw, cin, index = 112, 32, 1
    for t, c, n, s in settings:
        for i in range(n):
            stride = s if i == 0 else 1
            hidden = cin * t
            p = f"features.{index}.conv"
            j = 0
            if t != 1:
                layers.append(conv(f"{p}.{j}.0", cin, hidden, 1, hw))
                j += 1
            # depthwise: one group per channel
            layers.append(conv(f"{p}.{j}.0", hidden, hidden, 3, hw, stride=stride, padding=1, groups=hidden))
            hw = out_size(hw, 3, stride, 1)
            layers.append(conv(f"{p}.{j + 1}", hidden, c, 1, hw))
            cin, index = c, index + 1
    layers.append(conv(f"features.{index}.0", cin, 1280, 1, hw))
    layers.append(linear("classifier.1", 1280, 1000))
    return {"model": "mobilenet_v2", "layers": layers}


def vit_b16_block():
    tokens, dim, heads, mlp = 197, 768, 12, 3072  # 14 x 14 patches + the class token
    head = dim // heads
    p = "blocks.0"
    layers = [
        linear(p + ".attn.qkv", dim, 3 * dim, tokens),
        # scores = Q K^T per head: first operand Q [heads, tokens, head], second K^T [heads, head, tokens]
        {"name": p + ".attn.q_kt", "kind": "matmul", "input": [heads, tokens, head], "weight": [heads, head, tokens]},
        # out = softmax(scores) V: the probabilities are non-negative
        {"name": p + ".attn.probs_v", "kind": "matmul", "input": [heads, tokens, tokens],
         "weight": [heads, tokens, head], "input_dist": "relu"},
        linear(p + ".attn.proj", dim, dim, tokens),
        linear(p + ".mlp.fc1", dim, mlp, tokens),
        # fc2's input is GELU's output: mostly non-negative
        linear(p + ".mlp.fc2", mlp, dim, tokens, input_dist="relu"),
    ]
    return {"model": "vit_b16_block", "layers": layers}


def resnet18_csv():
    """ResNet-18's convolutions in SCALE-Sim's form: no padding key, so each
    IFMAP is given with its padding included (56 + 2 = 58 for a 3x3 pad-1
    convolution), which gives the same output sizes and products."""
    rows = ["Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,"]
    for l in resnet18()["layers"]:
        if l["kind"] == "linear":
            rows.append(f"{l['name']},1,1,1,1,{l['weight'][1]},{l['weight'][0]},1,")
            continue
        cout, cin, k, _ = l["weight"]
        hw = l["input"][1] + 2 * l["padding"]
        rows.append(f"{l['name']},{hw},{hw},{k},{k},{cin},{cout},{l['stride']},")
    return "\n".join(rows) + "\n"


def topology_text(topo):
    """One layer per line, so an error's line number points at its layer."""
    lines = ['{', f'  "model": {json.dumps(topo["model"])},', '  "layers": [']
    body = [f'    {json.dumps(l)}' for l in topo["layers"]]
    lines.append(",\n".join(body))
    lines += ['  ]', '}']
    return "\n".join(lines) + "\n"


def outputs():
    return {
        "resnet18.json": topology_text(resnet18()),
        "resnet50.json": topology_text(resnet50()),
        "mobilenet_v2.json": topology_text(mobilenet_v2()),
        "vit_b16_block.json": topology_text(vit_b16_block()),
        "resnet18.csv": resnet18_csv(),
    }


if __name__ == "__main__":
    for name, text in outputs().items():
        with open(os.path.join(HERE, name), "w") as f:
            f.write(text)
        print("wrote", os.path.join("topologies", name), file=sys.stderr)
