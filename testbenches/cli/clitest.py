"""What every CLI test needs: the binary, the source tree, running mlssim, writing a trace.

CTest sets MLSSIM (the binary) and MLSSIM_SOURCE_DIR (the repository root). A test
imports what it uses from here instead of defining its own `run()` or `make_trace()`:

    from clitest import MLSSIM, ROOT, mlssim, conv_layer, linear_layer, write_trace

TempDirCase gives a test a fresh folder and a seeded generator; quantize_npy and
rounding_noise run `mlssim quantize` on an array.
"""
import json
import os
import subprocess
import tempfile
import time
import unittest

import numpy as np

# Empty where CTest does not set it (the Slurm test installs its own and uses
# only untimed() from here); mlssim() then fails naming the variable.
MLSSIM = os.environ.get("MLSSIM", "")
ROOT = os.environ.get("MLSSIM_SOURCE_DIR") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TRACES = os.path.join(ROOT, "traces")


# A report's timing fields: what differs between two runs of the same work.
TIMING = {"sim_seconds", "sim_macs_per_second", "golden_seconds", "wall_seconds"}


def untimed(value):
    """A report (or any JSON value) without its timing fields, to compare two runs."""
    if isinstance(value, dict):
        return {k: untimed(v) for k, v in value.items() if k not in TIMING}
    if isinstance(value, list):
        return [untimed(v) for v in value]
    return value


def mlssim(*args, ok=True, timeout=600, cwd=None, env=None):
    """Runs `mlssim ARGS` and returns the CompletedProcess (text stdout and stderr).

    ok=True: a non-zero exit raises AssertionError with the command and its stderr.
    ok=False: a zero exit raises (the test expects a failure).
    ok=None: the exit status is not judged here."""
    if not MLSSIM:
        raise AssertionError("MLSSIM is not set: run the test under CTest or set it to the binary")
    proc = subprocess.run([MLSSIM, *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          cwd=cwd, env=env, stdin=subprocess.DEVNULL)
    command = "mlssim " + " ".join(map(str, args))
    if ok is True and proc.returncode != 0:
        raise AssertionError(f"{command} failed ({proc.returncode}): {proc.stderr}")
    if ok is False and proc.returncode == 0:
        raise AssertionError(f"{command} succeeded but should have failed: {proc.stdout}")
    return proc


def conv_layer(rng, name, co, ci, h, k=3, stride=1, padding=1, batch=2, groups=1, error_scale=1e-3):
    """A conv2d manifest entry and its tensors (ReLU-like input, small errors)."""
    ho = (h + 2 * padding - k) // stride + 1
    entry = {"name": name, "kind": "conv2d", "stride": [stride, stride], "padding": [padding, padding],
             "dilation": [1, 1], "groups": groups}
    tensors = {"weight": rng.standard_normal((co, ci // groups, k, k)),
               "input": np.abs(rng.standard_normal((batch, ci, h, h))),
               "grad_output": rng.standard_normal((batch, co, ho, ho)) * error_scale}
    return entry, tensors


def linear_layer(rng, name, out_features, in_features, rows=3, error_scale=1e-3):
    """A linear manifest entry (y = x W^T) and its tensors."""
    tensors = {"weight": rng.standard_normal((out_features, in_features)),
               "input": rng.standard_normal((rows, in_features)),
               "grad_output": rng.standard_normal((rows, out_features)) * error_scale}
    return {"name": name, "kind": "linear"}, tensors


def write_trace(root, layers, model="tiny", fmt="mls-trace/2"):
    """Writes `layers` (pairs of manifest entry and {role: array}) as a trace under root:
    one little-endian float32 .npy per tensor, named <layer>.<role>.npy, and manifest.json.
    A role whose array is None is left out of the entry. Returns the manifest."""
    os.makedirs(root, exist_ok=True)
    entries = []
    for entry, tensors in layers:
        entry = dict(entry)
        for role, value in tensors.items():
            if value is None:
                continue
            fname = f"{entry['name']}.{role}.npy"
            np.save(os.path.join(root, fname), np.asarray(value).astype("<f4"))
            entry[role] = fname
        entries.append(entry)
    manifest = {"format": fmt, "model": model, "layers": entries}
    with open(os.path.join(root, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    return manifest


def load_json(path):
    with open(path) as f:
        return json.load(f)


# Processes, for the tests that kill a run or a sweep and watch its workers.
def children_of(pid):
    """The live (not zombie) child processes of pid, from /proc."""
    kids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                kids.append(int(entry))
    return kids


def running(pid):
    """True while pid is a live process (a zombie has ended; PID 1 may be slow to reap it)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_for(condition, timeout=60, poll=0.01):
    """Polls condition() until it holds; AssertionError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(poll)


class TempDirCase(unittest.TestCase):
    """A test case with a fresh temporary folder per test (self.dir) and a NumPy
    generator seeded with the class's SEED (self.rng)."""
    SEED = 0

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name
        self.rng = np.random.default_rng(self.SEED)

    def tearDown(self):
        self.tmp.cleanup()


def quantize_npy(folder, x, *flags):
    """`mlssim quantize` of array x (saved as folder/x.npy) with --dequant and --parts:
    (the dequantized array, the parts folder). A failure raises with its stderr."""
    xp, out, parts = (os.path.join(folder, n) for n in ("x.npy", "deq.npy", "parts"))
    np.save(xp, x)
    mlssim("quantize", xp, "--dequant", out, "--parts", parts, *flags)
    return np.load(out), parts


def rounding_noise(rng, shape, folder):
    """Stochastic rounding's offsets, uniform in [-0.5, 0.5), as folder/r.npy for
    `--random`: (the array, its path)."""
    r = np.minimum(rng.uniform(-0.5, 0.5, size=shape), 0.4999).astype(np.float32)
    path = os.path.join(folder, "r.npy")
    np.save(path, r)
    return r, path
