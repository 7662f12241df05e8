"""The data side of tools/plot_sweep.py: reading an `mlssim sweep` results
directory (results.json, or results.csv) and grouping its points into the
series and subplots of a plot (docs/sweep.md). No matplotlib.
"""
import collections
import csv
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mlssim_registry  # noqa: E402  (the tools' folder, put on the path above)
import mlssim_figures  # noqa: E402

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


def training_parameters():
    """The parameters of a point's training run (group train: train_steps, train_model, ...)."""
    return {p["name"] for p in mlssim_registry.params() if p["group"] == "train"}


def fixed_params(results, points=None):
    """(name, value) of every parameter with one set value over the points, in parameter order. Read from
    the records' params, so it includes the mlssim run defaults the sweep file does not set; a key no point
    sets (a per-operand format left to the plain one: "") is left out, and so are the training parameters
    when no point trains (train_steps 0: they configure nothing)."""
    points = results["points"] if points is None else points
    skip = training_parameters() if not any(p["params"].get("train_steps") for p in points) else set()
    return [(name, distinct(points, name)[0]) for name in parameter_names(results) if name not in skip
            and len(distinct(points, name)) == 1 and mlssim_figures.has_value(distinct(points, name)[0])]


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
