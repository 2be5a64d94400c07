"""`tlslens analyze --columns`: the fields a user chose, one row per connection, in each
output format.

Apart from `tlslens.cli.render` because it needs the filter language's fields, which the usual
connection record does not: `tlslens.cli.analyze_cmd` imports this module only with --columns.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any, TextIO

from rich.console import Console
from rich.text import Text

from tlslens.analysis.conversation import Conversation
from tlslens.cli.json_text import to_json
from tlslens.cli.table import Column, Table
from tlslens.query import Row, suggest_fields
from tlslens.query.fields import BY_NAME, Field
from tlslens.query.kinds import KINDS


def column_fields(text: str) -> list[Field]:
    """The fields named by --columns (comma-separated); raises ValueError naming an unknown
    one with the closest names."""
    out = []
    for name in (n.strip() for n in text.split(",")):
        if not name:
            continue
        field = BY_NAME.get(name)
        if field is None:
            close = suggest_fields(name)
            hint = f"; did you mean {', '.join(close)}?" if close else \
                "; `tlslens fields` lists them"  # fmt: skip
            raise ValueError(f"--columns: unknown field {name!r}{hint}")
        out.append(field)
    if not out:
        raise ValueError("--columns: no field named")
    return out


def column_values(fields: list[Field], row: Row) -> dict[str, Any]:
    """name -> the field's values for one connection: a single value, a list, or None;
    versions, ciphers, alerts and addresses as their names."""
    record: dict[str, Any] = {}
    for field in fields:
        kind = KINDS[field.kind]
        raw = field.get(row)
        values = [v if field.kind in ("int", "float", "bool", "string") else kind.text(v)
                  for v in raw]  # fmt: skip
        record[field.name] = None if not values else values[0] if len(values) == 1 else values
    return record


def column_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def print_columns(out: TextIO, console: Console | None, fmt: str, path: str,
                  columns: list[Field], conversations: Iterable[Conversation], process_of: Any,
                  first_file: bool) -> None:  # fmt: skip
    """The chosen fields of one file's connections; `console` is needed for text only."""
    names = [f.name for f in columns]
    rows = (column_values(columns, Row(c, None, process_of(c.id) if process_of else None))
            for c in conversations)  # fmt: skip
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=["file", *names], lineterminator="\n")
        if first_file:
            writer.writeheader()
        for row in rows:
            writer.writerow({"file": path, **{k: column_text(v) for k, v in row.items()}})
    elif fmt == "jsonl":
        for row in rows:
            out.write(to_json({"file": path, **row}) + "\n")
    elif fmt == "json":
        out.write(to_json({"file": path, "connections": list(rows)}) + "\n")
    else:
        assert console is not None
        table = Table([Column(name) for name in names])
        for row in rows:
            table.add_row(column_text(row[name]) for name in names)
        console.print(Text(path, style="bold"))
        table.print(console)
