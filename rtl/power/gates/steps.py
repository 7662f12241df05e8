"""The steps of the flow, each from files to files in one work directory:

  synthesize   pw_top.sv + RTL          -> sim.v (bus ports), sta.v (bit ports), cells.json
  simulate     sim.v + stim.hex         -> toggles.json (transitions per net over the window)
  pin_energy   sta.v                    -> pins.json (OpenSTA's energy per transition of
                                           every cell pin, leakage per cell)
  combine      toggles + pins           -> energy of the window, split internal/switching/leakage

OpenSTA 2019 (Debian) propagates activities from the inputs only (its
per-pin `set_power_activity` is overwritten by propagation), so the flow asks
it for what does not depend on activity: with its power debug output at a
global activity, OpenSTA prints, per cell pin, the internal energy of each
arc (from the liberty tables at the pin's slew and load) and the switching
power of each output at a known activity. `combine` multiplies these per-pin
energies by the transitions the gate-level simulation counted on each pin's
net, exactly as OpenSTA's report_power would with those activities; the flow
checks that the same per-pin energies reproduce OpenSTA's own report_power
total at the global activity.
"""
import json
import os
import re
import subprocess

LIBERTY = "/usr/share/qflow/tech/osu018/osu018_stdcells.lib"
CELLS_V = "/usr/share/qflow/tech/osu018/osu018_stdcells.v"
PERIOD_NS = 10  # the testbench clock; energy per transition does not depend on it


class StepError(Exception):
    pass


def run(cmd, cwd, what):
    r = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        tail = r.stdout.strip().splitlines()[-3:]
        raise StepError(f"{what} failed in {cwd}: {' | '.join(tail)}")
    return r.stdout


def synthesis_script(block):
    """The Yosys script. A block with keep_hierarchy (the PE) is mapped module by
    module and flattened after mapping, so its multiplier is the very netlist the
    multiplier block has and their difference is the accumulator alone."""
    files = " ".join(block.source_files() + list(block.texts) + ["pw_top.sv"])
    if block.keep_hierarchy:
        synth = (f"synth -top pw_top; dfflibmap -liberty {LIBERTY}; abc -liberty {LIBERTY}; "
                 f"flatten; opt_clean;")
    else:
        synth = f"synth -flatten -top pw_top; dfflibmap -liberty {LIBERTY}; abc -liberty {LIBERTY}; opt_clean;"
    return (f"read_verilog -sv {files}; hierarchy -top pw_top; {synth} splitnets; "
            f"rename -hide w:*; rename -enumerate; opt_clean; write_verilog -noattr -noexpr sim.v; "
            f"splitnets -ports; opt_clean; write_verilog -noattr -noexpr sta.v; "
            f"tee -q -o stat.json stat -json -liberty {LIBERTY}")


def synthesize(block, work):
    for name, text in list(block.texts.items()) + [("pw_top.sv", block.wrapper())]:
        with open(os.path.join(work, name), "w") as f:
            f.write(text)
    script = synthesis_script(block)
    run(["yosys", "-q", "-p", script], work, f"yosys ({block.name})")
    with open(os.path.join(work, "stat.json")) as f:
        design = json.load(f)["modules"]["\\pw_top"]
    area = design.get("area")
    if area is None:
        area = _area_from_liberty(design["num_cells_by_type"])
    return {"cells": design["num_cells"], "by_type": design["num_cells_by_type"], "area_um2": area}


def _area_from_liberty(by_type):
    areas, cell = {}, None
    with open(LIBERTY) as f:
        for line in f:
            m = re.match(r"\s*cell\s*\(\s*\"?(\w+)\"?\s*\)", line)
            if m:
                cell = m.group(1)
            m = re.match(r"\s*area\s*:\s*([0-9.]+)", line)
            if m and cell and cell not in areas:
                areas[cell] = float(m.group(1))
    return sum(areas.get(c, 0.0) * n for c, n in by_type.items())


def simulate(block, work):
    """Runs the netlist on the stimulus under Icarus (zero delay: no glitches)
    and counts each net's transitions over the window of len(stimulus) cycles."""
    words = block.stimulus_words()
    iw, ow = block.input_width(), block.output[1]
    digits = (iw + 3) // 4
    with open(os.path.join(work, "stim.hex"), "w") as f:
        f.writelines(f"{w:0{digits}x}\n" for w in words)
    n = len(words)
    tb = (f"`timescale 1ns/10ps\nmodule tb;\n  reg clk = 0, rst_n = 0;\n  reg [{iw - 1}:0] stim [0:{n - 1}];\n"
          f"  reg [{iw - 1}:0] in_d = 0;\n  wire [{ow - 1}:0] out;\n  integer i;\n"
          f"  pw_top dut (.clk_i(clk), .rst_ni(rst_n), .in_i(in_d), .out_o(out));\n"
          f"  always #{PERIOD_NS // 2} clk = ~clk;\n"
          f"  initial begin\n    $readmemh(\"stim.hex\", stim);\n    #{2 * PERIOD_NS} rst_n = 1;\n"
          f"    $dumpfile(\"act.vcd\");\n    $dumpvars(1, dut);\n"
          f"    for (i = 0; i < {n}; i = i + 1) begin in_d = stim[i]; #{PERIOD_NS}; end\n"
          f"    $finish;\n  end\nendmodule\n")
    with open(os.path.join(work, "tb.v"), "w") as f:
        f.write(tb)
    run(["iverilog", "-g2005", "-o", "tb.vvp", "tb.v", "sim.v", CELLS_V], work, f"iverilog ({block.name})")
    run(["vvp", "-n", "tb.vvp"], work, f"vvp ({block.name})")
    toggles = count_toggles(os.path.join(work, "act.vcd"))
    os.remove(os.path.join(work, "act.vcd"))
    return {"cycles": n, "toggles": toggles}


def count_toggles(path):
    """Transitions (0<->1) per bit in a VCD, comparing each time step's final
    value with the previous step's (a net that changes and changes back within
    one zero-delay step did not switch)."""
    names, width = {}, {}
    with open(path) as f:
        for line in f:
            if line.startswith("$var"):
                parts = line.split()
                code, w, name = parts[3], int(parts[2]), parts[4]
                names.setdefault(code, []).append(name)
                width[code] = w
            elif line.startswith("$enddefinitions"):
                break
        current, pending, count = {}, {}, {}

        def settle():
            for code, value in pending.items():
                old = current.get(code)
                if old is not None:
                    for i, (a, b) in enumerate(zip(old, value)):
                        if a != b and a in "01" and b in "01":
                            count[(code, i)] = count.get((code, i), 0) + 1
                current[code] = value
            pending.clear()

        for line in f:
            c = line[0]
            if c == "#":
                settle()
            elif c in "01xz":
                pending[line[1:].strip()] = line[0]
            elif c == "b":
                value, code = line[1:].split()
                pending[code] = value.rjust(width[code], "0" if value[0] in "01" else value[0])
        settle()
    toggles = {}
    for (code, i), n in count.items():
        w = width[code]
        for name in names[code]:
            toggles[name if w == 1 else f"{name}[{w - 1 - i}]"] = n
    return toggles


def netlist_pins(path):
    """{instance: (cell, {pin: net})} of a yosys netlist with bit ports."""
    text = open(path).read()
    instances = {}
    for m in re.finditer(r"^\s*(\w+)\s+(\S+)\s*\((.*?)\);", text, re.S | re.M):
        cell, inst, body = m.groups()
        if cell in ("module", "input", "output", "wire"):
            continue
        pins = {p: net.strip().lstrip("\\").replace(" ", "") for p, net in
                re.findall(r"\.(\w+)\(([^()]*)\)", body)}
        instances[inst] = (cell, pins)
    return instances


def pin_energy(work, top="pw_top"):
    """Per cell pin, energy per transition (J): internal and switching; per cell,
    leakage (W); and OpenSTA's own report_power total at global activity 1."""
    tcl = (f"read_liberty {LIBERTY}\nread_verilog sta.v\nlink_design {top}\n"
           f"create_clock -name clk -period {PERIOD_NS} [get_ports clk_i]\n"
           f"set_power_activity -global -activity 1.0 -duty 0.5\nsta::set_debug power 2\nreport_power -digits 8\n")
    with open(os.path.join(work, "power.tcl"), "w") as f:
        f.write(tcl)
    out = run(["sta", "-no_init", "-exit", "power.tcl"], work, "sta")
    pins, leakage, pending_sw, current = {}, {}, None, None
    for line in out.splitlines():
        if line.startswith("power: switching"):
            m = re.search(r"activity = (\S+) volt = \S+ (\S+)", line)
            pending_sw = float(m.group(2)) / float(m.group(1))
        elif line.startswith("power: internal"):
            current = line.split()[2]
            pins[current] = {"arcs": [], "switching": pending_sw or 0.0}
            pending_sw = None
        elif re.match(r"power:\s+\w+ -> \w+", line):
            energy = float(re.findall(r"\d\.\d+e[-+]\d+", line)[0])  # energy, then power
            pins[current]["arcs"].append(energy)
        elif line.startswith("power: leakage"):
            leakage[current.split("/")[0]] = float(line.split()[-1])
        elif line.startswith("Total"):
            total = [float(x) for x in line.split()[1:5]]
    # Energy of one transition of a pin: the mean over its arcs of (rise + fall) / 2,
    # as OpenSTA computes it from 2020 on; the 2019 release's report_power sums
    # the arcs and both edges instead ("arcs_sum", used only for the check).
    result = {"pins": {p: {"internal": sum(v["arcs"]) / len(v["arcs"]) / 2 if v["arcs"] else 0.0,
                           "arcs_sum": sum(v["arcs"]), "switching": v["switching"]} for p, v in pins.items()},
              "leakage": leakage, "sta_total_w": total}
    check_against_sta(work, result)
    return result


def check_against_sta(work, energies):
    """The per-pin energies at OpenSTA's activities (1 per clock, 2 on clock pins),
    summed as the 2019 release does, must give its report_power total: proof
    that the parse read every pin report_power sums."""
    instances = netlist_pins(os.path.join(work, "sta.v"))
    period = PERIOD_NS * 1e-9
    total = sum(energies["leakage"].values())
    for pin, e in energies["pins"].items():
        inst, port = pin.split("/")
        net = instances.get(inst, (None, {}))[1].get(port)
        toggles = 2.0 if net == "clk_i" else 1.0
        total += (e["arcs_sum"] + e["switching"]) * toggles / period
    sta_total = energies["sta_total_w"][3]
    # The debug output prints three significant digits per arc: allow 2%.
    if abs(total - sta_total) > 0.02 * sta_total:
        raise StepError(f"{work}: per-pin energies give {total:.4g} W, OpenSTA's report_power {sta_total:.4g} W")


def harness_instances(instances):
    """The harness flip-flops: those whose D input is an in_i port bit."""
    return {inst for inst, (_cell, pins) in instances.items() if pins.get("D", "").startswith("in_i[")}


def combine(work, toggles, energies, clock_mhz, group_of=None):
    """Energy (J) of the simulated window, block only (harness excluded but for the
    charging of the block's inputs), split internal / switching / leakage. With
    group_of ({instance: group}), also per group under "groups" (a net's
    switching goes to the cell that drives it: the pin reporting it)."""
    instances = netlist_pins(os.path.join(work, "sta.v"))
    harness = harness_instances(instances)
    cycles = toggles["cycles"]
    counts = dict(toggles["toggles"])
    counts["clk_i"] = 2 * cycles
    seconds = cycles / (clock_mhz * 1e6)
    groups = {}

    def group(inst):
        name = group_of.get(inst, "other") if group_of else "all"
        return groups.setdefault(name, {"internal": 0.0, "switching": 0.0, "leakage": 0.0, "cells": 0})

    for inst in instances:
        if inst not in harness:
            group(inst)["cells"] += 1
    for pin, e in energies["pins"].items():
        inst, port = pin.split("/")
        n = counts.get(instances[inst][1].get(port), 0)
        g = group(inst)
        g["switching"] += e["switching"] * n
        if inst not in harness:
            g["internal"] += e["internal"] * n
    for inst, w in energies["leakage"].items():
        if inst not in harness:
            group(inst)["leakage"] += w * seconds
    total = {k: sum(g[k] for g in groups.values()) for k in ("internal", "switching", "leakage", "cells")}
    if group_of:
        total["groups"] = groups
    return total
