"""The blocks the flow measures: which RTL module, at which parameters, behind
which harness, fed by which operand stream, and what one action is.

Every block sits behind a harness (`pw_top`): one register on all its inputs,
clocked every cycle, so the block sees one clean input change per clock (a
real pipeline register's behaviour) and a cycle is one action, or a known
number of them (the adder tree: its additions). The harness registers are
not the block's: their clock and internal power is left out, but the charging
of the block's input nets, which they drive, is counted (it is the block's
input capacitance). The block's own registers (the PE's accumulator, the
tree's level registers, the output accumulator's register) are counted.
"""
import os

from gates.vectors import VectorError

RTL_SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "src")
MLS_SOURCES = ["mls_elem_decode", "mls_elem_mul", "mls_pe", "mls_group_scaler", "mls_fp32_add",
               "mls_adder_tree", "mls_out_acc"]


def parse_format(name, what):
    try:
        if name[0] != "e" or "m" not in name:
            raise ValueError
        e, m = name[1:].split("m")
        return int(e), int(m)
    except (ValueError, IndexError):
        raise VectorError(f"{what} {name!r} is not of the form eXmY") from None


class Block:
    """One synthesis + simulation + power run.

    inputs: [(port, width)] packed into the harness register, first at bit 0;
    ties: {port: constant text}; clocked: the module has clk_i / rst_ni;
    output: (port, width); stimulus: list of tuples, one per cycle, in input
    order; actions: how many actions the stimulus holds. sources: modules of
    rtl/src read as they are; texts: {file name: SystemVerilog} written into
    the work folder and read too (a baseline unit, rtl/baselines.py).
    """

    def __init__(self, name, module, params, inputs, output, clocked=False, ties=None, sources=None, texts=None):
        self.name, self.module, self.params = name, module, dict(params)
        self.inputs, self.output, self.clocked = inputs, output, clocked
        self.ties = ties or {}
        self.sources = MLS_SOURCES if sources is None else sources
        self.texts = dict(texts or {})
        self.keep_hierarchy = False
        self.stimulus, self.actions = [], 0

    def input_width(self):
        return sum(w for _, w in self.inputs)

    def source_files(self):
        return [os.path.join(RTL_SRC, s + ".sv") for s in self.sources]

    def wrapper(self):
        """SystemVerilog of the harness around the block."""
        iw, (out_port, ow) = self.input_width(), self.output
        params = ", ".join(f".{k}({v})" for k, v in self.params.items())
        ports, lo = [], 0
        if self.clocked:
            ports += [".clk_i(clk_i)", ".rst_ni(rst_ni)"]
        for port, width in self.inputs:
            ports.append(f".{port}(in_q[{lo + width - 1}:{lo}])")
            lo += width
        ports += [f".{p}({v})" for p, v in self.ties.items()]
        ports.append(f".{out_port}(out_o)")
        inst = f"{self.module} #({params})" if params else self.module
        return (f"module pw_top (input logic clk_i, input logic rst_ni, input logic [{iw - 1}:0] in_i,\n"
                f"               output logic [{ow - 1}:0] out_o);\n"
                f"  logic [{iw - 1}:0] in_q;\n"
                f"  always_ff @(posedge clk_i) in_q <= in_i;\n"
                f"  {inst} u_block ({', '.join(ports)});\n"
                f"endmodule\n")

    def stimulus_words(self):
        """One integer per cycle: the inputs packed as the harness takes them."""
        words = []
        for values in self.stimulus:
            word, lo = 0, 0
            for (_, width), value in zip(self.inputs, values):
                word |= (value & ((1 << width) - 1)) << lo
                lo += width
            words.append(word)
        return words


def element_ports(elem):
    e, m = elem
    shift = 0 if e == 0 else (1 << e) - 2
    return e + m + 1, 2 * ((m + 1) + shift) + 1  # code width, product width (with sign)


def multiplier(v, elem, products):
    code_w, prod_w = element_ports(elem)
    e, m = elem
    b = Block("multiplier", "mls_elem_mul", {"EX": e, "MX": m, "EY": e, "MY": m},
              [("x_code_i", code_w), ("y_code_i", code_w)], ("prod_o", prod_w))
    for key, j in v.sample_chunks(products):
        b.stimulus.extend(v.chunk_products(key, j))
    b.actions = len(b.stimulus)
    return b


def processing_element(v, elem, acc_bits, wrap, products):
    """Multiplier + local accumulator: the accumulator's energy is this minus
    the multiplier's on the same products."""
    code_w, _ = element_ports(elem)
    e, m = elem
    b = Block("pe", "mls_pe", {"EX": e, "MX": m, "EY": e, "MY": m, "ACC_BITS": acc_bits, "WRAP": wrap},
              [("x_code_i", code_w), ("y_code_i", code_w), ("first_i", 1)], ("acc_o", acc_bits),
              clocked=True, ties={"valid_i": "1'b1", "ovf_o": ""})
    b.keep_hierarchy = True
    for key, j in v.sample_chunks(products):
        for i, (x, y) in enumerate(v.chunk_products(key, j)):
            b.stimulus.append((x, y, 1 if i == 0 else 0))
    b.actions = len(b.stimulus)
    return b


def group_scaler(v, scale, acc_bits, chunks):
    eg, mg = scale
    cw = max(1, eg + mg)
    b = Block("group_scaler", "mls_group_scaler",
              {"ACC_BITS": acc_bits, "EGX": eg, "MGX": mg, "EGY": eg, "MGY": mg},
              [("sum_i", acc_bits), ("sx_code_i", cw), ("sy_code_i", cw)], ("fp32_o", 32))
    for key, j in v.sample_chunks(chunks * min(v.k, v.chunk)):
        sx, sy = v.chunk_scales(key, j)
        b.stimulus.append((v.chunks[key][j][0], sx, sy))
    b.actions = len(b.stimulus)
    return b


def tree_adds(valid):
    """Additions the tree makes for one tile (both slots of a pair valid), level by level."""
    adds = 0
    while len(valid) > 1:
        nxt = []
        for i in range(0, len(valid), 2):
            pair = valid[i:i + 2]
            adds += 1 if len(pair) == 2 and all(pair) else 0
            nxt.append(any(pair))
        valid = nxt
    return adds


def adder_tree(v, outputs):
    rows = v.rows
    b = Block("adder_tree", "mls_adder_tree", {"ROWS": rows, "TAG_W": 2},
              [("slot_i", 32 * rows), ("slot_valid_i", rows)], ("sum_o", 32), clocked=True,
              ties={"valid_i": "1'b1", "tag_i": "2'b00", "valid_o": "", "tag_o": ""})
    for key, _acc in v.sample_outputs(outputs):
        scaled = [s for _, s in v.chunks[key]]
        for t in range(v.chunk_tiles):
            row_values = scaled[t * rows:(t + 1) * rows]
            valid = [1] * len(row_values) + [0] * (rows - len(row_values))
            slots = sum(val << (32 * r) for r, val in enumerate(row_values))
            b.stimulus.append((slots, sum(1 << r for r, ok in enumerate(valid) if ok)))
            b.actions += tree_adds(valid)
    return b


def output_accumulator(v, outputs):
    b = Block("output_accumulator", "mls_out_acc", {}, [("tile_i", 32), ("first_i", 1), ("last_i", 1)],
              ("acc_o", 32), clocked=True, ties={"valid_i": "1'b1", "done_o": ""})
    for key, _acc in v.sample_outputs(outputs):
        tiles = v.tiles[key]
        for t, value in enumerate(tiles):
            b.stimulus.append((value, int(t == 0), int(t == len(tiles) - 1)))
    b.actions = len(b.stimulus)
    return b
