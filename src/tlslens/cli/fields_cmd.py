"""`tlslens fields`: the field chooser: every field filters and columns can use."""

from __future__ import annotations

import argparse
import csv
import json
from typing import TextIO

from rich.console import Console
from rich.table import Table

from tlslens.query import FIELDS
from tlslens.query.kinds import KINDS

#: What a literal of each kind looks like, for the help text.
KIND_LITERALS = {
    "int": "42, 0x1bb", "float": "2.5", "string": '"text" (contains, matches)',
    "bool": "true, false", "ip": "10.0.0.5, 10.0.0.0/8, ::1", "time": '"2026-11-23T10:00:00Z"',
    "version": "TLS1.2, tls1.0, SSL3.0, 0x0303", "cipher": "0xc02f or its IANA name",
    "alert": "bad_certificate or 42", "alert_level": "fatal, warning",
    "handshake": "client_hello or 1", "extension": "0xff01 (contains: by name)",
}  # fmt: skip


def run_fields(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    rows = [{"name": f.name, "kind": f.kind, "meaning": f.help, "example": f.example,
             "literals": KIND_LITERALS.get(f.kind, "")} for f in FIELDS]  # fmt: skip
    assert all(f.kind in KINDS for f in FIELDS)
    if args.format == "json":
        json.dump(rows, out, indent=1)
        out.write("\n")
    elif args.format == "csv":
        writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    else:
        console = Console(file=out, highlight=False, width=None if out.isatty() else 160)
        table = Table(box=None, pad_edge=False, header_style="bold")
        for name in ("field", "kind", "meaning", "example"):
            table.add_column(name, overflow="fold")
        for row in rows:
            table.add_row(row["name"], row["kind"], row["meaning"], row["example"])
        console.print(table)
        console.print()
        console.print(
            "Operators: == != < <= > >= (or eq ne lt le gt ge), in {a b c}, contains, "
            "matches (a case-insensitive regular expression), and, or, not, ( )."
        )
        literals = "; ".join(f"{k}: {v}" for k, v in KIND_LITERALS.items())
        console.print(f"Literals by kind: {literals}")
    return 0
