"""mlssim vectors end to end (docs/rtl.md#test-vectors).

Good input: the vector set of conv1's forward pass of the bundled trace is read
back and checked against expectations computed here, apart from the program's
own walk: the element codes are decoded in NumPy from the format's definition
(docs/reference.md#elements-e_x-m_x), every chunk sum is re-accumulated with a
saturating 16-bit accumulator and compared with chunks.txt, and the final
results equal `mlssim conv` on the same layer bit for bit.

Bad inputs: each exits non-zero with one line on stderr naming what is wrong,
and leaves no output directory behind.
"""
import os
import tempfile
import unittest

import numpy as np

from clitest import linear_layer, mlssim, write_trace

TRACE = os.path.join(os.environ["MLSSIM_SOURCE_DIR"], "traces", "resnet20-digits")
FILES = ["meta.txt", "x.txt", "y.txt", "chunks.txt", "tiles.txt", "outputs.txt"]


def lines(path):
    with open(path) as f:
        return f.read().splitlines()


def decode(code, e, m):
    """Signed q of an element code {sign, exp_code, man_code}."""
    sign = (code >> (e + m)) & 1
    exp_code = (code >> m) & ((1 << e) - 1)
    man = code & ((1 << m) - 1)
    q = man if exp_code == 0 else ((1 << m) + man) << (exp_code - 1)
    return -q if sign else q


def read_operand(path):
    rows = [line.split() for line in lines(path)]
    return [int(r[0], 16) for r in rows], [[int(c, 16) for c in r[1:]] for r in rows]


class VectorsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = os.path.join(cls.tmp.name, "fwd")
        r = mlssim("vectors", TRACE, "--layers", "conv1", "--passes", "fwd", "--out", cls.dir, ok=None)
        assert r.returncode == 0, r.stderr
        cls.meta = dict(line.split() for line in lines(os.path.join(cls.dir, "meta.txt")))

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_files_and_sizes(self):
        self.assertEqual(sorted(os.listdir(self.dir)), sorted(FILES))
        m, p, g, k = (int(self.meta[key]) for key in "mpgk")
        self.assertEqual((m, p, g, k), (16, 2048, 3, 9))  # conv1: Co 16, 2 x 32 x 32 positions, Ci 3, 3 x 3
        count = {f: len(lines(os.path.join(self.dir, f))) for f in FILES}
        self.assertEqual(count["x.txt"], m * g)
        self.assertEqual(count["y.txt"], p * g)
        self.assertEqual(count["chunks.txt"], m * p * g)  # one 9-product chunk per group
        self.assertEqual(count["outputs.txt"], m * p)

    def test_array_shape_and_schedule(self):
        # The default 16 x 16 array and chunk 16 on conv1: one m-tile, one 9-product
        # chunk per group, 3 chunks in one tile, 4 tree levels.
        want = {"rows": "16", "cols": "16", "dataflow": "baseline", "tree_stages": "4", "m_tiles": "1",
                "chunks_per_group": "1", "last_chunk": "9", "chunks": "3", "chunk_tiles": "1"}
        self.assertEqual({key: self.meta.get(key) for key in want}, want)
        # K = 9 in chunks of 4 on 5 rows and 6 columns: 3 chunks per group (4, 4, 1), 9 chunks, 2 tiles.
        out = os.path.join(self.tmp.name, "shape")
        mlssim("vectors", TRACE, "--layers", "conv1", "--passes", "fwd", "--rows", "5", "--cols", "6",
               "--chunk", "4", "--out", out)
        meta = dict(line.split() for line in lines(os.path.join(out, "meta.txt")))
        want = {"rows": "5", "cols": "6", "tree_stages": "3", "m_tiles": "3", "chunks_per_group": "3",
                "last_chunk": "1", "chunks": "9", "chunk_tiles": "2"}
        self.assertEqual({key: meta.get(key) for key in want}, want)

    def test_default_grouping_and_row_filling(self):
        # A linear layer of 40 inputs and 11 outputs, batch 5, with no grouping flag:
        # run's default k32 blocks along the reduction. fwd: ceil(40 / 32) = 2 groups of
        # K = 32; 4 chunks of 16 fill 4 rows, so chunk 16. bwd-data reduces the 11
        # outputs: 1 group of K = 11, 1 chunk of 16 would idle 3 of 4 rows; the chunk c
        # of fewest cycles ceil(ceil(11 / c) / 4) * c is 3 (chunks 3, 3, 3, 2: one tile of
        # 3 steps). --group c: no blocks, the plain chunk 16.
        trace = os.path.join(self.tmp.name, "linear")
        write_trace(trace, [linear_layer(np.random.default_rng(3), "fc", out_features=11, in_features=40, rows=5)])
        cases = ((("fwd",), {"g": "2", "k": "32", "chunk": "16", "fill_rows": "balanced", "chunks_per_group": "2"}),
                 (("bwd-data",), {"g": "1", "k": "11", "chunk": "3", "fill_rows": "balanced",
                                  "chunks_per_group": "4", "last_chunk": "2", "chunk_tiles": "1"}),
                 (("bwd-data", "--group", "c"), {"g": "11", "k": "1", "chunk": "16", "fill_rows": "none"}))
        for flags, want in cases:
            out = os.path.join(self.tmp.name, "linear-" + "-".join(flags))
            mlssim("vectors", trace, "--layers", "fc", "--passes", *flags, "--rows", "4", "--cols", "8", "--out", out)
            meta = dict(line.split() for line in lines(os.path.join(out, "meta.txt")))
            self.assertEqual({key: meta.get(key) for key in want}, want, flags)
            self.assertEqual(meta["array_chunk"], "16")
            # One chunks.txt line per chunk of every output: m * p * g * chunks_per_group.
            per_output = int(meta["g"]) * int(meta["chunks_per_group"])
            self.assertEqual(len(lines(os.path.join(out, "chunks.txt"))), int(meta["m"]) * int(meta["p"]) * per_output)

    def test_pass_of_several_blocks(self):
        # A matmul batched over 3 heads runs as 3 blocks in run, each its own pass:
        # blocks.txt and one complete vector set per block, each of one head's
        # sizes (fwd: m = N = 4 outputs per row of the 5-row input, p = 5, K = 6).
        trace = os.path.join(self.tmp.name, "bmm")
        rng = np.random.default_rng(4)
        write_trace(trace, [({"name": "bmm", "kind": "matmul"},
                             {"input": rng.standard_normal((3, 5, 6)), "weight": rng.standard_normal((3, 6, 4)),
                              "grad_output": rng.standard_normal((3, 5, 4))})])
        out = os.path.join(self.tmp.name, "bmm-vectors")
        mlssim("vectors", trace, "--layers", "bmm", "--passes", "fwd", "--group", "c", "--out", out)
        self.assertEqual(sorted(os.listdir(out)), ["block0", "block1", "block2", "blocks.txt"])
        self.assertEqual(lines(os.path.join(out, "blocks.txt")), ["blocks 3"])
        for b in range(3):
            block = os.path.join(out, f"block{b}")
            self.assertEqual(sorted(os.listdir(block)), sorted(FILES))
            meta = dict(line.split() for line in lines(os.path.join(block, "meta.txt")))
            self.assertEqual((meta["m"], meta["p"], meta["g"], meta["k"], meta["block"], meta["blocks"]),
                             ("4", "5", "6", "1", str(b), "3"))
            self.assertEqual(len(lines(os.path.join(block, "outputs.txt"))), 20)

    def test_per_operand_formats(self):
        # Forward: X is W, Y is A; backward-weight: X is E, Y is A.
        for pass_name, x, y in (("fwd", "e2m4", "e3m2"), ("bwd-weight", "e1m2", "e3m2")):
            out = os.path.join(self.tmp.name, "operand-" + pass_name)
            mlssim("vectors", TRACE, "--layers", "conv1", "--passes", pass_name, "--elem-a", "e3m2",
                   "--scale-a", "e8m0", "--elem-e", "e1m2", "--out", out)
            meta = dict(line.split() for line in lines(os.path.join(out, "meta.txt")))
            self.assertEqual((meta["x_elem"], meta["y_elem"], meta["x_scale"], meta["y_scale"]),
                             (x, y, "e8m1", "e8m0"))

    def test_chunk_sums_from_decoded_codes(self):
        g, k = int(self.meta["g"]), int(self.meta["k"])
        _, xc = read_operand(os.path.join(self.dir, "x.txt"))
        _, yc = read_operand(os.path.join(self.dir, "y.txt"))
        xq = np.array([[decode(c, 2, 4) for c in row] for row in xc], dtype=np.int64)
        yq = np.array([[decode(c, 2, 4) for c in row] for row in yc], dtype=np.int64)
        lo, hi = -(1 << 15), (1 << 15) - 1
        checked = overflowed = 0
        for line in lines(os.path.join(self.dir, "chunks.txt")):
            m, p, j, total, ovf, _ = line.split()
            m, p, j = int(m), int(p), int(j)
            s = n_ovf = 0
            for prod in xq[m * g + j] * yq[p * g + j]:  # chunk j is group j here (k <= chunk)
                s += int(prod)
                if s > hi or s < lo:
                    n_ovf += 1
                    s = hi if s > hi else lo
            self.assertEqual((s, n_ovf), (int(total), int(ovf)), line)
            checked += 1
            overflowed += n_ovf > 0
        self.assertEqual(checked, 16 * 2048 * 3)
        self.assertGreater(overflowed, 0)  # the saturating path is exercised

    def test_results_equal_mlssim_conv(self):
        out = os.path.join(self.tmp.name, "conv.npy")
        r = mlssim("conv", "--pass", "fwd", "--name", "conv1", "--padding", 1,
                   "--weight", os.path.join(TRACE, "conv1.weight.npy"),
                   "--input", os.path.join(TRACE, "conv1.input.npy"), "--out", out, ok=None)
        self.assertEqual(r.returncode, 0, r.stderr)
        conv = np.load(out)  # [N, Co, Ho, Wo]
        n, co, ho, wo = conv.shape
        bits = conv.view(np.uint32)
        for line in lines(os.path.join(self.dir, "outputs.txt")):
            m, p, _, result = line.split()
            m, p = int(m), int(p)
            self.assertEqual(int(result, 16), int(bits[p // (ho * wo), m, (p // wo) % ho, p % wo]), line)

    def assert_refused(self, args, words):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "vec")
            r = mlssim("vectors", *args, "--out", out, ok=None)
            self.assertNotEqual(r.returncode, 0)
            self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
            for w in words:
                self.assertIn(w, r.stderr)
            self.assertFalse(os.path.exists(out))
            self.assertEqual(os.listdir(tmp), [])

    def test_bad_inputs(self):
        self.assert_refused([TRACE, "--layers", "nosuch", "--passes", "fwd"], ["nosuch"])
        self.assert_refused([TRACE, "--layers", "conv1,fc", "--passes", "fwd"], ["--layers", "conv1,fc"])
        self.assert_refused([TRACE, "--layers", "conv1", "--passes", "fwd,bwd-data"], ["--passes"])
        self.assert_refused([TRACE, "--layers", "conv1", "--passes", "sideways"], ["sideways"])
        self.assert_refused([TRACE, "--layers", "conv1", "--passes", "fwd", "--elem", "e9m9"], ["e9m9"])
        self.assert_refused(["/nonexistent/trace", "--layers", "conv1", "--passes", "fwd"], ["/nonexistent/trace"])


if __name__ == "__main__":
    unittest.main()
