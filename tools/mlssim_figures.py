"""What every figure of the plotting tools shares: its name (the trace and sweep it shows)
and log axes whose ticks can be read.

Tick labels that crowd are rotated by 90 degrees (never 20 or 60): a text's box is then
exactly the box of its letters, which is what testbenches/cli/figure_check.py holds to
"no two texts overlap".
"""
import math
import os
import textwrap

import matplotlib.ticker
import matplotlib.transforms


def sweep_source(results):
    """"sweep formats (sweeps/formats.yaml), trace traces/resnet20-digits, passes fwd, bwd-data"
    from a results.json's "sweep" (the trace as the sweep file names it, taken from its folder)."""
    sweep = results.get("sweep", {})
    parts = []
    name = results.get("name") or sweep.get("name")
    if sweep.get("file"):
        stem = os.path.splitext(os.path.basename(sweep["file"]))[0]
        parts.append("sweep %s (%s)" % (name or stem, sweep["file"]))
    elif sweep.get("from_csv"):
        parts.append("sweep results %s" % sweep["from_csv"])
    elif name:
        parts.append("sweep %s" % name)
    if sweep.get("trace"):
        trace = sweep["trace"]
        if sweep.get("file") and not os.path.isabs(trace):
            trace = os.path.normpath(os.path.join(os.path.dirname(sweep["file"]), trace))
        parts.append("trace " + trace)
    if sweep.get("passes"):
        parts.append("passes " + ", ".join(sweep["passes"]))
    if sweep.get("layers"):
        parts.append("layers " + ", ".join(sweep["layers"]))
    return ", ".join(parts) or "sweep (unnamed results)"


def report_source(report, path):
    """"report r.json of trace traces/resnet20-digits (resnet20)"."""
    trace = report.get("trace") or {}
    text = "report %s" % path
    if trace.get("dir"):
        text += " of trace %s" % trace["dir"]
        if trace.get("model"):
            text += " (%s)" % trace["model"]
    return text


def wrap(fig, text, fontsize, share=1.0):
    """`text` broken into lines that fit across `share` of the figure's width at `fontsize`
    points (an average glyph is about 0.55 em wide)."""
    width = max(20, int(share * fig.get_figwidth() * 72 / (0.55 * fontsize)) - 4)
    lines = []
    for line in text.split("\n"):
        lines += textwrap.wrap(line, width, break_on_hyphens=False) or [""]
    return "\n".join(lines)


def fit_title(fig, title_text, text, fontsize):
    """Sets `text` on the Text `title_text` (an axes title), wrapped until its box lies inside
    the figure once laid out (an axes title is centred on its axes, not on the figure)."""
    share = 1.0
    for _ in range(8):
        title_text.set_text(wrap(fig, text, fontsize, share))
        fig.canvas.draw()
        box = title_text.get_window_extent(fig.canvas.get_renderer())
        if box.x0 >= 0 and box.x1 <= fig.bbox.width:
            return
        share *= 0.85


def compact(value):
    """A tick label: 0.5, 20, 1e+04 -> "0.5", "20", "1e4"."""
    if value == 0:
        return "0"
    if 1e-3 <= abs(value) < 1e5:
        return "%g" % value
    mantissa, exponent = ("%.0e" % value).split("e")
    return "%se%d" % (mantissa, int(exponent))


def readable_log_axis(ax, which="y"):
    """A log axis with at least two labelled ticks: decades when the view spans three or more,
    else 1-2-5 steps (a span of less than a decade would otherwise label one tick or none)."""
    axis = ax.yaxis if which == "y" else ax.xaxis
    if axis.get_scale() != "log" or isinstance(axis.get_major_locator(), matplotlib.ticker.FixedLocator):
        return  # not log, or ticks placed on purpose (a sweep's values)
    low, high = sorted(axis.get_view_interval())
    if low <= 0 or not math.isfinite(low) or not math.isfinite(high):
        return
    decades = math.log10(high / low)
    subs = (1.0,) if decades >= 3 else (1.0, 2.0, 5.0) if decades >= 1 else (1.0, 1.5, 2.0, 3.0, 5.0, 7.0)
    axis.set_major_locator(matplotlib.ticker.LogLocator(base=10, subs=subs))
    axis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: compact(v)))
    axis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    if decades >= 6:  # many decades: every other one labelled, all ticked
        axis.set_major_locator(matplotlib.ticker.LogLocator(base=10, numticks=8))


def has_value(value):
    """A parameter value worth printing: not unset ("" or None, as a sweep writes unset per-operand keys)."""
    return value is not None and value != ""


# -- text that does not overlap ----------------------------------------------------------


def _renderer(fig, draw=True):
    """The figure's renderer, after a full draw when the positions of every text are needed (a
    draw of a large figure is slow: the helpers below draw only where they must)."""
    if draw:
        fig.canvas.draw()
    return fig.canvas.get_renderer()


def _labelled_ticks(axis):
    """The axis's tick labels at their current places (the ticks it draws, updated to the axes'
    position now); matplotlib's private _update_ticks, else a full draw."""
    try:
        ticks = axis._update_ticks()
    except AttributeError:
        axis.figure.canvas.draw()
        ticks = axis.get_major_ticks()
    return [t.label1 for t in ticks]


def _intersect(a, b, slack=1.0):
    return min(a.x1, b.x1) - max(a.x0, b.x0) > -slack and min(a.y1, b.y1) - max(a.y0, b.y0) > -slack


def _inside(box, area):
    return box.x0 >= area.x0 and box.x1 <= area.x1 and box.y0 >= area.y0 and box.y1 <= area.y1


def declutter_ticks(fig):
    """On each numeric axis, hides every tick label that would touch the one kept before it (a crowded
    axis then labels every other tick). Category labels (set with set_xticklabels) are never hidden:
    their figures make room for them instead."""
    renderer = _renderer(fig, draw=False)
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            if isinstance(axis.get_major_formatter(), matplotlib.ticker.FixedFormatter):
                continue
            kept = None
            for label in sorted(_labelled_ticks(axis), key=lambda t: t.get_position()):
                if not label.get_visible() or not label.get_text().strip():
                    continue
                box = label.get_window_extent(renderer)
                if kept is not None and _intersect(box, kept, slack=2.0):
                    label.set_visible(False)
                else:
                    kept = box


def fit_axes_titles(fig):
    """Wraps each axes title to the width of its axes (a facet's title names the facet and the panel)."""
    renderer = _renderer(fig, draw=False)
    for ax in fig.axes:
        title = ax.title
        if not title.get_text() or not ax.get_visible():
            continue
        width = ax.get_window_extent(renderer).width
        text = title.get_text().replace("\n", " ")
        chars = max(12, int(width / (0.55 * title.get_fontsize() * fig.dpi / 72)))
        title.set_text("\n".join(textwrap.wrap(text, chars, break_on_hyphens=False)))


# Where a point's label may go, in points from the point: right and above first.
LABEL_OFFSETS = [(5, 3, "left", "bottom"), (5, -3, "left", "top"), (-5, 3, "right", "bottom"),
                 (-5, -3, "right", "top"), (5, 12, "left", "bottom"), (-5, 12, "right", "bottom"),
                 (5, -12, "left", "top"), (-5, -12, "right", "top"), (0, 22, "center", "bottom"),
                 (0, -22, "center", "top")]


def place_labels(ax, points, texts, markers=(), **style):
    """Annotates each point (data coordinates) with its text at the first offset where the text lies
    inside the axes and touches no text placed or drawn before, nor a marker (`markers`: data
    coordinates of every plotted point); call it once the figure's layout is final. Returns the texts
    that found no room (the caller says how many were left out)."""
    fig = ax.figure
    renderer = _renderer(fig)
    area = ax.get_window_extent(renderer)
    taken = [t.get_window_extent(renderer) for t in fig.texts + ax.texts if t.get_visible() and t.get_text()]
    for x, y in markers:
        px, py = ax.transData.transform((x, y))
        taken.append(matplotlib.transforms.Bbox.from_extents(px - 4, py - 4, px + 4, py + 4))
    left_out = []
    for (x, y), text in zip(points, texts):
        for dx, dy, ha, va in LABEL_OFFSETS:
            note = ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points", ha=ha, va=va, **style)
            note.set_in_layout(False)
            box = note.get_window_extent(renderer)
            if _inside(box, area) and not any(_intersect(box, other) for other in taken):
                taken.append(box)
                break
            note.remove()
        else:
            left_out.append(text)
    return left_out
