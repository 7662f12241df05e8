#!/usr/bin/env python3
"""mls_rtl_array's models on demand (docs/rtl.md#models-on-demand):

    test_array_models.py --mlssim BIN --array BIN --trace DIR --work DIR

refuses: each configuration the RTL cannot run (docs/rtl.md#limits), written
into a real vector set's meta.txt, must give exit 2, one line on stderr naming
that meta.txt and the unsupported setting, nothing on stdout and no model in
the cache. Builds: two runs started together on a configuration no model
exists for (2 x 3, a fresh cache) must build it once (one progress line; the
other run says it waits), both finish with 0 mismatches and the same cycles,
and a third run reuses the model (no progress line).
"""
import argparse
import os
import re
import shutil
import subprocess
import sys

# meta.txt key -> a value the RTL cannot run, and a word its refusal must contain.
REFUSED = [
    ("rows", "1", "2 rows"),
    ("cols", "65", "64 columns"),
    ("dataflow", "os", "baseline"),
    ("tree_stages", "1", "one register per level"),
    ("y_scale", "e8m4", "M_g 0..3"),
    ("x_elem", "e4m12", "16 bits"),
    ("acc_bits", "64", "8..62"),
    ("acc_overflow", "clip", "unknown"),
]


def write_vectors(a, rows, cols, out):
    cmd = [a.mlssim, "vectors", a.trace, "--layers", "conv_s2", "--passes", "fwd", "--rows", str(rows),
           "--cols", str(cols), "--out", out]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed: {proc.stderr}")


def models_in(cache):
    return sorted(d for d in os.listdir(cache) if not d.endswith(".lock")) if os.path.isdir(cache) else []


def check_refusals(a, base, fails):
    cache = os.path.join(a.work, "cache_refused")
    for key, value, word in REFUSED:
        vec = os.path.join(a.work, f"refused_{key}")
        shutil.copytree(base, vec, dirs_exist_ok=True)
        meta_path = os.path.join(vec, "meta.txt")
        with open(meta_path) as f:
            meta = [line.split(None, 1) for line in f.read().splitlines()]
        with open(meta_path, "w") as f:
            f.write("".join(f"{k} {value if k == key else v}\n" for k, v in meta))
        proc = subprocess.run([a.array, "--vectors", vec, "--model-cache", cache], capture_output=True, text=True)
        lines = proc.stderr.splitlines()
        ok = (proc.returncode == 2 and proc.stdout == "" and len(lines) == 1 and meta_path in lines[0]
              and word in lines[0] and not models_in(cache))
        print(f"{key} {value}: exit {proc.returncode}, {lines}")
        if not ok:
            fails.append(f"{key} {value} not refused as expected")
    proc = subprocess.run([a.array, "--vectors", base, "--fault", "stuck"], capture_output=True, text=True)
    if proc.returncode != 2 or "ctrl or final-rounding" not in proc.stderr:
        fails.append(f"--fault stuck not refused: {proc.stderr}")


def result(proc):
    got = re.search(r"^cycles (\d+) mismatches (\d+)$", proc.stdout, re.M)
    return (int(got.group(1)), int(got.group(2))) if got and proc.returncode == 0 else None


def check_build_once(a, fails):
    vec = os.path.join(a.work, "vectors_2x3")
    write_vectors(a, 2, 3, vec)
    cache = os.path.join(a.work, "cache_built")
    shutil.rmtree(cache, ignore_errors=True)
    cmd = [a.array, "--vectors", vec, "--model-cache", cache]
    runs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [(p, *p.communicate()) for p in runs]
    procs = [subprocess.CompletedProcess(cmd, p.returncode, out, err) for p, out, err in outs]
    errs = "".join(p.stderr for p in procs)
    building, waiting = errs.count("building the RTL model for 2 x 3"), errs.count("waiting for another run")
    results = [result(p) for p in procs]
    print(f"two runs at once: {building} build, {waiting} waiting, results {results}, models {models_in(cache)}")
    if building != 1 or waiting != 1 or len(models_in(cache)) != 1:
        fails.append(f"the model was not built exactly once: {errs}")
    if results[0] is None or results[0][1] != 0 or results[0] != results[1]:
        fails.append(f"the runs disagree or mismatch: {[p.stdout for p in procs]}")
    third = subprocess.run(cmd, capture_output=True, text=True)
    print(f"third run: {result(third)}, stderr {third.stderr!r}")
    if "building" in third.stderr or result(third) != results[0]:
        fails.append(f"the third run did not reuse the model: {third.stderr}")


def main():
    ap = argparse.ArgumentParser()
    for name in ("mlssim", "array", "trace", "work"):
        ap.add_argument("--" + name, required=True)
    a = ap.parse_args()
    shutil.rmtree(a.work, ignore_errors=True)
    os.makedirs(a.work)
    base = os.path.join(a.work, "vectors_4x8")
    write_vectors(a, 4, 8, base)
    fails = []
    check_refusals(a, base, fails)
    check_build_once(a, fails)
    if fails:
        sys.exit("FAIL: " + "; ".join(fails))
    print("ok")


if __name__ == "__main__":
    main()
