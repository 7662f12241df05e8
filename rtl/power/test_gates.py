#!/usr/bin/python3
"""Tests of the gate-level energy flow and of the osu018 table fitted to it
(docs/energy.md#energy-from-gates).

    test_gates.py block   one block through the whole flow (synthesis, simulation,
                          OpenSTA) reproduces its committed CSV row; bad inputs
                          are refused with one line and no ERT       (default suite)
    test_gates.py table   the osu018 table against the committed CSV: prints every
                          row's residual; held-out rows within 15%, block shares
                          of the arithmetic within 5 points          (default suite)
    test_gates.py full    fit_runs.py --quick reproduces its CSV rows, and the
                          acceptance configuration's ERT from gates agrees with
                          mlssim's osu018 ERT within 15% per mls_array action
                                                                     (label gates)
MLSSIM names the binary; the repository is found from this file.
"""
import csv
import os
import shutil
import subprocess
import sys
import tempfile

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gate_energy as G  # noqa: E402
from gates import blocks as B  # noqa: E402
from gates.vectors import PassVectors  # noqa: E402

CSV = os.path.join(HERE, "osu018_gates.csv")
MLSSIM = os.environ.get("MLSSIM") or os.path.join(G.ROOT, "build", "sim", "mlssim")
TRACE = os.path.join(G.ROOT, "traces", "resnet20-digits")
LAYER = "layer2.1.conv1"
FITTED = ("multiplier", "local_accumulator", "group_scaler")


def rows():
    with open(CSV) as f:
        return list(csv.DictReader(f))


def row(block, **config):
    for r in rows():
        if r["block"] == block and all(r[k] == str(v) for k, v in config.items()):
            return r
    raise AssertionError(f"{CSV} has no {block} row {config}")


def close(a, b, rel):
    return abs(a - b) <= rel * abs(b)


def gate_energy(*args, cwd):
    cmd = ["/usr/bin/python3", os.path.join(HERE, "gate_energy.py"), *args]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd)


def check_refusals(tmp):
    """Bad configuration, missing package, missing layer: one line, exit 1, no ERT."""
    base = ["--scale", "e8m1", "--acc-bits", "20", "--trace", TRACE, "--passes", "fwd", "--mlssim", MLSSIM]
    nosta = os.path.join(tmp, "bin")
    os.makedirs(nosta)
    for tool in ("yosys", "iverilog", "vvp"):
        os.symlink(shutil.which(tool), os.path.join(nosta, tool))
    cases = [(["--elem", "e5m2", "--layers", LAYER], None, "--elem e5m2: unsupported width"),
             (["--elem", "e3m2", "--layers", "no.such.layer"], None, "no.such.layer"),
             (["--elem", "e3m2", "--layers", LAYER], nosta, "install the Debian package opensta")]
    for extra, path, expect in cases:
        out = os.path.join(tmp, "bad.ert.yaml")
        env = dict(os.environ, PATH=path) if path else None
        cmd = ["/usr/bin/python3", os.path.join(HERE, "gate_energy.py"), *base, *extra, "--out", out]
        r = subprocess.run(cmd, capture_output=True, text=True, env=env)
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 1 and len(lines) == 1 and expect in lines[0], (extra, r.returncode, r.stderr)
        assert not os.path.exists(out), f"{extra}: a partial ERT was written"
        print(f"refused: {lines[0]}")


def test_block():
    """The e2m1 multiplier on layer2.1.conv1 fwd, from the trace to pJ, in a
    fresh cache: the committed row must come back (the flow is deterministic)."""
    with tempfile.TemporaryDirectory() as tmp:
        G.write_vectors(_Args("e2m1", "e8m1", 16), MLSSIM, os.path.join(tmp, "v"))
        v = PassVectors(os.path.join(tmp, "v"))
        block = B.multiplier(v, (2, 1), G.PRODUCTS)
        got = G.measure(block, os.path.join(tmp, "cache"), 100.0)
        want = row("multiplier", elem="e2m1")
        print(f"e2m1 multiplier: flow {got['energy_pj']:.6g} pJ, CSV {want['energy_pj']} pJ, "
              f"{got['cells']} cells, {got['actions']} actions")
        assert int(want["actions"]) == got["actions"], "the sample of the pass changed"
        assert close(got["energy_pj"], float(want["energy_pj"]), 0.005), "the flow no longer gives the CSV's figure"
        assert got["internal_pj"] > 0 and got["switching_pj"] > 0 and got["leakage_pj"] > 0
        check_refusals(tmp)


class _Args:
    def __init__(self, elem, scale, acc_bits):
        self.elem, self.scale, self.acc_bits = elem, scale, acc_bits
        self.trace, self.layers, self.passes, self.vector_flags = TRACE, LAYER, "fwd", []


def model_ert(elem, scale, acc_bits, tmp):
    path = os.path.join(tmp, f"m-{elem}-{scale}-{acc_bits}.ert.yaml")
    subprocess.run([MLSSIM, "energy", "--tech", "osu018", "--elem", elem, "--scale", scale, "--acc-bits",
                    str(acc_bits), "--export-ert", path], check=True, capture_output=True)
    return read_ert(path)


def read_ert(path):
    with open(path) as f:
        doc = yaml.safe_load(f)
    return {(t["name"], a["name"]): a["energy"] for t in doc["ERT"]["tables"] for a in t["actions"]}


MODEL_KEY = {"multiplier": ("mls_array.multiplier", "mul"),
             "local_accumulator": ("mls_array.local_accumulator", "add"),
             "group_scaler": ("mls_array.group_scaler", "scale")}


def row_config(r):
    return (r["elem"] or "e2m4", r["scale"] or "e8m1", int(r["acc_bits"] or 16))


def shares(energies):
    total = sum(energies.values())
    return {k: 100.0 * e / total for k, e in energies.items()}


def test_table():
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        print(f"{'block':18} {'role':8} {'config':22} {'gates pJ':>10} {'model pJ':>10} {'residual':>9}")
        for r in rows():
            if r["block"] not in FITTED:
                continue
            gates = float(r["energy_pj"])
            model = model_ert(*row_config(r), tmp)[MODEL_KEY[r["block"]]]
            res = (model - gates) / gates
            print(f"{r['block']:18} {r['role']:8} {' '.join(map(str, row_config(r))):22} {gates:10.4f} "
                  f"{model:10.4f} {100 * res:+8.1f}%")
            if r["role"] == "holdout":
                worst = max(worst, abs(res))
                assert abs(res) <= 0.15, f"held-out {r['block']} {row_config(r)}: {100 * res:+.1f}% from the gates"
        # Shares of the arithmetic at the held-out e3m2 / e8m1 / acc 20, with the
        # event counts of one output tile set of layer2.1.conv1 (9 products and
        # one scale per chunk, 32 chunks, 2 tiles of 16: 30 tree adds, 2 output
        # accumulations, 1 final scale per output).
        events = {"multiplier": 288, "local_accumulator": 288, "group_scaler": 32, "adder_tree": 30,
                  "output_accumulator": 2, "final_scale": 1}
        m = model_ert("e3m2", "e8m1", 20, tmp)
        model = {"multiplier": m[MODEL_KEY["multiplier"]], "local_accumulator": m[MODEL_KEY["local_accumulator"]],
                 "group_scaler": m[MODEL_KEY["group_scaler"]], "adder_tree": m[("fp_units.fp32", "add")],
                 "output_accumulator": m[("fp_units.fp32", "add")], "final_scale": m[("fp_units.fp32", "mul")]}
        gates = {"multiplier": row("multiplier", elem="e3m2"),
                 "local_accumulator": row("local_accumulator", elem="e3m2", acc_bits=20),
                 "group_scaler": row("group_scaler", scale="e8m1", acc_bits=20),
                 "adder_tree": row("adder_tree"), "output_accumulator": row("output_accumulator"),
                 "final_scale": row("final_scale")}
        ms = shares({k: events[k] * model[k] for k in events})
        gs = shares({k: events[k] * float(gates[k]["energy_pj"]) for k in events})
        for k in events:
            print(f"share {k:18} gates {gs[k]:5.1f}%  model {ms[k]:5.1f}%")
            assert abs(gs[k] - ms[k]) <= 5.0, f"{k}: share {ms[k]:.1f}% in the model, {gs[k]:.1f}% from gates"
    print(f"worst held-out residual {100 * worst:.1f}%")


def test_full():
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "quick.csv")
        cache = os.path.join(tmp, "cache")  # a fresh cache: every step runs
        subprocess.run(["/usr/bin/python3", os.path.join(HERE, "fit_runs.py"), "--quick", "--out", out,
                        "--mlssim", MLSSIM, "--cache", cache], check=True)
        with open(out) as f:
            for r in csv.DictReader(f):
                config = {k: r[k] for k in ("elem", "scale", "acc_bits") if r[k]}
                want = float(row(r["block"], **config)["energy_pj"])
                print(f"{r['block']} {config}: flow {r['energy_pj']}, CSV {want}")
                assert close(float(r["energy_pj"]), want, 0.005)
        g = os.path.join(tmp, "g.ert.yaml")
        r = gate_energy("--elem", "e3m2", "--scale", "e8m1", "--acc-bits", "20", "--trace", TRACE, "--layers", LAYER,
                        "--passes", "fwd", "--out", g, "--mlssim", MLSSIM, "--cache", cache, cwd=tmp)
        assert r.returncode == 0, r.stderr
        gates, model = read_ert(g), model_ert("e3m2", "e8m1", 20, tmp)
        for key, e in gates.items():
            if key[0].startswith("mls_array."):
                print(f"{key}: gates {e:.4f} model {model[key]:.4f} ({100 * (model[key] - e) / e:+.1f}%)")
                assert close(model[key], e, 0.15)


if __name__ == "__main__":
    {"block": test_block, "table": test_table, "full": test_full}[sys.argv[1]]()
    print("ok")
