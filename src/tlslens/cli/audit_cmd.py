"""`tlslens audit`: the compliance view, one row per client/server pair, worst first."""

from __future__ import annotations

import argparse
import csv
import json
from collections.abc import Iterable
from functools import partial
from typing import Any, TextIO

from rich.console import Console
from rich.text import Text

from tlslens.analysis.compliance import audit
from tlslens.analysis.conversation import Conversation
from tlslens.analysis.correlate import process_record
from tlslens.cli.events import EventInput
from tlslens.cli.files import Captures, matching, no_match_note, read_inputs
from tlslens.cli.table import Column, Table
from tlslens.tls.registry import version_name

CSV_COLUMNS = ("file", "client", "process", "server", "sni", "connections", "established",
               "failed", "offered_max", "versions", "ciphers", "cert_sig_algs", "violation",
               "problems", "first_conn")  # fmt: skip


def run_audit(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    inputs = read_inputs(args, err)
    if inputs is None:
        return 1
    aliases, predicate = inputs
    events = EventInput(args.events, args.skew, err)
    captures = Captures(args.files, err, keep_frame_times=bool(events), aliases=aliases)
    documents = []
    writer = None
    if args.format == "csv":
        writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
    console = Console(file=out, highlight=False, width=None if out.isatty() else 200)
    for analysis in captures:
        path = analysis.report.path
        convs: Iterable[Conversation] = analysis.conversations()
        correlation = None
        if events:
            # Joining the log needs every connection first; otherwise each one is counted
            # into its pair as it comes and freed.
            convs = list(convs)
            correlation = events.correlate(convs, analysis.frame_time)
        corr_process = correlation.process if correlation is not None else None
        kept = matching(convs, predicate, args.filter, corr_process,
                        partial(no_match_note, path, err))  # fmt: skip
        pairs = audit(kept, args.min_version, partial(process_record, log=corr_process))
        records = [p.to_record() for p in pairs]
        if args.format == "json":
            documents.append({"file": path, "min_version": version_name(args.min_version),
                              "pairs": records})  # fmt: skip
        elif writer is not None:
            for r in records:
                writer.writerow({
                    **r, "file": path, "versions": _counts(r["versions"]),
                    "ciphers": _counts(r["ciphers"]),
                    "cert_sig_algs": "; ".join(r["cert_sig_algs"]),
                    "problems": "; ".join(r["problems"]),
                })  # fmt: skip
        else:
            _print(console, path, records, args.min_version)
    if args.format == "json":
        json.dump({"audits": documents}, out, indent=1)
        out.write("\n")
    return max(captures.status, events.status)


def _counts(counts: dict[str, int]) -> str:
    return "; ".join(f"{name} x{n}" for name, n in counts.items())


def _print(console: Console, path: str, records: list[dict[str, Any]], minimum: int) -> None:
    bad = sum(r["violation"] for r in records)
    console.print(Text.assemble((path, "bold"), f"  {len(records)} client/server pair(s), ",
                                (f"{bad} below policy (minimum {version_name(minimum)} or weak)",
                                 "bold red" if bad else "green")))  # fmt: skip
    table = Table([Column(name) for name in (
        "client", "process", "server", "SNI", "conns", "offered", "negotiated", "ciphers",
        "cert signatures", "verdict")])  # fmt: skip
    for r in records:
        verdict = ("; ".join(r["problems"]) or "ok", "bold red" if r["violation"] else "green")
        table.add_row((
            r["client"], r["process"] or "", r["server"], r["sni"] or "",
            f"{r['connections']} ({r['failed']} failed)" if r["failed"] else str(r["connections"]),
            r["offered_max"] or "", _counts(r["versions"]).replace(";", ","),
            ", ".join(r["ciphers"]), ", ".join(r["cert_sig_algs"]), verdict,
        ))  # fmt: skip
    table.print(console)
    console.print()
