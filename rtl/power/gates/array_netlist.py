"""The whole array (rtl/src/mls_array.sv) as one gate-level netlist, its
cells attributed to the blocks of the energy model by instance path
(docs/rtl.md#power-of-the-whole-array).

Yosys maps the array module by module to the liberty's cells (keeping the
hierarchy, as rtl/synth/array_cells.py does), then flattens it, so each cell's
name is its instance path. The operand buffers' memories stay behavioural
($mem, `memory -nomap`): they are SRAM, not logic, and the simulation needs
their real depth. `rename_netlist` then gives every escaped (hierarchical or
private) name a short one, the same in both netlists Yosys writes, and keeps
the block of each cell:

  sim.v  bus ports, memories behavioural  -> Verilator (rtl/tb/tb_array.cpp)
  sta.v  bit ports, memories removed      -> OpenSTA (steps.pin_energy)
"""
import json
import os
import re
import sys

from . import steps

RTL = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(RTL, "synth"))
from array_cells import SOURCES  # noqa: E402

# Memory address widths of the mls_rtl_array builds (rtl/CMakeLists.txt, MLS_ARRAY_MEMORY).
MEMORY = {"XAW": 16, "YAW": 20, "XSAW": 12, "YSAW": 16}
# The default formats of mls_rtl_array (MLS_ARRAY_FORMATS) and of `mlssim vectors`.
FORMATS = {"EX": 2, "MX": 4, "EY": 2, "MY": 4, "EGX": 8, "MGX": 1, "EGY": 8, "MGY": 1, "ACC_BITS": 16, "WRAP": 0}

# Block of a cell by the instances on its path, first match wins: the energy
# model's blocks (what `mlssim energy` prices), then what it does not price.
PATH_BLOCKS = [
    ("u_final.", "final_scale"),
    ("u_pe.u_mul.", "multiplier"),
    ("u_pe.", "local_accumulator"),
    ("u_scaler.", "group_scaler"),
    ("u_tree.", "adder_tree"),
    ("u_out_acc.", "output_accumulator"),
    ("u_ctrl.", "controller"),
    ("u_buf.", "operand_buffer_logic"),
    ("u_pipe_", "pipeline_registers"),
    ("u_col.", "column_registers"),  # a column's own: the scaled chunks, flags
]
GLUE = "output_registers"  # the array's own: the output write (values, mask, tags)
MODEL_BLOCKS = ["multiplier", "local_accumulator", "group_scaler", "adder_tree", "output_accumulator", "final_scale"]


def block_of_path(path):
    path = path.replace("$flatten", "").replace("\\", "")
    for marker, block in PATH_BLOCKS:
        if marker in path:
            return block
    return GLUE


def sources():
    return [os.path.join(RTL, "src", s + ".sv") for s in SOURCES]


def parameters(rows, cols):
    return dict(ROWS=rows, COLS=cols, **FORMATS, **MEMORY)


def synthesis_script(rows, cols):
    """Yosys 0.23's `synth` with `memory -nomap -nordff` (no memory mapping, the
    buffers' read registers stay gates) and without its final check, then the
    liberty mapping module by module and the flattening."""
    lib = steps.LIBERTY
    chparams = "".join(f" -chparam {k} {v}" for k, v in parameters(rows, cols).items())
    coarse = ("proc; opt_expr; opt_clean; check; opt -nodffe -nosdff; fsm; opt; wreduce; peepopt; opt_clean; "
              "alumacc; share; opt; memory -nomap -nordff; opt_clean")
    fine = "opt -fast -full; opt -full; techmap; opt -fast; abc -fast; opt -fast"
    return (f"read_verilog -sv {' '.join(sources())}; hierarchy -top mls_array{chparams}; "
            f"synth -top mls_array -run begin:coarse; {coarse}; {fine}; "
            f"dfflibmap -liberty {lib}; abc -liberty {lib}; opt_clean; "
            f"tee -q -o stat.txt stat -liberty {lib}; flatten; opt_clean; splitnets; "
            f"select -assert-none t:$* t:$mem_v2 %d; "
            f"write_verilog -noattr -noexpr -norename flat_sim.v; splitnets -ports; delete t:$mem_v2; "
            f"write_verilog -noattr -noexpr -norename flat_sta.v")


ESCAPED = re.compile(r"\\(\S+)(?=\s)")
INSTANCE = re.compile(r"^\s*(\w+)\s+(\\\S+|\w+)\s*\(", re.M)
KEYWORDS = {"module", "input", "output", "wire", "reg", "assign", "always", "if", "else"}


def rename_netlist(texts, ports):
    """Each escaped name that is not a port bit becomes _x<N>_ (the same N in
    every text). Returns the renamed texts and {new cell name: block}."""
    names = {}

    def short(m):
        name = m.group(1)
        if name.split("[")[0] in ports:
            return m.group(0)
        if name not in names:
            names[name] = f"_x{len(names)}_"
        return names[name]

    blocks = {}
    for m in INSTANCE.finditer(texts[0]):
        cell, inst = m.groups()
        if cell not in KEYWORDS:
            blocks[inst.lstrip("\\")] = block_of_path(inst.lstrip("\\"))
    renamed = [ESCAPED.sub(short, t) for t in texts]
    return renamed, {names.get(inst, inst): b for inst, b in blocks.items()}


def port_names(text):
    m = re.search(r"module\s+mls_array\s*\(([^)]*)\)", text)
    return {p.strip() for p in m.group(1).split(",")}


def synthesize(work, rows, cols):
    """sim.v, sta.v, blocks.json ({cell: block}) and the per-module stat in work."""
    steps.run(["yosys", "-q", "-p", synthesis_script(rows, cols)], work, "yosys (mls_array)")
    texts = [open(os.path.join(work, n)).read() for n in ("flat_sim.v", "flat_sta.v")]
    (sim, sta), blocks = rename_netlist(texts, port_names(texts[0]))
    for name, text in (("sim.v", sim), ("sta.v", sta)):
        with open(os.path.join(work, name), "w") as f:
            f.write(text)
    with open(os.path.join(work, "blocks.json"), "w") as f:
        json.dump(blocks, f)
    for name in ("flat_sim.v", "flat_sta.v"):
        os.remove(os.path.join(work, name))
    return blocks


def used_cells(text):
    return {m.group(1) for m in INSTANCE.finditer(text)} - KEYWORDS
