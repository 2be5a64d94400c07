"""`tlslens timeline`: a capture's connections and an event log's events in one time-ordered
list, each log event joined to the connection it most likely belongs to."""

from __future__ import annotations

import argparse
import csv
from functools import partial
from typing import Any, TextIO

from rich.console import Console

from tlslens.analysis.conversation import format_time
from tlslens.analysis.timeline import (
    CAPTURE,
    Entry,
    capture_entries,
    event_entries,
    merge,
    other_entries,
)
from tlslens.cli.events import EventInput
from tlslens.cli.files import Captures, matching, no_match_note, read_inputs
from tlslens.cli.json_text import to_json
from tlslens.cli.table import Lines

#: Events this long before the capture's first frame or after its last are still shown.
MARGIN_NS = 60 * 1_000_000_000

CSV_COLUMNS = ("ts", "source", "conn", "kind", "frame", "summary", "event_id", "provider",
               "reason")  # fmt: skip

KIND_STYLE = {
    "tls-alert": "bold red", "tcp-close": "yellow", "tcp-gap": "magenta",
    "tls-anomaly": "magenta", "schannel": "bold cyan", "network": "cyan",
}  # fmt: skip


def _print_text(console: Console, path: str, entries: list[Entry]) -> None:
    # Line by line (`Lines`): a busy capture's timeline runs to a hundred thousand lines,
    # which rich's print takes about 150 µs each to lay out.
    out = Lines(console)
    out.line((path, "bold"))
    day = ""
    for e in entries:
        stamp = format_time(e.ts_ns)
        if stamp[:10] != day:
            day = stamp[:10]
            out.line((day, "bold"))
        conn = f"conn {e.conn}" if e.conn is not None else "-"
        frame = f"#{e.frame}" if e.frame is not None and e.source == CAPTURE else ""
        out.line(f"{stamp[11:-1]}  {'cap' if e.source == CAPTURE else 'log'}  "
                 f"{conn:>8} {frame:>7}  ", (e.summary, KIND_STYLE.get(e.kind, "")))  # fmt: skip
        if e.reason:
            joined = "joined: " if e.conn is not None else "not joined: "
            out.line((f"{'':37}{joined}{e.reason}", "dim"))


def run_timeline(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    inputs = read_inputs(args, err)
    if inputs is None:
        return 1
    aliases, predicate = inputs
    events = EventInput(args.events, args.skew, err)
    captures = Captures([args.capture], err, keep_frame_times=True, aliases=aliases)
    for analysis in captures:
        conversations = list(analysis.conversations())
        frame_time = analysis.frame_time
        correlation = events.correlate(conversations, frame_time) if events else None
        process_of = correlation.process if correlation is not None else None
        path = analysis.report.path
        kept = list(matching(conversations, predicate, args.filter, process_of,
                             partial(no_match_note, path, err)))  # fmt: skip
        entries = [e for conv in kept for e in capture_entries(conv, frame_time)]
        streams: list[Any] = [entries]
        if correlation is not None and predicate is not None:
            # With a filter, only the events joined to the connections it keeps.
            ids = {conv.id for conv in kept}
            streams.append(e for e in event_entries(correlation) if e.conn in ids)
        elif correlation is not None:
            streams.append(event_entries(correlation))
            times = analysis.frame_times
            if args.all_events:
                start, end = -(2**63), 2**63 - 1
            elif times:
                start, end = min(times) - MARGIN_NS, max(times) + MARGIN_NS
            else:
                start, end = 1, 0
            skew = correlation.skew_ns
            streams.append(other_entries(events.others(start, end, skew), skew))
        merged = merge(*streams)
        path = analysis.report.path
        if args.format == "text":
            console = Console(file=out, highlight=False, width=None if out.isatty() else 200)
            _print_text(console, path, merged)
        elif args.format == "jsonl":
            for e in merged:
                out.write(to_json(e.to_record()) + "\n")
        elif args.format == "json":
            out.write(to_json({"file": path, "entries": [e.to_record() for e in merged]}) + "\n")
        else:
            writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="ignore",
                                    lineterminator="\n")  # fmt: skip
            writer.writeheader()
            for e in merged:
                writer.writerow(e.to_record())
    return max(captures.status, events.status)
