"""The baseline designs' arithmetic units (docs/rtl.md#baselines), for the
Python flows (rtl/synth/cell_counts.py, rtl/power/gates/fp_units.py): each
named unit is one module of rtl/src at the parameters that give its format.
The adders and the multipliers of every binary format are one module each
(fp_add, fp_mul, with the exponent and mantissa widths EW, MW as parameters);
rtl/CMakeLists.txt's MLS_BASELINE_UNITS holds the same table for Verilator.

The synthesis flows read a unit as a module of its own name whose parameter
defaults are the unit's (specialized()), not as the shared module with
overridden parameters: Yosys names the cells of a module it derives for an
override otherwise than those of one elaborated at its defaults, and ABC's
mapping follows that order (fp16_add: 757 generic cells against 753, the same
function). At defaults each unit synthesizes to the netlist the committed
tables (rtl/synth/cell_counts.csv, rtl/power/osu018_gates.csv) measured.
"""
import os
import re

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "src")

# unit name: (module, parameters), in the order of the cell-count table.
UNITS = {
    "fp32_mul": ("fp_mul", {"EW": 8, "MW": 23}),
    "fp32_add": ("fp_add", {"EW": 8, "MW": 23}),
    "bf16_mul": ("fp_mul", {"EW": 8, "MW": 7}),
    "fp8_e4m3_mul": ("fp8_e4m3_mul", {}),
    "fp16_add": ("fp_add", {"EW": 5, "MW": 10}),
}


def module(unit):
    return UNITS[unit][0]


def params(unit):
    return dict(UNITS[unit][1])


def source(unit):
    """The unit's module's file: each lives alone in rtl/src/<module>.sv and instantiates nothing."""
    return os.path.join(SRC, module(unit) + ".sv")


def specialized(unit):
    """SystemVerilog of the unit alone: its module renamed to the unit, with the
    unit's parameters as the defaults."""
    with open(source(unit)) as f:
        text = f.read()
    text, renamed = re.subn(rf"^module {module(unit)}\b", f"module {unit}", text, count=1, flags=re.M)
    if renamed != 1:
        raise ValueError(f"{source(unit)}: no 'module {module(unit)}' line")
    for name, value in params(unit).items():
        text, n = re.subn(rf"(parameter\s+int\s+unsigned\s+{name}\s*=\s*)\d+", rf"\g<1>{value}", text, count=1)
        if n != 1:
            raise ValueError(f"{source(unit)}: no 'parameter int unsigned {name} = <default>'")
    return text


def write_specialized(unit, folder):
    """specialized(unit) as <folder>/<unit>.sv; returns the path."""
    path = os.path.join(folder, unit + ".sv")
    with open(path, "w") as f:
        f.write(specialized(unit))
    return path
