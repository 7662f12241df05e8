#!/usr/bin/python3
"""Plot the energy of an mlssim report.

Reads the output of `mlssim energy --out ENERGY.json` (or a `mlssim run --tech`
report) and writes two charts:

  energy_by_block.<ext>   stacked bars: MLS array energy by block, one bar per
                          layer-pass (or per layer with --pass)
  energy_vs_baselines.<ext>  MLS vs fp32 vs fp8 per layer-pass, each baseline bar
                          annotated with its ratio to MLS

Usage:
  /usr/bin/python3 tools/plot_energy.py ENERGY.json --out DIR [--pass fwd] [--format png|svg]

--out DIR writes DIR/energy_by_block.png and DIR/energy_vs_baselines.png. If --out
ends in .png or .svg, the format follows the extension and the two files are
written beside it as <stem>_by_block.<ext> and <stem>_vs_baselines.<ext>.
The blocks are read from `mlssim describe --json` (--mlssim PATH, else $MLSSIM,
build/sim/mlssim, PATH). Needs only Debian's python3-matplotlib.
"""
import argparse
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mlssim_figures  # noqa: E402  (the tools' folder, put on the path above)
import mlssim_registry  # noqa: E402

ARRAYS = [("mls", "MLS", "#1b9e77"), ("fp32", "fp32", "#d95f02"), ("fp8", "fp8", "#7570b3")]


class InputError(Exception):
    pass


def load_entries(path, pass_name):
    """Layer entries that carry energy, optionally of one pass only."""
    try:
        with open(path) as f:
            report = json.load(f)
    except (OSError, ValueError) as e:
        raise InputError(f"{path}: cannot read energy JSON: {e}")
    layers = report.get("layers") if isinstance(report, dict) else None
    if not isinstance(layers, list):
        raise InputError(f'{path}: missing "layers"')
    entries = []
    for i, entry in enumerate(layers):
        if not isinstance(entry, dict) or not isinstance(entry.get("energy"), dict):
            raise InputError(f'{path}: layers[{i}] has no "energy" (run mlssim energy --out first)')
        if pass_name is None or entry.get("pass") == pass_name:
            entries.append(entry)
    if not entries:
        raise InputError(f"{path}: no layer entries" + (f" for pass {pass_name}" if pass_name else ""))
    total = report.get("total", {}).get("energy")
    return entries, total, report


def entry_label(entry, one_pass):
    name = entry.get("name", "?")
    return name if one_pass else f"{name} ({entry.get('pass', '?')})"


def figure_for(count):
    width = min(max(6.0, 0.45 * count + 2.5), 40.0)
    fig, ax = plt.subplots(figsize=(width, 5.5))
    return fig, ax


def unit_label(energy):
    unit = energy.get("unit", "")
    return f"energy ({unit})" if unit != "relative" else "energy (relative, fp32 add = 1)"


def finish_axis(ax, labels):
    ax.set_xticks(range(len(labels)))
    # Vertical when crowded (never slanted: a slanted label's box covers its neighbours').
    ax.set_xticklabels(labels, rotation=90 if len(labels) > 4 else 0, fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)


def plot_by_block(entries, labels, source, path):
    fig, ax = figure_for(len(entries))
    bottoms = [0.0] * len(entries)
    for key in mlssim_registry.blocks():
        legend = key.replace("_", " ")
        values = [float(e["energy"]["by_block"].get(key, 0.0)) for e in entries]
        ax.bar(range(len(entries)), values, bottom=bottoms, label=legend, width=0.7)
        bottoms = [b + v for b, v in zip(bottoms, values)]
    first = entries[0]["energy"]
    ax.set_ylabel(unit_label(first))
    ax.set_title(f"MLS array energy by block ({first.get('tech', '')})\n{source}", fontsize=10)
    finish_axis(ax, labels)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.savefig(path, bbox_inches="tight", dpi=120)
    plt.close(fig)


def ratio_text(value):
    return "n/a" if value is None else f"{value:.1f}x"


def ratio2(value):
    return "n/a" if value is None else f"{value:.2f}x"


def headline(total):
    """The run's ratios, totals with memory first (what decides), then the arithmetic
    alone (the bars); a table without memory has the arithmetic only, and says so."""
    arithmetic = (f"arithmetic: fp32/MLS = {ratio2(total.get('fp32_over_mls'))},"
                  f" fp8/MLS = {ratio2(total.get('fp8_over_mls'))}")
    if total.get("total_fp8_over_mls") is None:
        return f"total {arithmetic} (the table prices no memory; labels: baseline / MLS)"
    return (f"total with memory: fp32/MLS = {ratio2(total.get('total_fp32_over_mls'))},"
            f" fp8/MLS = {ratio2(total.get('total_fp8_over_mls'))},"
            f" fp8-fp16acc/MLS = {ratio2(total.get('total_fp8-fp16acc_over_mls'))};"
            f" {arithmetic} (bars and labels)")


def plot_vs_baselines(entries, labels, total, source, path):
    fig, ax = figure_for(len(entries) * 1.6)
    width = 0.27
    tops = [max(float(e["energy"][k]) for k, _, _ in ARRAYS) for e in entries]
    for j, (key, legend, color) in enumerate(ARRAYS):
        xs = [i + (j - 1) * width for i in range(len(entries))]
        values = [float(e["energy"][key]) for e in entries]
        ax.bar(xs, values, width=width, label=legend, color=color)
        if key == "mls":
            continue
        for x, e, top in zip(xs, entries, tops):
            value = float(e["energy"][key])
            ax.text(x, value + 0.01 * max(tops), ratio_text(e["energy"].get(f"{key}_over_mls")),
                    ha="center", va="bottom", fontsize=7, rotation=90 if len(entries) > 8 else 0)
    first = entries[0]["energy"]
    ax.set_ylabel(unit_label(first))
    title = f"MLS vs fp32 vs fp8 arrays, same workload ({first.get('tech', '')})"
    if total:
        title += "\n" + headline(total)
    title += "\n" + source
    ax.set_title(title, fontsize=10)
    ax.set_ylim(0, max(tops) * 1.15)
    finish_axis(ax, labels)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.savefig(path, bbox_inches="tight", dpi=120)
    plt.close(fig)


def output_paths(out, fmt):
    stem, ext = os.path.splitext(out)
    if ext.lower() in (".png", ".svg"):
        return f"{stem}_by_block{ext}", f"{stem}_vs_baselines{ext}"
    os.makedirs(out, exist_ok=True)
    return os.path.join(out, f"energy_by_block.{fmt}"), os.path.join(out, f"energy_vs_baselines.{fmt}")


def main(argv):
    parser = argparse.ArgumentParser(description="Plot the energy of an mlssim energy/run report.")
    parser.add_argument("energy_json", help="output of mlssim energy --out, or a run --tech report")
    parser.add_argument("--out", required=True, help="output directory, or a .png/.svg path prefix")
    parser.add_argument("--pass", dest="pass_name", help="only this pass (fwd, bwd-data, bwd-weight)")
    parser.add_argument("--format", choices=("png", "svg"), default="png", help="format when --out is a directory")
    parser.add_argument("--mlssim", help="the mlssim binary to read the block list from (default: $MLSSIM, "
                        "build/sim/mlssim, PATH)")
    args = parser.parse_args(argv)
    mlssim_registry.use(args.mlssim)
    try:
        entries, total, report = load_entries(args.energy_json, args.pass_name)
        labels = [entry_label(e, args.pass_name is not None) for e in entries]
        by_block, vs_baselines = output_paths(args.out, args.format)
        source = mlssim_figures.report_source(report, args.energy_json)
        plot_by_block(entries, labels, source, by_block)
        plot_vs_baselines(entries, labels, None if args.pass_name else total, source, vs_baselines)
    except (InputError, mlssim_registry.RegistryError, KeyError, TypeError, ValueError, OSError) as e:
        print(f"plot_energy: {e}", file=sys.stderr)
        return 1
    print(by_block)
    print(vs_baselines)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
