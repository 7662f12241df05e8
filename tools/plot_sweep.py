#!/usr/bin/python3
"""Plots of an `mlssim sweep` results directory (docs/sweep.md).

    /usr/bin/python3 tools/plot_sweep.py RESULTS_DIR [--out DIR]

Reads RESULTS_DIR/results.json and writes, into --out (default RESULTS_DIR),
each plot the sweep has the data for:

- energy_vs_error.png   MLS energy against output error, Pareto front marked
                        (points with energy: the sweep set `tech`)
- cycles_vs_shape.png   cycles and utilization against array rows, one line per
                        column count (rows or cols varied)
- overflow_vs_acc_bits.png  accumulator overflow rate and output error against
                        acc_bits, one line per chunk (acc_bits varied)
- format_ablation.png   ARE of W, A, E and each pass's output error per element
                        format, one bar per grouping (elem varied)

Needs only the Debian python3-matplotlib (Agg backend, no display).
"""

import argparse
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)

PASSES = [("fwd", "forward"), ("bwd_data", "backward-data"), ("bwd_weight", "backward-weight")]
DPI = 100


def fail(message):
    sys.exit("plot_sweep.py: error: " + message)


def load(results_dir):
    path = os.path.join(results_dir, "results.json")
    try:
        with open(path) as f:
            results = json.load(f)
    except OSError as e:
        fail("%s: cannot read (%s); run or merge the sweep first" % (path, e.strerror))
    except ValueError as e:
        fail("%s: not valid JSON: %s" % (path, e))
    if results.get("format") != "mlssim-sweep-results/1" or not results.get("points"):
        fail("%s: not an mlssim sweep result (format mlssim-sweep-results/1 with points)" % path)
    return results


def metric(point, name):
    value = point["metrics"].get(name)
    return float(value) if value is not None else None


def distinct(points, param):
    """The values a parameter takes, in first-seen order."""
    seen = []
    for p in points:
        if p["params"][param] not in seen:
            seen.append(p["params"][param])
    return seen


def varied(results):
    """Parameters that take more than one value, in the sweep's column order."""
    points = results["points"]
    return [name for name in results["sweep"]["varied"] if len(distinct(points, name)) > 1]


def label(point, params):
    return ", ".join("%s=%s" % (name, point["params"][name]) for name in params)


def save(fig, out_dir, name):
    path = os.path.join(out_dir, name)
    fig.savefig(path + ".tmp.png", dpi=DPI)
    os.replace(path + ".tmp.png", path)  # no half-written PNG if this fails
    plt.close(fig)
    print("wrote", path)


def output_error_label(results):
    passes = results["sweep"].get("passes") or ["fwd", "bwd-data", "bwd-weight"]
    return "output error, mean of %s\n(relative L2 error vs fp32 conv)" % ", ".join(passes)


# -- energy against error ---------------------------------------------------------


def pareto_front(xy):
    """Indices of the points no other point beats on both axes (lower is better)."""
    order = sorted(range(len(xy)), key=lambda i: (xy[i][0], xy[i][1]))
    front, best = [], float("inf")
    for i in order:
        if xy[i][1] < best:
            front.append(i)
            best = xy[i][1]
    return front


def plot_energy_vs_error(results, out_dir):
    points = [p for p in results["points"]
              if metric(p, "energy_mls") is not None and metric(p, "rel_error_mean") is not None]
    if not points:
        return
    if len({metric(p, "energy_mls") for p in points}) < 2:
        print("energy_vs_error.png: skipped, every point has the same energy (the energy tables do not "
              "depend on the parameters this sweep varies)")
        return
    params = [n for n in varied(results) if n != "tech"]
    color_by = params[0] if params else None
    fig, ax = plt.subplots(figsize=(8.5, 5))
    groups = distinct(points, color_by) if color_by else [None]
    cmap = plt.get_cmap("viridis", max(len(groups), 2))
    for k, value in enumerate(groups):
        mine = [p for p in points if color_by is None or p["params"][color_by] == value]
        ax.scatter([metric(p, "energy_mls") for p in mine], [metric(p, "rel_error_mean") for p in mine],
                   s=28, color=cmap(k), label=None if color_by is None else "%s=%s" % (color_by, value),
                   zorder=3)
    xy = [(metric(p, "energy_mls"), metric(p, "rel_error_mean")) for p in points]
    front = pareto_front(xy)
    ax.step([xy[i][0] for i in front], [xy[i][1] for i in front], where="post", color="crimson", lw=1.2,
            zorder=2, label="Pareto front")
    ax.scatter([xy[i][0] for i in front], [xy[i][1] for i in front], s=90, facecolors="none",
               edgecolors="crimson", zorder=4)
    for i in front[:8]:
        ax.annotate(label(points[i], params[1:] or params), xy[i], fontsize=7, xytext=(4, 4),
                    textcoords="offset points")
    unit = points[0]["metrics"].get("energy_unit", "")
    tech = points[0]["params"].get("tech", "")
    ax.set_xlabel("MLS array energy, arithmetic (%s, %s)" % (unit, tech))
    ax.set_ylabel(output_error_label(results))
    ax.set_yscale("log")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title("Energy against output error (%d points, %d on the front)" % (len(points), len(front)))
    fig.tight_layout()
    save(fig, out_dir, "energy_vs_error.png")


# -- cycles against array shape -----------------------------------------------------


def plot_cycles_vs_shape(results, out_dir):
    names = varied(results)
    if "rows" not in names and "cols" not in names:
        return
    points = results["points"]
    x_name, line_name = ("rows", "cols") if "rows" in names else ("cols", "rows")
    fig, (ax_c, ax_u) = plt.subplots(1, 2, figsize=(10, 4.2))
    for value in sorted(distinct(points, line_name)):
        mine = sorted((p for p in points if p["params"][line_name] == value), key=lambda p: p["params"][x_name])
        xs = [p["params"][x_name] for p in mine]
        ax_c.plot(xs, [metric(p, "cycles") for p in mine], "o-", label="%s=%s" % (line_name, value))
        ax_u.plot(xs, [100 * metric(p, "utilization") for p in mine], "o-", label="%s=%s" % (line_name, value))
    for ax in (ax_c, ax_u):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("array %s" % x_name)
        ax.set_xticks(sorted(distinct(points, x_name)))
        ax.get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    ax_c.set_yscale("log")
    ax_c.set_ylabel("cycles (all selected layers and passes)")
    ax_c.set_title("Cycles against array shape")
    ax_u.set_ylabel("utilization (%)")
    ax_u.set_ylim(0, 100)
    ax_u.set_title("Utilization = mul / (cycles x R x C)")
    fig.tight_layout()
    save(fig, out_dir, "cycles_vs_shape.png")


# -- accumulator overflow against width ---------------------------------------------


def plot_overflow_vs_acc_bits(results, out_dir):
    if "acc_bits" not in varied(results):
        return
    points = results["points"]
    line_name = "chunk" if "chunk" in varied(results) else None
    panels = [("acc_overflow_rate", "overflow rate (acc_overflow / acc_add), all passes")]
    panels += [("rel_error_" + key, "output error, %s" % title) for key, title in PASSES
               if any(metric(p, "rel_error_" + key) is not None for p in points)]
    ncols = 2 if len(panels) > 2 else len(panels)
    nrows = (len(panels) + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.2 * ncols, 3.8 * nrows), squeeze=False)
    lines = sorted(distinct(points, line_name)) if line_name else [None]
    cmap = plt.get_cmap("plasma", len(lines) + 1)
    for ax, (key, title) in zip(axes.flat, panels):
        for k, value in enumerate(lines):
            mine = sorted((p for p in points if line_name is None or p["params"][line_name] == value),
                          key=lambda p: p["params"]["acc_bits"])
            ax.plot([p["params"]["acc_bits"] for p in mine], [metric(p, key) for p in mine], "o-", ms=4,
                    color=cmap(k), label=None if value is None else "%s=%s" % (line_name, value))
        ax.set_yscale("symlog", linthresh=1e-6 if key == "acc_overflow_rate" else 1e-3)
        ax.set_xlabel("local accumulator width acc_bits")
        ax.set_title(title, fontsize=10)
        ax.axvline(16, color="grey", ls="--", lw=0.8)
        ax.grid(True, which="both", alpha=0.3)
        ax.set_xticks(sorted(distinct(points, "acc_bits")))
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    axes[0][0].legend(fontsize=8)
    elem = distinct(points, "elem")
    fig.suptitle("Accumulator overflow and output error (elem %s; 0 on the linear part near the axis)" %
                 "/".join(elem), fontsize=10)
    fig.tight_layout()
    save(fig, out_dir, "overflow_vs_acc_bits.png")


# -- element formats with and without group scaling ---------------------------------


def plot_format_ablation(results, out_dir):
    if "elem" not in varied(results):
        return
    points = results["points"]
    formats = distinct(points, "elem")
    groupings = distinct(points, "group")
    panels = [("are_weight", "ARE of W"), ("are_input", "ARE of A"), ("are_grad_output", "ARE of E")]
    panels += [("rel_error_" + key, "output error, " + title) for key, title in PASSES
               if any(metric(p, "rel_error_" + key) is not None for p in points)]
    cols = 3
    rows = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(13, 3.6 * rows), squeeze=False)
    width = 0.8 / len(groupings)
    names = {"nc": "group scaling (nc)", "tensor": "tensor scale only", "n": "group scaling (n)",
             "c": "group scaling (c)"}
    for ax, (key, title) in zip(axes.flat, panels):
        for g, grouping in enumerate(groupings):
            values = []
            for fmt in formats:
                match = [p for p in points if p["params"]["elem"] == fmt and p["params"]["group"] == grouping]
                values.append(metric(match[0], key) if match and metric(match[0], key) is not None else 0.0)
            ax.bar([i + (g - (len(groupings) - 1) / 2) * width for i in range(len(formats))], values, width,
                   label=names.get(grouping, grouping))
        ax.set_xticks(range(len(formats)))
        ax.set_xticklabels(formats, rotation=60, fontsize=8)
        ax.set_yscale("log")
        ax.set_title(title, fontsize=10)
        ax.grid(True, axis="y", which="both", alpha=0.3)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    axes[0][0].legend(fontsize=8)
    fig.suptitle("Element formats with and without group scaling (ARE: mean |x - Q(x)| / |x|; "
                 "output error: rel. L2 vs fp32 conv)", fontsize=10)
    fig.tight_layout()
    save(fig, out_dir, "format_ablation.png")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", help="results directory of `mlssim sweep` (holds results.json)")
    parser.add_argument("--out", help="directory for the PNGs (default: RESULTS_DIR)")
    args = parser.parse_args()
    results = load(args.results)
    out_dir = args.out or args.results
    os.makedirs(out_dir, exist_ok=True)
    for plot in (plot_energy_vs_error, plot_cycles_vs_shape, plot_overflow_vs_acc_bits, plot_format_ablation):
        plot(results, out_dir)


if __name__ == "__main__":
    main()
