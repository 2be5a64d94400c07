"""`tlslens messages`, `show` and `ladder`: the frame list, the details pane and a sequence
diagram of one connection, as Network Monitor and Message Analyzer showed them."""

from __future__ import annotations

import argparse
import csv
from functools import partial
from typing import Any, TextIO

from rich.console import Console
from rich.text import Text
from rich.tree import Tree

from tlslens.analysis.conversation import Conversation
from tlslens.analysis.details import Node, message_tree
from tlslens.analysis.frame_list import frame_rows
from tlslens.analysis.timeline import capture_entries
from tlslens.cli.arguments import FRAME_COLUMNS
from tlslens.cli.files import Captures, matching_frames, no_frame_note, read_inputs
from tlslens.cli.json_text import to_json
from tlslens.cli.table import Column, Table

#: Width of the arrows in the ladder.
LADDER_WIDTH = 64


def _console(out: TextIO, width: int = 200) -> Console:
    return Console(file=out, highlight=False, width=None if out.isatty() else width)


def run_messages(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    inputs = read_inputs(args, err)
    if inputs is None:
        return 1
    aliases, predicate = inputs
    columns = list(FRAME_COLUMNS)
    if args.columns is not None:
        columns = [c.strip() for c in args.columns.split(",") if c.strip()]
        unknown = [c for c in columns if c not in FRAME_COLUMNS]
        if unknown or not columns:
            print(
                f"tlslens: error: --columns: {', '.join(unknown) or 'nothing'} is not a "
                f"column of messages; choose among {','.join(FRAME_COLUMNS)}",
                file=err,
            )
            return 1
    captures = Captures([args.capture], err, keep_frame_times=True, aliases=aliases,
                        keep_frames=True)  # fmt: skip
    for analysis in captures:
        path = analysis.report.path
        convs = list(analysis.conversations())
        # Generators all the way to the writer: one frame's row exists at a time (the table
        # keeps its strings), not three copies of the whole frame list.
        rows = matching_frames(frame_rows(analysis.frames or [], convs, analysis.frame_time),
                               convs, predicate, args.filter,
                               on_empty=partial(no_frame_note, path, err))  # fmt: skip
        records = ({c: record[c] for c in columns} for record in (r.to_record() for r in rows))
        if args.format == "jsonl":
            for record in records:
                out.write(to_json(record) + "\n")
        elif args.format == "json":
            out.write(to_json({"file": path, "frames": list(records)}) + "\n")
        elif args.format == "csv":
            writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
            writer.writeheader()
            writer.writerows(records)
        else:
            table = Table([
                Column("time (UTC)" if name == "ts" else name,
                       "right" if name in ("frame", "conn") else "left")
                for name in columns
            ])  # fmt: skip
            for record in records:
                summary = str(record.get("summary", ""))
                style = (
                    "bold red"
                    if "Alert" in summary
                    else "dim"
                    if record.get("protocol") == "-"
                    else ""
                )
                cells = {
                    **record,
                    "ts": str(record.get("ts", ""))[11:-1],
                    "conn": "" if record.get("conn") is None else str(record["conn"]),
                }
                table.add_row(
                    (str(cells[c]), style) if c == "summary" else str(cells[c]) for c in columns
                )
            console = _console(out)
            console.print(Text(path, style="bold"))
            table.print(console)
    return captures.status


def _find(analysis: Any, conv_id: int | None, frame: int | None, err: TextIO
          ) -> tuple[list[Conversation], Conversation | None]:  # fmt: skip
    convs = list(analysis.conversations())
    if conv_id is not None:
        found = next((c for c in convs if c.id == conv_id), None)
        if found is None:
            print(f"tlslens: error: {analysis.report.path}: no connection {conv_id} (the capture "
                  f"has {len(convs)}, numbered 0 to {len(convs) - 1})", file=err)  # fmt: skip
        return convs, found
    assert frame is not None
    owner = next((r.conn for r in analysis.frames or [] if r.frame == frame), None)
    total = analysis.report.frames
    if owner is None:
        why = "is not a TCP frame" if 0 < frame <= total else \
            f"does not exist (the capture has {total} frames)"  # fmt: skip
        print(f"tlslens: error: {analysis.report.path}: frame {frame} {why}", file=err)
        return convs, None
    return convs, next(c for c in convs if c.id == owner)


def _tree(node: Node, into: Tree) -> None:
    for child in node.children:
        _tree(child, into.add(Text(child.label)))


def run_show(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    inputs = read_inputs(args, err)
    if inputs is None:
        return 1
    aliases, _ = inputs
    captures = Captures([args.capture], err, aliases=aliases, keep_frames=args.frame is not None)
    status = 0
    for analysis in captures:
        _, conv = _find(analysis, args.conn, args.frame, err)
        if conv is None:
            status = 1
            continue
        nodes = message_tree(conv, args.frame)
        head = f"conn {conv.id}  {conv.client} → {conv.server}  {conv.outcome}"
        if args.format == "json":
            out.write(to_json({"file": analysis.report.path, "conn": conv.id, "frame": args.frame,
                               "messages": [n.to_record() for n in nodes]}) + "\n")  # fmt: skip
            continue
        console = _console(out, 160)
        console.print(Text(head, style="bold"))
        if not nodes:
            what = f"frame {args.frame}" if args.frame is not None else "this connection"
            console.print(Text(f"  no TLS message in {what}", style="dim"))
        for node in nodes:
            tree = Tree(Text(node.label, style="bold"))
            _tree(node, tree)
            console.print(tree)
    return max(status, captures.status)


def _arrow(label: str, side: str | None) -> str:
    if side is None:
        return label.center(LADDER_WIDTH)
    text = f" {label} "
    if len(text) > LADDER_WIDTH - 4:
        text = text[: LADDER_WIDTH - 5] + "… "
    fill = LADDER_WIDTH - len(text) - 1
    if side == "client":
        return "──" + text + "─" * (fill - 2) + "▶"
    return "◀" + "─" * (fill - 2) + text + "──"


def run_ladder(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    inputs = read_inputs(args, err)
    if inputs is None:
        return 1
    aliases, _ = inputs
    captures = Captures([args.capture], err, keep_frame_times=True, aliases=aliases)
    status = 0
    for analysis in captures:
        _, conv = _find(analysis, args.conn, None, err)
        if conv is None:
            status = 1
            continue
        entries = sorted(capture_entries(conv, analysis.frame_time),
                         key=lambda e: (e.frame or 0, e.ts_ns))  # fmt: skip
        start = conv.start_ns
        if args.format == "json":
            out.write(to_json({"file": analysis.report.path, "conn": conv.id, "steps": [
                {"frame": e.frame, "t": round((e.ts_ns - start) / 1e9, 6), "from": e.side,
                 "kind": e.kind, "label": e.label} for e in entries]}) + "\n")  # fmt: skip
            continue
        console = _console(out, 120)
        client, server = f"client {conv.client}", f"server {conv.server}"
        console.print(Text(f"{'':18}{client:<{LADDER_WIDTH // 2}}{server:>{LADDER_WIDTH // 2}}",
                           style="bold"))  # fmt: skip
        for e in entries:
            style = "bold red" if e.kind == "tls-alert" else "yellow" if e.kind == "tcp-close" \
                else "magenta" if e.kind in ("tcp-gap", "tls-anomaly") else ""  # fmt: skip
            line = Text(
                f"{'#' + str(e.frame) if e.frame else '':>7} {(e.ts_ns - start) / 1e9:>9.6f} "
            )
            line.append(_arrow(e.label or e.summary, e.side), style=style)
            console.print(line)
        console.print(Text(f"{'':18}outcome: {conv.outcome}", style="bold"))
    return max(status, captures.status)
