#!/usr/bin/python3
"""docs/reference.md's tables of the report's statistics, generated from the
binary's registries (`mlssim describe --json`, "stats": hw_model/stats/stats.h's
kStatTable, traffic.h's kTrafficTable), so the units and descriptions have one
source.

    /usr/bin/python3 tools/doc_tables.py [--write] [--doc FILE] [--mlssim PATH]

Each generated table stands between the lines
`<!-- generated: NAME ... -->` and `<!-- end generated: NAME -->`; NAME is a
registry (events, traffic). Without --write: exit 1, naming each table that
differs from what the registry gives (the `cli.test_doc_tables` test); with
--write: the tables are rewritten in place. Edit a description in the
registry, then run --write.
"""
import argparse
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mlssim_registry  # noqa: E402

DOC = os.path.join(mlssim_registry.ROOT, "docs", "reference.md")
BEGIN = "<!-- generated: {name} from `mlssim describe --json` by tools/doc_tables.py; edit the registry, not this table -->"
END = "<!-- end generated: {name} -->"


def cell(text):
    return text.replace("|", "\\|")


def events_table(rows):
    lines = ["| key | counted by | unit | counts |", "| --- | --- | --- | --- |"]
    lines += [f"| `{r['key']}` | `{r['block']}` | {cell(r['unit'])} | {cell(r['description'])} |" for r in rows]
    return lines


def traffic_table(rows):
    lines = ["| key | unit | what |", "| --- | --- | --- |"]
    lines += [f"| `{r['key']}` | {cell(r['unit'])} | {cell(r['description'])} |" for r in rows]
    return lines


TABLES = {"events": events_table, "traffic": traffic_table}


def regenerate(text, stats):
    """(the text with every generated table made from the registry, names of the tables that changed)."""
    changed = []
    for name, render in TABLES.items():
        begin, end = BEGIN.format(name=name), END.format(name=name)
        pattern = re.compile(re.escape(begin) + r"\n(.*?)" + re.escape(end), re.S)
        match = pattern.search(text)
        if not match:
            raise mlssim_registry.RegistryError(f"no generated table '{name}' (a line {begin!r})")
        body = "\n".join(render(stats[name])) + "\n"
        if match.group(1) != body:
            changed.append(name)
        text = text[:match.start(1)] + body + text[match.end(1):]
    return text, changed


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--write", action="store_true", help="rewrite the tables instead of checking them")
    ap.add_argument("--doc", default=DOC)
    ap.add_argument("--mlssim")
    args = ap.parse_args(argv)
    mlssim_registry.use(args.mlssim)
    try:
        with open(args.doc) as f:
            text = f.read()
        new, changed = regenerate(text, mlssim_registry.stats())
    except (OSError, mlssim_registry.RegistryError) as e:
        print(f"doc_tables: {args.doc}: {e}", file=sys.stderr)
        return 1
    if args.write:
        if changed:
            with open(args.doc + ".tmp", "w") as f:
                f.write(new)
            os.replace(args.doc + ".tmp", args.doc)
        print(f"doc_tables: {args.doc}: {', '.join(changed) or 'nothing'} rewritten")
        return 0
    for name in changed:
        print(f"doc_tables: {args.doc}: the '{name}' table differs from the registry "
              f"(run /usr/bin/python3 tools/doc_tables.py --write)", file=sys.stderr)
    return 1 if changed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
