"""Reliability: hostile inputs get a one-line user error, never a crash.

One test (or a few) per defect class of the reliability audit. Every bad input
must end with exit status 1 or 2 (never 3, the internal-error status, and
never a signal), print one line on stderr naming the file or flag at fault,
finish in bounded time and memory, and leave the output side exactly as it
was: no new file, no changed file, no temporary file, no directory.
"""
import json
import os
import resource
import shutil
import signal
import stat
import struct
import subprocess
import tempfile
import time
import unittest

import numpy as np

MLSSIM = os.environ["MLSSIM"]
SOURCE = os.environ.get("MLSSIM_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
SAMPLE = os.path.join(SOURCE, "traces", "resnet20-digits")
# Peak memory any refused input may take (the program itself is ~100 MB).
MAX_RSS_BYTES = 600 << 20


def run(*args, cwd=None, timeout=120):
    """Runs mlssim; returns (exit status or -signal, stdout, stderr)."""
    proc = subprocess.Popen([MLSSIM, *map(str, args)], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise
    return proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")


def peak_rss_of(args, timeout=120):
    """Peak RSS in bytes of one mlssim run (wait4 on that child alone)."""
    proc = subprocess.Popen([MLSSIM, *map(str, args)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL)
    deadline = time.time() + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.time() > deadline:
            proc.kill()
            raise AssertionError("mlssim %s did not finish in %d s" % (args, timeout))
        time.sleep(0.02)
    code = proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    return code, err, usage.ru_maxrss * 1024


def tree_state(root):
    """Every path under root with its size and mtime, to detect any change."""
    state = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            state[os.path.relpath(path, root)] = (st.st_size, st.st_mtime_ns, stat.S_IFMT(st.st_mode))
    return state


def write_npy_v1(path, header_dict_text, payload=b""):
    header = header_dict_text.encode() + b"\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + payload)


def small_trace(root, layers=None, **layer_keys):
    """A two-layer conv trace of random tensors; returns the manifest dict."""
    os.makedirs(root, exist_ok=True)
    rng = np.random.default_rng(0)
    layers = layers or ["a", "b"]
    entries = []
    for i, name in enumerate(layers):
        files = {"weight": "t%d.w.npy" % i, "input": "t%d.a.npy" % i, "grad_output": "t%d.e.npy" % i}
        np.save(os.path.join(root, files["weight"]), rng.standard_normal((4, 3, 3, 3)).astype(np.float32))
        np.save(os.path.join(root, files["input"]), rng.standard_normal((1, 3, 6, 6)).astype(np.float32))
        np.save(os.path.join(root, files["grad_output"]), rng.standard_normal((1, 4, 6, 6)).astype(np.float32))
        entry = {"name": name, "kind": "conv2d", "stride": [1, 1], "padding": [1, 1], **files}
        entry.update(layer_keys)
        entries.append(entry)
    manifest = {"format": "mls-trace/1", "model": "tiny", "layers": entries}
    with open(os.path.join(root, "manifest.json"), "w") as f:
        json.dump(manifest, f)
    return manifest


def rewrite_manifest(root, edit):
    path = os.path.join(root, "manifest.json")
    with open(path) as f:
        manifest = json.load(f)
    edit(manifest)
    with open(path, "w") as f:
        json.dump(manifest, f)


class Base(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="mlssim-rel-")
        self.out = os.path.join(self.dir, "out")
        os.makedirs(self.out)

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def assert_user_error(self, args, *needles, cwd=None, timeout=120):
        """Exit 1 or 2, one stderr line holding every needle, nothing new in self.out."""
        before = tree_state(self.out)
        code, out, err = run(*args, cwd=cwd, timeout=timeout)
        lines = [l for l in err.splitlines() if l.strip()]
        self.assertIn(code, (1, 2), "exit %s for %s: %s" % (code, args, err[-2000:]))
        self.assertEqual(len(lines), 1, "expected one error line, got: %r" % err[-2000:])
        self.assertLess(len(lines[0]), 600, "error line too long: %r" % lines[0][:300])
        self.assertNotIn("internal error", lines[0])
        for needle in needles:
            self.assertIn(needle, lines[0])
        self.assertEqual(tree_state(self.out), before, "the output directory changed")
        return lines[0]


class PathEscape(Base):
    def test_layer_name_with_dot_dot_is_refused(self):
        trace = os.path.join(self.dir, "t")
        small_trace(trace, layers=["../../escaped", "b"])
        self.assert_user_error(["run", trace, "--passes", "fwd", "--outputs", os.path.join(self.out, "o")],
                               "manifest.json", "layer name")
        self.assertFalse(os.path.exists(os.path.join(self.dir, "escaped.fwd.npy")))

    def test_empty_and_slashed_names_are_refused(self):
        for name in ["", "a/b", ".hidden", "x\\y", "-flag"]:
            trace = os.path.join(self.dir, "t" + str(abs(hash(name))))
            small_trace(trace, layers=[name, "b"])
            self.assert_user_error(["run", trace, "--passes", "fwd", "--outputs", os.path.join(self.out, "o")],
                                   "manifest.json")

    def test_pytorch_names_are_accepted(self):
        trace = os.path.join(self.dir, "t")
        small_trace(trace, layers=["layer1.0.conv1", "features-3_b"])
        code, _, err = run("run", trace, "--passes", "fwd", "--quiet", "--outputs", self.out)
        self.assertEqual(code, 0, err)
        self.assertTrue(os.path.exists(os.path.join(self.out, "layer1.0.conv1.fwd.npy")))


class StackDepth(Base):
    def test_long_npy_descr(self):
        path = os.path.join(self.dir, "long.npy")
        write_npy_v1(path, "{'descr': '%s', 'fortran_order': False, 'shape': (2,), }" % ("x" * 60000))
        self.assert_user_error(["quantize", path, "--dequant", os.path.join(self.out, "q.npy")], "long.npy")

    def test_long_npy_shape_and_huge_header(self):
        path = os.path.join(self.dir, "shape.npy")
        write_npy_v1(path, "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }" % ("1, " * 20000))
        self.assert_user_error(["quantize", path, "--dequant", os.path.join(self.out, "q.npy")], "shape.npy")
        v2 = os.path.join(self.dir, "v2.npy")
        with open(v2, "wb") as f:  # a version-2 header claiming 4 GB
            f.write(b"\x93NUMPY\x02\x00" + struct.pack("<I", 0xFFFFFFF0) + b"{")
        self.assert_user_error(["quantize", v2, "--dequant", os.path.join(self.out, "q.npy")], "v2.npy")

    def test_long_plain_scalar_in_sweep_and_table(self):
        sweep = os.path.join(self.dir, "s.yaml")
        with open(sweep, "w") as f:
            f.write("trace: %s\ngrid:\n  elem: [%s]\n" % (SAMPLE, "9" * 200000 + ".5e1x"))
        self.assert_user_error(["sweep", sweep, "--out", self.out], "s.yaml")
        table = os.path.join(self.dir, "t.yaml")
        with open(table, "w") as f:
            f.write("unit: pJ\nenergy:\n  lowbit_mul: %s\n" % ("1" * 200000 + "e"))
        self.assert_user_error(["energy", os.path.join(self.dir, "none.json"), "--tech", table], "t.yaml")

    def test_deeply_nested_documents(self):
        sweep = os.path.join(self.dir, "deep.yaml")
        with open(sweep, "w") as f:
            f.write("trace: x\ngrid: " + "[" * 5000 + "]" * 5000 + "\n")
        self.assert_user_error(["sweep", sweep, "--out", self.out], "deep.yaml")
        table = os.path.join(self.dir, "deep.json")
        with open(table, "w") as f:
            f.write('{"unit": "pJ", "energy": ' + "[" * 100000 + "]" * 100000 + "}")
        self.assert_user_error(["energy", os.path.join(self.dir, "none.json"), "--tech", table], "deep.json")
        # JSON sweeps and reports: values are copied and written recursively
        deep = "[" * 100000 + "]" * 100000
        sweep_json = os.path.join(self.dir, "deep-sweep.json")
        with open(sweep_json, "w") as f:
            f.write('{"trace": "x", "grid": {"rows": %s}}' % deep)
        self.assert_user_error(["sweep", sweep_json, "--list"], "deep-sweep.json", "nested")
        report = os.path.join(self.dir, "deep-report.json")
        with open(report, "w") as f:
            f.write('{"layers": [{"name": "conv1", "pass": "fwd", "events": {"x": %s}}], "total": {"events": {}}}'
                    % deep)
        self.assert_user_error(["energy", report, "--out", os.path.join(self.out, "e.json")], "deep-report.json")
        self.assert_user_error(["run", SAMPLE, "--layers", "conv1", "--passes", "fwd", "--quiet", "--expect", report],
                               "deep-report.json")


class VcdPath(Base):
    def test_missing_and_unwritable_vcd_directory(self):
        for vcd in [os.path.join(self.dir, "no", "such", "w.vcd"), "/proc/w.vcd"]:
            self.assert_user_error(["run", SAMPLE, "--layers", "conv1", "--passes", "fwd", "--vcd", vcd,
                                    "--report", os.path.join(self.out, "r.json")], vcd)


class BoundedMemory(Base):
    def test_huge_padding_is_refused_quickly(self):
        for padding in [1000, 10 ** 9, 4294967297]:
            trace = os.path.join(self.dir, "p%d" % padding)
            small_trace(trace, padding=[padding, padding])
            code, err, rss = peak_rss_of(["run", trace, "--passes", "fwd", "--quiet"])
            self.assertEqual(code, 1, err)
            self.assertIn("padding", err)
            self.assertLess(rss, MAX_RSS_BYTES)

    def test_conv_command_geometry(self):
        trace = os.path.join(self.dir, "t")
        small_trace(trace)
        code, err, rss = peak_rss_of(["conv", "--pass", "fwd", "--weight", os.path.join(trace, "t0.w.npy"),
                                      "--input", os.path.join(trace, "t0.a.npy"), "--padding", "1000",
                                      "--out", os.path.join(self.out, "o.npy")])
        self.assertEqual(code, 1, err)
        self.assertLess(rss, MAX_RSS_BYTES)
        self.assertEqual(os.listdir(self.out), [])

    def billion_laughs(self, head):
        lines = [head, 'a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
        for i in range(1, 10):
            refs = ",".join(["*a%d" % (i - 1)] * 10)
            lines.append("a%d: &a%d [%s]" % (i, i, refs))
        return "\n".join(lines) + "\n"

    def test_yaml_alias_bomb_in_table_and_sweep(self):
        table = os.path.join(self.dir, "bomb.yaml")
        with open(table, "w") as f:
            f.write(self.billion_laughs("unit: pJ"))
        report = os.path.join(self.dir, "r.json")
        with open(report, "w") as f:
            f.write("{}")
        code, err, rss = peak_rss_of(["energy", report, "--tech", table], timeout=60)
        self.assertEqual(code, 1, err)
        self.assertIn("bomb.yaml", err)
        self.assertLess(rss, MAX_RSS_BYTES)
        sweep = os.path.join(self.dir, "bomb-sweep.yaml")
        with open(sweep, "w") as f:
            f.write(self.billion_laughs("trace: x"))
        code, err, rss = peak_rss_of(["sweep", sweep, "--out", self.out], timeout=60)
        self.assertEqual(code, 1, err)
        self.assertIn("bomb-sweep.yaml", err)
        self.assertLess(rss, MAX_RSS_BYTES)


class Narrowing(Base):
    def test_manifest_integers_out_of_range(self):
        for key, value in [("stride", 4294967297), ("padding", 4294967297), ("stride", -1), ("dilation", 0),
                           ("padding", [1, 2 ** 40]), ("stride", 1.5), ("stride", "2")]:
            trace = os.path.join(self.dir, "n-%s-%s" % (key, abs(hash(str(value)))))
            small_trace(trace, **{key: value})
            self.assert_user_error(["run", trace, "--passes", "fwd", "--report", os.path.join(self.out, "r.json")],
                                   "manifest.json", key)

    def test_flags_out_of_range(self):
        report = os.path.join(self.out, "r.json")
        self.assert_user_error(["run", SAMPLE, "--seed", "-1", "--report", report], "--seed")
        self.assert_user_error(["run", SAMPLE, "--seed", "18446744073709551616", "--report", report], "--seed")
        self.assert_user_error(["run", SAMPLE, "--threads", "0", "--report", report], "--threads")
        self.assert_user_error(["quantize", os.path.join(SAMPLE, "conv1.weight.npy"), "--threads", "-3",
                                "--dequant", os.path.join(self.out, "q.npy")], "--threads")
        self.assert_user_error(["run", SAMPLE, "--rows", "4294967297", "--report", report], "rows")


class NothingNewOnFailure(Base):
    def test_nan_in_a_later_layer_leaves_nothing(self):
        trace = os.path.join(self.dir, "t")
        small_trace(trace)
        a = np.load(os.path.join(trace, "t1.a.npy"))
        a[0, 1, 2, 3] = np.nan
        np.save(os.path.join(trace, "t1.a.npy"), a)
        self.assert_user_error(["run", trace, "--outputs", os.path.join(self.out, "results"),
                                "--vcd", os.path.join(self.out, "wave.vcd"),
                                "--report", os.path.join(self.out, "r.json")], "t1.a.npy", "NaN")
        self.assertEqual(os.listdir(self.out), [])

    def test_the_first_inf_past_the_first_read_block_is_named(self):
        # The trace is checked block by block as it is read (65,536 values a
        # block): an Inf in the second block is named by its flat index.
        trace = os.path.join(self.dir, "t")
        small_trace(trace)
        a = np.ones((1, 3, 160, 160), dtype=np.float32)
        a.flat[70001] = np.inf
        a.flat[70005] = np.nan
        np.save(os.path.join(trace, "t1.a.npy"), a)
        np.save(os.path.join(trace, "t1.e.npy"), np.ones((1, 4, 160, 160), dtype=np.float32))
        self.assert_user_error(["run", trace, "--report", os.path.join(self.out, "r.json")],
                               "t1.a.npy", "Inf at flat index 70001")
        self.assertEqual(os.listdir(self.out), [])

    def test_failed_quantize_leaves_no_parts_directory(self):
        bad = os.path.join(self.dir, "bad.npy")
        np.save(bad, np.array([1.0, np.inf], dtype=np.float32))
        self.assert_user_error(["quantize", bad, "--parts", os.path.join(self.out, "p", "q"),
                                "--dequant", os.path.join(self.out, "d.npy")], "Inf")
        self.assertEqual(os.listdir(self.out), [])

    def test_success_writes_everything(self):
        trace = os.path.join(self.dir, "t")
        small_trace(trace)
        code, _, err = run("run", trace, "--quiet", "--outputs", os.path.join(self.out, "results"),
                           "--vcd", os.path.join(self.out, "wave"), "--report", os.path.join(self.out, "r.json"))
        self.assertEqual(code, 0, err)
        self.assertEqual(sorted(os.listdir(self.out)), ["r.json", "results", "wave.vcd"])
        self.assertEqual(len(os.listdir(os.path.join(self.out, "results"))), 6)
        with open(os.path.join(self.out, "wave.vcd")) as f:
            self.assertIn("$enddefinitions", f.read(100000))


class OutputIsInput(Base):
    def test_report_equal_to_manifest(self):
        trace = os.path.join(self.dir, "t")
        small_trace(trace)
        manifest = os.path.join(trace, "manifest.json")
        with open(manifest, "rb") as f:
            before = f.read()
        for report in [manifest, os.path.join(trace, ".", "manifest.json")]:
            self.assert_user_error(["run", trace, "--report", report], "--report", "input")
        with open(manifest, "rb") as f:
            self.assertEqual(f.read(), before)

    def test_dequant_and_energy_out_equal_to_input(self):
        x = os.path.join(self.dir, "x.npy")
        np.save(x, np.ones((2, 3), dtype=np.float32))
        with open(x, "rb") as f:
            before = f.read()
        self.assert_user_error(["quantize", x, "--dequant", x], "--dequant", "input")
        link = os.path.join(self.dir, "link.npy")
        os.symlink(x, link)
        self.assert_user_error(["quantize", x, "--dequant", link], "--dequant", "input")
        with open(x, "rb") as f:
            self.assertEqual(f.read(), before)
        report = os.path.join(self.out, "r.json")
        code, _, err = run("run", SAMPLE, "--layers", "conv1", "--passes", "fwd", "--quiet", "--report", report)
        self.assertEqual(code, 0, err)
        self.assert_user_error(["energy", report, "--out", report], "--out", "input")
        conv_w = os.path.join(SAMPLE, "conv1.weight.npy")
        self.assert_user_error(["conv", "--pass", "fwd", "--weight", conv_w, "--input",
                                os.path.join(SAMPLE, "conv1.input.npy"), "--out", conv_w], "--out", "input")


class InternalErrors(Base):
    def test_non_string_manifest_values(self):
        for edit in [lambda m: m.update(format=1), lambda m: m.update(model=[1]),
                     lambda m: m["layers"][0].update(kind=7), lambda m: m["layers"][0].update(name=3),
                     lambda m: m["layers"][0].update(weight=None), lambda m: m["layers"][0].update(groups="x"),
                     lambda m: m.update(layers={"a": 1}), lambda m: m["layers"].append(5)]:
            trace = os.path.join(self.dir, "t%d" % id(edit))
            small_trace(trace)
            rewrite_manifest(trace, edit)
            self.assert_user_error(["run", trace, "--report", os.path.join(self.out, "r.json")], "manifest.json")

    def test_huge_numbers_in_sweep_files(self):
        for name, text in [("h.yaml", "trace: %s\ngrid:\n  rows: [1e400]\n" % SAMPLE),
                           ("h.json", '{"trace": "%s", "grid": {"rows": [1e400]}}' % SAMPLE),
                           ("i.yaml", "trace: %s\ngrid:\n  rows: [99999999999999999999999]\n" % SAMPLE),
                           ("f.yaml", "trace: %s\ngrid:\n  rows: [1e300]\n" % SAMPLE),
                           ("g.json", '{"trace": "%s", "grid": {"seed": [-1e300, 1.5]}}' % SAMPLE)]:
            path = os.path.join(self.dir, name)
            with open(path, "w") as f:
                f.write(text)
            self.assert_user_error(["sweep", path, "--out", self.out], name)

    def test_invalid_utf8(self):
        sweep = os.path.join(self.dir, "u.yaml")
        with open(sweep, "wb") as f:
            f.write(b"trace: x\ngrid:\n  elem: [\"e2m4\xff\"]\n")
        self.assert_user_error(["sweep", sweep, "--out", self.out], "u.yaml", "UTF-8")
        table = os.path.join(self.dir, "u-table.yaml")
        with open(table, "wb") as f:
            f.write(b"unit: pJ\ntech: \"\xc3\x28\"\nenergy: {}\n")
        self.assert_user_error(["energy", os.path.join(self.dir, "none.json"), "--tech", table], "u-table.yaml")
        trace = os.path.join(self.dir, "t")
        small_trace(trace)
        with open(os.path.join(trace, "manifest.json"), "rb") as f:
            text = f.read()
        with open(os.path.join(trace, "manifest.json"), "wb") as f:
            f.write(text.replace(b'"tiny"', b'"ti\xffny"'))
        self.assert_user_error(["run", trace, "--report", os.path.join(self.out, "r.json")], "manifest.json")

    def test_invalid_utf8_in_a_path_still_writes_the_report(self):
        trace = os.path.join(self.dir.encode(), b"tr\xff")
        small_trace(trace.decode(errors="surrogateescape"))
        report = os.path.join(self.out, "r.json")
        proc = subprocess.run([MLSSIM.encode(), b"run", trace, b"--quiet", b"--passes", b"fwd", b"--report",
                               report.encode()], capture_output=True, timeout=120)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        with open(report, "rb") as f:
            json.loads(f.read().decode())

    def test_directory_where_a_file_is_expected(self):
        report_dir = os.path.join(self.dir, "adir")
        os.makedirs(report_dir)
        self.assert_user_error(["energy", report_dir], "adir", "directory")
        self.assert_user_error(["quantize", report_dir, "--dequant", os.path.join(self.out, "q.npy")], "adir")
        self.assert_user_error(["energy", os.path.join(SAMPLE, "manifest.json"), "--tech", report_dir], "adir")
        self.assert_user_error(["run", SAMPLE, "--layers", "conv1", "--report", self.out], "--report")
        trace = os.path.join(self.dir, "t")
        small_trace(trace)
        os.remove(os.path.join(trace, "t0.w.npy"))
        os.makedirs(os.path.join(trace, "t0.w.npy"))
        self.assert_user_error(["run", trace, "--report", os.path.join(self.out, "r.json")], "t0.w.npy")

    def test_non_report_given_to_energy_and_expect(self):
        for text in ["[]", '{"layers": 3}', '{"layers": [1], "total": {}}', '{"layers": [], "total": 5}',
                     '{"layers": [{"name": 1, "pass": "fwd", "events": []}], "total": {"events": {}}}']:
            path = os.path.join(self.dir, "bad.json")
            with open(path, "w") as f:
                f.write(text)
            self.assert_user_error(["energy", path], "bad.json")
            if '"layers": []' not in text:  # an empty report is a report: --expect then lists differences
                self.assert_user_error(["run", SAMPLE, "--layers", "conv1", "--passes", "fwd", "--quiet",
                                        "--expect", path], "bad.json")


class Smaller(Base):
    def test_fifo_input_does_not_hang(self):
        fifo = os.path.join(self.dir, "f.npy")
        os.mkfifo(fifo)
        self.assert_user_error(["quantize", fifo, "--dequant", os.path.join(self.out, "q.npy")], "f.npy",
                               timeout=20)
        self.assert_user_error(["energy", fifo], "f.npy", timeout=20)

    def test_duplicate_yaml_keys_in_energy_tables(self):
        table = os.path.join(self.dir, "dup.yaml")
        with open(table, "w") as f:
            f.write("unit: pJ\nunit: relative\nenergy: {}\n")
        self.assert_user_error(["energy", os.path.join(self.dir, "none.json"), "--tech", table], "dup.yaml",
                               "duplicate")

    def test_long_fields_are_not_echoed_whole(self):
        trace = os.path.join(self.dir, "t")
        small_trace(trace)
        rewrite_manifest(trace, lambda m: m["layers"][0].update(kind="k" * 10000))
        self.assert_user_error(["run", trace, "--report", os.path.join(self.out, "r.json")], "kind")
        rewrite_manifest(trace, lambda m: m["layers"][0].update({"x" * 10000: 1}))
        self.assert_user_error(["run", trace, "--report", os.path.join(self.out, "r.json")], "unknown key")


class TempFiles(Base):
    def test_planted_symlinks_at_old_temp_names_are_not_followed(self):
        # The old writer used PATH.tmp.<pid>; plant a link for every pid the
        # child could get next and check that the victim stays untouched.
        victim = os.path.join(self.dir, "victim")
        with open(victim, "w") as f:
            f.write("keep")
        target = os.path.join(self.out, "q.npy")
        with open("/proc/sys/kernel/ns_last_pid") as f:
            last = int(f.read())
        for pid in range(last + 1, last + 64):
            os.symlink(victim, "%s.tmp.%d" % (target, pid))
        x = os.path.join(self.dir, "x.npy")
        np.save(x, np.ones(4, dtype=np.float32))
        code, _, err = run("quantize", x, "--dequant", target)
        self.assertEqual(code, 0, err)
        with open(victim) as f:
            self.assertEqual(f.read(), "keep")
        self.assertFalse(os.path.islink(target))
        leftovers = [n for n in os.listdir(self.out) if n.startswith(".q.npy")]
        self.assertEqual(leftovers, [])


class CommandLine(Base):
    def test_missing_positional_is_named(self):
        code, _, err = run("run")
        self.assertEqual(code, 1)
        self.assertIn("missing TRACE_DIR", err)
        self.assertNotIn("--trace", err)
        code, _, err = run("quantize", "--dequant", "x.npy")
        self.assertIn("missing IN.npy", err)

    def test_energy_help_lists_options(self):
        code, out, _ = run("energy", "--help")
        self.assertEqual(code, 0)
        # the options' descriptions, not just the usage line that names them
        for text in ("show this help", "write the report with energy added"):
            self.assertIn(text, out)

    def test_long_layer_names_keep_columns_aligned(self):
        trace = os.path.join(self.dir, "t")
        small_trace(trace, layers=["short", "a_very_long_layer_name_that_is_wider_than_the_column"])
        code, out, err = run("run", trace, "--passes", "fwd", "--no-progress")
        self.assertEqual(code, 0, err)
        rows = [l for l in out.splitlines() if l.startswith(("layer ", "short", "a_very"))]
        self.assertEqual(len(rows), 3)
        starts = {l.index(" fwd ") if " fwd " in l else l.index(" pass ") for l in rows}
        self.assertEqual(len(starts), 1, out)


def direct_useful_products(w_shape, a_shape, stride, pad):
    """Products of a forward conv whose input tap lies inside the tensor, by enumeration."""
    co, ci, kh, kw = w_shape
    n, _, h, w = a_shape
    ho = (h + 2 * pad - kh) // stride + 1
    wo = (w + 2 * pad - kw) // stride + 1
    inside = 0
    for oy in range(ho):
        for ox in range(wo):
            for ky in range(kh):
                for kx in range(kw):
                    y, x = oy * stride - pad + ky, ox * stride - pad + kx
                    inside += 0 <= y < h and 0 <= x < w
    return n * co * ci * inside


class UsefulMacs(Base):
    def test_useful_macs_against_enumeration(self):
        trace = os.path.join(self.dir, "t")
        small_trace(trace, stride=[2, 2])
        rewrite_manifest(trace, lambda m: [l.update(grad_output=None) for l in m["layers"]])
        report = os.path.join(self.out, "r.json")
        code, out, err = run("run", trace, "--passes", "fwd", "--report", report, "--no-progress")
        self.assertEqual(code, 0, err)
        with open(report) as f:
            r = json.load(f)
        expect = direct_useful_products((4, 3, 3, 3), (1, 3, 6, 6), 2, 1)
        for entry in r["layers"]:
            self.assertEqual(entry["macs_useful"], expect)
            self.assertLess(entry["macs_useful"], entry["macs"])
        self.assertEqual(r["total"]["macs_useful"], 2 * expect)
        self.assertIn("useful", out)


if __name__ == "__main__":
    unittest.main()
