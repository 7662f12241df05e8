#!/usr/bin/python3
"""Plots of a formats comparison sweep (sweeps/formats.yaml, docs/formats.md).

    /usr/bin/python3 tools/plot_formats.py RESULTS_DIR [--out DIR]

Reads RESULTS_DIR/results.json and writes into --out (default RESULTS_DIR):

- formats_energy_vs_error.png  MLS energy per MAC (arithmetic, and arithmetic +
                               memory) against the output error, one labelled
                               marker per format, the Pareto front joined
- formats_are.png              ARE of W, A and E and the output error per pass,
                               one group of bars per format
- formats.csv                  the figures drawn, one row per format

A point is named after the preset whose flags it sets (docs/formats.md#presets),
else after its formats; the presets and defaults are read from `mlssim describe
--json` (--mlssim PATH, else $MLSSIM, build/sim/mlssim, PATH). Needs only the Debian python3-matplotlib (Agg backend).
"""

import argparse
import csv
import json
import os
import sys
import textwrap

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mlssim_figures  # noqa: E402  (the tools' folder, put on the path above)
import mlssim_registry  # noqa: E402

# The parameters a point is named by; their defaults and the presets come from
# `mlssim describe --json` (the parameter table and --preset's table).
NAMED_BY = ("elem", "scale", "group", "acc_bits", "clip", "rounding", "scale_rule")


def defaults():
    every = mlssim_registry.defaults()
    return {key: every[key] for key in NAMED_BY}


OPERANDS = [("w", "W"), ("a", "A"), ("e", "E")]
COVER_SUFFIX = " (cover rule)"
PASSES = [("fwd", "fwd"), ("bwd_data", "bwd-data"), ("bwd_weight", "bwd-weight")]


def fail(message):
    print(f"plot_formats: error: {message}", file=sys.stderr)
    sys.exit(1)


def operand_value(params, key, operand):
    """The value operand W, A or E takes: its own key when set (a sweep writes "" for unset), else the plain one."""
    own = params.get(f"{key}_{operand}")
    return own if own not in (None, "") else params.get(key, defaults().get(key))


def label(params):
    plain = {key: operand_value(params, key, "w") for key in ("elem", "scale", "group")}
    uniform = all(operand_value(params, key, o) == plain[key] for key in plain for o, _ in OPERANDS)
    setting = defaults()
    setting.update({k: params[k] for k in ("acc_bits", "clip", "rounding", "scale_rule") if k in params})
    setting.update(plain)
    if uniform:
        for name, flags in mlssim_registry.presets().items():
            want = defaults()
            want.update(flags)
            if all(setting[k] == want[k] for k in want):
                return name
            # A block-scaled preset under the MLS scale rule: the rule's worth alone.
            if flags.get("scale_rule") == "fit" and all(setting[k] == want[k] for k in want if k != "scale_rule"):
                return name + COVER_SUFFIX
    if uniform and setting == defaults():
        return "defaults (e2m4, 16-bit acc)"
    elems = "/".join(operand_value(params, "elem", o) for o, _ in OPERANDS)
    elems = plain["elem"] if uniform else f"W/A/E {elems}"
    return f"{elems}, {plain['scale']}, {plain['group']}, {setting['acc_bits']}-bit acc"


def number(metrics, key):
    value = metrics.get(key)
    return float(value) if isinstance(value, (int, float)) else float("nan")


def rows_of(results):
    rows = []
    for point in results["points"]:
        m = point["metrics"]
        if "energy_mls_per_mac" not in m:
            fail("a point has no energy: the sweep must set tech")
        rows.append({
            "format": label(point["params"]),
            "energy_per_mac": number(m, "energy_mls_per_mac"),
            "energy_total_per_mac": number(m, "energy_total_mls_per_mac"),
            "fp32_over_mls": number(m, "energy_fp32_over_mls"),
            "fp8_over_mls": number(m, "energy_fp8_over_mls"),
            "rel_error_mean": number(m, "rel_error_mean"),
            **{f"rel_error_{p}": number(m, f"rel_error_{p}") for p, _ in PASSES},
            "are_weight": number(m, "are_weight"),
            "are_input": number(m, "are_input"),
            "are_grad_output": number(m, "are_grad_output"),
            "acc_overflow_rate": number(m, "acc_overflow_rate"),
            "requant": number(m, "requant"),
        })
    return rows


def pareto(points):
    """Indices of the points no other point beats in both coordinates (lower is better)."""
    front = []
    for i, (x, y) in enumerate(points):
        if not any((x2 <= x and y2 <= y) and (x2, y2) != (x, y) for x2, y2 in points):
            front.append(i)
    return sorted(front, key=lambda i: points[i][0])


def plot_energy_vs_error(rows, unit, source, path):
    fig, axes = plt.subplots(1, 2, figsize=(13, 6.5))
    named = []
    for ax, key, title in ((axes[0], "energy_per_mac", "arithmetic"),
                           (axes[1], "energy_total_per_mac", "arithmetic + memory")):
        pts = [(r["rel_error_mean"], r[key]) for r in rows]
        cover = [r["format"].endswith(COVER_SUFFIX) for r in rows]
        ax.scatter([p[0] for p, c in zip(pts, cover) if not c], [p[1] for p, c in zip(pts, cover) if not c],
                   color="tab:blue", zorder=3, label="format")
        ax.scatter([p[0] for p, c in zip(pts, cover) if c], [p[1] for p, c in zip(pts, cover) if c],
                   facecolors="none", edgecolors="tab:gray", zorder=3, label="block preset, MLS (cover) scale rule")
        by_label = {r["format"]: p for r, p in zip(rows, pts)}
        for r, (x, y), c in zip(rows, pts, cover):
            # Under the other rule the same preset: an arrow from it to the fit point.
            fit = by_label.get(r["format"][:-len(COVER_SUFFIX)]) if c else None
            if fit:
                ax.annotate("", fit, (x, y), arrowprops={"arrowstyle": "->", "color": "tab:gray", "lw": 0.8})
        named.append((ax, pts, cover))
        front = pareto(pts)
        ax.plot([pts[i][0] for i in front], [pts[i][1] for i in front], color="tab:red", lw=1,
                label="Pareto front", zorder=2)
        ax.set_xscale("log")
        ax.set_xlabel("output error (mean relative L2 error\nagainst fp32, three passes)")
        ax.set_ylabel(f"MLS-array energy per MAC ({unit})")
        ax.set_title(f"{title}")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8, loc="lower left")
        mlssim_figures.readable_log_axis(ax, "x")
    fig.suptitle("Formats on the MLS array: energy against output error\n" + mlssim_figures.wrap(fig, source, 12))
    fig.tight_layout()
    left_out = 0
    for ax, pts, cover in named:  # the layout is final: each label where it touches nothing
        texts = [r["format"].replace(COVER_SUFFIX, " (cover)") for r in rows]
        left_out += len(mlssim_figures.place_labels(ax, [p for p, c in zip(pts, cover) if not c],
                                                    [t for t, c in zip(texts, cover) if not c], markers=pts,
                                                    fontsize=8))
        left_out += len(mlssim_figures.place_labels(ax, [p for p, c in zip(pts, cover) if c],
                                                    [t for t, c in zip(texts, cover) if c], markers=pts,
                                                    fontsize=8, color="tab:gray"))
    if left_out:
        fig.text(0.995, 0.005, "%d point labels left out (no room)" % left_out, ha="right", va="bottom",
                 fontsize=7, color="0.4")
    mlssim_figures.declutter_ticks(fig)
    fig.savefig(path, dpi=120, format="png")
    plt.close(fig)


def plot_are(rows, source, path):
    series = [("are_weight", "ARE W"), ("are_input", "ARE A"), ("are_grad_output", "ARE E")] + \
             [(f"rel_error_{p}", f"output error {name}") for p, name in PASSES]
    fig, ax = plt.subplots(figsize=(12, 6.5))
    width = 0.8 / len(series)
    for j, (key, name) in enumerate(series):
        xs = [i + (j - (len(series) - 1) / 2) * width for i in range(len(rows))]
        ax.bar(xs, [r[key] for r in rows], width, label=name)
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels(["\n".join(textwrap.wrap(r["format"], 22)) for r in rows], rotation=90, fontsize=8)
    ax.set_yscale("log")
    mlssim_figures.readable_log_axis(ax, "y")
    ax.set_ylabel("error")
    fig.suptitle("Quantization error (ARE per operand) and output error per pass\n"
                 + mlssim_figures.wrap(fig, source, 12))
    ax.legend(fontsize=8, ncol=2, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.grid(True, axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120, format="png")
    plt.close(fig)


def write_atomically(path, write):
    tmp = path + ".tmp"
    write(tmp)
    os.replace(tmp, path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results_dir")
    parser.add_argument("--out")
    parser.add_argument("--mlssim", help="the mlssim binary to read the presets from (default: $MLSSIM, "
                        "build/sim/mlssim, PATH)")
    args = parser.parse_args()
    mlssim_registry.use(args.mlssim)
    try:
        mlssim_registry.describe()
    except mlssim_registry.RegistryError as e:
        fail(str(e))
    path = os.path.join(args.results_dir, "results.json")
    try:
        with open(path) as f:
            results = json.load(f)
        points = results["points"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        fail(f"{path}: not a sweep's results.json ({e})")
    if not points:
        fail(f"{path}: no points")
    out = args.out or args.results_dir
    os.makedirs(out, exist_ok=True)
    rows = rows_of(results)
    unit = points[0]["metrics"].get("energy_unit", "")

    def save_plot(plot, name):
        target = os.path.join(out, name)
        write_atomically(target, lambda tmp: plot(tmp))
        print(f"plot_formats: wrote {target}")

    source = mlssim_figures.sweep_source(results)
    save_plot(lambda p: plot_energy_vs_error(rows, unit, source, p), "formats_energy_vs_error.png")
    save_plot(lambda p: plot_are(rows, source, p), "formats_are.png")

    def write_csv(tmp):
        with open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    target = os.path.join(out, "formats.csv")
    write_atomically(target, write_csv)
    print(f"plot_formats: wrote {target}")


if __name__ == "__main__":
    main()
