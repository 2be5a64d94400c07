"""`tlslens` command line: argument parsing, output formats, exit codes.

Exit status: 0 when every file was read (possibly with warnings about damage), 1 when a
file could not be read at all, 2 for a usage error.
"""

from __future__ import annotations

import argparse
import csv
import gc
import json
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from functools import partial
from typing import Any, TextIO

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from tlslens import __version__
from tlslens.analysis.conversation import Conversation
from tlslens.analysis.pipeline import Analysis, CaptureReport
from tlslens.capture import CaptureError
from tlslens.cli import audit_cmd, convert_cmd, fields_cmd, timeline_cmd, views_cmd
from tlslens.cli.events import EventInput, add_event_options
from tlslens.cli.files import (
    add_alias_option,
    add_filter_option,
    expand_paths,
    matching,
    no_match_note,
    read_inputs,
)
from tlslens.cli.parallel import default_jobs
from tlslens.cli.render import (
    CSV_COLUMNS,
    column_fields,
    column_text,
    column_values,
    csv_row,
    print_conversations,
)
from tlslens.query import Row

FORMATS = ("text", "json", "jsonl", "csv")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tlslens",
        description="Explain the TLS in packet captures: connections, versions, ciphers, "
        "certificates, and why handshakes failed.",
    )
    parser.add_argument("--version", action="version", version=f"tlslens {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    analyze = commands.add_parser(
        "analyze",
        help="list every TCP connection in captures (pcap, pcapng, Network Monitor, ETL, gzip)",
        description="Read captures and print one record per TCP connection.",
    )
    analyze.add_argument("files", nargs="+", metavar="FILE", help="capture file(s)")
    analyze.add_argument(
        "--format",
        choices=FORMATS,
        default="text",
        help="text (default), json (one document), jsonl (one connection per line) or csv",
    )
    add_event_options(analyze)
    add_alias_option(analyze)
    add_filter_option(analyze)
    analyze.add_argument(
        "--jobs", "-j", type=int, default=0, metavar="N",
        help="files analysed at once, one process each (default: one per core)",
    )  # fmt: skip
    analyze.add_argument(
        "--columns", metavar="FIELDS",
        help="show these fields instead of the usual record, e.g. "
        "'ip.src,conn.sni,conn.version,process.name' (see `tlslens fields`)",
    )  # fmt: skip
    diagnose = commands.add_parser(
        "diagnose",
        help="say why handshakes failed, and what is weak, with evidence frames",
        description="Findings per connection (failed ones first): code, severity, summary, "
        "evidence frames and a remedy.",
    )
    diagnose.add_argument("files", nargs="+", metavar="FILE", help="capture file(s)")
    diagnose.add_argument("--format", choices=("text", "json", "jsonl"), default="text")
    diagnose.add_argument("--trust", metavar="PEM",
                          help="trusted roots: a PEM bundle, `system` or `certifi`")  # fmt: skip
    diagnose.add_argument("--all", action="store_true",
                          help="also list connections without findings")  # fmt: skip
    add_event_options(diagnose)
    add_alias_option(diagnose)
    add_filter_option(diagnose)
    certs = commands.add_parser(
        "certs",
        help="list the certificate chains sent in each connection",
        description="Certificate chains per connection, with the chain checks at the "
        "capture's time; --export writes them as PEM files.",
    )
    certs.add_argument("files", nargs="+", metavar="FILE", help="capture file(s)")
    certs.add_argument("--export", metavar="DIR", help="write each certificate as PEM here")
    certs.add_argument("--trust", metavar="PEM",
                       help="trusted roots: a PEM bundle, `system` or `certifi`")  # fmt: skip
    certs.add_argument("--format", choices=("text", "json", "jsonl"), default="text")
    add_alias_option(certs)
    add_filter_option(certs)
    timeline_cmd.add_parser(commands)
    fields_cmd.add_parser(commands)
    views_cmd.add_parsers(commands)
    audit_cmd.add_parser(commands)
    convert_cmd.add_parser(commands)
    explain = commands.add_parser(
        "explain",
        help="what a TLS alert, Schannel event or error state, HRESULT, cipher suite, "
        "version or OID means",
        description="Err.exe for TLS: every reading of each code given.",
    )
    explain.add_argument("codes", nargs="+", metavar="CODE",
                         help="e.g. 48, 36888, 252, 0x80090325, 0xc030, 0x0301, "
                         "1.2.840.113549.1.1.5, SEC_E_UNTRUSTED_ROOT")  # fmt: skip
    return parser


def run_explain(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from tlslens.explain import explain

    status = 0
    for code in args.codes:
        found = explain(code)
        if not found:
            print(
                f"tlslens: error: {code}: not a TLS alert, Schannel event or state, HRESULT, "
                "cipher suite, version or signature OID that tlslens knows",
                file=err,
            )
            status = 1
            continue
        for item in found:
            out.write(f"{code}: {item.kind}: {item.name}\n")
            for line in item.lines:
                out.write(f"    {line}\n")
            if item.source:
                out.write(f"    source: {item.source}\n")
    return status


def _warn(err: TextIO, message: str) -> None:
    print(f"tlslens: warning: {message}", file=err)


def _error(err: TextIO, message: str) -> None:
    print(f"tlslens: error: {message}", file=err)


def _guarded(analysis: Analysis, err: TextIO, failures: list[str]) -> Iterator[Conversation]:
    """Conversations of one file; an unexpected failure ends this file with a message,
    never with a traceback, and keeps what was produced before it."""
    try:
        yield from analysis.conversations()
    except Exception as exc:
        path = analysis.report.path
        failures.append(path)
        _error(
            err,
            f"{path}: internal error after frame {analysis.capture.frames_read} "
            f"({type(exc).__name__}: {exc}); results above are partial. Please report this.",
        )


def _report_problems(report: CaptureReport, err: TextIO) -> None:
    for problem in report.problems:
        _warn(err, str(problem))


def _progress_bar(err: TextIO) -> Progress | None:
    """A progress bar on stderr, only when stderr is a terminal."""
    if not err.isatty():
        return None
    return Progress(
        TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeRemainingColumn(),
        console=Console(file=err), transient=True,
    )  # fmt: skip


def run_analyze(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    status = 0
    failures: list[str] = []
    # Off a terminal, rich would assume 80 columns and elide addresses; be generous.
    width = None if out.isatty() else 200
    console = Console(file=out, highlight=False, soft_wrap=False, width=width)
    first_json = True
    writer = None
    inputs = read_inputs(args, err)
    if inputs is None:
        return 1
    aliases, predicate = inputs
    columns = None
    if args.columns is not None:
        try:
            columns = column_fields(args.columns)
        except ValueError as exc:
            _error(err, str(exc))
            return 1
    args.files = expand_paths(args.files, err)
    jobs = min(args.jobs or default_jobs(), len(args.files))
    if jobs > 1:
        return _run_parallel(args, out, err, jobs)
    if args.format == "json" and args.columns is None:
        out.write('{"captures": [')
    elif args.format == "csv" and args.columns is None:
        writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
    events = EventInput(args.events, args.skew, err)
    status = events.status
    bar = _progress_bar(err)
    for path in args.files:
        task = None
        progress = None
        if bar is not None:
            bar.start()
            task = bar.add_task(path, total=None)

            def progress(done: int, total: int, task: Any = task, bar: Progress = bar) -> None:
                bar.update(task, completed=done, total=total or None)

        try:
            analysis = Analysis(path, progress=progress, keep_frame_times=bool(events),
                                aliases=aliases)  # fmt: skip
        except CaptureError as exc:
            if bar is not None:
                bar.stop()
            _error(err, str(exc))
            status = 1
            continue
        report = analysis.report
        conversations: Iterable[Conversation] = _guarded(analysis, err, failures)
        process_of = None
        annotate = None
        if events:
            # Joining events needs every connection first (the log is not in capture order).
            collected = list(conversations)
            correlation = events.correlate(collected, analysis.frame_time)
            conversations, process_of, annotate = collected, correlation.process, \
                correlation.annotate  # fmt: skip
        if predicate is not None:
            conversations = matching(conversations, predicate, args.filter, process_of,
                                     partial(no_match_note, path, err))  # fmt: skip

        def record_of(conv: Conversation, annotate: Any = annotate) -> dict[str, Any]:
            record = conv.to_record()
            if annotate is not None:
                annotate(record, conv.id)
            return record

        if columns is not None:
            if bar is not None:
                conversations = list(conversations)
                bar.stop()
            _print_columns(out, console, args.format, path, columns, conversations, process_of,
                           first_file=path == args.files[0])  # fmt: skip
        elif args.format == "text":
            # Collect first so the progress bar and the table do not fight for the screen.
            items = list(conversations) if bar is not None else conversations
            if bar is not None:
                bar.stop()
            print_conversations(console, report, items, process_of)
        elif args.format == "jsonl":
            for conv in conversations:
                record = record_of(conv)
                record["file"] = path
                out.write(json.dumps(record) + "\n")
        elif args.format == "csv":
            assert writer is not None
            for conv in conversations:
                writer.writerow(csv_row(path, conv, process_of))
        else:
            out.write(("" if first_json else ",") + '\n {"file": ' + json.dumps(path)
                      + ', "connections": [')  # fmt: skip
            first_json = False
            first = True
            for conv in conversations:
                out.write(("\n  " if first else ",\n  ") + json.dumps(record_of(conv)))
                first = False
            out.write('],\n  "report": ' + json.dumps(report.to_record()) + "}")
        if bar is not None:
            bar.stop()
        _report_problems(report, err)
        if args.format != "text":
            for note in report.notes():
                _warn(err, f"{path}: {note}")
        if report.read_nothing:
            _error(err, f"{path}: no packets could be read from this file")
            status = 1
    if args.format == "json" and columns is None:
        out.write("\n]}\n")
    if failures:
        status = 1
    return status


def _run_parallel(args: argparse.Namespace, out: TextIO, err: TextIO, jobs: int) -> int:
    """Several files on several cores, with one progress bar over all of them."""
    from tlslens.cli.parallel import run_parallel

    bar = _progress_bar(err)
    if bar is None:
        return run_parallel(args, out, err, jobs)
    sizes = {path: os.path.getsize(path) if os.path.exists(path) else 0 for path in args.files}
    task = bar.add_task(f"{len(args.files)} files, {jobs} processes", total=sum(sizes.values()))
    with bar:
        return run_parallel(args, out, err, jobs,
                            lambda path: bar.advance(task, sizes.get(path, 0)))  # fmt: skip


def _print_columns(out: TextIO, console: Console, fmt: str, path: str, columns: list[Any],
                   conversations: Iterable[Conversation], process_of: Any,
                   first_file: bool) -> None:  # fmt: skip
    """analyze --columns: the chosen fields, one row per connection."""
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
            out.write(json.dumps({"file": path, **row}) + "\n")
    elif fmt == "json":
        out.write(json.dumps({"file": path, "connections": list(rows)}) + "\n")
    else:
        table = Table(box=None, pad_edge=False, header_style="bold")
        for name in names:
            table.add_column(name, overflow="fold")
        for row in rows:
            table.add_row(*(Text(column_text(row[name])) for name in names))
        console.print(Text(path, style="bold"))
        console.print(table)


def _collect_rarely() -> None:
    """Let Python's cyclic garbage collector run rarely. An analysis makes millions of small
    objects and no reference cycles (tests/analysis/test_garbage.py): reference counting
    frees each connection as it is written, and the collector's frequent passes over the
    live objects found nothing while costing about a tenth of a busy capture's run. What
    the imports made is frozen out of its passes; it runs after 50,000 new objects instead
    of 700, and a full pass comes after 10 of the middle ones, as by default."""
    gc.freeze()
    gc.set_threshold(50_000, 20, 10)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _collect_rarely()
    try:
        if args.command == "analyze":
            return run_analyze(args, sys.stdout, sys.stderr)
        if args.command == "diagnose":
            from tlslens.cli.diagnose_cmd import run_diagnose

            return run_diagnose(args, sys.stdout, sys.stderr)
        if args.command == "explain":
            return run_explain(args, sys.stdout, sys.stderr)
        if args.command in ("messages", "show", "ladder"):
            run = {"messages": views_cmd.run_messages, "show": views_cmd.run_show,
                   "ladder": views_cmd.run_ladder}[args.command]  # fmt: skip
            return run(args, sys.stdout, sys.stderr)
        if args.command == "audit":
            return audit_cmd.run_audit(args, sys.stdout, sys.stderr)
        if args.command == "fields":
            return fields_cmd.run_fields(args, sys.stdout, sys.stderr)
        if args.command == "timeline":
            return timeline_cmd.run_timeline(args, sys.stdout, sys.stderr)
        if args.command == "convert":
            return convert_cmd.run_convert(args, sys.stdout, sys.stderr)
        if args.command == "certs":
            from tlslens.cli.certs_cmd import run_certs

            return run_certs(args, sys.stdout, sys.stderr)
    except BrokenPipeError:
        # The reader of our output went away (e.g. `| head`); that is not an error.
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        return 130
    return 2


if __name__ == "__main__":
    sys.exit(main())
