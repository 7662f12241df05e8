"""docs/scale.md's Slurm recipe on a real single-node Slurm (Debian's slurm-wlm and munge).

Run by `ctest --test-dir build -L slurm` (not in the default suite). It
installs slurm-wlm and munge when they are missing, installs mlssim into a temporary
prefix (cmake --install), writes a single-node slurm.conf for this host under a
temporary directory (no cgroups, no accounting, no systemd), starts munged, slurmctld
and slurmd as its own processes, and stops them by PID when it ends, also on failure
(each also gets SIGTERM if this process dies: PR_SET_PDEATHSIG).

Then, in a fresh environment (env -i: HOME, PATH=/usr/bin:/bin, SLURM_CONF, PREFIX,
TRACE, OUT), it writes shards.sbatch and merge.sbatch from the docs' blocks and runs
the docs' submit block, all exactly as printed, waits for the queue to empty (a
bound, never a hang), and compares the merged report with a one-process run apart
from the timing fields. A second submission with a trace that does not exist shows a
failed shard retried, and the merge naming each failed shard with its log.

CTest sets MLSSIM_BUILD_DIR (the build to install) and MLSSIM_SOURCE_DIR. With
MLSSIM_SLURM_KEEP=1 the temporary directory (configs, daemon and job logs) is kept.
"""
import ctypes
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

SOURCE_DIR = os.environ.get("MLSSIM_SOURCE_DIR") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD_DIR = os.environ.get("MLSSIM_BUILD_DIR") or os.path.join(SOURCE_DIR, "build")
sys.path.insert(0, os.path.join(SOURCE_DIR, "testbenches", "cli"))
from clitest import untimed  # noqa: E402 (found through the path just set)
SBIN = "/usr/sbin:/usr/bin:/sbin:/bin"
QUEUE_BOUND_S = 300
# A small network with 12 layer-passes, so that each of the recipe's 8 shards has work.
TOPOLOGY = {"model": "small", "layers": [
    {"name": "stem", "weight": [16, 3, 3, 3], "input": [3, 12, 12], "padding": 1},
    {"name": "mid", "weight": [16, 16, 3, 3], "input": [16, 12, 12], "padding": 1, "stride": 2},
    {"name": "dw", "weight": [16, 1, 3, 3], "input": [16, 6, 6], "padding": 1, "groups": 16},
    {"name": "fc", "kind": "linear", "weight": [10, 64], "input": [4, 64]}]}


def log(message):
    print("slurm test: " + message, file=sys.stderr, flush=True)


def docs_block(marker):
    """The fenced block right after `<!-- marker -->` in docs/scale.md, as printed."""
    with open(os.path.join(SOURCE_DIR, "docs", "scale.md")) as f:
        text = f.read()
    after = text.split("<!-- %s -->\n" % marker, 1)
    if len(after) != 2 or not after[1].startswith("```bash\n"):
        raise AssertionError("docs/scale.md: no bash block after <!-- %s -->" % marker)
    return after[1][len("```bash\n"):].split("\n```", 1)[0] + "\n"


def ensure_packages():
    """Debian's slurm-wlm (slurmctld, slurmd, the clients) and munge, installed when missing."""
    needed = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "sinfo")
    if all(shutil.which(p, path=SBIN) for p in needed):
        return
    log("installing slurm-wlm and munge with apt-get")
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = sudo + ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "slurm-wlm", "munge"]
    if subprocess.run(install, env=env).returncode != 0:
        subprocess.run(sudo + ["apt-get", "update", "-qq"], env=env, check=True)
        subprocess.run(install, env=env, check=True)
    missing = [p for p in needed if not shutil.which(p, path=SBIN)]
    if missing:
        raise AssertionError("after installing slurm-wlm and munge, still missing: " + ", ".join(missing))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def die_with_parent():
    """In the daemon's process before exec: SIGTERM when this test process dies (even by SIGKILL)."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def memory_mb():
    with open("/proc/meminfo") as f:
        return int(f.readline().split()[1]) // 1024


class Cluster:
    """munged, slurmctld and slurmd for this host, as child processes, configured under `root`."""

    def __init__(self, root):
        self.root = root
        self.procs = []  # (name, Popen), in start order
        self.host = socket.gethostname().split(".")[0]
        self.conf = os.path.join(root, "slurm.conf")
        self.socket = os.path.join(root, "munge", "munge.socket")

    def env(self):
        return {"PATH": SBIN, "SLURM_CONF": self.conf, "HOME": self.root}

    def start_munge(self):
        os.makedirs(os.path.join(self.root, "munge"), mode=0o700)
        key = os.path.join(self.root, "munge", "munge.key")
        with open(key, "wb") as f:
            f.write(os.urandom(1024))
        os.chmod(key, 0o400)
        d = os.path.join(self.root, "munge")
        self.spawn("munged", ["munged", "--foreground", "--force", "--socket", self.socket, "--key-file", key,
                              "--pid-file", d + "/munged.pid", "--log-file", d + "/munged.log",
                              "--seed-file", d + "/munged.seed"])
        self.wait_for(lambda: os.path.exists(self.socket), "munged's socket", 30)

    def write_conf(self):
        for d in ("state", "spool"):
            os.makedirs(os.path.join(self.root, d))
        # --mem=4G in the recipe: the node says at least that much (memory is not enforced here).
        conf = {
            "ClusterName": "mlssimtest", "SlurmctldHost": self.host,
            "SlurmctldPort": free_port(), "SlurmdPort": free_port(),
            "SlurmUser": "root", "SlurmdUser": "root",
            "AuthType": "auth/munge", "CredType": "cred/munge", "AuthInfo": "socket=" + self.socket,
            "StateSaveLocation": self.root + "/state", "SlurmdSpoolDir": self.root + "/spool",
            "SlurmctldPidFile": self.root + "/slurmctld.pid", "SlurmdPidFile": self.root + "/slurmd.pid",
            "SlurmctldLogFile": self.root + "/slurmctld.log", "SlurmdLogFile": self.root + "/slurmd.log",
            "ProctrackType": "proctrack/linuxproc", "TaskPlugin": "task/none",
            "JobAcctGatherType": "jobacct_gather/none", "AccountingStorageType": "accounting_storage/none",
            "JobCompType": "jobcomp/none", "SchedulerType": "sched/builtin",
            "SelectType": "select/cons_tres", "SelectTypeParameters": "CR_CPU", "MpiDefault": "none",
            "ReturnToService": "2", "MinJobAge": "600", "KillWait": "5", "InactiveLimit": "0",
        }
        lines = ["%s=%s" % kv for kv in conf.items()]
        lines.append("NodeName=%s CPUs=%d RealMemory=%d State=UNKNOWN" % (self.host, os.cpu_count() or 1,
                                                                          max(memory_mb(), 4096)))
        lines.append("PartitionName=test Nodes=%s Default=YES MaxTime=INFINITE State=UP" % self.host)
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")

    def start(self):
        self.start_munge()
        self.write_conf()
        self.spawn("slurmctld", ["slurmctld", "-D", "-i", "-f", self.conf])
        self.spawn("slurmd", ["slurmd", "-D", "-f", self.conf])
        self.wait_for(lambda: self.node_state() in ("idle", "mixed", "allocated"), "the node to be idle", 60)

    def spawn(self, name, argv):
        out = open(os.path.join(self.root, name + ".out"), "w")
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=self.env(), cwd=self.root,
                                preexec_fn=die_with_parent)
        out.close()
        self.procs.append((name, proc))
        log("started %s (pid %d)" % (name, proc.pid))

    def node_state(self):
        proc = subprocess.run(["sinfo", "-h", "-N", "-o", "%T"], capture_output=True, text=True, env=self.env())
        return proc.stdout.strip().rstrip("*~#") if proc.returncode == 0 else ""

    def wait_for(self, ready, what, bound):
        deadline = time.monotonic() + bound
        while not ready():
            for name, proc in self.procs:
                if proc.poll() is not None:
                    raise AssertionError("%s exited (%d) while waiting for %s:\n%s" % (
                        name, proc.returncode, what, self.tail(name)))
            if time.monotonic() > deadline:
                raise AssertionError("no %s after %d s:\n%s" % (what, bound, "\n".join(
                    self.tail(n) for n, _ in self.procs)))
            time.sleep(0.5)

    def tail(self, name, lines=15):
        text = ""
        for path in (os.path.join(self.root, name + ".out"), os.path.join(self.root, name + ".log"),
                     os.path.join(self.root, "munge", name + ".log")):
            if os.path.exists(path):
                with open(path, errors="replace") as f:
                    text += "".join(f.readlines()[-lines:])
        return "--- %s:\n%s" % (name, text)

    def stop(self):
        """Each daemon by its PID, the last started first: SIGTERM, then SIGKILL after 15 s."""
        for name, proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            log("stopped %s (pid %d)" % (name, proc.pid))
        self.procs = []

    def wait_queue_empty(self, bound=QUEUE_BOUND_S):
        def empty():
            proc = subprocess.run(["squeue", "-h"], capture_output=True, text=True, env=self.env())
            return proc.returncode == 0 and not proc.stdout.strip()
        self.wait_for(empty, "empty queue", bound)

    def job_state(self, job):
        proc = subprocess.run(["scontrol", "show", "job", str(job)], capture_output=True, text=True, env=self.env())
        found = re.search(r"JobState=(\S+)", proc.stdout)
        return found.group(1) if found else proc.stderr.strip()


def load(path):
    with open(path) as f:
        return json.load(f)


class SlurmRecipe(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        ensure_packages()
        cls.tmp = tempfile.mkdtemp(prefix="mlssim-slurm-")
        if not os.environ.get("MLSSIM_SLURM_KEEP"):  # set: keep the logs and configs to look at
            cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        cls.prefix = os.path.join(cls.tmp, "prefix")
        subprocess.run(["cmake", "--install", BUILD_DIR, "--prefix", cls.prefix], check=True,
                       stdout=subprocess.DEVNULL)
        cls.cluster = Cluster(os.path.join(cls.tmp, "cluster"))
        os.makedirs(cls.cluster.root)
        cls.addClassCleanup(cls.cluster.stop)  # runs even when start() fails half-way
        cls.cluster.start()
        cls.mlssim = os.path.join(cls.prefix, "bin", "mlssim")
        cls.trace = os.path.join(cls.tmp, "trace")
        topology = os.path.join(cls.tmp, "small.json")
        with open(topology, "w") as f:
            json.dump(TOPOLOGY, f)
        subprocess.run([cls.mlssim, "synth", topology, "--out", cls.trace, "--batch", "2"], check=True,
                       stdout=subprocess.DEVNULL)

    def submit(self, name, trace):
        """Writes the docs' scripts into a fresh directory and runs the submit block there, in a
        fresh environment; waits for the queue to empty. Returns (directory, OUT, merge job id)."""
        work = os.path.join(self.tmp, name)
        os.makedirs(work)
        for file, marker in (("shards.sbatch", "scale-slurm-script"), ("merge.sbatch", "scale-slurm-merge")):
            with open(os.path.join(work, file), "w") as f:
                f.write(docs_block(marker))
        out = "runs/" + name
        env = dict(self.cluster.env(), HOME=work, PREFIX=self.prefix, TRACE=trace, OUT=out)
        proc = subprocess.run(["env", "-i", *("%s=%s" % kv for kv in env.items()), "bash", "-c",
                               docs_block("scale-slurm-submit")],
                              cwd=work, capture_output=True, text=True, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        merge_job = re.search(r"Submitted batch job (\d+)", proc.stdout)
        self.assertIsNotNone(merge_job, proc.stdout)
        try:
            self.cluster.wait_queue_empty()
        except AssertionError:
            subprocess.run(["scancel", "--user", "root"], env=self.cluster.env())
            raise
        return work, os.path.join(work, out), merge_job.group(1)

    def read(self, path):
        with open(path, errors="replace") as f:
            return f.read()

    def test_the_recipe_as_printed_gives_the_one_process_report(self):
        work, out, merge_job = self.submit("ok", self.trace)
        merge_log = self.read(os.path.join(work, "logs", "merge.log"))
        self.assertEqual(self.cluster.job_state(merge_job), "COMPLETED", merge_log)
        self.assertIn("merge: 8 partial report(s), 12 layer-passes", merge_log)
        for i in range(1, 9):
            shard_log = self.read(os.path.join(work, "logs", "shard-%d.log" % i))
            self.assertRegex(shard_log, r"run: 1/\d+ ", "shard %d" % i)
            self.assertNotIn("failed", shard_log)
        whole = os.path.join(self.tmp, "whole.json")
        subprocess.run([self.mlssim, "run", self.trace, "--check", "--quiet", "--no-progress", "--report", whole],
                       check=True)
        merged = load(os.path.join(out, "report.json"))
        self.assertEqual(len(merged["layers"]), 12)
        self.assertEqual(untimed(merged), untimed(load(whole)))

    def test_failed_shards_are_retried_then_named_by_the_merge(self):
        work, out, merge_job = self.submit("bad", os.path.join(self.tmp, "no-such-trace"))
        merge_log = self.read(os.path.join(work, "logs", "merge.log"))
        self.assertEqual(self.cluster.job_state(merge_job), "FAILED", merge_log)
        for i in range(1, 9):
            shard_log = self.read(os.path.join(work, "logs", "shard-%d.log" % i))
            self.assertEqual(shard_log.count("no-such-trace"), 3, shard_log)  # three attempts
            self.assertIn("shard %d/8: attempt 3 of 3 failed (exit status 1)" % i, shard_log)
            self.assertIn("merge: shard %d/8 failed, no %s/part-%d.json; its log, logs/shard-%d.log, ends:"
                          % (i, "runs/bad", i, i), merge_log)
        self.assertFalse(os.path.exists(os.path.join(out, "report.json")))


if __name__ == "__main__":
    unittest.main()
