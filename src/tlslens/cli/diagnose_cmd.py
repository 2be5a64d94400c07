"""`tlslens diagnose`: findings per connection, failed connections first."""

from __future__ import annotations

import argparse
import os
import pickle
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from typing import Any, TextIO

from rich.console import Console

from tlslens.analysis.aliases import Aliases
from tlslens.analysis.conversation import Conversation
from tlslens.analysis.correlate import (
    Attachment,
    Correlation,
    describe,
    event_record,
    process_record,
)
from tlslens.certs.chain import TrustStore, load_trust_store
from tlslens.cli.events import EventInput
from tlslens.cli.files import (
    Captures,
    ConnectionFilter,
    no_match_note,
    read_inputs,
    report_problems,
    split_plan,
)
from tlslens.cli.json_text import to_json
from tlslens.cli.parallel import default_jobs
from tlslens.cli.table import Cell, Lines
from tlslens.diagnose import Context, Finding, diagnose
from tlslens.eventlog.facts import HANDSHAKE_COMPLETED, SchannelFacts
from tlslens.query import Predicate, Row

SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}
SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}
OUTCOME_ORDER = {"failed": 0, "aborted": 1, "incomplete": 2, "established": 3, "not-tls": 4}


#: Where Linux distributions keep the system's trusted roots as one PEM bundle.
SYSTEM_BUNDLES = (
    "/etc/ssl/certs/ca-certificates.crt",  # Debian, Ubuntu
    "/etc/pki/tls/certs/ca-bundle.crt",  # Fedora, RHEL
    "/etc/ssl/cert.pem",  # Alpine, macOS
)


def trust_store(path: str | None, err: TextIO) -> tuple[bool, TrustStore | None]:
    """(ok, certificates) from --trust FILE, `system` or `certifi`; a bad file is one line
    on stderr."""
    if path is None:
        return True, None
    if path == "system":
        found = next((p for p in SYSTEM_BUNDLES if os.path.exists(p)), None)
        if found is None:
            print("tlslens: error: no system trust store found (looked in "
                  + ", ".join(SYSTEM_BUNDLES) + "); pass a PEM file", file=err)  # fmt: skip
            return False, None
        path = found
    elif path == "certifi":
        try:
            import certifi  # type: ignore[import-not-found]
        except ImportError:
            print("tlslens: error: --trust certifi needs the certifi package "
                  "(pip install certifi); or pass a PEM file", file=err)  # fmt: skip
            return False, None
        path = str(certifi.where())
    try:
        return True, load_trust_store(path)
    except (OSError, ValueError) as exc:
        print(f"tlslens: error: {path}: cannot read the trust store: {exc}", file=err)
        return False, None


#: One printed line: its (text, style) parts.
Line = tuple[Cell, ...]


def _block(conv: Conversation, findings: list[Finding], correlation: Correlation | None
           ) -> list[Line]:  # fmt: skip
    """The lines that tell one connection's findings."""
    tls = conv.tls
    head: list[Cell] = [f"conn {conv.id}  {conv.client} → {conv.server}  "]
    if tls is not None and tls.is_tls:
        head.append(f"{tls.sni or '-'}  {tls.version or 'version ?'}  ")
    head.append((conv.outcome, "bold red" if conv.outcome == "failed" else ""))
    process = process_record(conv, correlation.process if correlation else None)
    if process is not None:
        head.append(f"  process {process['name'] or '?'} (pid {process['pid']}, "
                    f"{process['source']})")  # fmt: skip
    lines: list[Line] = [tuple(head)]
    for finding in findings:
        lines.append(("  ", (f"{finding.severity.upper():7} ", SEVERITY_STYLE[finding.severity]),
                      (f"{finding.code}: ", "bold"), finding.summary))  # fmt: skip
        for evidence in finding.evidence:
            where = f"frame {evidence.frame}" if evidence.frame is not None else "        "
            lines.append(((f"      {where:>12}  {evidence.text}", "dim"),))
        lines.append(((f"      remedy: {finding.remedy}", "green"),))
    return lines


#: A connection's lines in the text report, and where they sort: worst finding first, then
#: outcome, then connection id.
Block = tuple[tuple[int, int, int], list[Line]]


def _block_of(conv: Conversation, findings: list[Finding], correlation: Correlation | None
              ) -> Block:  # fmt: skip
    worst = min((SEVERITY_ORDER[f.severity] for f in findings), default=9)
    key = (worst, OUTCOME_ORDER.get(conv.outcome, 9), conv.id)
    return key, _block(conv, findings, correlation)


def _print(console: Console, path: str, items: Iterable[tuple[Conversation, list[Finding]]],
           show_all: bool, correlation: Correlation | None) -> None:  # fmt: skip
    """Connections with findings, worst first. Each is turned into its lines as it comes,
    so memory holds text, not connections."""
    quiet = 0
    blocks: list[Block] = []
    for conv, findings in items:
        if not findings and not show_all:
            quiet += 1
            continue
        blocks.append(_block_of(conv, findings, correlation))
    _print_blocks(console, path, blocks, quiet, correlation)


def _print_blocks(console: Console, path: str, blocks: list[Block], quiet: int,
                  correlation: Correlation | None) -> None:  # fmt: skip
    blocks.sort(key=lambda block: block[0])
    out = Lines(console)
    out.line((path, "bold"))
    for _key, lines in blocks:
        for line in lines:
            out.line(*line)
        out.line()
    if quiet:
        out.line((f"{quiet} connection(s) without findings (--all lists them)", "dim"))
    loose = _unattached_schannel(correlation)
    if loose:
        out.line(("Schannel events not joined to a connection:", "bold"))
        for a in loose:
            out.line(f"  {describe(a)}")
            out.line((f"      {a.reason}", "dim"))
    out.line()


def _record(conv: Conversation, findings: list[Finding], path: str) -> dict[str, Any]:
    record = conv.to_record()
    record["file"] = path
    record["findings"] = [f.to_record() for f in findings]
    return record


def _unattached_schannel(correlation: Correlation | None) -> list[Attachment]:
    """Schannel events that fit no connection: still worth reading (credential failures)."""
    if correlation is None:
        return []
    return [a for a in correlation.attachments
            if a.conn is None and isinstance(a.facts, SchannelFacts)
            and a.facts.event_id != HANDSHAKE_COMPLETED]  # fmt: skip


def _kept(items: Iterable[tuple[Conversation, list[Finding]]], predicate: Predicate,
          correlation: Correlation | None, on_empty: Callable[[], None],
          ) -> Iterator[tuple[Conversation, list[Finding]]]:  # fmt: skip
    """The connections the filter keeps (it may test their finding codes)."""
    process_of = correlation.process if correlation is not None else None
    kept = 0
    for conv, found in items:
        process = process_of(conv.id) if process_of is not None else None
        if predicate(Row(conv, [f.code for f in found].copy, process)):
            kept += 1
            yield conv, found
    if not kept:
        on_empty()


class _FindingsJob:
    """A split diagnose's work in one process (`tlslens.cli.split`). Shares go by host
    pair, so a client's retries of a server are diagnosed together and in order, and the
    workers know the capture's connection ids (findings may name other connections). Sends
    each kept connection's text block (pickled; None when it has no findings and --all is
    not given) or its JSON record."""

    def __init__(self, fmt: str, path: str, trust: TrustStore | None, show_all: bool,
                 keep: ConnectionFilter) -> None:  # fmt: skip
        self.fmt = fmt
        self.path = path
        self.show_all = show_all
        self.keep = keep
        self.ctx = Context(trust=trust)
        #: Findings compare a connection with the same client's earlier ones (retries).
        self.in_capture_order = True

    def data(self, conv: Conversation) -> bytes | None:
        findings = diagnose(conv, self.ctx)
        if not self.keep.keeps(conv, [f.code for f in findings].copy):
            return None
        if self.fmt != "text":
            return to_json(_record(conv, findings, self.path)).encode()
        if not findings and not self.show_all:
            return pickle.dumps(None)
        return pickle.dumps(_block_of(conv, findings, None))

    def result(self) -> None:
        return None


def _split_diagnose(path: str, args: argparse.Namespace, aliases: Aliases | None,
                    trust: TrustStore | None, jobs: int, console: Console, out: TextIO,
                    err: TextIO) -> int:  # fmt: skip
    """Diagnose one capture with `jobs` processes, as one process would."""
    # Lazy: the worker processes serve only large files (start-up time).
    from tlslens.cli.split import SplitAnalysis

    make_job = partial(_FindingsJob, args.format, path, trust, args.all)
    blocks: list[Block] = []
    records: list[str] = []
    quiet = kept = 0
    with SplitAnalysis(path, make_job, aliases, args.filter, jobs, by_hosts=True,
                       share_ids=True) as analysis:  # fmt: skip
        for _conn_id, _first, data in analysis.records():
            kept += 1
            if args.format == "jsonl":
                out.write(data.decode() + "\n")
            elif args.format == "json":
                records.append(data.decode())
            elif (block := pickle.loads(data)) is None:
                quiet += 1
            else:
                blocks.append(block)
    report = analysis.tell(err, args.filter, kept)
    if report is None:
        return 1
    if args.format == "text":
        _print_blocks(console, path, blocks, quiet, None)
    elif args.format == "json":
        # What to_json({"file": ..., "connections": [...]}) writes, from records made apart.
        out.write('{"file":' + to_json(path) + ',"connections":[' + ",".join(records) + "]}\n")
    return max(report_problems(report, err), 1 if analysis.errors else 0)


def run_diagnose(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    ok, trust = trust_store(args.trust, err)
    if not ok:
        return 1
    width = None if out.isatty() else 160
    console = Console(file=out, highlight=False, width=width)
    inputs = read_inputs(args, err)
    if inputs is None:
        return 1
    aliases, predicate = inputs
    events = EventInput(args.events, args.skew, err)
    captures = Captures(args.files, err, keep_frame_times=bool(events), aliases=aliases)
    plan = split_plan(args, captures.paths, args.jobs or default_jobs(), by_hosts=True,
                      share_ids=True)  # fmt: skip
    if plan is not None:
        return _split_diagnose(captures.paths[0], args, aliases, trust, plan.jobs, console, out,
                               err)  # fmt: skip
    for analysis in captures:
        path = analysis.report.path
        conversations, correlation = events.joined(analysis)
        ctx = Context(trust=trust, correlation=correlation)
        items: Iterable[tuple[Conversation, list[Finding]]] = (
            (conv, diagnose(conv, ctx)) for conv in conversations
        )
        if predicate is not None:
            items = _kept(items, predicate, correlation, partial(no_match_note, path, err))
        if args.format == "text":
            _print(console, path, items, args.all, correlation)
        else:
            records = []
            for conv, findings in items:
                record = _record(conv, findings, path)
                if correlation is not None:
                    correlation.annotate(record, conv.id)
                if args.format == "jsonl":
                    out.write(to_json(record) + "\n")  # as it comes: memory stays flat
                else:
                    records.append(record)
            loose = [event_record(a) for a in _unattached_schannel(correlation)]
            if args.format == "jsonl":
                for event in loose:
                    out.write(to_json({"file": path, "unattached_event": event}) + "\n")
            else:
                document = {"file": path, "connections": records}
                if correlation is not None:
                    document["unattached_events"] = loose
                out.write(to_json(document) + "\n")
    return max(captures.status, events.status)
