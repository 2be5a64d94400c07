"""`tlslens audit`: the compliance view, one row per client/server pair, worst first."""

from __future__ import annotations

import argparse
import csv
import json
from collections.abc import Callable
from functools import partial
from typing import Any, TextIO, cast

from rich.console import Console
from rich.text import Text

from tlslens.analysis.aliases import Aliases
from tlslens.analysis.compliance import PairAudit, PairTable, audit, ranked
from tlslens.analysis.conversation import Conversation
from tlslens.analysis.correlate import process_record
from tlslens.cli.events import EventInput
from tlslens.cli.files import (
    Captures,
    ConnectionFilter,
    SplitPlan,
    matching,
    no_match_note,
    read_inputs,
    report_problems,
    split_plan,
)
from tlslens.cli.parallel import default_jobs
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
    documents: list[dict[str, Any]] = []
    writer = None
    if args.format == "csv":
        writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
    console = Console(file=out, highlight=False, width=None if out.isatty() else 200)

    def emit(path: str, pairs: list[PairAudit]) -> None:
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

    # Shares by host pair keep each pair whole; not with aliases, one of which may name a
    # network or several hosts (one pair could span shares).
    cores = args.jobs or default_jobs()
    plan = None if args.aliases else split_plan(args, captures.paths, cores, by_hosts=True)
    if plan is not None:
        captures.status = _split_audit(captures.paths[0], args, aliases, plan, err, emit)
    else:
        for analysis in captures:
            path = analysis.report.path
            convs, correlation = events.joined(analysis)
            process_of = correlation.process if correlation is not None else None
            kept = matching(convs, predicate, args.filter, process_of,
                            partial(no_match_note, path, err))  # fmt: skip
            pairs = audit(kept, args.min_version, partial(process_record, log=process_of))
            emit(path, pairs)
    if args.format == "json":
        json.dump({"audits": documents}, out, indent=1)
        out.write("\n")
    return max(captures.status, events.status)


class _PairJob:
    """A split audit's work in one process (`tlslens.cli.split`): its connections counted
    into pairs (shares go by host pair, so a pair is never divided). A connection that
    begins a pair is marked, so that the parent learns the pair's first connection id."""

    def __init__(self, keep: ConnectionFilter) -> None:
        self.keep = keep
        self.table = PairTable(partial(process_record, log=None))
        #: A pair's first connection is the first in capture order.
        self.in_capture_order = True

    def data(self, conv: Conversation) -> bytes | None:
        if not self.keep.keeps(conv):
            return None
        return b"1" if self.table.add(conv) else b""

    def result(self) -> list[PairAudit]:
        return list(self.table.pairs.values())


def _split_audit(path: str, args: argparse.Namespace, aliases: Aliases | None,
                 plan: SplitPlan, err: TextIO, emit: Callable[[str, list[PairAudit]], None]
                 ) -> int:  # fmt: skip
    """Audit one capture with `jobs` processes; returns the exit status."""
    # Lazy: the worker processes serve only large files (start-up time).
    from tlslens.cli.split import SplitAnalysis

    with SplitAnalysis(path, _PairJob, aliases, args.filter, plan.jobs, by_hosts=True,
                       share_ids=plan.share_ids) as analysis:  # fmt: skip
        kept = 0
        first_ids: dict[int, int] = {}
        for conn_id, first_frame, data in analysis.records():
            kept += 1
            if data:
                first_ids[first_frame] = conn_id
    report = analysis.tell(err, args.filter, kept)
    if report is None:
        return 1
    pairs = [pair for result in analysis.results for pair in cast(list[PairAudit], result)]
    for pair in pairs:
        pair.first_conn = first_ids[pair.first_frame]
    emit(path, ranked(pairs, args.min_version))
    return max(report_problems(report, err), 1 if analysis.errors else 0)


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
