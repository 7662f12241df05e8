"""Text layout checks of matplotlib figures, from the renderer's own boxes.

text_problems(fig) draws the figure and returns one line per problem: two visible text
boxes that intersect (tick labels, axis labels, titles, the figure's titles and texts,
annotations, legend entries and titles), or a box not wholly inside the saved area (the
figure, or with bbox_inches="tight" the tight box savefig will use). Boxes are
get_window_extent(renderer) in display pixels; a rotated text's box is the upright box
around it, so the tools rotate crowded tick labels by 90 degrees, where that box is exact.

log_axis_problems(fig): a log axis that labels fewer than two ticks.

checking_savefig() is a context manager that checks every figure saved inside it (the
tools' own savefig calls) and collects the problems and the text per file name, so a
test runs a tool's main() unchanged and asserts nothing was found.
"""
import contextlib
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.figure  # noqa: E402
import matplotlib.text  # noqa: E402
import matplotlib.transforms  # noqa: E402

SLACK_PX = 0.5  # boxes that merely touch (rounding) are not an overlap


def drawn_ticks(axis):
    """The ticks the axis draws (inside its view interval); private API, with a fallback."""
    try:
        return axis._update_ticks()
    except AttributeError:
        low, high = sorted(axis.get_view_interval())
        return [t for t in axis.get_major_ticks() + axis.get_minor_ticks() if low <= t.get_loc() <= high]


def visible(text):
    return text is not None and text.get_visible() and text.get_text().strip() != ""


def named_texts(fig):
    """(description, Text) of every visible text the figure draws."""
    found = []
    for t in fig.texts:
        found.append(("figure text %r" % t.get_text()[:40], t))
    if getattr(fig, "_suptitle", None) is not None:
        found.append(("suptitle %r" % fig._suptitle.get_text()[:40], fig._suptitle))
    for legend in fig.legends:
        found += legend_texts(legend, "figure legend")
    for i, ax in enumerate(fig.axes):
        if not ax.get_visible() or not ax.axison and not ax.texts:
            continue
        where = "axes %d" % i
        for name, title in (("title", ax.title), ("left title", ax._left_title), ("right title", ax._right_title)):
            found.append(("%s %s %r" % (where, name, title.get_text()[:40]), title))
        if ax.axison:
            for axis, letter in ((ax.xaxis, "x"), (ax.yaxis, "y")):
                found.append(("%s %s-label %r" % (where, letter, axis.label.get_text()[:40]), axis.label))
                for tick in drawn_ticks(axis):
                    for label in (tick.label1, tick.label2):
                        found.append(("%s %s tick %r" % (where, letter, label.get_text()), label))
                offset = axis.get_offset_text()
                found.append(("%s %s offset %r" % (where, letter, offset.get_text()), offset))
        for t in ax.texts:
            found.append(("%s text %r" % (where, t.get_text()[:40]), t))
        if ax.get_legend() is not None:
            found += legend_texts(ax.get_legend(), where + " legend")
    seen, unique = set(), []
    for name, t in found:  # the suptitle is also one of fig.texts
        if visible(t) and id(t) not in seen:
            seen.add(id(t))
            unique.append((name, t))
    return unique


def legend_texts(legend, where):
    texts = [("%s entry %r" % (where, t.get_text()[:40]), t) for t in legend.get_texts()]
    title = legend.get_title()
    return texts + [("%s title %r" % (where, title.get_text()[:40]), title)]


def intersect(a, b):
    return (min(a.x1, b.x1) - max(a.x0, b.x0) > SLACK_PX) and (min(a.y1, b.y1) - max(a.y0, b.y0) > SLACK_PX)


def inside(box, area):
    return (box.x0 >= area.x0 - SLACK_PX and box.y0 >= area.y0 - SLACK_PX and box.x1 <= area.x1 + SLACK_PX
            and box.y1 <= area.y1 + SLACK_PX)


def saved_area(fig, renderer, bbox_inches=None):
    """The part of the canvas savefig writes, in display pixels."""
    if bbox_inches == "tight":
        tight = fig.get_tightbbox(renderer)
        return matplotlib.transforms.Bbox.from_extents(*(v * fig.dpi for v in tight.extents))
    return fig.bbox


def text_problems(fig, bbox_inches=None):
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    texts = named_texts(fig)
    boxes = [(name, t.get_window_extent(renderer)) for name, t in texts]
    area = saved_area(fig, renderer, bbox_inches)
    problems = []
    for i, (name, box) in enumerate(boxes):
        if not inside(box, area):
            problems.append("%s lies outside the figure (%s not in %s)" % (name, fmt(box), fmt(area)))
        for other, box2 in boxes[i + 1:]:
            if intersect(box, box2):
                problems.append("%s overlaps %s" % (name, other))
    return problems


def log_axis_problems(fig):
    """A log axis (not symlog) that labels fewer than two of its ticks cannot be read."""
    problems = []
    for i, ax in enumerate(fig.axes):
        if not ax.get_visible() or not ax.axison:
            continue
        for axis, letter in ((ax.xaxis, "x"), (ax.yaxis, "y")):
            if axis.get_scale() != "log":
                continue
            labels = [t.label1.get_text() for t in drawn_ticks(axis) if visible(t.label1)]
            if len(labels) < 2:
                problems.append("axes %d: its log %s axis labels %d tick(s) %s" % (i, letter, len(labels), labels))
    return problems


def all_text(fig):
    """Every visible text of the figure, one string."""
    return "\n".join(t.get_text() for _, t in named_texts(fig))


def fmt(box):
    return "[%.0f, %.0f]x[%.0f, %.0f]" % (box.x0, box.x1, box.y0, box.y1)


class Saved:
    """What checking_savefig saw: per file name, the problems and the figure's text."""

    def __init__(self):
        self.problems, self.texts = {}, {}


@contextlib.contextmanager
def checking_savefig():
    """Yields a Saved filled by every Figure.savefig called inside: text_problems and
    log_axis_problems of the figure, and all its text."""
    found = Saved()
    original = matplotlib.figure.Figure.savefig

    def savefig(fig, fname, *args, **kwargs):
        name = os.path.basename(str(fname)).replace(".tmp.png", "").replace(".tmp", "")
        found.problems[name] = text_problems(fig, kwargs.get("bbox_inches")) + log_axis_problems(fig)
        found.texts[name] = all_text(fig)
        return original(fig, fname, *args, **kwargs)

    matplotlib.figure.Figure.savefig = savefig
    try:
        yield found
    finally:
        matplotlib.figure.Figure.savefig = original
