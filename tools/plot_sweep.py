#!/usr/bin/python3
"""Plots of an `mlssim sweep` results directory (docs/sweep.md).

    /usr/bin/python3 tools/plot_sweep.py RESULTS_DIR [--out DIR] [--facet auto|none|PARAM] [--max-lines N]
    /usr/bin/python3 tools/plot_sweep.py RESULTS_DIR --x PARAM --y METRIC[,METRIC...] [--logx] [--logy]

Reads RESULTS_DIR/results.json (or, when it is missing, RESULTS_DIR/results.csv)
and writes, into --out (default RESULTS_DIR), each plot the sweep has the data for:

- energy_vs_error.png   MLS energy per MAC against output error, Pareto front marked
                        (points with energy: the sweep set `tech`)
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
import collections
import csv
import json
import math
import os
import sys
import textwrap

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)
import matplotlib.ticker  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mlssim_figures  # noqa: E402  (the tools' folder, put on the path above)
import mlssim_registry  # noqa: E402

PASSES = [("fwd", "forward"), ("bwd_data", "backward-data"), ("bwd_weight", "backward-weight")]


def parameters():
    """The sweep parameters in the order of mlssim's parameter table, the order of results.csv's parameter
    columns, read from `mlssim describe --json` (test_plot_sweep.py holds it against `mlssim sweep`'s list)."""
    return mlssim_registry.sweep_parameters()


MAX_LINES = 8
DPI = 100


class PlotError(Exception):
    pass


def fail(message):
    sys.exit("plot_sweep.py: error: " + message)


# -- loading -------------------------------------------------------------------------


def load(results_dir):
    """results.json (or results.csv when there is no JSON) as {"sweep", "metrics", "points"}, metric
    names that collide with parameter names renamed (see collision_free)."""
    json_path = os.path.join(results_dir, "results.json")
    csv_path = os.path.join(results_dir, "results.csv")
    if not os.path.exists(json_path) and os.path.exists(csv_path):
        return collision_free(load_csv(csv_path))
    try:
        with open(json_path) as f:
            results = json.load(f)
    except OSError as e:
        fail("%s: cannot read (%s); run or merge the sweep first" % (json_path, e.strerror))
    except ValueError as e:
        fail("%s: not valid JSON: %s" % (json_path, e))
    if not isinstance(results, dict) or results.get("format") != "mlssim-sweep-results/1" or not results.get("points"):
        fail("%s: not an mlssim sweep result (format mlssim-sweep-results/1 with points)" % json_path)
    results.setdefault("sweep", {})
    if "varied" not in results["sweep"]:
        results["sweep"]["varied"] = [n for n in parameter_names(results) if len(distinct(results["points"], n)) > 1]
    if "metrics" not in results:
        results["metrics"] = list(collections.OrderedDict.fromkeys(
            m for p in results["points"] for m in p.get("metrics", {})))
    return collision_free(results)


def csv_cell(text, numeric):
    if text == "":
        return None
    if text in ("true", "false"):
        return text == "true"
    for kind in ((int, float) if numeric else (int,)):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def split_csv_header(header):
    """(parameter columns, metric columns) of a results.csv header, by position: `index`, `id`, the
    parameters in parameters() order, then the metrics, which start at the first column that is not the
    next parameter in that order (a metric named like a parameter, after the metrics began, stays a metric)."""
    if header[:2] != ["index", "id"]:
        raise PlotError("the header does not start with index,id")
    end, last = 2, -1
    while end < len(header) and header[end] in parameters() and parameters().index(header[end]) > last:
        last = parameters().index(header[end])
        end += 1
    return header[2:end], header[end:]


def load_csv(path):
    """results.csv as the results.json layout; only the varied parameters are known."""
    try:
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
    except OSError as e:
        fail("%s: cannot read (%s)" % (path, e.strerror))
    if len(rows) < 2:
        fail("%s: no points" % path)
    try:
        params, metrics = split_csv_header(rows[0])
    except PlotError as e:
        fail("%s: not an mlssim sweep result: %s" % (path, e))
    points = []
    for n, row in enumerate(rows[1:], start=2):
        if len(row) != len(rows[0]):
            fail("%s:%d: %d cells, the header has %d" % (path, n, len(row), len(rows[0])))
        cells = row[2:]
        points.append({"index": csv_cell(row[0], True), "id": row[1],
                       "params": {name: csv_cell(cells[i], False) for i, name in enumerate(params)},
                       "metrics": {name: csv_cell(cells[len(params) + i], True) for i, name in enumerate(metrics)}})
    return {"format": "mlssim-sweep-results/1", "sweep": {"varied": params, "from_csv": path},
            "metrics": metrics, "points": points}


def parameter_names(results):
    """Every parameter the results know: sweep.varied, then the rest of the records' params."""
    names = list(results["sweep"].get("varied", []))
    for p in results["points"]:
        names += [n for n in p["params"] if n not in names]
    return names


def events_name(name):
    return name + "_events"


def collision_free(results):
    """Renames each metric whose name is a parameter name to <name>_events, so that no metric is ever
    read by a parameter's name (`scale`, the group-scaler operation count, is `scale_events` in newer
    results; `acc_overflow`, the overflow count, collides with the overflow-mode parameter)."""
    params = set(parameters()) | set(parameter_names(results))
    renamed = {m: events_name(m) for m in results["metrics"] if m in params}
    if not renamed:
        return results
    names = []
    for m in results["metrics"]:
        if renamed.get(m, m) not in names:
            names.append(renamed.get(m, m))
    results["metrics"] = names
    for p in results["points"]:
        for old, new in renamed.items():
            if old in p["metrics"]:
                value = p["metrics"].pop(old)
                p["metrics"].setdefault(new, value)
    return results


def metric(point, name):
    value = point["metrics"].get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


# -- grouping (pure) ------------------------------------------------------------------


def distinct(points, param):
    """The values a parameter takes, in first-seen order."""
    seen = []
    for p in points:
        if p["params"].get(param) not in seen:
            seen.append(p["params"].get(param))
    return seen


def varied(results):
    """Parameters that take more than one value, in the sweep's column order."""
    points = results["points"]
    return [name for name in parameter_names(results) if len(distinct(points, name)) > 1]


def fixed_params(results, points=None):
    """(name, value) of every parameter with one set value over the points, in parameter order. Read from
    the records' params, so it includes the mlssim run defaults the sweep file does not set; a key no point
    sets (a per-operand format left to the plain one: "") is left out."""
    points = results["points"] if points is None else points
    return [(name, distinct(points, name)[0]) for name in parameter_names(results)
            if len(distinct(points, name)) == 1 and mlssim_figures.has_value(distinct(points, name)[0])]


def is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def value_order(points, param):
    """Sort key for a parameter's values: numbers by value, anything else in first-seen (sweep) order."""
    seen = distinct(points, param)
    return lambda v: (0, v, 0) if is_number(v) else (1, 0, seen.index(v) if v in seen else len(seen))


def fmt(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "%g" % value
    return str(value)


def setting_label(setting, describe=None):
    """"chunk=16, elem=e2m4" for a setting ((name, value), ...); unset values ("") are left out."""
    parts = []
    for name, value in setting:
        if not mlssim_figures.has_value(value):
            continue
        text = "%s=%s" % (name, fmt(value))
        if describe and (name, value) in describe:
            text += " (%s)" % describe[(name, value)]
        parts.append(text)
    return ", ".join(parts)


Line = collections.namedtuple("Line", "setting points")  # setting: ((name, value), ...); points sorted by x
Facet = collections.namedtuple("Facet", "value lines")  # value None when the plot has no facets


def settings(points, names):
    """The distinct settings ((name, value), ...) of `names` over the points, sorted by value_order."""
    keys = [value_order(points, n) for n in names]
    found = {tuple((n, p["params"].get(n)) for n in names) for p in points}
    return sorted(found, key=lambda s: [k(v) for k, (_, v) in zip(keys, s)])


def choose_facet(points, x, others, facet="auto", max_lines=MAX_LINES):
    """The parameter to draw one subplot per value of, or None for a single panel.

    facet "none": never; a parameter name: that one (it must be one of `others`); "auto": none while the
    settings of `others` are at most max_lines, else the parameter of `others` whose busiest subplot has at
    most max_lines lines with the fewest subplots (if none gets there: the fewest lines, then subplots)."""
    if facet in (None, "none"):
        return None
    if facet != "auto":
        if facet not in others:
            raise PlotError("cannot facet by %s: it is %s" % (
                facet, "the x axis" if facet == x else "not a varied parameter (varied: %s)" % ", ".join(others)))
        return facet
    if len(settings(points, others)) <= max_lines or len(others) < 2:
        return None
    best = None
    for name in others:
        rest = [n for n in others if n != name]
        values = distinct(points, name)
        busiest = max(len(settings([p for p in points if p["params"].get(name) == v], rest)) for v in values)
        key = (busiest > max_lines, busiest if busiest > max_lines else 0, len(values))
        if best is None or key < best[0]:
            best = (key, name)
    return best[1]


def group_series(points, x, others, facet=None):
    """Splits the points into [Facet(value, [Line(setting, points)])] for a plot against parameter x.

    Each line holds the points of one setting of `others` (minus the facet), sorted by x; each facet the
    points with one value of `facet` (a single Facet(None, ...) without one). Every point is in exactly one
    line; with `others` = every varied parameter but x, no line has two points at one x."""
    names = [n for n in others if n not in (x, facet)]
    x_key = value_order(points, x)
    facets = []
    for value in (sorted(distinct(points, facet), key=value_order(points, facet)) if facet else [None]):
        mine = [p for p in points if facet is None or p["params"].get(facet) == value]
        lines = []
        for setting in settings(mine, names):
            line = [p for p in mine if all(p["params"].get(n) == v for n, v in setting)]
            lines.append(Line(setting, sorted(line, key=lambda p: x_key(p["params"].get(x)))))
        facets.append(Facet(value, lines))
    return facets


def plan(results, x, facet="auto", max_lines=MAX_LINES, points=None):
    """(facet parameter or None, [Facet], the other varied parameters) for a plot against x."""
    points = results["points"] if points is None else points
    others = [n for n in varied(results) if n != x and len(distinct(points, n)) > 1]
    chosen = choose_facet(points, x, others, "auto" if facet == x else facet, max_lines)
    return chosen, group_series(points, x, others, chosen), others


# -- drawing ---------------------------------------------------------------------------


class Panel:
    """One metric on the y axis of a subplot."""

    def __init__(self, metric, title, ylabel=None, yscale="auto", linthresh=None, factor=1.0, ylim=None,
                 decorate=None):
        self.metric, self.title, self.ylabel = metric, title, ylabel
        self.yscale, self.linthresh, self.factor, self.ylim, self.decorate = yscale, linthresh, factor, ylim, decorate


def label(point, params):
    return ", ".join("%s=%s" % (name, fmt(point["params"][name])) for name in params
                     if mlssim_figures.has_value(point["params"].get(name)))


def colors(all_settings):
    """One colour per setting: an ordered colour map when the lines are the values of one number, else
    a qualitative palette."""
    n = len(all_settings)
    if n and len(all_settings[0]) == 1 and all(is_number(s[0][1]) for s in all_settings) and n > 2:
        cmap = plt.get_cmap("plasma")
        return {s: cmap(0.85 * k / (n - 1)) for k, s in enumerate(all_settings)}
    cmap = plt.get_cmap("tab10" if n <= 10 else "tab20")
    return {s: cmap(k % cmap.N) for k, s in enumerate(all_settings)}


def layout_note(points, others, facet, mark="line"):
    """"45 points; one line per setting of chunk; one subplot per elem"."""
    lines_by = [n for n in others if n != facet]
    what = ["%d points" % len(points)]
    what.append("one %s per setting of %s" % (mark, ", ".join(lines_by)) if lines_by else "one " + mark)
    if facet:
        what.append("one subplot per " + facet)
    return "; ".join(what)


def context_lines(results, points, what, width):
    """The subtitle: the sweep and trace the figure shows, `what` (the lines and subplots), then every
    parameter held fixed with its value."""
    fixed = fixed_params(results, points)
    sweep = results["sweep"]
    if sweep.get("from_csv"):
        held = "held fixed: every parameter the sweep does not vary, at its mlssim run default (read from results.csv)"
    else:
        held = "held fixed: " + (", ".join("%s=%s" % (n, fmt(v)) for n, v in fixed) or "nothing")
    return [line for text in (mlssim_figures.sweep_source(results), what, held)
            for line in textwrap.wrap(text, width, break_on_hyphens=False)]


def axes_grid(n_facets, n_panels, ncols, panel_size=(4.6, 3.4)):
    """(fig, [(facet index, panel index, ax)]): each facet's panels fill whole rows of ncols; with one
    panel per facet the facets wrap instead."""
    if n_panels == 1:
        ncols = min(ncols, n_facets)
        cells = [(f, 0) for f in range(n_facets)]
    else:
        ncols = min(ncols, n_panels)
        cells = []
        for f in range(n_facets):
            cells += [(f, k) for k in range(n_panels)]
            cells += [None] * (-len(cells) % ncols)
    nrows = (len(cells) + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel_size[0] * ncols, panel_size[1] * nrows), squeeze=False)
    used = []
    for cell, ax in zip(cells + [None] * (nrows * ncols - len(cells)), axes.flat):
        if cell is None:
            ax.axis("off")
        else:
            used.append((cell[0], cell[1], ax))
    return fig, used


def subtitle_width(fig):
    """Characters of 8.5-point text that fit across the figure (an average glyph: 0.55 em)."""
    return int(fig.get_figwidth() * 72 / (0.55 * 8.5)) - 4


def share_y(cells):
    """One y range per metric across the facets, so that subplots compare at a glance."""
    for k in {k for _, k, _ in cells}:
        axes = [ax for _, j, ax in cells if j == k]
        if len(axes) > 1:
            low = min(min(ax.get_ylim()) for ax in axes)
            high = max(max(ax.get_ylim()) for ax in axes)
            for ax in axes:
                ax.set_ylim(low, high)


def legend_columns(fig, handles, labels, style):
    """None when the legend fits right of the panels in a third of the width; else the columns of a
    legend below them (as many as fit across the figure), the figure made taller by its height."""
    renderer = fig.canvas.get_renderer()
    trial = fig.legend(handles, labels, **style)
    width = trial.get_window_extent(renderer).width
    trial.remove()
    if width <= fig.bbox.width / 3:
        return None
    for ncol in range(len(labels), 0, -1):
        trial = fig.legend(handles, labels, ncol=ncol, **style)
        box = trial.get_window_extent(renderer)
        trial.remove()
        if box.width <= 0.96 * fig.bbox.width or ncol == 1:
            fig.set_figheight(fig.get_figheight() + (box.height + 8) / fig.dpi)
            return ncol


def finish(fig, out_dir, name, title, subtitle, handles=(), labels=(), legend_title=None, after_layout=None):
    """Title and subtitle above the panels, the legend beside them (below them when it would take more
    than a third of the width), log axes with readable ticks, no two texts overlapping (figure_check.py
    in the tests holds every figure to that), then save. `after_layout(fig)` runs once the layout is
    final (to place labels among the points)."""
    renderer = fig.canvas.get_renderer()
    style = dict(fontsize=8, title=legend_title, title_fontsize=8, frameon=False)
    ncol = legend_columns(fig, handles, labels, style) if handles else None
    height = fig.bbox.height
    title = mlssim_figures.wrap(fig, title, 11 * 1.2)
    head = fig.text(0.5, 1 - 6 / height, title, ha="center", va="top", fontsize=11, weight="bold")
    top = 1 - (6 + head.get_window_extent(renderer).height + 2) / height
    if subtitle:
        sub = fig.text(0.5, top, "\n".join(subtitle), ha="center", va="top", fontsize=8.5, color="0.25",
                       linespacing=1.3)
        top -= (sub.get_window_extent(renderer).height + 8) / height
    right, bottom = 1.0, 0.0
    if handles and ncol is None:
        legend = fig.legend(handles, labels, loc="upper right", bbox_to_anchor=(1.0, top), **style)
        right = 1 - (legend.get_window_extent(renderer).width + 6) / fig.bbox.width
    elif handles:
        legend = fig.legend(handles, labels, loc="lower center", bbox_to_anchor=(0.5, 0.0), ncol=ncol, **style)
        bottom = (legend.get_window_extent(renderer).height + 8) / height
    for ax in fig.axes:
        mlssim_figures.readable_log_axis(ax, "x")
        mlssim_figures.readable_log_axis(ax, "y")
    mlssim_figures.fit_axes_titles(fig)
    fig.tight_layout(rect=(0, bottom, right, top))
    mlssim_figures.declutter_ticks(fig)
    if after_layout:
        after_layout(fig)
    save(fig, out_dir, name)


def save(fig, out_dir, name):
    path = os.path.join(out_dir, name)
    fig.savefig(path + ".tmp.png", dpi=DPI)
    os.replace(path + ".tmp.png", path)  # no half-written PNG if this fails
    plt.close(fig)
    print("wrote", path)


def auto_yscale(ax, values, panel):
    finite = [v for v in values if v is not None and math.isfinite(v)]
    positive = [v for v in finite if v > 0]
    if panel.yscale == "symlog" and positive and len(positive) == len(finite):
        ax.set_yscale("log")  # no zero to show: log ticks label narrow ranges better
    elif panel.yscale == "symlog":
        ax.set_yscale("symlog", linthresh=panel.linthresh or 1e-6)
    elif panel.yscale != "auto":
        ax.set_yscale(panel.yscale)
    if panel.yscale != "auto":
        return
    if not positive or min(finite) < 0 or max(positive) / min(positive) < 100:
        return
    if len(positive) == len(finite):
        ax.set_yscale("log")
    else:
        ax.set_yscale("symlog", linthresh=min(positive))


def set_x_axis(ax, points, x, categorical, logx=False):
    values = sorted(distinct(points, x), key=value_order(points, x))
    if categorical:
        ax.set_xticks(range(len(values)))
        ax.set_xticklabels([fmt(v) for v in values], rotation=category_rotation(values), fontsize=8)
        return
    powers_of_two = all(v > 0 and int(v) == v and (int(v) & (int(v) - 1)) == 0 for v in values)
    if logx or (powers_of_two and max(values) / min(values) >= 4):
        ax.set_xscale("log", base=2 if powers_of_two else 10)
    if len(values) <= 16:
        ax.set_xticks(values)
        ax.get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
        ax.get_xaxis().set_minor_formatter(matplotlib.ticker.NullFormatter())


def category_rotation(values):
    """Upright category labels while they are few and short, else vertical (90 degrees, never a slant:
    a slanted label's box covers its neighbours')."""
    return 90 if len(values) > 6 or sum(len(fmt(v)) + 2 for v in values) > 36 else 0


def x_coordinates(points, x):
    """(categorical?, function value -> x coordinate)."""
    values = sorted(distinct(points, x), key=value_order(points, x))
    if all(is_number(v) for v in values):
        return False, float
    return True, values.index


def plot_lines(results, out_dir, x, panels, name, title, facet="auto", max_lines=MAX_LINES, ncols=2,
               xlabel=None, logx=False, describe=None, note=None):
    """One subplot per (facet value, panel); in each, one line per setting of the other varied parameters.
    Returns what was drawn: [(facet value, metric, setting, [point id], [x], [y])]."""
    points = results["points"]
    chosen, facets, others = plan(results, x, facet, max_lines)
    all_settings = settings(points, [n for n in others if n != chosen])
    color = colors(all_settings)
    categorical, to_x = x_coordinates(points, x)
    fig, cells = axes_grid(len(facets), len(panels), ncols)
    drawn, handles = [], {}
    for f, k, ax in cells:
        facet_value, panel = facets[f].value, panels[k]
        values = []
        for line in facets[f].lines:
            xs = [to_x(p["params"][x]) for p in line.points]
            ys = [metric(p, panel.metric) for p in line.points]
            ys = [None if y is None else y * panel.factor for y in ys]
            values += ys
            drawn.append((facet_value, panel.metric, line.setting, [p["id"] for p in line.points], xs, ys))
            artist, = ax.plot(xs, [math.nan if y is None else y for y in ys], "o-", ms=4, lw=1.3,
                              color=color[line.setting])
            handles.setdefault(line.setting, artist)
        auto_yscale(ax, values, panel)
        set_x_axis(ax, points, x, categorical, logx)
        if panel.ylim:
            ax.set_ylim(*panel.ylim)
        if panel.decorate:
            panel.decorate(ax)
        ax.set_xlabel(xlabel or x)
        ax.set_ylabel(panel.ylabel or panel.metric, fontsize=9)
        head = panel.title if chosen is None else "%s=%s: %s" % (chosen, fmt(facet_value), panel.title)
        ax.set_title(head, fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
    share_y(cells)
    missing = sum(1 for d in drawn for y in d[5] if y is None)
    subtitle = context_lines(results, points, layout_note(points, others, chosen), subtitle_width(fig))
    if note:
        subtitle.insert(0, note)
    if missing:
        subtitle.append("%d value%s missing (empty in the results), not drawn" % (missing, " is" if missing == 1
                                                                                   else "s are"))
    keys = [s for s in all_settings if s in handles and s]
    finish(fig, out_dir, name, title, subtitle, [handles[s] for s in keys],
           [setting_label(s, describe) for s in keys])
    return drawn


def plot_bars(results, out_dir, x, panels, name, title, facet="auto", max_lines=MAX_LINES, ncols=3,
              describe=None):
    """Bars per value of x (categories), one bar per setting of the other varied parameters; one
    subplot per (facet value, panel). Returns what was drawn, as plot_lines does."""
    points = results["points"]
    chosen, facets, others = plan(results, x, facet, max_lines)
    all_settings = settings(points, [n for n in others if n != chosen])
    color = colors(all_settings)
    categories = sorted(distinct(points, x), key=value_order(points, x))
    fig, cells = axes_grid(len(facets), len(panels), ncols, panel_size=(4.4, 3.4))
    drawn, handles = [], {}
    width = 0.8 / max(len(all_settings), 1)
    for f, k, ax in cells:
        facet_value, panel = facets[f].value, panels[k]
        values = []
        for line in facets[f].lines:
            s = all_settings.index(line.setting)
            offset = (s - (len(all_settings) - 1) / 2) * width
            xs = [categories.index(p["params"][x]) for p in line.points]
            ys = [metric(p, panel.metric) for p in line.points]
            values += ys
            drawn.append((facet_value, panel.metric, line.setting, [p["id"] for p in line.points], xs, ys))
            bars = ax.bar([c + offset for c in xs], [math.nan if y is None else y for y in ys], width,
                          color=color[line.setting])
            handles.setdefault(line.setting, bars)
        auto_yscale(ax, values, panel)
        ax.set_xticks(range(len(categories)))
        ax.set_xticklabels([fmt(c) for c in categories], rotation=category_rotation(categories), fontsize=8)
        ax.set_xlabel(x)
        head = panel.title if chosen is None else "%s=%s: %s" % (chosen, fmt(facet_value), panel.title)
        ax.set_title(head, fontsize=10)
        ax.grid(True, axis="y", which="both", alpha=0.3)
    share_y(cells)
    subtitle = context_lines(results, points, layout_note(points, others, chosen, "bar colour"),
                             subtitle_width(fig))
    keys = [s for s in all_settings if s in handles and s]
    finish(fig, out_dir, name, title, subtitle, [handles[s] for s in keys],
           [setting_label(s, describe) for s in keys])
    return drawn


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
            ("group", "tensor"): "tensor scale only"}


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
        for plot in (plot_energy_vs_error, plot_energy_per_mac, plot_cycles_vs_shape, plot_overflow_vs_acc_bits, plot_format_ablation):
            plot(results, out_dir, facet=args.facet, max_lines=args.max_lines)  # a --facet equal to x: auto
    except PlotError as e:
        fail(str(e))


if __name__ == "__main__":
    main()
