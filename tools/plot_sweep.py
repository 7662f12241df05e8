#!/usr/bin/python3
"""Plots of an `mlssim sweep` results directory (docs/sweep.md).

    /usr/bin/python3 tools/plot_sweep.py RESULTS_DIR [--out DIR] [--facet auto|none|PARAM] [--max-lines N]
    /usr/bin/python3 tools/plot_sweep.py RESULTS_DIR --x PARAM --y METRIC[,METRIC...] [--logx] [--logy]

Reads RESULTS_DIR/results.json (or, when it is missing, RESULTS_DIR/results.csv)
and writes, into --out (default RESULTS_DIR), each plot the sweep has the data for:

- energy_vs_error.png   MLS energy per MAC against output error, Pareto front marked
                        (points with energy: the sweep set `tech`)
- energy_vs_accuracy.png  MLS energy per MAC (with memory) against the held-out accuracy
                        of the points' training runs, train_seed spread as bars, Pareto
                        front marked (points with energy and train_accuracy: train_steps > 0)
- energy_per_mac.png    MLS energy per MAC against element format, a line per
                        acc_bits, with the fp32/fp8/bf16 baselines (`elem` varied)
- cycles_vs_shape.png   cycles and utilization against array rows (or cols)
                        (rows or cols varied)
- overflow_vs_acc_bits.png  accumulator overflow rate and output error against
                        acc_bits (acc_bits varied)
- format_ablation.png   ARE of W, A, E and each pass's output error per element
                        format, one bar per setting (elem varied)

With --x and --y it writes one plot instead, METRIC against PARAM
(<metric>_vs_<param>.png, or --name).

Lines and bars: every point is drawn. A line (or bar colour) is one setting of
the varied parameters other than x, named in the legend; a line never joins
points that differ in anything but x. When there are more than --max-lines
(default 8) settings, the plot gets one subplot per value of one parameter
(--facet auto: the parameter that brings every subplot to --max-lines or fewer
with the fewest subplots). The subtitle names the parameters held fixed (one
value over every point) with their values.

Parameters and metrics are separate name spaces: the parameter columns are
those of results.json's sweep.varied (results.csv: the columns between `id`
and the first metric), and a metric column whose name is also a parameter name
(`acc_overflow`; `scale` in results written before it became `scale_events`)
is read as <name>_events. The parameter names and their order come from
`mlssim describe --json` (--mlssim PATH, else $MLSSIM, build/sim/mlssim, PATH).

Needs only the Debian python3-matplotlib (Agg backend, no display).
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import matplotlib  # noqa: E402,F401  (sweep_figures chooses the Agg backend)
import mlssim_registry  # noqa: E402
import mlssim_figures  # noqa: E402
import sweep_accuracy  # noqa: E402
from sweep_figures import (Panel, context_lines, finish, label, plot_bars, plot_lines,  # noqa: E402
                           subtitle_width)
from sweep_figures import plt  # noqa: E402
# The data side; the tests reach these through this module too.
from sweep_results import (MAX_LINES, PASSES, PlotError, distinct, events_name, fail, fixed_params,  # noqa: E402,F401
                           fmt, load, metric, parameter_names, parameters, plan, split_csv_header, value_order,
                           varied)


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


def energy_metric(points):
    """The energy the plots compare: per MAC, arithmetic + memory when the table prices
    memory (energy_total_mls_per_mac), else arithmetic; energy_mls for older results."""
    for name, what in (("energy_total_mls_per_mac", "arithmetic + memory, per MAC"),
                       ("energy_mls_per_mac", "arithmetic, per MAC"), ("energy_mls", "arithmetic")):
        if points and all(metric(p, name) is not None for p in points):
            return name, what
    return None, None


def plot_energy_vs_error(results, out_dir, **_):
    points = [p for p in results["points"] if metric(p, "rel_error_mean") is not None]
    name, what = energy_metric(points)
    if name is None:
        return None
    if len({metric(p, name) for p in points}) < 2:
        print("energy_vs_error.png: skipped, every point has the same energy (nothing this sweep varies "
              "changes the energy)")
        return None
    params = [n for n in varied(results) if n != "tech"]
    color_by = params[0] if params else None
    fig, ax = plt.subplots(figsize=(8.5, 5))
    groups = sorted(distinct(points, color_by), key=value_order(points, color_by)) if color_by else [None]
    cmap = plt.get_cmap("viridis", max(len(groups), 2))
    for k, value in enumerate(groups):
        mine = [p for p in points if color_by is None or p["params"][color_by] == value]
        ax.scatter([metric(p, name) for p in mine], [metric(p, "rel_error_mean") for p in mine],
                   s=28, color=cmap(k), label=None if color_by is None else "%s=%s" % (color_by, fmt(value)),
                   zorder=3)
    xy = [(metric(p, name), metric(p, "rel_error_mean")) for p in points]
    front = pareto_front(xy)
    ax.step([xy[i][0] for i in front], [xy[i][1] for i in front], where="post", color="crimson", lw=1.2,
            zorder=2, label="Pareto front")
    ax.scatter([xy[i][0] for i in front], [xy[i][1] for i in front], s=90, facecolors="none",
               edgecolors="crimson", zorder=4)
    named = front[:8]  # the front's first eight points are labelled, where there is room
    left_out = []
    unit = points[0]["metrics"].get("energy_unit", "")
    tech = distinct(points, "tech")
    ax.set_xlabel("MLS array energy, %s (%s, %s)" % (what, unit, "/".join(fmt(t) for t in tech)))
    ax.set_ylabel(output_error_label(results))
    ax.set_yscale("log")
    ax.grid(True, which="both", alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    subtitle = context_lines(results, points, "%d points, %d on the Pareto front; colour: %s" % (
        len(points), len(front), color_by or "none"), subtitle_width(fig))

    def name_points(fig):
        left_out.extend(mlssim_figures.place_labels(ax, [xy[i] for i in named],
                                                    [label(points[i], params[1:] or params) for i in named],
                                                    markers=xy, fontsize=7))
        if left_out:
            fig.text(0.995, 0.005, "%d of %d Pareto labels left out (no room)" % (len(left_out), len(named)),
                     ha="right", va="bottom", fontsize=7, color="0.4")

    finish(fig, out_dir, "energy_vs_error.png", "Energy against output error", subtitle, handles, labels,
           after_layout=name_points)
    return [(None, "rel_error_mean", (), [p["id"] for p in points], [e for e, _ in xy], [r for _, r in xy])]


# -- energy against trained accuracy ----------------------------------------------------


def plot_energy_vs_accuracy(results, out_dir, **_):
    """Energy per MAC (with memory when priced) against the held-out accuracy the points' training
    reached (train_steps > 0), one marker per configuration with its train_seed spread, Pareto front
    (lower energy, higher mean accuracy) marked."""
    points = [p for p in results["points"] if metric(p, "train_accuracy") is not None]
    name, what = energy_metric(points)
    if name is None:
        return None
    params = [n for n in varied(results) if n != "tech"]
    configs = sweep_accuracy.configurations(points, params, name, metric)
    fig, ax = plt.subplots(figsize=(8.5, 5))
    means, front = sweep_accuracy.draw(ax, [c[:3] for c in configs], labels=False)
    energies = [m[0] for m in means]
    if max(energies) > 10 * min(energies):
        ax.set_xscale("log")
    unit = points[0]["metrics"].get("energy_unit", "")
    tech = "/".join(fmt(t) for t in distinct(points, "tech"))
    ax.set_xlabel("MLS array energy, %s (%s, %s)" % (what, unit, tech))
    spread = ", bar: min-max over train_seed" if max(len(c[2]) for c in configs) > 1 else ""
    ax.set_ylabel("held-out accuracy after training\n(mean%s)" % spread)
    ax.grid(True, which="both", alpha=0.3)
    training = "model %s, %s steps" % ("/".join(fmt(v) for v in distinct(points, "train_model")),
                                       "/".join(fmt(v) for v in distinct(points, "train_steps")))
    subtitle = context_lines(results, points, "%d points trained (%s), %d configurations, %d on the Pareto front" % (
        len(points), training, len(configs), len(front)), subtitle_width(fig))
    handles, labels = ax.get_legend_handles_labels()
    named = [(m[0], m[1]) for m in means][:12]
    left_out = []

    def name_points(fig):
        left_out.extend(mlssim_figures.place_labels(ax, named, [c[0] for c in configs][:12], markers=named,
                                                    fontsize=7))
        if left_out or len(configs) > len(named):
            fig.text(0.995, 0.005, "%d of %d labels left out (no room)" % (
                len(left_out) + len(configs) - len(named), len(configs)), ha="right", va="bottom", fontsize=7,
                color="0.4")

    finish(fig, out_dir, "energy_vs_accuracy.png", "Energy against trained accuracy", subtitle, handles, labels,
           after_layout=name_points)
    return [(None, "train_accuracy", (), [i for c in configs for i in c[3]], energies, [m[1] for m in means])]


# -- energy per MAC against element format ------------------------------------------

BASELINE_LINES = (("fp32", "black", "-"), ("fp8", "tab:red", "--"), ("fp8_fp16acc", "tab:orange", ":"),
                  ("bf16", "tab:purple", "-."))


def element_order(value):
    """e0m1 < e0m2 < ... < e1m1 < ...: by exponent bits, then mantissa bits."""
    text = str(value)
    try:
        e, m = text[1:].split("m")
        return (int(e), int(m))
    except ValueError:
        return (99, 99)


def plot_energy_per_mac(results, out_dir, **_):
    """MLS energy per MAC against the element format, one line per accumulator width,
    with the baselines as horizontal lines (they do not depend on the MLS widths)."""
    if "elem" not in varied(results):
        return None
    points = [p for p in results["points"] if metric(p, "energy_mls_per_mac") is not None]
    if not points:
        return None
    total = all(metric(p, "energy_total_mls_per_mac") is not None for p in points)
    kinds = [("energy_mls_per_mac", "arithmetic")] + ([("energy_total_mls_per_mac", "arithmetic + memory")]
                                                       if total else [])
    formats = sorted(distinct(points, "elem"), key=element_order)
    widths = sorted(distinct(points, "acc_bits"), key=value_order(points, "acc_bits")) \
        if "acc_bits" in varied(results) else [None]
    fig, axes = plt.subplots(1, len(kinds), figsize=(6.5 * len(kinds), 4.8), squeeze=False)
    cmap = plt.get_cmap("viridis", max(len(widths), 2))
    data = []
    for ax, (name, what) in zip(axes[0], kinds):
        for k, width in enumerate(widths):
            mine = {p["params"]["elem"]: p for p in points if width is None or p["params"]["acc_bits"] == width}
            xs = [i for i, f in enumerate(formats) if f in mine]
            ys = [metric(mine[formats[i]], name) for i in xs]
            ax.plot(xs, ys, marker="o", ms=4, color=cmap(k),
                    label="MLS, acc_bits=%s" % fmt(width) if width is not None else "MLS")
            setting = (("acc_bits", width),) if width is not None else ()
            data.append((None, name, setting, [mine[formats[i]]["id"] for i in xs], xs, ys))
        for design, color, style in BASELINE_LINES:
            col = name.replace("_mls_", "_%s_" % design)
            values = [metric(p, col) for p in points if metric(p, col) is not None]
            if values:
                ax.axhline(sum(values) / len(values), color=color, ls=style, lw=1.2, label=design.replace("_", "-"))
        ax.set_xticks(range(len(formats)))
        ax.set_xticklabels([fmt(f) for f in formats], rotation=90, fontsize=7)
        ax.set_yscale("log")
        ax.set_xlabel("element format (all operands)")
        unit = points[0]["metrics"].get("energy_unit", "")
        ax.set_ylabel("energy per MAC, %s (%s)" % (what, unit))
        ax.grid(True, which="both", alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    subtitle = context_lines(results, points, "%d points; baselines: mean over the points" % len(points),
                             subtitle_width(fig))
    finish(fig, out_dir, "energy_per_mac.png", "Energy per MAC against element format", subtitle, handles, labels)
    return data


# -- cycles against array shape -----------------------------------------------------


def plot_cycles_vs_shape(results, out_dir, facet="auto", max_lines=MAX_LINES):
    names = varied(results)
    if "rows" not in names and "cols" not in names:
        return None
    x = "rows" if "rows" in names else "cols"
    panels = [Panel("cycles", "Cycles", "cycles (all selected layers and passes)", yscale="log"),
              Panel("utilization", "Utilization = mul / (cycles x R x C)", "utilization (%)", yscale="linear",
                    factor=100, ylim=(0, 100))]
    return plot_lines(results, out_dir, x, panels, "cycles_vs_shape.png",
                      "Cycles and utilization against array %s" % x, facet, max_lines, ncols=2,
                      xlabel="array %s" % x)


# -- accumulator overflow against width ---------------------------------------------


def plot_overflow_vs_acc_bits(results, out_dir, facet="auto", max_lines=MAX_LINES):
    if "acc_bits" not in varied(results):
        return None
    points = results["points"]

    def default_width(ax):
        ax.axvline(16, color="grey", ls="--", lw=0.8)

    panels = [Panel("acc_overflow_rate", "overflow rate, all passes", "acc_overflow / acc_add", yscale="symlog",
                    linthresh=1e-6, decorate=default_width)]
    panels += [Panel("rel_error_" + key, "output error, %s" % title, "relative L2 error vs fp32", yscale="symlog",
                     linthresh=1e-3, decorate=default_width)
               for key, title in PASSES if any(metric(p, "rel_error_" + key) is not None for p in points)]
    return plot_lines(results, out_dir, "acc_bits", panels, "overflow_vs_acc_bits.png",
                      "Accumulator overflow and output error against accumulator width", facet, max_lines,
                      ncols=2, xlabel="local accumulator width acc_bits",
                      note="a symlog y axis (where a value is 0) puts 0 on its linear part near the axis; "
                      "dashed: the default 16 bits")


# -- element formats with and without group scaling ---------------------------------

GROUPING = {("group", "nc"): "group scaling", ("group", "n"): "group scaling", ("group", "c"): "group scaling",
            ("group", "tensor"): "tensor scale only", ("group", "default"): "default groupings (docs/layers.md)"}


def plot_format_ablation(results, out_dir, facet="auto", max_lines=MAX_LINES):
    if "elem" not in varied(results):
        return None
    points = results["points"]
    panels = [Panel("are_weight", "ARE of W", yscale="log"), Panel("are_input", "ARE of A", yscale="log"),
              Panel("are_grad_output", "ARE of E", yscale="log")]
    panels += [Panel("rel_error_" + key, "output error, " + title, yscale="log") for key, title in PASSES
               if any(metric(p, "rel_error_" + key) is not None for p in points)]
    return plot_bars(results, out_dir, "elem", panels, "format_ablation.png",
                     "Element formats (ARE: mean |x - Q(x)| / |x|; output error: rel. L2 vs fp32 conv)",
                     facet, max_lines, ncols=3, describe=GROUPING)


# -- any metric against any parameter -----------------------------------------------


def check_metric(results, name):
    """Refuses a y name that is a parameter's (never read a metric by it) or no metric at all."""
    params = set(parameters()) | set(parameter_names(results))
    if name in params:
        hint = ""
        if events_name(name) in results["metrics"]:
            hint = "; its event count is the metric %s" % events_name(name)
        raise PlotError("--y %s: %s is a parameter, not a metric%s" % (name, name, hint))
    if name not in results["metrics"]:
        raise PlotError("--y %s: no such metric (metrics: %s)" % (name, ", ".join(results["metrics"])))
    if not any(metric(p, name) is not None for p in results["points"]):
        raise PlotError("--y %s: no point has a numeric value" % name)


def plot_custom(results, out_dir, x, ys, name=None, facet="auto", max_lines=MAX_LINES, logx=False, logy=False):
    if x not in parameter_names(results):
        raise PlotError("--x %s: not a parameter of this sweep (varied: %s)" % (x, ", ".join(varied(results))))
    if x not in varied(results):
        raise PlotError("--x %s: takes one value (%s) in every point (varied: %s)" % (
            x, fmt(distinct(results["points"], x)[0]), ", ".join(varied(results)) or "nothing"))
    if facet == x:
        raise PlotError("--facet %s: it is the x axis" % x)
    for y in ys:
        check_metric(results, y)
    panels = [Panel(y, y, y, yscale="log" if logy else "auto") for y in ys]
    title = "%s against %s" % (", ".join(ys), x)
    return plot_lines(results, out_dir, x, panels, name or "%s_vs_%s.png" % ("+".join(ys), x), title, facet,
                      max_lines, ncols=3, logx=logx)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 2)[2])
    parser.add_argument("results", help="results directory of `mlssim sweep` (holds results.json)")
    parser.add_argument("--out", help="directory for the PNGs (default: RESULTS_DIR)")
    parser.add_argument("--x", metavar="PARAM", help="draw only METRIC against this parameter (with --y)")
    parser.add_argument("--y", action="append", metavar="METRIC",
                        help="metric(s) for the y axis, one subplot each (repeat or comma-separate)")
    parser.add_argument("--name", help="file name of the --x/--y plot (default: <y>_vs_<x>.png)")
    parser.add_argument("--facet", default="auto", metavar="auto|none|PARAM",
                        help="one subplot per value of PARAM; auto (default): only beyond --max-lines lines")
    parser.add_argument("--max-lines", type=int, default=MAX_LINES, metavar="N",
                        help="most lines (or bars per category) in one subplot before auto faceting (default %d)"
                        % MAX_LINES)
    parser.add_argument("--logx", action="store_true", help="log x axis for --x (powers of two: automatic)")
    parser.add_argument("--logy", action="store_true", help="log y axis for --y (default: log when the values "
                        "span 100x or more)")
    parser.add_argument("--mlssim", help="the mlssim binary to read the parameter table from (default: $MLSSIM, "
                        "build/sim/mlssim, PATH)")
    args = parser.parse_args(argv)
    mlssim_registry.use(args.mlssim)
    if (args.x is None) != (args.y is None):
        parser.error("--x and --y go together")
    if args.max_lines < 1:
        parser.error("--max-lines must be at least 1")
    try:
        mlssim_registry.describe()
    except mlssim_registry.RegistryError as e:
        fail(str(e))
    results = load(args.results)
    out_dir = args.out or args.results
    os.makedirs(out_dir, exist_ok=True)
    if args.facet not in ("auto", "none") and args.facet not in varied(results):
        fail("--facet %s: not a varied parameter (varied: %s)" % (args.facet, ", ".join(varied(results))))
    try:
        if args.x is not None:
            ys = [y for item in args.y for y in item.split(",") if y]
            plot_custom(results, out_dir, args.x, ys, args.name, args.facet, args.max_lines, args.logx, args.logy)
            return
        for plot in (plot_energy_vs_error, plot_energy_vs_accuracy, plot_energy_per_mac, plot_cycles_vs_shape,
                     plot_overflow_vs_acc_bits, plot_format_ablation):
            plot(results, out_dir, facet=args.facet, max_lines=args.max_lines)  # a --facet equal to x: auto
    except PlotError as e:
        fail(str(e))


if __name__ == "__main__":
    main()
