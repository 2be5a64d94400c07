"""`tlslens analyze`: one record per TCP connection, as a table, JSON, JSON lines or CSV.

The command run most often, so it imports at the top only what every run needs (the analysis
itself and the JSON writers). What only some runs need is imported where it is used: rich for
the table and the progress bar, the renderers of the table, of CSV and of --columns, the event
logs (--events), the filter language (--filter, in `tlslens.cli.files`) and the process pool
(several files).
"""

from __future__ import annotations

import argparse
import csv
import io
import os
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

from tlslens.analysis.conversation import Conversation
from tlslens.analysis.pipeline import Analysis, CaptureReport
from tlslens.capture import CaptureError
from tlslens.cli.files import (
    ConnectionFilter,
    SplitPlan,
    expand_paths,
    matching,
    no_match_note,
    read_inputs,
    split_plan,
)
from tlslens.cli.json_text import byte_writer, json_bytes, to_json
from tlslens.cli.parallel import default_jobs, run_parallel

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

    from tlslens.analysis.aliases import Aliases
    from tlslens.cli.events import EventInput


T = TypeVar("T")


def _warn(err: TextIO, message: str) -> None:
    print(f"tlslens: warning: {message}", file=err)


def _error(err: TextIO, message: str) -> None:
    print(f"tlslens: error: {message}", file=err)


def _guarded(analysis: Analysis, items: Iterator[T], err: TextIO, failures: list[str]
             ) -> Iterator[T]:  # fmt: skip
    """`analysis`'s conversations, or what was made of them; an unexpected failure ends this
    file with a message, never with a traceback, and keeps what was produced before it."""
    try:
        yield from items
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


def _console(out: TextIO) -> Console:
    """The console the text format draws on."""
    # Lazy: only the text format draws with rich (start-up time).
    from rich.console import Console

    # Off a terminal, rich would assume 80 columns and elide addresses; be generous.
    width = None if out.isatty() else 200
    return Console(file=out, highlight=False, soft_wrap=False, width=width)


def _progress_bar(err: TextIO) -> Progress | None:
    """A progress bar on stderr, only when stderr is a terminal."""
    if not err.isatty():
        return None
    # Lazy: only a terminal shows a progress bar (start-up time).
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeRemainingColumn(),
        console=Console(file=err), transient=True,
    )  # fmt: skip


def _event_input(args: argparse.Namespace, err: TextIO) -> EventInput | None:
    """The event logs of --events, or None without one."""
    if not args.events:
        return None
    # Lazy: the event-log readers and the correlation code serve only --events (start-up time).
    from tlslens.cli.events import EventInput

    return EventInput(args.events, args.skew, err)


def run_analyze(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    status = 0
    failures: list[str] = []
    first_json = True
    inputs = read_inputs(args, err)
    if inputs is None:
        return 1
    aliases, predicate = inputs
    columns = None
    if args.columns is not None:
        # Lazy: only --columns needs the filter language's fields (start-up time).
        from tlslens.cli.columns import column_fields

        try:
            columns = column_fields(args.columns)
        except ValueError as exc:
            _error(err, str(exc))
            return 1
    args.files = expand_paths(args.files, err)
    cores = args.jobs or default_jobs()
    jobs = min(cores, len(args.files))
    if jobs > 1:
        return _run_parallel(args, out, err, jobs)
    plan = split_plan(args, args.files, cores)
    if plan is not None:
        return _run_split(args, out, err, plan, aliases)
    console = _console(out) if args.format == "text" else None
    # The machine formats' records are bytes, written as they are (`byte_writer`).
    emit = byte_writer(out) if args.format != "text" and columns is None else None
    if emit is not None:
        _write_head(emit, args.format)
    events = _event_input(args, err)
    if events is not None:
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
        conversations: Iterable[Conversation] = _guarded(
            analysis, analysis.conversations(), err, failures
        )
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

        def texts(make: Callable[[Conversation], bytes], analysis: Analysis = analysis,
                  conversations: Iterable[Conversation] = conversations
                  ) -> Iterable[bytes]:  # fmt: skip
            """Each connection's text. Without a filter or a log, which need the connections
            themselves in capture order, it is made as the connection ends, so that what
            waits for its turn behind a long connection is text (`Analysis.prepared`)."""
            if predicate is None and not events:
                return _guarded(analysis, analysis.prepared(make), err, failures)
            return map(make, conversations)

        def record_of(conv: Conversation, annotate: Any = annotate) -> dict[str, Any]:
            record = conv.to_record()
            if annotate is not None:
                annotate(record, conv.id)
            return record

        if columns is not None:
            # Lazy: only --columns needs its renderer (start-up time).
            from tlslens.cli.columns import print_columns

            if bar is not None:
                conversations = list(conversations)
                bar.stop()
            print_columns(out, console, args.format, path, columns, conversations, process_of,
                          first_file=path == args.files[0])  # fmt: skip
        elif args.format == "text":
            # Lazy: only the text format needs the table (start-up time).
            from tlslens.cli.render import conversation_table, print_conversations

            assert console is not None
            # The rows first, so the progress bar and the table do not fight for the screen.
            table = conversation_table(console, conversations, process_of)
            if bar is not None:
                bar.stop()
            print_conversations(console, report, table)
        elif args.format == "jsonl":
            assert emit is not None
            text = _ConnectionText("jsonl", path)
            for line in texts(_record_text(text, record_of, annotate)):
                emit(line)
        elif args.format == "csv":
            assert emit is not None
            text = _ConnectionText("csv", path)
            for line in texts(partial(text, process_of=process_of)):
                emit(line)
        else:
            assert emit is not None
            emit((("" if first_json else ",") + _json_file_head(path)).encode())
            first_json = False
            first = True
            text = _ConnectionText("json", path)
            for line in texts(_record_text(text, record_of, annotate)):
                emit(b"\n  " if first else b",\n  ")
                emit(line)
                first = False
            emit(_json_file_tail(report.to_record()).encode())
        if bar is not None:
            bar.stop()
        status = max(status, _after_file(report, args.format, err))
    if args.format == "json" and emit is not None:
        emit(b"\n]}\n")
    if failures:
        status = 1
    return status


def _text_of_record(text: _ConnectionText, record_of: Callable[[Conversation], dict[str, Any]],
                    conv: Conversation) -> bytes:  # fmt: skip
    return text(conv, record_of(conv))


def _record_text(text: _ConnectionText, record_of: Callable[[Conversation], dict[str, Any]],
                 annotate: object) -> Callable[[Conversation], bytes]:  # fmt: skip
    """What makes a connection's JSON text: `text` itself, which makes the record, unless
    --events annotates the record first (two calls fewer a connection, on the hot path)."""
    return text if annotate is None else partial(_text_of_record, text, record_of)


def _after_file(report: CaptureReport, fmt: str, err: TextIO) -> int:
    """Say what went wrong reading one file; 1 if nothing could be read from it."""
    _report_problems(report, err)
    if fmt != "text":
        for note in report.notes():
            _warn(err, f"{report.path}: {note}")
    if report.read_nothing:
        _error(err, f"{report.path}: no packets could be read from this file")
        return 1
    return 0


def _json_file_head(path: str) -> str:
    """The JSON document's part for one file, up to its first connection; the
    connections follow one per line."""
    return '\n {"file":' + to_json(path) + ',"connections":['


def _json_file_tail(report: dict[str, Any] | None) -> str:
    """The rest of one file's part of the JSON document, after its last connection."""
    return '],\n  "report":' + to_json(report) + "}"


def _write_head(emit: Callable[[bytes], object], fmt: str) -> None:
    """What comes before the first file's connections: the JSON document's opening, or
    the CSV header."""
    if fmt == "json":
        emit(b'{"captures": [')
    elif fmt == "csv":
        # Lazy: only CSV needs its renderer (start-up time).
        from tlslens.cli.render import CSV_COLUMNS

        line = io.StringIO()
        csv.writer(line, lineterminator="\n").writerow(CSV_COLUMNS)
        emit(line.getvalue().encode())


class _ConnectionText:
    """How `analyze` writes one connection in json, jsonl or csv: the one place, for one
    process and for the processes of a split capture alike."""

    def __init__(self, fmt: str, path: str) -> None:
        self.fmt = fmt
        self.path = path
        if fmt == "csv":
            # Lazy: only CSV needs its renderer (start-up time).
            from tlslens.cli.render import CSV_COLUMNS, csv_row

            self.columns, self.csv_row = CSV_COLUMNS, csv_row
            self.line = io.StringIO()
            self.csv = csv.writer(self.line, lineterminator="\n")

    def __call__(self, conv: Conversation, record: dict[str, Any] | None = None,
                 process_of: Any = None) -> bytes:  # fmt: skip
        """`conv`'s text, UTF-8; `record` is its JSON record when the caller has annotated
        it."""
        if self.fmt == "csv":
            row = self.csv_row(self.path, conv, process_of)
            self.line.seek(0)
            self.line.truncate()
            self.csv.writerow([row[column] for column in self.columns])
            return self.line.getvalue().encode()
        if record is None:
            record = conv.to_record()
        if self.fmt == "jsonl":
            record["file"] = self.path
            return json_bytes(record, line=True)
        return json_bytes(record)

    def id_prefix(self, conn_id: int) -> bytes:
        """The start of a connection's text, up to the end of its id: the JSON record's
        opening `{"id":N,`; the CSV row's file and id columns."""
        if self.fmt != "csv":
            return b'{"id":%d,' % conn_id
        self.line.seek(0)
        self.line.truncate()
        self.csv.writerow([self.path, conn_id, ""])  # the third column only for the comma
        return self.line.getvalue()[:-1].encode()


class _RecordJob:
    """A split `analyze`'s work in one process (`tlslens.cli.split`): each kept
    connection's text without its start up to the id (`_ConnectionText.id_prefix`), which
    the parent writes with the capture's id; for the text table, the row's cells less the
    id (pickled)."""

    def __init__(self, fmt: str, path: str, keep: ConnectionFilter) -> None:
        self.fmt = fmt
        self.keep = keep
        self.text = _ConnectionText(fmt, path) if fmt != "text" else None
        #: A connection's text is its own; only a filter on findings (which compare a
        #: connection with earlier ones) needs the connections in order.
        self.in_capture_order = keep.findings_of is not None

    def data(self, conv: Conversation) -> bytes | None:
        if not self.keep.keeps(conv):
            return None
        if self.text is None:
            # Lazy: only the text format needs the table and pickle (start-up time).
            import pickle

            from tlslens.cli.render import conversation_row

            return pickle.dumps(conversation_row(conv)[1:])
        text = self.text(conv)
        prefix = self.text.id_prefix(conv.id)
        assert text.startswith(prefix), "a connection's text must begin with its id"
        return text[len(prefix) :]

    def result(self) -> None:
        return None


def _run_split(args: argparse.Namespace, out: TextIO, err: TextIO, plan: SplitPlan,
               aliases: Aliases | None) -> int:  # fmt: skip
    """One capture on `jobs` processes; the output is what one process writes."""
    # Lazy: the worker processes serve only large files (start-up time).
    import threading

    from tlslens.cli.split import SplitAnalysis, poll_progress

    path = args.files[0]
    fmt = args.format
    written = 0
    stop = threading.Event()
    # The workers start before the progress bar's thread does: a process forked while
    # another thread holds a lock could hang on it.
    jobs = plan.jobs
    with SplitAnalysis(path, partial(_RecordJob, fmt, path), aliases, args.filter, jobs,
                       plan.by_hosts, plan.share_ids) as analysis:  # fmt: skip
        bar = _progress_bar(err)
        if bar is not None:
            bar.start()
            task = bar.add_task(f"{path} ({jobs} processes)", total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total or None)

            poller = poll_progress(analysis, os.path.getsize(path), progress, stop)
        try:
            emit = byte_writer(out) if fmt != "text" else None
            if emit is not None:
                _write_head(emit, fmt)
            if analysis.opened and fmt == "text":
                # Lazy: only the text format needs the table and pickle (start-up time).
                import pickle

                from tlslens.cli.render import print_conversations, table_of_rows

                rows = [(str(conn_id), *pickle.loads(data))
                        for conn_id, _first, data in analysis.records()]  # fmt: skip
                written = len(rows)
                stop.set()
                if bar is not None:
                    bar.stop()
                if analysis.report is not None:
                    console = _console(out)
                    print_conversations(console, analysis.report,
                                        table_of_rows(console, rows, False))  # fmt: skip
            elif analysis.opened:
                assert emit is not None
                if fmt == "json":
                    emit(_json_file_head(path).encode())
                text = _ConnectionText(fmt, path)
                for conn_id, _first, data in analysis.records():
                    if fmt == "json":
                        emit(b",\n  " if written else b"\n  ")
                    emit(text.id_prefix(conn_id))
                    emit(data)
                    written += 1
                if fmt == "json":
                    summary = analysis.report.to_record() if analysis.report else None
                    emit(_json_file_tail(summary).encode())
            if emit is not None and fmt == "json":
                emit(b"\n]}\n")
        finally:
            stop.set()
            if bar is not None:
                poller.join()
                bar.stop()
    report = analysis.tell(err, args.filter, written)
    if report is None:
        return 1
    return max(_after_file(report, fmt, err), 1 if analysis.errors else 0)


def _run_parallel(args: argparse.Namespace, out: TextIO, err: TextIO, jobs: int) -> int:
    """Several files on several cores, with one progress bar over all of them."""
    bar = _progress_bar(err)
    if bar is None:
        return run_parallel(args, out, err, jobs)
    sizes = {path: os.path.getsize(path) if os.path.exists(path) else 0 for path in args.files}
    task = bar.add_task(f"{len(args.files)} files, {jobs} processes", total=sum(sizes.values()))
    with bar:
        return run_parallel(args, out, err, jobs,
                            lambda path: bar.advance(task, sizes.get(path, 0)))  # fmt: skip
