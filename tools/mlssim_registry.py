"""The registries of mlssim (parameters, presets, energy blocks), read from the binary.

The plotting tools ask `mlssim describe --json` for them instead of carrying copies of
the C++ tables. find_mlssim() is the one search for the binary (rtl/power/gate_energy.py
uses it too): --mlssim PATH (use(), or its argument), $MLSSIM, the mlssim installed with the
tools (`cmake --install` writes mlssim_installed.py beside them), build/sim/mlssim under the
repository, then PATH.
"""

import functools
import json
import os
import shutil
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_chosen = {"path": None}


class RegistryError(Exception):
    pass


def use(path):
    """The binary given on a tool's command line (--mlssim), None for the usual search."""
    _chosen["path"] = path
    describe.cache_clear()


def installed_mlssim():
    """The mlssim installed beside these tools (docs/install.md), None in the source tree."""
    try:
        import mlssim_installed  # only in an installed copy: written by cmake --install
    except ImportError:
        return None
    return mlssim_installed.MLSSIM


def find_mlssim(path=None):
    """The binary: `path` (a tool's --mlssim), else the one use() chose, else the usual search."""
    for candidate in (path or _chosen["path"], os.environ.get("MLSSIM"), installed_mlssim(),
                      os.path.join(ROOT, "build", "sim", "mlssim")):
        if candidate and os.path.exists(candidate):
            return candidate
    found = shutil.which("mlssim")
    if not found:
        raise RegistryError("mlssim not found (give --mlssim PATH, set MLSSIM, or build build/sim/mlssim)")
    return found


@functools.lru_cache(maxsize=None)
def describe():
    """The parsed output of `mlssim describe --json`."""
    mlssim = find_mlssim()
    try:
        proc = subprocess.run([mlssim, "describe", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, timeout=60)
    except OSError as e:
        raise RegistryError(f"{mlssim}: cannot run: {e}")
    if proc.returncode != 0:
        raise RegistryError(f"{mlssim} describe --json failed: {proc.stderr.strip()}")
    try:
        return json.loads(proc.stdout)
    except ValueError as e:
        raise RegistryError(f"{mlssim} describe --json: not JSON: {e}")


def params():
    """Every parameter, in the table's (sweep) order: name, flag, group, kind, help, default, range, sweep, report."""
    return describe()["params"]


def sweep_parameters():
    """The sweep parameters' names in table order: the order of results.csv's parameter columns."""
    return [p["name"] for p in params() if p["sweep"]]


def defaults():
    """Each parameter's default, as a sweep's params spell it."""
    return {p["name"]: p["default"] for p in params()}


def presets():
    """{preset name: {parameter: value}}, in --preset's order."""
    return {p["name"]: p["values"] for p in describe()["presets"]}


def blocks():
    """The MLS array's blocks, the keys of a report's energy "by_block", in report order."""
    return list(describe()["blocks"])


def stats():
    """The report's statistics by registry: {"events": [...], "traffic": [...], "gauges": [...]}, each row
    with key, unit, description (events: block too)."""
    return describe()["stats"]
