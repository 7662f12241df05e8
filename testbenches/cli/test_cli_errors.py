"""mlssim quantize and mlssim conv end to end.

Bad inputs: every one exits non-zero with ONE line on stderr naming the file or
the bad value, and leaves no output (nor temporary) file behind.

Good inputs: the quantizer is reproduced here in NumPy from the docs/reference.md#the-reference-quantizer text
(nearest, stochastic with a user tensor R, and stochastic with the counter-based
generator of ref/core/rng.h), and `mlssim conv` is compared with a direct NumPy
convolution of the dequantized tensors. This is the "another framework
reproduces the quantizer exactly" proof.
"""
import json
import os
import tempfile
import unittest

import numpy as np

from clitest import mlssim

MASK64 = (1 << 64) - 1


def differing_bits(got, want):
    """Flat indices where got and want differ bit for bit as float32, except that a zero's sign is
    not compared: a negative x that quantizes to q = 0 may give -0 or +0
    (docs/reference.md#the-reference-quantizer leaves it open)."""
    got = np.where(got == 0, np.float32(0), got).astype(np.float32)
    want = np.where(want == 0, np.float32(0), want).astype(np.float32)
    return np.flatnonzero(got.view(np.uint32) != want.view(np.uint32))


# ---- the docs/reference.md#the-reference-quantizer quantizer in NumPy ---------------------------------------------

def parse_fmt(name):
    e, m = name[1:].split("m")
    return int(e), int(m)


def fnv1a64(s):
    h = 0xCBF29CE484222325
    for ch in s.encode():
        h = ((h ^ ch) * 0x100000001B3) & MASK64
    return h


def splitmix64_mix(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def counter_draws(seed, name, n):
    """The r of element i, from the formula documented in ref/core/rng.h."""
    gamma = 0x9E3779B97F4A7C15
    key = fnv1a64(name) ^ ((seed * gamma) & MASK64)
    out = np.empty(n, dtype=np.float32)
    for i in range(n):
        bits = splitmix64_mix((key + (i + 1) * gamma) & MASK64)
        out[i] = np.float32((bits >> 40) * 2.0 ** -24 - 0.5)
    return out


def block_max(a, block, axis):
    """Block grouping kB: the max of each run of `block` elements along `axis`
    (the last run shorter when block does not divide the dim), by zero padding
    and a reshape. Returns (per-block max with the block index at `axis`,
    a function spreading per-block values back over the elements)."""
    moved = np.moveaxis(a, axis, -1)
    length = moved.shape[-1]
    blocks = -(-length // block)
    padded = np.concatenate([moved, np.zeros(moved.shape[:-1] + (blocks * block - length,))], axis=-1)
    per_block = padded.reshape(moved.shape[:-1] + (blocks, block)).max(axis=-1)

    def spread(v):
        full = np.repeat(np.moveaxis(v, axis, -1), block, axis=-1)[..., :length]
        return np.moveaxis(full, -1, axis)
    return np.moveaxis(per_block, -1, axis), spread


def spec_quantize(x, elem="e2m4", scale="e8m1", group="nc", rounding="stochastic", r=None, clip=False, axis=None,
                  scale_rule="cover"):
    """Returns (dequantized float32, |q| int64, sign, S_g float64 per group, S_t).
    group "kB" blocks `axis` (default 1, 0 for a rank-1 tensor). scale_rule
    "fit": S_g is the smallest representable scale with S_g * x_max >= s, x_max
    the element format's largest value, capped at the largest scale."""
    E, M = parse_fmt(elem)
    Eg, Mg = parse_fmt(scale)
    x = np.asarray(x, dtype=np.float32)
    a = np.abs(x).astype(np.float64)
    if group.startswith("k"):
        axis = (1 if x.ndim >= 2 else 0) if axis is None else axis
        s_r, spread = block_max(a, int(group[1:]), axis)
    else:
        kept = {"nc": (0, 1), "n": (0,), "c": (1,), "tensor": ()}[group]
        kept = [d for d in kept if d < x.ndim]
        red = tuple(d for d in range(x.ndim) if d not in kept)
        s_r = a.max(axis=red, keepdims=True) if red else a.copy()
        spread = lambda v: np.broadcast_to(v, x.shape)  # noqa: E731
    s_t = a.max()
    # Step 2: S_g = (1 + c / 2^Mg) 2^exp_g >= s.
    min_exp = 1 - 2 ** Eg
    s = s_r / s_t if s_t > 0 else np.zeros_like(s_r)
    mant, ex = np.frexp(s)                   # s = mant 2^ex, mant in [0.5, 1)
    e = ex.astype(np.int64) - 1
    f = 2 * mant - 1
    c = np.ceil(f * 2 ** Mg)
    carry = c == 2 ** Mg
    c = np.where(carry, 0, c)
    e = np.where(carry, e + 1, e)
    e = np.clip(e, min_exp, 0)
    s_g = (1 + c / 2 ** Mg) * np.ldexp(1.0, e)
    if scale_rule == "fit":
        # Every representable scale, ascending; S * x_max is exact in float64.
        ladder = np.array([(1 + cc / 2 ** Mg) * 2.0 ** ee for ee in range(min_exp, 1) for cc in range(2 ** Mg)])
        max_q = 2 ** M - 1 if E == 0 else (2 ** (M + 1) - 1) * 2 ** (2 ** E - 2)
        x_max = max_q * 2.0 ** (1 - 2 ** E - M)
        s_g = ladder[np.minimum(np.searchsorted(ladder * x_max, s, side="left"), len(ladder) - 1)]
    s_g = np.where(s == 0, np.ldexp(1.0, min_exp), s_g)
    s_g_full = spread(s_g)
    # Steps 3-6.
    x_f = a / (s_t * s_g_full) if s_t > 0 else np.zeros_like(a)
    emin = 1 - 2 ** E
    u = 2.0 ** (emin - M)
    _, xe = np.frexp(x_f)
    normal_e = np.minimum(xe.astype(np.int64) - 1, -1)
    denormal = (E == 0) | (x_f < 2.0 ** emin)
    step = np.where(denormal, u, np.ldexp(1.0, normal_e - M))
    t = x_f / step
    if rounding == "nearest":
        tr = np.rint(t)  # round half to even
    else:
        tr = np.floor((t + np.asarray(r, dtype=np.float32).astype(np.float64).reshape(x.shape)) + 0.5)
    if clip:
        top = np.where(denormal, 2.0 ** M - 1, 2.0 ** (M + 1) - 1)
        tr = np.minimum(tr, top)
    max_q = 2 ** M - 1 if E == 0 else (2 ** (M + 1) - 1) * 2 ** (2 ** E - 2)
    q = np.minimum(np.round(tr * step / u), max_q).astype(np.int64)
    sign = np.where(x < 0, -1.0, 1.0)
    deq = (sign * s_t * s_g_full * q.astype(np.float64) * u).astype(np.float32)
    return deq, q, (x < 0) & (q != 0), s_g, s_t


def direct_conv(p, w, a, e, stride, pad):
    """The three training passes in float64, straight from their definitions."""
    w, a = w.astype(np.float64), a.astype(np.float64)
    co, ci, kh, kw = w.shape
    n, _, h, wd = a.shape
    ho = (h + 2 * pad - kh) // stride + 1
    wo = (wd + 2 * pad - kw) // stride + 1
    ap = np.pad(a, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    if p == "fwd":
        out = np.zeros((n, co, ho, wo))
        for i in range(kh):
            for j in range(kw):
                patch = ap[:, :, i:i + stride * ho:stride, j:j + stride * wo:stride]
                out += np.einsum("oc,nchw->nohw", w[:, :, i, j], patch)
        return out
    e = e.astype(np.float64)
    if p == "bwd-weight":
        out = np.zeros(w.shape)
        for i in range(kh):
            for j in range(kw):
                patch = ap[:, :, i:i + stride * ho:stride, j:j + stride * wo:stride]
                out[:, :, i, j] = np.einsum("nohw,nchw->oc", e, patch)
        return out
    grad = np.zeros(ap.shape)
    for i in range(kh):
        for j in range(kw):
            grad[:, :, i:i + stride * ho:stride, j:j + stride * wo:stride] += np.einsum("oc,nohw->nchw", w[:, :, i, j], e)
    return grad[:, :, pad:pad + h, pad:pad + wd]


def save_npy_raw(path, header_dict, data=b"", version=1):
    """A .npy file written byte by byte."""
    header = header_dict.encode("latin1")
    prefix = 10 if version == 1 else 12
    header += b" " * ((64 - (prefix + len(header) + 1) % 64) % 64) + b"\n"
    size = len(header).to_bytes(2 if version == 1 else 4, "little")
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY" + bytes([version, 0]) + size + header + data)


class CliCase(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name
        self.rng = np.random.default_rng(20240611)

    def tearDown(self):
        self.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.dir, name)

    def save(self, name, array):
        p = self.path(name)
        np.save(p, array)
        return p

    def tensor(self, shape, spread=True):
        x = self.rng.standard_normal(shape)
        if spread and len(shape) >= 2:  # different magnitudes per (dim0, dim1) group
            x *= 2.0 ** -self.rng.integers(0, 12, size=shape[:2] + (1,) * (len(shape) - 2))
        return x.astype(np.float32)

    def no_temp_files(self):
        for root, _, files in os.walk(self.dir):
            for f in files:
                self.assertNotIn(".tmp.", f, f"temporary file left behind: {os.path.join(root, f)}")

    def assert_refused(self, args, outputs, needles, code=None):
        """Non-zero exit, one stderr line containing every needle, no outputs."""
        proc = mlssim(*args, ok=None)
        self.assertNotEqual(proc.returncode, 0, f"accepted: {args}\n{proc.stdout}")
        if code is not None:
            self.assertEqual(proc.returncode, code, proc.stderr)
        lines = [l for l in proc.stderr.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, f"expected one error line for {args}, got:\n{proc.stderr}")
        for needle in needles:
            self.assertIn(needle, lines[0], f"error for {args} does not name {needle!r}")
        for out in outputs:
            self.assertFalse(os.path.exists(out), f"{out} was written despite the error")
        self.no_temp_files()
        return lines[0]


# ---- bad files shared by both commands ------------------------------------------

def bad_files(case, good):
    """(label, path) of broken variants of the float32 tensor `good`."""
    out = []
    out.append(("missing", case.path("missing.npy")))
    out.append(("fortran", case.save("fortran.npy", np.asfortranarray(good))))
    out.append(("big-endian", case.save("bigendian.npy", good.astype(">f4"))))
    out.append(("int32", case.save("int32.npy", (good * 100).astype("<i4"))))
    p = case.save("truncated.npy", good)
    with open(p, "r+b") as f:
        f.truncate(os.path.getsize(p) - 3)
    out.append(("truncated", p))
    p = case.path("overflow.npy")
    save_npy_raw(p, "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 2, 2), }",
                 b"\0" * 64)
    out.append(("overflow shape", p))
    p = case.path("badmagic.npy")
    with open(p, "wb") as f:
        f.write(b"PK\x03\x04 this is a zip, not an npy file")
    out.append(("bad magic", p))
    return out


class QuantizeErrors(CliCase):
    def setUp(self):
        super().setUp()
        self.good = self.tensor((3, 4, 2, 2))
        self.x = self.save("x.npy", self.good)
        self.out = self.path("out.npy")
        self.parts = self.path("parts")

    def test_bad_files_are_refused_naming_the_file(self):
        for label, p in bad_files(self, self.good):
            with self.subTest(label):
                self.assert_refused(["quantize", p, "--dequant", self.out, "--parts", self.parts],
                                    [self.out, self.parts], [p])

    def test_unknown_names_are_refused_naming_the_value(self):
        for flag, value in (("--elem", "e9m9"), ("--elem", "fp8"), ("--elem", "e0m0"), ("--scale", "e8m4"),
                            ("--scale", "e9m1"), ("--group", "channel"), ("--rounding", "up"),
                            ("--rounding", "Nearest")):
            with self.subTest(f"{flag} {value}"):
                self.assert_refused(["quantize", self.x, flag, value, "--dequant", self.out, "--parts", self.parts],
                                    [self.out, self.parts], [value])

    def test_nan_and_inf_are_refused_naming_tensor_and_index(self):
        for label, bad in (("nan", np.nan), ("inf", np.inf), ("-inf", -np.inf)):
            with self.subTest(label):
                x = self.good.copy()
                x.flat[13] = bad
                p = self.save(f"has_{label.strip('-')}.npy", x)
                self.assert_refused(["quantize", p, "--dequant", self.out, "--parts", self.parts],
                                    [self.out, self.parts], [f"has_{label.strip('-')}", "13"])

    def test_bad_random_tensors_are_refused(self):
        r = np.zeros(self.good.shape, dtype=np.float32)
        r.flat[5] = 0.5
        p = self.save("r_range.npy", r)
        self.assert_refused(["quantize", self.x, "--random", p, "--dequant", self.out], [self.out], ["random", "0.5"])
        p = self.save("r_shape.npy", np.zeros((4, 3, 2, 2), dtype=np.float32))
        self.assert_refused(["quantize", self.x, "--random", p, "--dequant", self.out], [self.out], ["[4, 3, 2, 2]"])
        p = self.path("r_missing.npy")
        self.assert_refused(["quantize", self.x, "--random", p, "--dequant", self.out], [self.out], [p])

    def test_unwritable_output_leaves_no_parts(self):
        # --parts and --dequant are written together or not at all: an unwritable
        # OUT.npy must not leave DIR/q.npy, sign.npy, ... behind.
        bad_out = self.path("no_such_dir/out.npy")
        self.assert_refused(["quantize", self.x, "--parts", self.parts, "--dequant", bad_out],
                            [bad_out, self.parts], [bad_out])

    def test_unknown_option_and_missing_output(self):
        self.assert_refused(["quantize", self.x, "--dequant", self.out, "--bogus", "1"], [self.out], ["bogus"])
        self.assert_refused(["quantize", self.x], [], ["--dequant"])


class ConvErrors(CliCase):
    def setUp(self):
        super().setUp()
        self.w = self.tensor((4, 3, 3, 3))
        self.a = self.tensor((2, 3, 5, 5))
        self.e = self.tensor((2, 4, 5, 5))
        self.wp = self.save("w.npy", self.w)
        self.ap = self.save("a.npy", self.a)
        self.ep = self.save("e.npy", self.e)
        self.out = self.path("out.npy")

    def conv(self, *extra, w=None, a=None, e=None, p="fwd"):
        args = ["conv", "--pass", p, "--weight", w or self.wp, "--input", a or self.ap, "--padding", 1, "--out",
                self.out]
        if e:
            args += ["--grad-output", e]
        return args + list(extra)

    def test_good_case_runs(self):
        for p in ("fwd", "bwd-data", "bwd-weight"):
            proc = mlssim(*self.conv(p=p, e=self.ep), ok=None)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            self.assertTrue(os.path.exists(self.out))
            os.remove(self.out)

    def test_bad_files_are_refused_naming_the_file(self):
        for label, bad in bad_files(self, self.a):
            for role in ("weight", "input", "grad_output"):
                with self.subTest(f"{label} as {role}"):
                    kw = {"w": bad} if role == "weight" else {"a": bad} if role == "input" else {"e": bad}
                    kw.setdefault("e", self.ep)
                    self.assert_refused(self.conv(p="bwd-data", **kw), [self.out], [bad])

    def test_unknown_names_are_refused_naming_the_value(self):
        for flag, value in (("--elem", "e5m1"), ("--scale", "e8m7"), ("--group", "nchw"), ("--rounding", "down"),
                            ("--acc-overflow", "clamp"), ("--inject-fault", "gremlin")):
            with self.subTest(f"{flag} {value}"):
                self.assert_refused(self.conv(flag, value), [self.out], [value])
        self.assert_refused(["conv", "--pass", "sideways", "--weight", self.wp, "--input", self.ap, "--out",
                             self.out], [self.out], ["sideways"])
        for flag, value in (("--acc-bits", "7"), ("--acc-bits", "63"), ("--chunk", "0"), ("--rows", "0")):
            with self.subTest(f"{flag} {value}"):
                self.assert_refused(self.conv(flag, value), [self.out], [flag, value])

    def test_nan_in_an_operand_is_refused(self):
        w = self.w.copy()
        w.flat[40] = np.nan
        p = self.save("wnan.npy", w)
        self.assert_refused(self.conv(w=p), [self.out], ["weight", "40", "NaN"])
        e = self.e.copy()
        e.flat[7] = -np.inf
        p = self.save("einf.npy", e)
        self.assert_refused(self.conv(e=p, p="bwd-weight"), [self.out], ["grad_output", "7"])

    def test_shape_mismatches_are_refused_naming_the_files(self):
        a4 = self.save("a4.npy", self.tensor((2, 4, 5, 5)))  # 4 input channels, weight has 3
        self.assert_refused(self.conv(a=a4), [self.out], [a4, self.wp])
        e_bad = self.save("e_bad.npy", self.tensor((2, 4, 4, 5)))
        self.assert_refused(self.conv(e=e_bad, p="bwd-data"), [self.out], [e_bad])
        w3 = self.save("w3.npy", self.tensor((4, 3, 3)))  # rank 3
        self.assert_refused(self.conv(w=w3), [self.out], [w3])
        big_k = self.save("wbig.npy", self.tensor((4, 3, 9, 9)))  # kernel larger than the padded input
        self.assert_refused(self.conv(w=big_k), [self.out], [big_k])

    def test_backward_passes_need_grad_output(self):
        for p in ("bwd-data", "bwd-weight"):
            with self.subTest(p):
                self.assert_refused(self.conv(p=p), [self.out], ["grad-output"])


# ---- good inputs against the NumPy reference ----------------------------------------

class QuantizeMatchesNumpyReference(CliCase):
    def quantize(self, x_path, *flags, parts=True):
        out = self.path("deq.npy")
        parts_dir = self.path("parts")
        args = ["quantize", x_path, *flags, "--dequant", out] + (["--parts", parts_dir] if parts else [])
        proc = mlssim(*args, ok=None)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        deq = np.load(out)
        self.assertEqual(deq.dtype, np.float32)
        self.no_temp_files()
        return deq, parts_dir

    def assert_same_bits(self, got, want, what):
        self.assertEqual(got.shape, want.shape, what)
        bad = differing_bits(got, want)
        self.assertEqual(bad.size, 0, f"{what}: {bad.size} elements differ, first {bad[:5]}: "
                                      f"{got.flat[bad[:5]]} vs {want.flat[bad[:5]]}")

    def test_nearest_with_parts(self):
        x = self.tensor((3, 4, 2, 2))
        x.flat[3] = 0.0
        x[2, 1] = 0.0  # an all-zero group
        p = self.save("x.npy", x)
        deq, parts = self.quantize(p, "--rounding", "nearest")
        want, q, neg, s_g, s_t = spec_quantize(x, rounding="nearest")
        self.assert_same_bits(deq, want, "dequant")
        np.testing.assert_array_equal(np.load(os.path.join(parts, "q.npy")), q)
        np.testing.assert_array_equal(np.load(os.path.join(parts, "sign.npy")).astype(bool) & (q != 0), neg)
        np.testing.assert_array_equal(np.load(os.path.join(parts, "sg.npy")), s_g.reshape(3, 4))
        self.assertEqual(float(np.load(os.path.join(parts, "st.npy"))), s_t)
        sg_exp = np.load(os.path.join(parts, "sg_exp.npy"))
        sg_man = np.load(os.path.join(parts, "sg_man.npy"))
        np.testing.assert_array_equal((1 + sg_man / 2.0) * np.ldexp(1.0, sg_exp), s_g.reshape(3, 4))
        self.assertEqual(sg_exp[2, 1], -255)  # the zero group: the smallest scale
        self.assertTrue(np.all(q.reshape(3, 4, 4)[2, 1] == 0))

    def test_nearest_ties_round_to_even(self):
        # Every midpoint between neighbouring e2m4 magnitudes (S_t = 1, one
        # group, so x_f = |x|): the neighbour whose t = x_f / step is even wins.
        u = 2.0 ** -7
        mags = sorted({m for m in range(16)} | {(16 + m) << b for b in range(3) for m in range(16)})
        mids, want = [], []
        for lo, hi in zip(mags, mags[1:]):
            mid = (lo + hi) / 2 * u
            step = u if mid < 2.0 ** -3 else 2.0 ** (min(int(np.floor(np.log2(mid))), -1) - 4)
            even = lo if round(lo * u / step) % 2 == 0 else hi
            mids += [mid, -mid]
            want += [even * u, -even * u]
        x = np.array([1.0] + mids, dtype=np.float32)
        p = self.save("ties.npy", x)
        deq, _ = self.quantize(p, "--rounding", "nearest", "--group", "tensor", parts=False)
        self.assert_same_bits(deq, np.array([1 - 2.0 ** -5] + want, dtype=np.float32), "ties")
        self.assert_same_bits(deq, spec_quantize(x, group="tensor", rounding="nearest")[0], "ties vs reference")

    def test_every_format_grouping_and_rank(self):
        cases = [((5, 6, 3), "e2m4", "e8m1", "nc"), ((5, 6, 3), "e3m3", "e8m0", "n"), ((5, 6, 3), "e2m1", "e4m1", "c"),
                 ((5, 6, 3), "e0m4", "e8m1", "tensor"), ((17,), "e2m4", "e8m1", "nc"), ((17,), "e1m3", "e8m1", "c"),
                 ((4, 9), "e4m3", "e2m1", "nc"), ((2, 3, 2, 2, 2), "e2m2", "e8m1", "nc")]
        for shape, elem, scale, group in cases:
            for clip in (False, True):
                with self.subTest(f"{shape} {elem} {scale} {group} clip={clip}"):
                    x = self.tensor(shape)
                    p = self.save("y.npy", x)
                    flags = ["--rounding", "nearest", "--elem", elem, "--scale", scale, "--group", group]
                    deq, _ = self.quantize(p, *flags, *(["--clip"] if clip else []), parts=False)
                    want = spec_quantize(x, elem, scale, group, "nearest", clip=clip)[0]
                    self.assert_same_bits(deq, want, f"{elem} {group}")

    def test_stochastic_with_a_random_tensor(self):
        x = self.tensor((4, 5, 3, 3))
        r = self.rng.uniform(-0.5, 0.5, size=x.shape).astype(np.float32)
        r = np.minimum(r, np.nextafter(np.float32(0.5), np.float32(0)))
        r.flat[:4] = [-0.5, 0.0, np.nextafter(np.float32(0.5), np.float32(0)), 0.25]
        p = self.save("x.npy", x)
        rp = self.save("r.npy", r)
        for elem in ("e2m4", "e2m1", "e3m2"):
            with self.subTest(elem):
                deq, _ = self.quantize(p, "--rounding", "stochastic", "--elem", elem, "--random", rp, "--seed", 99,
                                       parts=False)
                self.assert_same_bits(deq, spec_quantize(x, elem, rounding="stochastic", r=r)[0], elem)
        # And the result really depends on R: a different R gives different bits.
        rp2 = self.save("r2.npy", np.roll(r, 1))
        deq2, _ = self.quantize(p, "--rounding", "stochastic", "--random", rp2, parts=False)
        self.assertTrue(np.any(deq2 != spec_quantize(x, rounding="stochastic", r=r)[0]))

    def test_stochastic_with_the_counter_rng_and_seed(self):
        x = self.tensor((3, 4, 2, 2))
        p = self.save("act.npy", x)
        for seed in (0, 12345):
            with self.subTest(seed=seed):
                deq, _ = self.quantize(p, "--seed", seed, parts=False)  # stochastic is the default
                r = counter_draws(seed, "act", x.size)  # tensor name: the file stem
                self.assert_same_bits(deq, spec_quantize(x, rounding="stochastic", r=r)[0], f"seed {seed}")

    def test_float16_and_float64_inputs_are_rounded_to_float32_first(self):
        x64 = self.rng.standard_normal((3, 4, 5)) * 1e-3
        x64.flat[0] = 1 + 2 ** -24 + 2 ** -40  # rounds up in float32: shows the one rounding
        p = self.save("x64.npy", x64)
        deq, parts = self.quantize(p, "--rounding", "nearest")
        self.assert_same_bits(deq, spec_quantize(x64.astype(np.float32), rounding="nearest")[0], "float64 input")
        self.assertEqual(float(np.load(os.path.join(parts, "st.npy"))), float(np.float32(x64.flat[0])))
        x16 = self.rng.standard_normal((3, 4, 5)).astype(np.float16)
        p = self.save("x16.npy", x16)
        deq, _ = self.quantize(p, "--rounding", "nearest", parts=False)
        self.assert_same_bits(deq, spec_quantize(x16.astype(np.float32), rounding="nearest")[0], "float16 input")


class ConvMatchesNumpyReference(CliCase):
    def test_passes_against_direct_numpy_conv_of_dequantized_tensors(self):
        cases = [(1, 1, 3), (2, 1, 3), (1, 0, 1), (2, 0, 3)]  # (stride, padding, kernel)
        for stride, pad, k in cases:
            w = self.tensor((5, 3, k, k))
            a = self.tensor((2, 3, 7, 7))
            ho = (7 + 2 * pad - k) // stride + 1
            e = self.tensor((2, 5, ho, ho))
            wp, ap, ep = self.save("w.npy", w), self.save("a.npy", a), self.save("e.npy", e)
            # The conv command keys the draws by <name>.weight etc., as in a trace.
            wq = spec_quantize(w, r=counter_draws(0, "lay.weight", w.size))[0]
            aq = spec_quantize(a, r=counter_draws(0, "lay.input", a.size))[0]
            eq = spec_quantize(e, r=counter_draws(0, "lay.grad_output", e.size))[0]
            for p, shape in (("fwd", (2, 5, ho, ho)), ("bwd-data", a.shape), ("bwd-weight", w.shape)):
                with self.subTest(f"{p} stride {stride} pad {pad} k {k}"):
                    out = self.path("out.npy")
                    proc = mlssim("conv", "--pass", p, "--weight", wp, "--input", ap, "--grad-output", ep,
                                  "--stride", stride, "--padding", pad, "--name", "lay", "--acc-bits", 40, "--out", out,
                                  ok=None)
                    self.assertEqual(proc.returncode, 0, proc.stderr)
                    got = np.load(out)
                    self.assertEqual(got.dtype, np.float32)
                    self.assertEqual(got.shape, shape)
                    exact = direct_conv(p, wq, aq, eq, stride, pad)
                    sumabs = direct_conv(p, np.abs(wq), np.abs(aq), np.abs(eq), stride, pad)
                    # Scaler rounding + 4 tree levels (16 rows) + output accumulations + F + final multiply.
                    tol = (1 + 4 + 4 + 2) * 2.0 ** -24 * sumabs
                    err = np.abs(got.astype(np.float64) - exact)
                    self.assertTrue(np.all(err <= tol), f"max err/tol {np.max(err / np.maximum(tol, 1e-300))}")
                    self.assertGreater(np.count_nonzero(exact), exact.size // 5)
                    os.remove(out)


if __name__ == "__main__":
    unittest.main()
