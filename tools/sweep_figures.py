"""The drawing side of tools/plot_sweep.py: panels, line and bar subplots,
subtitles, legends and saving, on matplotlib's Agg backend.
"""
import math
import os
import textwrap

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)
import matplotlib.ticker  # noqa: E402

from sweep_results import (DPI, MAX_LINES, distinct, fixed_params, fmt, is_number, metric, plan,  # noqa: E402
                           setting_label, settings, value_order, varied)
import mlssim_figures  # noqa: E402  (the tools' folder: sweep_results put it on the path)

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
