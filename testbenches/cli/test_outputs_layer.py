"""One output layer for every command (ref/io/file_io.h, issue 29 findings 1 and 2).

An output target that is not a regular file is never replaced by a rename: a FIFO,
a character device or an open descriptor is written into (that is what naming it
asks for), a socket or a directory is refused before any work. All outputs of a
command are committed together or not at all: a failure at commit time (a device
that reports a full disk) puts back every file already renamed into place.

The character devices are made here with mknod (1,3 like /dev/null, 1,7 like
/dev/full) in a temporary directory; the machine's own /dev is never written.
"""
import json
import os
import socket
import stat
import tempfile
import threading
import unittest

import numpy as np

from clitest import MLSSIM, mlssim, conv_layer, write_trace


def make_trace(root):
    rng = np.random.default_rng(3)
    write_trace(root, [conv_layer(rng, "c1", co=4, ci=3, h=5, batch=1)])
    return root


class FifoReader:
    """Reads a FIFO on a thread until EOF (a daemon: a FIFO nobody writes leaves it blocked)."""

    def __init__(self, path):
        self.data = None
        self.thread = threading.Thread(target=self._read, args=(path,), daemon=True)
        self.thread.start()

    def _read(self, path):
        with open(path, "rb") as f:
            self.data = f.read()

    def result(self, timeout=30):
        self.thread.join(timeout)
        return self.data


class OutputTargets(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name
        self.trace = make_trace(os.path.join(self.dir, "trace"))
        self.out = os.path.join(self.dir, "out")
        os.mkdir(self.out)

    def tearDown(self):
        self.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.out, name)

    def run_fwd(self, *flags, ok=True):
        return mlssim("run", self.trace, "--passes", "fwd", "--quiet", "--no-progress", *flags, ok=ok)

    def mknod_char(self, name, minor):
        if os.geteuid() != 0:
            self.skipTest("mknod needs root")
        p = self.path(name)
        os.mknod(p, 0o666 | stat.S_IFCHR, os.makedev(1, minor))
        return p

    def assert_one_error_line(self, proc, *words):
        self.assertEqual(proc.returncode, 1, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, proc.stderr)
        for w in words:
            self.assertIn(w, lines[0])

    def test_report_into_a_fifo_is_streamed_and_the_fifo_kept(self):
        fifo = self.path("report.fifo")
        os.mkfifo(fifo)
        reader = FifoReader(fifo)
        self.run_fwd("--report", fifo)
        self.assertTrue(stat.S_ISFIFO(os.lstat(fifo).st_mode), "the FIFO was replaced")
        data = reader.result()
        self.assertIsNotNone(data, "nothing was written into the FIFO")
        self.assertEqual(json.loads(data)["layers"][0]["name"], "c1")

    def test_energy_and_quantize_outputs_into_fifos(self):
        report = self.path("r.json")
        self.run_fwd("--report", report)
        fifo = self.path("priced.fifo")
        os.mkfifo(fifo)
        reader = FifoReader(fifo)
        mlssim("energy", report, "--tech", "horowitz-45nm", "--out", fifo)
        self.assertTrue(stat.S_ISFIFO(os.lstat(fifo).st_mode))
        self.assertIn("energy", json.loads(reader.result())["total"])
        x = os.path.join(self.dir, "x.npy")
        np.save(x, np.linspace(-1, 1, 16, dtype=np.float32))
        fifo2 = self.path("dequant.fifo")
        os.mkfifo(fifo2)
        reader = FifoReader(fifo2)
        mlssim("quantize", x, "--dequant", fifo2)
        self.assertTrue(stat.S_ISFIFO(os.lstat(fifo2).st_mode))
        self.assertTrue(reader.result().startswith(b"\x93NUMPY"))

    def test_a_null_like_device_is_written_into_not_replaced(self):
        null = self.mknod_char("null", 3)
        self.run_fwd("--report", null)
        self.assertTrue(stat.S_ISCHR(os.lstat(null).st_mode), "the device was replaced by a file")
        x = os.path.join(self.dir, "x.npy")
        np.save(x, np.ones(8, dtype=np.float32))
        mlssim("quantize", x, "--dequant", null)
        self.assertTrue(stat.S_ISCHR(os.lstat(null).st_mode))

    def test_a_full_device_fails_cleanly_and_rolls_back_the_other_outputs(self):
        full = self.mknod_char("full", 7)
        outputs = self.path("results")
        os.mkdir(outputs)
        old = os.path.join(outputs, "c1.fwd.npy")
        with open(old, "w") as f:
            f.write("old")
        p = self.run_fwd("--report", full, "--outputs", outputs, "--vcd", self.path("wave"), ok=False)
        self.assert_one_error_line(p, full, "No space left")
        self.assertTrue(stat.S_ISCHR(os.lstat(full).st_mode), "the device was replaced by a file")
        with open(old) as f:
            self.assertEqual(f.read(), "old", "a renamed output was not put back")
        self.assertEqual(sorted(os.listdir(outputs)), ["c1.fwd.npy"])
        self.assertEqual(sorted(os.listdir(self.out)), ["full", "results"])

    def test_a_descriptor_path_is_written_into(self):
        p = self.run_fwd("--report", "/proc/self/fd/1")
        self.assertEqual(json.loads(p.stdout)["layers"][0]["name"], "c1")

    def test_a_socket_is_refused_before_any_work(self):
        sock_path = self.path("sock")
        s = socket.socket(socket.AF_UNIX)
        s.bind(sock_path)
        try:
            p = self.run_fwd("--report", sock_path, "--outputs", self.path("res"), ok=False)
            self.assert_one_error_line(p, "--report", "socket")
            self.assertTrue(stat.S_ISSOCK(os.lstat(sock_path).st_mode))
            self.assertFalse(os.path.exists(self.path("res")))
        finally:
            s.close()

    def test_a_directory_on_an_outputs_name_renames_nothing_in(self):
        outputs = self.path("results")
        os.makedirs(os.path.join(outputs, "c1.fwd.npy"))
        report, vcd = self.path("r.json"), self.path("wave")
        p = self.run_fwd("--outputs", outputs, "--report", report, "--vcd", vcd, ok=False)
        self.assert_one_error_line(p, "--outputs", "c1.fwd.npy", "directory")
        self.assertEqual(sorted(os.listdir(self.out)), ["results"])
        self.assertEqual(os.listdir(outputs), ["c1.fwd.npy"])
        self.assertEqual(os.listdir(os.path.join(outputs, "c1.fwd.npy")), [])

    def test_quantize_parts_with_a_directory_on_one_name_writes_nothing(self):
        parts = self.path("parts")
        os.makedirs(os.path.join(parts, "st.npy"))
        x = os.path.join(self.dir, "x.npy")
        np.save(x, np.ones(8, dtype=np.float32))
        dequant = self.path("d.npy")
        p = mlssim("quantize", x, "--dequant", dequant, "--parts", parts, ok=False)
        self.assert_one_error_line(p, "st.npy", "directory")
        self.assertFalse(os.path.exists(dequant))
        self.assertEqual(os.listdir(parts), ["st.npy"])

    def test_a_sweep_checks_its_result_files_before_any_point_runs(self):
        sweep = os.path.join(self.dir, "s.yaml")
        with open(sweep, "w") as f:
            f.write("trace: %s\npasses: [fwd]\ngrid:\n  elem: [e2m4]\n" % self.trace)
        res = self.path("res")
        os.makedirs(os.path.join(res, "results.csv"))
        p = mlssim("sweep", sweep, "-j", "1", "--out", res, ok=False)
        self.assert_one_error_line(p, "results.csv", "directory")
        self.assertEqual(os.listdir(res), ["results.csv"])


if __name__ == "__main__":
    unittest.main()
