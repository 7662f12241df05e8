#!/usr/bin/python3
"""End-to-end benchmark: one training iteration of a network (all three passes
of every layer) from a synthetic trace, simulated with --check, at several -j.

For each -j it measures the wall time, the CPU time (user + system of mlssim and
every worker it waited for, from wait4), and the peak resident memory: of the
largest process exactly (wait4), and of the whole process tree (mlssim and its
workers, sampled from /proc every 0.2 s, at least the largest process's: what
the machine must hold at once), and reads the products, cycles and the
bit-exact verdict from the run's report. Defaults: ResNet-18 at 224 x 224,
batch 32, -j 1 and 2 (bench/README.md has the figures).

    /usr/bin/python3 bench/e2e_train_iteration.py --mlssim build/sim/mlssim
    /usr/bin/python3 bench/e2e_train_iteration.py --batch 2 --jobs 2 --work /tmp/e2e
"""
import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGE = os.sysconf("SC_PAGE_SIZE")


def children_of():
    """pid -> list of child pids, from /proc/*/stat."""
    kids = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        kids.setdefault(ppid, []).append(int(name))
    return kids


def rss_bytes(pid):
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * PAGE
    except OSError:
        return 0


def tree_rss(root):
    """(sum over the process tree, largest single process) of resident bytes."""
    kids = children_of()
    total = largest = 0
    todo = [root]
    while todo:
        pid = todo.pop()
        r = rss_bytes(pid)
        total += r
        largest = max(largest, r)
        todo.extend(kids.get(pid, []))
    return total, largest


def measured_run(cmd, stdout_path, stderr_path):
    """Runs cmd; returns (exit code, wall s, CPU s, peak tree bytes, peak process bytes).

    The largest process's peak is exact: wait4's ru_maxrss of the finished child,
    which the kernel takes over the child and every descendant it waited for (the
    workers). The tree's sum is sampled from /proc every 0.2 s, which a short run can
    miss, so it is reported as at least the largest process's peak: a lower bound."""
    with open(stdout_path, "w") as out, open(stderr_path, "w") as err:
        start = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err)
        peak_tree = peak_proc = 0
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            tree, largest = tree_rss(proc.pid)
            peak_tree, peak_proc = max(peak_tree, tree), max(peak_proc, largest)
            time.sleep(0.2)
        wall = time.monotonic() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    peak_proc = max(peak_proc, usage.ru_maxrss * 1024)
    cpu = usage.ru_utime + usage.ru_stime  # the workers' too: the parent waits for each
    return proc.returncode, wall, cpu, max(peak_tree, peak_proc), peak_proc


def write_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mlssim", default=os.path.join(ROOT, "build", "sim", "mlssim"))
    ap.add_argument("--topology", default=os.path.join(ROOT, "topologies", "resnet18.json"))
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jobs", default="1,2", help="comma list of -j values")
    ap.add_argument("--work", default="/tmp/mlssim-e2e", help="trace, reports and logs go here")
    ap.add_argument("--out", help="results JSON (default: WORK/results.json)")
    ap.add_argument("run_args", nargs="*", help="more `mlssim run` flags, after --")
    a = ap.parse_args()
    jobs = [int(j) for j in a.jobs.split(",")]
    os.makedirs(a.work, exist_ok=True)
    model = os.path.splitext(os.path.basename(a.topology))[0]
    trace = os.path.join(a.work, f"{model}-b{a.batch}-s{a.seed}")
    if not os.path.exists(os.path.join(trace, "manifest.json")):
        s = subprocess.run([a.mlssim, "synth", a.topology, "--out", trace, "--batch", str(a.batch), "--seed",
                            str(a.seed)], capture_output=True, text=True)
        if s.returncode:
            sys.exit(f"e2e: synth failed: {s.stderr.strip()}")
    rows = []
    for j in jobs:
        report = os.path.join(a.work, f"report-j{j}.json")
        if os.path.exists(report):
            os.remove(report)
        cmd = [a.mlssim, "run", trace, "--check", "-j", str(j), "--report", report, *a.run_args]
        print(f"e2e: {' '.join(cmd)}", flush=True)
        code, wall, cpu, tree, proc = measured_run(cmd, os.path.join(a.work, f"stdout-j{j}.txt"),
                                              os.path.join(a.work, f"stderr-j{j}.txt"))
        if code:
            sys.exit(f"e2e: -j {j} exited {code}; see {a.work}/stderr-j{j}.txt")
        with open(report) as f:
            total = json.load(f)["total"]
        if not total["bit_exact"]:
            sys.exit(f"e2e: -j {j}: the array and the golden model disagree ({report})")
        rows.append({"jobs": j, "wall_seconds": round(wall, 4), "cpu_seconds": round(cpu, 4),
                     "peak_rss_tree_bytes": tree, "peak_rss_process_bytes": proc, "macs": total["macs"],
                     "cycles": total["cycles"], "bit_exact": total["bit_exact"],
                     "macs_per_wall_second": total["macs"] / wall, "macs_per_cpu_second": total["macs"] / cpu})
        print(f"e2e: -j {j}: {wall:.1f} s ({cpu:.1f} CPU-s), peak RSS {tree / 2**20:.0f} MiB (largest process "
              f"{proc / 2**20:.0f} MiB), {total['macs'] / 1e9:.2f} G MACs, {total['macs'] / wall:.3g} MACs/s, "
              "bit-exact", flush=True)
    same = len({(r["macs"], r["cycles"]) for r in rows}) == 1
    result = {"topology": os.path.relpath(a.topology, ROOT) if a.topology.startswith(ROOT) else a.topology,
              "batch": a.batch, "seed": a.seed, "run_args": a.run_args, "runs": rows,
              "same_macs_and_cycles": same}
    write_atomic(a.out or os.path.join(a.work, "results.json"), json.dumps(result, indent=2) + "\n")
    print("| -j | wall | CPU | peak RSS (all processes) | largest process | MACs | MACs / wall s | MACs / CPU s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['jobs']} | {r['wall_seconds']:.0f} s | {r['cpu_seconds']:.0f} s | "
              f"{r['peak_rss_tree_bytes'] / 2**20:.0f} MiB | {r['peak_rss_process_bytes'] / 2**20:.0f} MiB | "
              f"{r['macs'] / 1e9:.1f} G | {r['macs_per_wall_second']:.3g} | {r['macs_per_cpu_second']:.3g} |")
    if not same:
        sys.exit("e2e: the runs' MACs or cycles differ between -j values")


if __name__ == "__main__":
    main()
