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
    if axis.get_scale() != "log":
        return
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
