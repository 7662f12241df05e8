#!/usr/bin/python3
"""Writes the seed corpora of the fuzz harnesses (docs/fuzzing.md) into
testbenches/fuzz/corpus/<target>/: small valid inputs and near misses, each
named for what it is. Standard library only. Rerun after changing the formats:

    /usr/bin/python3 testbenches/fuzz/make_corpus.py
"""
import json
import struct

from corpus_writer import ROOT, write_corpora


def npy(descr, shape, values, version=1, fortran=False, dict_text=None, pad=True):
    """A .npy file; `values` are packed with the struct code of `descr`."""
    if dict_text is None:
        if len(shape) == 1:
            shape_text = f"({shape[0]},)"
        else:
            shape_text = "(" + ", ".join(str(d) for d in shape) + ")"
        dict_text = (f"{{'descr': '{descr}', 'fortran_order': {fortran}, "
                     f"'shape': {shape_text}, }}")
    code = {"<f4": "<f", "<f2": "<e", "<f8": "<d", ">f4": ">f", "<i4": "<i"}[descr]
    data = struct.pack(f"{code[0]}{len(values)}{code[1]}", *values)
    head_len = 10 if version == 1 else 12
    body = dict_text.encode("latin-1")
    if pad:
        body += b" " * ((64 - (head_len + len(body) + 1) % 64) % 64)
    body += b"\n"
    size = struct.pack("<H", len(body)) if version == 1 else struct.pack("<I", len(body))
    return b"\x93NUMPY" + bytes([version, 0]) + size + body + data


def ramp(n):
    return [i * 0.25 - 1.0 for i in range(n)]


DEEP = 200  # nesting of the deep seeds: harmless at 8 MiB of stack, deep enough to grow


def nested(depth):
    return "[" * depth + "]" * depth


def npy_seeds():
    s = {
        "v1_f4_2x3.npy": npy("<f4", [2, 3], ramp(6)),
        "v1_f2_4.npy": npy("<f2", [4], [1.0, -2.5, 0.0, 65504.0]),
        "v1_f8_2x2.npy": npy("<f8", [2, 2], [1e-300, -0.0, 3.5, 1e300]),
        "v1_scalar.npy": npy("<f4", [], [7.0]),
        "v1_empty.npy": npy("<f4", [0], []),
        "v2_f4_1x1x2x2.npy": npy("<f4", [1, 1, 2, 2], ramp(4), version=2),
        "v3_f4_3.npy": npy("<f4", [3], ramp(3), version=3),
        "v1_double_quotes.npy": npy("<f4", [2], ramp(2),
                                    dict_text='{"descr": "<f4", "fortran_order": False, "shape": (2,)}'),
        "v1_unpadded.npy": npy("<f4", [2], ramp(2), pad=False),
        # near misses: each must be refused with an mls::Error
        "bad_fortran.npy": npy("<f4", [2, 2], ramp(4), fortran=True),
        "bad_big_endian.npy": npy(">f4", [2], ramp(2)),
        "bad_int32.npy": npy("<i4", [2], [1, 2]),
        "bad_truncated_data.npy": npy("<f4", [2, 3], ramp(6))[:-5],
        "bad_huge_shape.npy": npy("<f4", [1], [1.0], dict_text=(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }")),
        "bad_shape_text.npy": npy("<f4", [1], [1.0], dict_text=(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1, x), }")),
        "bad_version.npy": b"\x93NUMPY\x04\x00" + npy("<f4", [1], [1.0])[8:],
        "bad_magic.npy": b"\x93NUMPZ" + npy("<f4", [1], [1.0])[6:],
        # long header fields, for mutations to grow
        "bad_long_descr.npy": npy("<f4", [1], [1.0], dict_text=(
            "{'descr': '" + "<" * 1000 + "', 'fortran_order': False, 'shape': (1,), }")),
        "v2_long_shape.npy": npy("<f4", [1] * 300, [1.0], version=2),
    }
    return s


def layer(name="a", weight="w.npy", inp="x.npy", grad="g.npy", **extra):
    entry = {"name": name, "kind": "conv2d", "stride": [1, 1], "padding": [0, 0], "dilation": [1, 1],
             "groups": 1, "weight": weight, "input": inp}
    if grad is not None:
        entry["grad_output"] = grad
    entry.update(extra)
    return entry


def manifest(*layers, **top):
    doc = {"format": "mls-trace/1", "model": "fuzz", "layers": list(layers)}
    doc.update(top)
    return (json.dumps(doc, indent=1) + "\n").encode()


def trace_seeds():
    real = json.loads((ROOT / "traces/resnet20-digits/manifest.json").read_text())
    real["layers"] = real["layers"][:1]
    s = {
        # the bundled manifest trimmed to one layer (its tensors are not in the fuzz trace directory)
        "resnet20_one_layer.json": (json.dumps(real, indent=2) + "\n").encode(),
        "valid_one_layer.json": manifest(layer()),
        "valid_padding1.json": manifest(layer(padding=1, grad="g1.npy")),
        "valid_scalar_params.json": manifest(layer(stride=1, padding=0, dilation=1)),
        "valid_no_grad.json": manifest(layer(grad=None)),
        "valid_grad_null.json": manifest(layer(grad_output=None)),
        "valid_f16_f64.json": manifest(layer(weight="w8.npy", inp="x2.npy")),
        "valid_subdir.json": manifest(layer(inp="sub/x.npy")),
        "valid_two_layers.json": manifest(layer("a"), layer("b", padding=[1, 1], grad="g1.npy")),
        "valid_minimal.json": b'{"format":"mls-trace/1","layers":[{"name":"a","weight":"w.npy","input":"x.npy"}]}',
        # mls-trace/2 kinds: x [1, 1, 4, 4] times itself as a batched matmul
        "valid_matmul.json": b'{"format":"mls-trace/2","layers":[{"name":"a","kind":"matmul","weight":"x.npy",'
                             b'"input":"x2.npy","grad_output":"sub/x.npy"}]}',
        # near misses
        "bad_outside.json": manifest(layer(inp="../trace/x.npy"), layer("b", inp="sub/../../x.npy")),
        "bad_absolute.json": manifest(layer(weight="/etc/hostname")),
        "bad_groups.json": manifest(layer(groups=2)),
        "bad_kind.json": manifest(layer(kind="linear")),
        "bad_stride.json": manifest(layer(stride=[1])),
        "bad_grad_shape.json": manifest(layer(grad="g1.npy")),
        "bad_not_npy.json": manifest(layer(weight="bad.npy")),
        "bad_rank.json": manifest(layer(weight="v.npy")),
        "bad_repeat.json": manifest(layer("a"), layer("a")),
        "bad_unknown_key.json": manifest(layer(bias="b.npy")),
        "bad_format.json": b'{"format":"mls-trace/2","layers":[]}',
        "bad_name_number.json": manifest(layer(name=7)),
        "bad_model_number.json": b'{"format":"mls-trace/1","model":5,"layers":[{"name":"a","weight":"w.npy","input":"x.npy"}]}',
        "bad_deep.json": manifest(layer(), source={"notes": json.loads(nested(DEEP))}),
    }
    return s


TABLE = {"tech": "45 nm fuzz", "unit": "pJ",
         "energy": {"lowbit_mul": 0.2, "fp32_mul": 3.7, "fp32_add": 0.9, "int_acc_add": 0.0533,
                    "shift_add_scale": 0.0533, "buffer_read_bit": 0.156, "buffer_write_bit": 0.156}}

COEFFICIENT_TABLE = {"tech": "45 nm width-aware fuzz", "unit": "pJ",
                     "coefficients": {"int_add_op": 0.0067, "int_add_bit": 0.0029, "int_mul_op": 0.0067,
                                      "int_mul_pp_bit": 0.003, "shift_mux_bit": 0.0015, "fp_add_bit": 0.0164,
                                      "fp_add_align_bit": 0.0031, "fp_mul_bit": 0.0348, "fp_mul_pp_bit": 0.0045,
                                      "sram_read_bit": 0.156, "sram_write_bit": 0.156, "gated_fraction": 0.1}}

ERT_TABLE = """\
ERT:
  version: '0.3'
  tables:
  - name: mls_array.multiplier
    actions:
    - name: mul
      arguments: null
      energy: 0.15
  - name: mls_array.local_accumulator
    actions:
    - {name: add, arguments: null, energy: 0.053}
  - name: mls_array.group_scaler
    actions:
    - {name: scale, arguments: null, energy: 0.3}
  - name: fp_units.fp32
    actions:
    - {name: add, arguments: null, energy: 0.9}
    - {name: mul, arguments: null, energy: 3.7}
"""

YAML_TABLE = """\
# energy table (docs/energy.md)
tech: 65 nm synthesized MAC units
unit: pJ
energy:
  lowbit_mul: 0.192
  fp8_mul: 0.23
  fp32_mul: 5.32
  fp32_add: 1.40
  int_acc_add: 0.094
  shift_add_scale: 0.094
"""


def report_doc():
    golden = json.loads((ROOT / "testbenches/golden/resnet20-digits.report.json").read_text())
    golden["layers"] = golden["layers"][:2]
    return golden


def energy_seeds():
    relative = {"unit": "relative", "energy": {"lowbit_mul": 0.5714, "fp32_mul": 4, "fp32_add": 1,
                                               "int_acc_add": 0.05, "shift_add_scale": 0.05}}
    report = report_doc()
    no_total = {"layers": report["layers"]}
    s = {
        "table_horowitz.json": b"j" + json.dumps(TABLE, indent=2).encode(),
        "table_relative.json": b"j" + json.dumps(relative).encode(),
        "table_mac65.yaml": b"y" + YAML_TABLE.encode(),
        "table_flow.yaml": b"y{unit: relative, energy: {lowbit_mul: 1, fp32_mul: 4, fp32_add: 1, "
                           b"int_acc_add: .05, shift_add_scale: 5e-2, buffer_read_bit: 1, buffer_write_bit: 1}}\n",
        "table_coefficients.json": b"j" + json.dumps(COEFFICIENT_TABLE).encode(),
        "table_ert.yaml": b"y" + ERT_TABLE.encode(),
        "bad_table_ert_action.yaml": b"y" + ERT_TABLE.replace("name: scale", "name: divide").encode(),
        "bad_table_coefficient_missing.json": b"j" + json.dumps(
            dict(COEFFICIENT_TABLE, coefficients={"int_add_op": 1})).encode(),
        "table_anchor.yaml": b"y" + (
            "unit: relative\nenergy:\n  lowbit_mul: &one 1\n  fp32_mul: 4\n  fp32_add: *one\n"
            "  int_acc_add: 0.05\n  shift_add_scale: 0.05\n").encode(),
        "bad_table_missing.json": b"j" + json.dumps({"unit": "pJ", "energy": {"lowbit_mul": 1}}).encode(),
        "bad_table_negative.yaml": b"y" + YAML_TABLE.replace("0.192", "-1").encode(),
        "bad_table_unit.yaml": b"y" + YAML_TABLE.replace("unit: pJ", "unit: nJ").encode(),
        "bad_table_memory_half.json": b"j" + json.dumps(
            dict(relative, energy=dict(relative["energy"], buffer_read_bit=1))).encode(),
        "bad_table_quoted.yaml": b"y" + YAML_TABLE.replace("0.192", '"0.192"').encode(),
        "bad_table_inf.yaml": b"y" + YAML_TABLE.replace("0.192", "inf").encode(),
        # YAML in JSON syntax: the structure-aware mutator works on it
        "table_json_syntax.yaml": b"y" + json.dumps(TABLE).encode(),
        # aliases nested three deep (27 copies), for mutations to deepen
        "bad_table_aliases.yaml": b"y" + (
            "unit: relative\na: &a [1, 1, 1]\nb: &b [*a, *a, *a]\nc: &c [*b, *b, *b]\nenergy: *c\n").encode(),
        "bad_table_utf8.yaml": b"y" + YAML_TABLE.replace("unit: pJ", "unit: \"p\xffJ\"").encode("latin-1"),
        "bad_table_utf8_key.yaml": b"y" + YAML_TABLE.replace("fp8_mul", "fp8\xff").encode("latin-1"),
        "report_two_layers.json": b"r" + json.dumps(report, indent=1).encode(),
        "report_no_total.json": b"r" + json.dumps(no_total).encode(),
        "report_minimal.json": b"r" + json.dumps({"layers": [
            {"name": "a", "pass": "fwd", "events": {k: 1 for k in (
                "mul", "acc_add", "scale", "tree_add", "out_acc", "final_mul", "read_x", "read_y",
                "write_out")}}]}).encode(),
        "bad_report_negative.json": b"r" + json.dumps({"layers": [
            {"name": "a", "pass": "fwd", "events": {"mul": -1}}]}).encode(),
        "bad_report_layers.json": b'r{"layers": {"a": 1}}',
        "bad_report_deep.json": b"r" + json.dumps({"layers": [{"name": "a", "pass": "fwd", "events": dict(
            {k: 1 for k in ("mul", "acc_add", "scale", "tree_add", "out_acc", "final_mul", "read_x", "read_y",
                            "write_out")}, extra=json.loads(nested(DEEP)))}]}).encode(),
    }
    return s


def sweep_seeds():
    s = {}
    for path in sorted((ROOT / "sweeps").glob("*.yaml")):
        s[f"sweeps_{path.stem}.yaml"] = b"y" + path.read_bytes()
    s.update({
        "points.yaml": b"y" + (
            "trace: trace\npasses: fwd,bwd-data\nlayers: [conv1, layer1.0.conv1]\n"
            "grid:\n  rows: [4, 8]\n  tree_stages: [0, 2]\n  clip: [true, false]\n"
            "points:\n  - {elem: e1m4, group: tensor, rounding: nearest}\n"
            "  - {scale: e8m0, acc_overflow: wrap, seed: 3, chunk: 32}\n").encode(),
        "tech_files.yaml": b"y" + (
            "trace: /abs/trace\ngrid:\n  tech: [table.yaml, table.json, paper-unit, mac-65nm]\n"
            "  acc_bits: 12\n").encode(),
        "anchors.yaml": b"y" + (
            "trace: t\ngrid:\n  rows: &r [4, 8]\n  cols: *r\n").encode(),
        "grid.json": b"j" + json.dumps({"name": "j", "trace": "../t", "passes": ["fwd"],
                                       "grid": {"elem": ["e2m4", "e1m2"], "cols": [16, "32"],
                                                "seed": [0, 1.0]},
                                       "points": [{"group": "c"}]}).encode(),
        "bad_unknown.yaml": b"ytrace: t\ngrid:\n  banks: [1, 2]\n",
        "bad_range.yaml": b"ytrace: t\ngrid:\n  rows: [0, 2048]\n  acc_bits: [99]\n",
        "bad_big_int.yaml": b"ytrace: t\ngrid:\n  seed: [99999999999999999999]\n  rows: [1e300]\n",
        "bad_duplicate_key.yaml": b"ytrace: t\ntrace: u\ngrid: {rows: 4}\n",
        "bad_tree_stages.json": b"j" + json.dumps({"trace": "t", "grid": {"rows": [2], "tree_stages": [5]}}).encode(),
        "bad_empty.yaml": b"y",
        "grid_json_syntax.yaml": b"y" + json.dumps({"trace": "t", "grid": {"rows": [4, 8], "tech": ["table.yaml"]},
                                                    "points": [{"clip": True, "seed": 7}]}).encode(),
        "bad_aliases.yaml": b"y" + (
            "trace: t\nname: &a [x, x, x]\ndescription: &b [*a, *a, *a]\ngrid:\n  rows: &c [4, 8]\n"
            "  cols: *c\n").encode(),
        "bad_utf8.yaml": b"ytrace: t\ngrid:\n  elem: [e2m4, \"e\xff\"]\n",
        "bad_utf8_key.yaml": b"ytrace: t\ngrid:\n  r\xffws: [4]\n",
        "bad_long_value.yaml": b"ytrace: t\ngrid:\n  seed: [" + b"9" * 1000 + b"]\n  elem: [e" + b"2" * 1000 + b"m4]\n",
        "bad_tech.yaml": b"ytrace: t\ngrid:\n  tech: [nonexistent.yaml]\n",
        "bad_deep.json": b'j{"trace": "t", "grid": {"rows": [' + nested(DEEP).encode() + b']}}',
        "bad_deep.yaml": b"ytrace: t\ngrid:\n  rows: [" + nested(DEEP).encode() + b"]\n",
    })
    return s


def main():
    targets = {"fuzz_npy": npy_seeds(), "fuzz_trace": trace_seeds(),
               "fuzz_energy_table": energy_seeds(), "fuzz_sweep": sweep_seeds()}
    write_corpora(targets)


if __name__ == "__main__":
    main()
