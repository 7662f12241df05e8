"""Energy against trained accuracy: the figure of tools/plot_sweep.py for sweeps whose points
train (train_steps > 0, docs/sweep.md#accuracy-from-training), and of tools/accuracy_table.py
(docs/accuracy.md). One marker per configuration at its mean held-out accuracy, a bar from the
lowest to the highest of its seeds, and the Pareto front (lower energy, higher mean accuracy).
"""
import statistics

import mlssim_figures

SEED_PARAM = "train_seed"  # the points that differ only in it are one configuration's seeds


def accuracy_front(entries):
    """The entries (energy, accuracy, ...) no other entry beats on both lower energy and higher
    accuracy, by energy."""
    front = []
    for entry in sorted(entries, key=lambda e: (e[0], -e[1])):
        if not front or entry[1] > front[-1][1]:
            front.append(entry)
    return front


def draw(ax, configs, labels=True):
    """configs: [(label, energy, [accuracy per seed])]. Draws each configuration's mean with its
    min-max bar and the Pareto front of the means; returns [(energy, mean accuracy, label)] and the
    front. Labels are written beside the points unless `labels` is False (the caller places them)."""
    means = [(energy, statistics.mean(accs), label) for label, energy, accs in configs]
    for (label, energy, accs), (_, mean, _) in zip(configs, means):
        ax.errorbar(energy, mean, yerr=[[mean - min(accs)], [max(accs) - mean]], fmt="o", ms=5, capsize=3,
                    color="tab:blue", ecolor="0.45", zorder=3)
        if labels:
            ax.annotate(label, (energy, mean), fontsize=7, xytext=(4, 4), textcoords="offset points")
    front = accuracy_front(means)
    ax.plot([f[0] for f in front], [f[1] for f in front], "--", color="crimson", lw=1.2, zorder=2,
            label="Pareto front (mean accuracy)")
    ax.scatter([f[0] for f in front], [f[1] for f in front], s=110, facecolors="none", edgecolors="crimson",
               zorder=4)
    return means, front


def configurations(points, params, energy_name, metric):
    """The sweep's points that trained, one configuration per setting of `params` but train_seed:
    [(label, mean energy, [train_accuracy per seed], [point ids])], in first-seen order."""
    keys = [n for n in params if n != SEED_PARAM]
    groups = {}
    for p in points:
        setting = tuple((n, p["params"].get(n)) for n in keys)
        groups.setdefault(setting, []).append(p)
    out = []
    for setting, mine in groups.items():
        label = ", ".join("%s=%s" % (n, v) for n, v in setting if mlssim_figures.has_value(v)) or "(all)"
        energy = statistics.mean(metric(p, energy_name) for p in mine)
        out.append((label, energy, [metric(p, "train_accuracy") for p in mine], [p["id"] for p in mine]))
    return out


def trained_points(results, metric, energy_name):
    return [p for p in results["points"]
            if metric(p, "train_accuracy") is not None and metric(p, energy_name) is not None]
