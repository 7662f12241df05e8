"""Verilog models of the liberty's cells, generated from its `function`,
`ff` and `latch` attributes (never vendored): the gate-level netlist of the
whole array runs under Verilator with them (docs/rtl.md#power-of-the-whole-array).
Debian's osu018_stdcells.v is written for event simulators (primitives,
specify blocks) and is not used there.

A liberty function is written with `!` (not), `+` (or), `^` (xor) and
juxtaposition or `&`/`*` (and); `liberty_expr` turns it into a Verilog
expression. Sequential cells take `clocked_on` (posedge, or negedge when
inverted), `next_state`, and active-low `clear` / `preset` (both active:
`clear_preset_var1`, L here).
"""
import re

TOKEN = re.compile(r"\s*([A-Za-z_]\w*|[!+^&*|()]|'?[01]'?)")


class CellModelError(Exception):
    pass


def liberty_expr(text):
    """Verilog form of a liberty boolean function."""
    tokens, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise CellModelError(f"cannot read the liberty function '{text}'")
        tokens.append(m.group(1))
        pos = m.end()
    out, prev = [], None
    for tok in tokens:
        operand_start = tok == "(" or tok == "!" or re.match(r"\w", tok)
        if prev is not None and (prev == ")" or re.match(r"\w", prev)) and operand_start:
            out.append("&")  # juxtaposition is and
        out.append({"!": "~", "+": "|", "*": "&"}.get(tok, tok))
        prev = tok
    return " ".join(out)


def _groups(text, kind):
    """(name, body) of each `kind (name) { ... }` group at any depth of text."""
    found = []
    for m in re.finditer(rf"\b{kind}\s*\(\s*\"?([\w,\s]*?)\"?\s*\)\s*\{{", text):
        depth, i = 1, m.end()
        while depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        found.append((m.group(1), text[m.end():i - 1]))
    return found


def _attr(body, name):
    m = re.search(rf"\b{name}\s*:\s*\"?([^\";]+?)\"?\s*;", body)
    return m.group(1).strip() if m else None


def _top_level(body):
    """body with its nested groups removed (a pin's own attributes)."""
    out, depth = [], 0
    for ch in body:
        depth += ch == "{"
        if depth == 0:
            out.append(ch)
        depth -= ch == "}"
    return "".join(out)


def read_cells(liberty_path):
    """{cell: {"inputs": [...], "outputs": {pin: function}, "ff"/"latch": attrs}}."""
    cells = {}
    for name, body in _groups(open(liberty_path).read(), "cell"):
        cell = {"inputs": [], "outputs": {}, "seq": None}
        for pin, pbody in _groups(body, "pin"):
            own = _top_level(pbody)
            if _attr(own, "direction") == "input":
                cell["inputs"].append(pin)
            else:
                if _attr(own, "three_state"):
                    cell["tristate"] = True
                cell["outputs"][pin] = _attr(own, "function")
        for kind in ("ff", "latch"):
            for states, sbody in _groups(body, kind):
                cell["seq"] = (kind, [s.strip() for s in states.split(",")], _top_level(sbody))
        cells[name] = cell
    return cells


def _edge(signal):
    """(edge, pin) of a clock or asynchronous control: `X` high, `(!X)` / `!X` low."""
    s = signal.strip().strip("()").strip()
    return ("negedge", s[1:].strip()) if s.startswith("!") else ("posedge", s)


def _sequential(name, cell):
    kind, (state, state_n), attrs = cell["seq"]
    ports = ", ".join(cell["inputs"] + list(cell["outputs"]))
    lines = [f"module {name} ({ports});"] + [f"  input {p};" for p in cell["inputs"]]
    lines += [f"  output {p};" for p in cell["outputs"]] + [f"  reg {state};", f"  wire {state_n} = ~{state};"]
    if kind == "latch":
        lines.append(f"  always @* if ({liberty_expr(_attr(attrs, 'enable'))}) "
                     f"{state} = {liberty_expr(_attr(attrs, 'data_in'))};")
    else:
        clock = _edge(_attr(attrs, "clocked_on"))
        events, branches = [" ".join(clock)], []
        for control, value in (("clear", "1'b0"), ("preset", "1'b1")):
            if _attr(attrs, control):
                edge, pin = _edge(_attr(attrs, control))
                events.append(f"{edge} {pin}")
                branches.append(f"if ({liberty_expr(_attr(attrs, control))}) {state} <= {value};")
        if len(branches) == 2 and _attr(attrs, "clear_preset_var1") not in ("L", None):
            raise CellModelError(f"{name}: clear_preset_var1 {_attr(attrs, 'clear_preset_var1')} is not modelled")
        body = " else ".join(branches + [f"{state} <= {liberty_expr(_attr(attrs, 'next_state'))};"])
        lines.append(f"  always @({' or '.join(events)}) {body}")
    lines += [f"  assign {p} = {liberty_expr(f)};" for p, f in cell["outputs"].items()]
    return lines + ["endmodule"]


def verilog_models(liberty_path, used):
    """Verilog of the cells in `used`, for Verilator. Toggle coverage is off in
    them: the netlist's nets are counted once, at the netlist's level."""
    cells = read_cells(liberty_path)
    text = ["// Generated from " + liberty_path + " by rtl/power/gates/cell_models.py.",
            "/* verilator lint_off DECLFILENAME */", "/* verilator lint_off UNUSEDSIGNAL */"]
    for name in sorted(used):
        cell = cells.get(name)
        if cell is None:
            raise CellModelError(f"the netlist uses {name}, which {liberty_path} does not define")
        if cell.get("tristate") or any(f is None for f in cell["outputs"].values()):
            raise CellModelError(f"{name}: tri-state or function-less outputs are not modelled")
        if cell["seq"]:
            lines = _sequential(name, cell)
        else:
            ports = ", ".join(cell["inputs"] + list(cell["outputs"]))
            lines = [f"module {name} ({ports});"] + [f"  input {p};" for p in cell["inputs"]]
            lines += [f"  output {p};" for p in cell["outputs"]]
            lines += [f"  assign {p} = {liberty_expr(f)};" for p, f in cell["outputs"].items()] + ["endmodule"]
        text += ["/* verilator coverage_off */"] + lines
    return "\n".join(text) + "\n"


def pin_capacitances(liberty_path):
    """{(cell, input pin): capacitance in the liberty's unit (pF here)} and the
    nominal voltage: what charging a net's loads costs, C V^2 / 2 per transition."""
    text = open(liberty_path).read()
    voltage = float(re.search(r"\bnom_voltage\s*:\s*([0-9.]+)", text).group(1))
    caps = {}
    for name, body in _groups(text, "cell"):
        for pin, pbody in _groups(body, "pin"):
            own = _top_level(pbody)
            if _attr(own, "direction") == "input" and _attr(own, "capacitance"):
                caps[(name, pin)] = float(_attr(own, "capacitance"))
    return caps, voltage
