"""Reads one layer-pass written by `mlssim vectors` (docs/rtl.md#test-vectors)
and turns it into the operand streams each block of the array sees.

Each stream is a sample of the pass: whole chunks (multiplier, PE, scaler) or
whole outputs (adder tree, output accumulator, final scale) taken at an even
stride over the pass, so a block sees data from the whole tensor, in the
order one column processes it (outputs m-major, then p; within an output its
chunks in order; within a chunk its products in k order).
"""
import os


class VectorError(Exception):
    pass


def _read_meta(path):
    meta = {}
    with open(path) as f:
        for line in f:
            key, _, value = line.strip().partition(" ")
            meta[key] = value
    if meta.get("format") != "mlssim-vectors/1":
        raise VectorError(f"{path}: not an mlssim-vectors/1 file")
    return meta


def _read_operand(path, groups):
    """{(row, g): (scale code, [element codes])} in file order."""
    table = {}
    with open(path) as f:
        for i, line in enumerate(f):
            fields = [int(v, 16) for v in line.split()]
            table[(i // groups, i % groups)] = (fields[0], fields[1:])
    return table


class PassVectors:
    """One layer-pass's codes and the golden chunk sums, tiles and outputs."""

    def __init__(self, directory):
        self.meta = _read_meta(os.path.join(directory, "meta.txt"))
        m = self.meta
        self.rows, self.chunk = int(m["rows"]), int(m["chunk"])
        self.g, self.k = int(m["g"]), int(m["k"])
        self.chunks_per_output, self.chunk_tiles = int(m["chunks"]), int(m["chunk_tiles"])
        self.per_group = self.chunks_per_output // self.g
        self.acc_bits = int(m["acc_bits"])
        self.final_scale = int(m["final_scale"], 16)
        self.x = _read_operand(os.path.join(directory, "x.txt"), self.g)
        self.y = _read_operand(os.path.join(directory, "y.txt"), self.g)
        # chunks[(m, p)] = [(sum, scaled)] in chunk order j.
        self.chunks = {}
        with open(os.path.join(directory, "chunks.txt")) as f:
            for line in f:
                mm, p, _j, s, _ovf, scaled = line.split()
                self.chunks.setdefault((int(mm), int(p)), []).append((int(s), int(scaled, 16)))
        self.tiles = {}
        with open(os.path.join(directory, "tiles.txt")) as f:
            for line in f:
                mm, p, _t, value = line.split()
                self.tiles.setdefault((int(mm), int(p)), []).append(int(value, 16))
        self.outputs = []
        with open(os.path.join(directory, "outputs.txt")) as f:
            for line in f:
                mm, p, acc, _result = line.split()
                self.outputs.append(((int(mm), int(p)), int(acc, 16)))
        if not self.outputs:
            raise VectorError(f"{directory}: the pass has no outputs")

    def formats(self):
        """((E, M) of the elements, (E_g, M_g) of the group scales): X's (the flow takes X = Y)."""
        def fmt(name):
            e, m = name[1:].split("m")
            return int(e), int(m)
        return fmt(self.meta["x_elem"]), fmt(self.meta["x_scale"])

    def sample_outputs(self, count):
        """`count` outputs (or all) at an even stride over the pass."""
        stride = max(1, len(self.outputs) // max(1, count))
        return self.outputs[::stride][:count]

    def chunk_products(self, key, j):
        """(x code, y code) of the products of chunk j of output key."""
        mm, p = key
        group, part = divmod(j, self.per_group)
        xs, ys = self.x[(mm, group)][1], self.y[(p, group)][1]
        lo = part * self.chunk
        return list(zip(xs[lo:lo + self.chunk], ys[lo:lo + self.chunk]))

    def chunk_scales(self, key, j):
        mm, p = key
        group = j // self.per_group
        return self.x[(mm, group)][0], self.y[(p, group)][0]

    def sample_chunks(self, products):
        """(output, j) of whole chunks holding about `products` products."""
        per_output = self.chunks_per_output
        want_chunks = max(1, products // max(1, min(self.k, self.chunk)))
        picked = []
        for key, _acc in self.sample_outputs(max(1, want_chunks // per_output) + 1):
            picked.extend((key, j) for j in range(per_output))
        stride = max(1, len(picked) // want_chunks)
        return picked[::stride][:want_chunks]
