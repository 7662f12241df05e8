#!/usr/bin/python3
"""Per-layer figures of an `mlssim run` report: where the cycles and the bytes go.

    /usr/bin/python3 tools/plot_layers.py REPORT.json [--out DIR] [--pass PASS]
    (installed: mlssim-plot-layers REPORT.json ...)

One bar per layer-pass, in run order (or per layer with --pass), into --out (default:
the report's folder):

- layers_cycles.png     cycles, split into issue cycles and stall cycles (waiting on
                        memory), and the utilization (mul / (cycles x rows x cols))
- layers_traffic.png    bytes moved at each memory level: DRAM reads and writes, X and
                        Y buffer reads, output buffer writes (the report's `traffic`)
- layers_bandwidth.png  DRAM bandwidth demand, bytes moved over the cycles the pass
                        would take with no stall, against the run's --dram-bw; and the
                        bandwidth it got, bytes over its cycles

Layer-passes left unquantized (no cycles) are left out and counted in the subtitle; a
report without `traffic` (written before the memory model) gets layers_cycles.png only.
Needs only Debian's python3-matplotlib (Agg backend).
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

# (traffic key, legend): the levels of the memory system (docs/architecture.md#memory).
LEVELS = [("dram_read_bytes", "DRAM read"), ("dram_write_bytes", "DRAM write"),
          ("x_buffer_read_bytes", "X buffer read"), ("y_buffer_read_bytes", "Y buffer read"),
          ("out_buffer_write_bytes", "output buffer write")]
DPI = 100


class InputError(Exception):
    pass


def load(path, pass_name):
    """(report, entries that were simulated, count of those left out)."""
    try:
        with open(path) as f:
            report = json.load(f)
    except OSError as e:
        raise InputError("%s: cannot read (%s)" % (path, e.strerror))
    except ValueError as e:
        raise InputError("%s: not JSON (%s)" % (path, e))
    if not isinstance(report, dict) or not isinstance(report.get("layers"), list) or "config" not in report:
        raise InputError("%s: not an mlssim run report (no config and layers)" % path)
    chosen = [e for e in report["layers"] if pass_name is None or e.get("pass") == pass_name]
    simulated = [e for e in chosen if isinstance(e.get("cycles"), int) and e["cycles"] > 0]
    if not simulated:
        raise InputError("%s: no simulated layer-pass%s" % (path, " of pass " + pass_name if pass_name else ""))
    return report, simulated, len(chosen) - len(simulated)


def config_line(config):
    """The run's settings that shape these figures, only those the report has."""
    parts = []
    if config.get("rows") and config.get("cols"):
        parts.append("array %dx%d" % (config["rows"], config["cols"]))
    fmt = "/".join(str(config[k]) for k in ("elem", "scale", "group") if config.get(k))
    if fmt:
        parts.append(fmt)
    if config.get("acc_bits"):
        parts.append("%d-bit accumulator" % config["acc_bits"])
    if "dram_bw" in config:
        parts.append("--dram-bw %s" % (config["dram_bw"] or "0 (unlimited)"))
    buffers = ["%s %s KiB" % (name, config[key]) for key, name in
               (("x_buffer_kb", "X"), ("y_buffer_kb", "Y"), ("out_buffer_kb", "out")) if config.get(key)]
    if buffers:
        parts.append("buffers " + ", ".join(buffers))
    if config.get("dataflow"):
        parts.append("dataflow " + config["dataflow"])
    return ", ".join(parts)


def labels_of(entries, one_pass):
    return [e["name"] if one_pass else "%s %s" % (e["name"], e["pass"]) for e in entries]


def figure(count, rows):
    """A figure for `count` bars in `rows` stacked panels sharing the x axis."""
    width = min(max(7.0, 0.2 * count + 3.0), 60.0)
    fig, axes = plt.subplots(rows, 1, figsize=(width, 2.6 * rows + 2.2), sharex=True, squeeze=False,
                             constrained_layout=True)
    fig.get_layout_engine().set(w_pad=0.1, h_pad=0.1)  # inches kept clear at the figure's edges
    return fig, [a[0] for a in axes]


def finish(fig, axes, labels, title, subtitle, path):
    bottom = axes[-1]
    bottom.set_xticks(range(len(labels)))
    bottom.set_xticklabels(labels, rotation=90, fontsize=7 if len(labels) > 30 else 8)
    bottom.set_xlim(-0.6, len(labels) - 0.4)
    for ax in axes:
        ax.grid(True, axis="y", which="major", alpha=0.3)
        ax.set_axisbelow(True)
        mlssim_figures.readable_log_axis(ax, "y")
    fig.suptitle(title, fontsize=11, weight="bold")
    axes[0].set_title("", fontsize=8.5, color="0.25")
    mlssim_figures.fit_title(fig, axes[0].title, subtitle, 8.5)
    fig.savefig(path + ".tmp.png", dpi=DPI)
    os.replace(path + ".tmp.png", path)  # no half-written PNG if this fails
    plt.close(fig)
    print("plot_layers: wrote " + path)


def log_if_wide(ax, values):
    positive = [v for v in values if v > 0]
    if positive and max(positive) / min(positive) >= 100:
        ax.set_yscale("log")


def plot_cycles(entries, labels, source, path):
    fig, (ax, util) = figure(len(entries), 2)
    xs = range(len(entries))
    stall = [e.get("stall_cycles", 0) for e in entries]
    issue = [e["cycles"] - s for e, s in zip(entries, stall)]
    ax.bar(xs, issue, 0.75, color="tab:blue", label="issue cycles")
    ax.bar(xs, stall, 0.75, bottom=issue, color="tab:red", label="stall cycles (waiting on memory)")
    log_if_wide(ax, [e["cycles"] for e in entries])
    ax.set_ylabel("cycles")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    util.bar(xs, [100 * e.get("utilization", 0) for e in entries], 0.75, color="tab:green")
    util.set_ylim(0, 100)
    util.set_ylabel("utilization (%)")
    total_stall = sum(stall)
    total = sum(e["cycles"] for e in entries)
    finish(fig, [ax, util], labels, "Cycles, stalls and utilization per layer-pass",
           "%s; %d cycles, %.1f%% of them stalls" % (source, total, 100.0 * total_stall / total), path)


def plot_traffic(entries, labels, source, path):
    fig, (ax,) = figure(len(entries), 1)
    width = 0.8 / len(LEVELS)
    values = []
    for j, (key, name) in enumerate(LEVELS):
        ys = [e["traffic"].get(key, 0) for e in entries]
        values += ys
        ax.bar([i + (j - (len(LEVELS) - 1) / 2) * width for i in range(len(entries))], ys, width, label=name)
    log_if_wide(ax, values)
    ax.set_ylabel("bytes")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    finish(fig, [ax], labels, "Traffic per memory level and layer-pass", source, path)


def plot_bandwidth(entries, labels, source, dram_bw, path):
    fig, (ax,) = figure(len(entries), 1)
    xs = range(len(entries))
    moved = [e["traffic"].get("dram_read_bytes", 0) + e["traffic"].get("dram_write_bytes", 0) for e in entries]
    free = [max(e["cycles"] - e.get("stall_cycles", 0), 1) for e in entries]
    demand = [m / c for m, c in zip(moved, free)]
    got = [m / e["cycles"] for m, e in zip(moved, entries)]
    ax.bar(xs, demand, 0.75, color="tab:orange", label="demand: DRAM bytes / (cycles - stall cycles)")
    ax.plot(xs, got, "o", ms=4, color="black", label="achieved: DRAM bytes / cycles")
    if dram_bw:
        ax.axhline(dram_bw, color="tab:red", ls="--", lw=1.2, label="--dram-bw %s bytes/cycle" % dram_bw)
    log_if_wide(ax, demand + got + ([dram_bw] if dram_bw else []))
    ax.set_ylabel("bytes per cycle")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    above = sum(1 for d in demand if dram_bw and d > dram_bw)
    note = ("%d of %d layer-passes demand more than --dram-bw %s" % (above, len(entries), dram_bw) if dram_bw
            else "--dram-bw 0: unlimited, no stalls")
    finish(fig, [ax], labels, "DRAM bandwidth demand per layer-pass", "%s; %s" % (source, note), path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", help="a run report (mlssim run --report)")
    parser.add_argument("--out", help="directory for the PNGs (default: the report's folder)")
    parser.add_argument("--pass", dest="pass_name", choices=("fwd", "bwd-data", "bwd-weight"),
                        help="only this pass, one bar per layer")
    args = parser.parse_args(argv)
    try:
        report, entries, left_out = load(args.report, args.pass_name)
    except InputError as e:
        print("plot_layers: error: %s" % e, file=sys.stderr)
        return 1
    out = args.out or os.path.dirname(os.path.abspath(args.report))
    os.makedirs(out, exist_ok=True)
    labels = labels_of(entries, args.pass_name is not None)
    source = mlssim_figures.report_source(report, args.report)
    settings = config_line(report["config"])
    source += ("\n" + settings if settings else "") + (
        "; %d unquantized layer-pass(es) left out" % left_out if left_out else "")
    plot_cycles(entries, labels, source, os.path.join(out, "layers_cycles.png"))
    if all(isinstance(e.get("traffic"), dict) for e in entries):
        plot_traffic(entries, labels, source, os.path.join(out, "layers_traffic.png"))
        plot_bandwidth(entries, labels, source, report["config"].get("dram_bw", 0),
                       os.path.join(out, "layers_bandwidth.png"))
    else:
        print("plot_layers: the report has no traffic (written before the memory model): cycles only")
    return 0


if __name__ == "__main__":
    sys.exit(main())
