"""What the energy model predicts for one layer-pass: `mlssim run --tech
osu018` at the array's shape and formats, its per-block energies (the sum
over actions of count x price, docs/energy.md#7-output) and events."""
import json
import os
import subprocess
import tempfile


class ModelError(Exception):
    pass


def model_energy(mlssim, trace, layer, pass_, rows, cols):
    """{"by_block": {block: pJ}, "sum_pj", "cycles", "macs", "events", "actions"}
    of the pass (the vector unit, outside the array, left out)."""
    with tempfile.TemporaryDirectory() as tmp:
        report = os.path.join(tmp, "report.json")
        cmd = [mlssim, "run", trace, "--layers", layer, "--passes", pass_, "--rows", str(rows), "--cols", str(cols),
               "--tech", "osu018", "--report", report]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise ModelError((r.stderr.strip().splitlines() or ["mlssim run failed"])[-1])
        with open(report) as f:
            entry = json.load(f)["layers"][0]
    energy = entry["energy"]
    by_block = {b: e for b, e in energy["by_block"].items() if b != "vector"}
    return {"by_block": by_block, "sum_pj": sum(by_block.values()), "cycles": entry["cycles"], "macs": entry["macs"],
            "events": entry["events"], "actions": energy["actions"]}
