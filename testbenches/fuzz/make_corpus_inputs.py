#!/usr/bin/python3
"""Writes the seed corpora of the input-reader harnesses fuzz_topology,
fuzz_layer_config and fuzz_cli_values (docs/fuzzing.md) into
testbenches/fuzz/corpus/<target>/: small valid inputs and near misses, each
named for what it is. Standard library only. Rerun after changing the formats:

    /usr/bin/python3 testbenches/fuzz/make_corpus_inputs.py

(make_corpus.py writes the corpora of the file readers npy, trace, energy table, sweep.)
"""
import json

from corpus_writer import write_corpora

CSV_HEADER = "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\n"


def topology_seeds():
    small = {"model": "small", "layers": [
        {"name": "stem", "kind": "conv2d", "weight": [8, 3, 3, 3], "input": [3, 12, 12], "stride": 2, "padding": 1},
        {"name": "dw", "weight": [8, 1, 3, 3], "input": [8, 6, 6], "padding": [1, 1], "groups": 8,
         "dilation": 1, "input_dist": "relu"},
        {"name": "fc", "kind": "linear", "weight": [10, 20], "input": [5, 20], "grad_output": False},
        {"name": "qk", "kind": "matmul", "input": [2, 5, 8], "weight": [2, 8, 5], "input_dist": "normal"}]}
    s = {
        "small.json": b"j" + json.dumps(small).encode(),
        "small_flow.yaml": b"y" + json.dumps(small).encode(),
        "small.yaml": b"y" + (
            "model: y\nnotes: free text\nlayers:\n  - name: c1\n    weight: [4, 2, 3, 3]\n    input: [2, 8, 8]\n"
            "    padding: 1\n  - {name: l, kind: linear, weight: [3, 4], input: [2, 4]}\n").encode(),
        "resnet_rows.csv": b"c" + (CSV_HEADER + "conv1, 230, 230, 7, 7, 3, 64, 2,\n"
                                   "layer1.0.conv1, 58, 58, 3, 3, 64, 64, 1,\n\nfc, 1, 1, 1, 1, 512, 1000, 1,\n").encode(),
        "crlf.csv": b"c" + (CSV_HEADER + "a,8,8,3,3,2,4,1\r\n").replace("\n", "\r\n").encode(),
        "bad_number_overflow.json": b'j{"layers": [{"name": "c", "weight": [1e400, 1, 1, 1], "input": [1, 4, 4]}]}',
        "bad_number_overflow_notes.json": b'j{"notes": -1e999, "layers": []}',
        "bad_big_int.json": b'j{"layers": [{"name": "c", "weight": [99999999999999999999999, 1, 1, 1], "input": [1, 4, 4]}]}',
        "bad_syntax.json": b'j{"layers": [{"name": "c",, }]}',
        "bad_trailing.json": b'j{"layers": []} x',
        "bad_kernel.json": b"j" + json.dumps({"layers": [{"name": "c", "weight": [1, 1, 9, 9], "input": [1, 4, 4]}]}).encode(),
        "bad_kind.yaml": b"ylayers:\n  - {name: t, kind: conv_transpose2d, weight: [1, 1, 1, 1], input: [1, 2, 2]}\n",
        "bad_key.yaml": b"ylayers:\n  - {name: l, kind: linear, weight: [3, 4], input: [2, 4], stride: 2}\n",
        "bad_repeat.yaml": b"ylayers:\n  - {name: a, weight: [1, 1, 1, 1], input: [1, 2, 2]}\n"
                           b"  - {name: a, weight: [1, 1, 1, 1], input: [1, 2, 2]}\n",
        "bad_huge.yaml": b"ylayers:\n  - {name: a, kind: linear, weight: [16777216, 16777216], input: [16777216]}\n",
        "bad_aliases.yaml": b"yx: &a [1, 1, 1, 1]\nlayers:\n  - {name: a, weight: *a, input: [1, 2, 2]}\n",
        "bad_deep.json": b'j{"layers": ' + b"[" * 100 + b"]" * 100 + b"}",
        "bad_header.csv": b"cLayer name, Height, Width\n",
        "bad_quoted.csv": b"c" + (CSV_HEADER + '"a",8,8,3,3,2,4,1\n').encode(),
        "bad_short.csv": b"c" + (CSV_HEADER + "a,8,8\n").encode(),
        "bad_filter.csv": b"c" + (CSV_HEADER + "a,2,2,3,3,2,4,1\n").encode(),
    }
    return s


def layer_config_seeds():
    return {
        "per_layer.yaml": b"y" + (
            "conv1:\n  elem: e4m3\n  passes: fwd\nlayer1.*:\n  elem_w: e2m4\n  group_e: nc\n  rounding: nearest\n"
            "fc:\n  unquantized: true\n'*.conv[12]':\n  scale: e8m1\n  seed: 7\n").encode(),
        "per_layer.json": b"j" + json.dumps({"conv*": {"elem": "e2m4", "passes": ["fwd", "bwd-data"]},
                                             "attn.*": {"clip": True, "group": "tensor"},
                                             "[!c]*": {"elem_a": "e4m3"}}).encode(),
        "empty_map.yaml": b"y{}\n",
        "bad_unknown_key.yaml": b"yconv1:\n  rows: 8\n",
        "bad_pass.yaml": b"yconv1:\n  passes: [fwd, sideways]\n",
        "bad_elem.json": b'j{"conv1": {"elem": "e9m9"}}',
        "bad_pattern.yaml": b"y'[':\n  elem: e2m4\n",
        "bad_no_match.yaml": b"ynothing*:\n  elem: e2m4\n",
        "bad_value_type.json": b'j{"fc": {"unquantized": "yes", "seed": -1}}',
        "bad_seed.yaml": b"yfc:\n  seed: 99999999999999999999999\n",
        "bad_list.yaml": b"y- conv1\n- fc\n",
        "bad_number.json": b'j{"fc": {"seed": 1e400}}',
        "bad_utf8.yaml": b"yconv\xff:\n  elem: e2m4\n",
        "bad_deep.yaml": b"yconv1: " + b"[" * 100 + b"]" * 100 + b"\n",
    }


def cli_seeds():
    s = {}
    for index, value in [(0, "16"), (1, "32"), (2, "24"), (3, "wrap"), (4, "8"), (5, "2"), (6, "e2m4"),
                         (7, "e8m1"), (8, "nc"), (9, "stochastic"), (10, "18446744073709551615"), (11, "true"),
                         (12, "horowitz-45nm"), (13, "e4m3"), (14, "output-stationary"), (15, "by-batch")]:
        s[f"param_{index}_{value}"] = b"p" + bytes([index]) + value.encode()
    s.update({
        "param_seed_negative": b"p\x0a-1",
        "param_huge": b"p\x00" + b"9" * 40,
        "every_param_e2m4": b"*e2m4",
        "every_param_number": b"*0x10",
        "list_passes": b"lfwd,bwd-data,bwd-weight",
        "list_globs": b"lfirst,last,classifier,layer1.*,*.conv[12]",
        "list_none": b"lnone",
        "list_bad_glob": b"l[,,*[!",
        "list_empty_items": b"l,,,fwd,,",
        "run_shard": b"r--shard\n2/8\n--check",
        "run_shard_bad": b"r--shard\n9/8",
        "run_shard_overflow": b"r--shard\n1/99999999999999999999",
        "run_jobs": b"r-j\n2\n--threads\n4",
        "run_formats": b"r--elem-w\ne4m3\n--group-e\nnc\n--acc-bits\n24\n--rows\n8\n--tree-stages\n2",
        "run_preset": b"r--preset\npaper\n--unquantized\nfirst,classifier",
        "run_seed": b"r--seed\n18446744073709551616\n--rounding\nstochastic",
        "run_passes_layers": b"r--passes\nfwd,bwd-weight\n--layers\nconv1,fc",
        "run_help": b"r--help",
        "run_unknown": b"r--bogus\nx",
        # boost's message substituted %value% again in what it inserted: a hang (fixed in cli::parse)
        "run_placeholder_value": b"r-j\na%value%",
        "run_placeholder_option": b"r--bo%canonical_option%",
        "synth_batch": b"s--batch\n65536\n--seed\n7\n--out\nx",
        "synth_bad_batch": b"s--batch\n0\n--out\nx",
    })
    return s


def main():
    targets = {"fuzz_topology": topology_seeds(), "fuzz_layer_config": layer_config_seeds(),
               "fuzz_cli_values": cli_seeds()}
    write_corpora(targets)


if __name__ == "__main__":
    main()
