"""`tlslens analyze` of one capture on several cores.

Each worker process reads and decodes the whole file but follows only its share of the TCP
connections (`Analysis(share=(i, k))`): TCP reassembly, TLS parsing and writing the records,
which is most of the work, divide; reading the frames does not (it is about a fifth of a
run). The workers write their records to temporary files and the parent merges them.

Connection ids count connections in the order they first appear in the whole capture, so a
worker cannot know them. It writes each record without its id, notes the record's first
frame and length, and the parent, merging the shares by first frame, puts the ids back.
The output is byte for byte what one process writes (tests/cli/test_split.py).

All four formats are split: json, jsonl, csv, and the text table, whose rows (strings)
come back to the parent to be laid out. Not with --events (joining the log needs every
connection in one place), --columns, or a filter that reads the connection id (`tcp.stream`,
`conn.id`) or findings (`finding.code`: a finding may compare a connection with earlier ones
of the same client, which may be in another share); the other commands run in one process.
Memory is per worker: k workers use about k times what one process uses, and the limits
(`Limits`) apply to each share apart (`max_live_connections` counts one share's
connections).
"""

from __future__ import annotations

import csv
import heapq
import io
import json
import multiprocessing
import os
import tempfile
from array import array
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_EXCEPTION, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from itertools import repeat
from typing import TYPE_CHECKING, TextIO

from tlslens.analysis.aliases import Aliases
from tlslens.analysis.conversation import Conversation
from tlslens.analysis.pipeline import Analysis, CaptureReport
from tlslens.capture import CaptureError
from tlslens.cli.files import matching
from tlslens.cli.render import CSV_COLUMNS, conversation_row, csv_row
from tlslens.cli.table import Cell
from tlslens.query import compile_filter

if TYPE_CHECKING:
    from multiprocessing.sharedctypes import Synchronized

#: Bytes of the file that the first worker has read, for the parent's progress bar.
_progress: Synchronized[int] | None = None


def _start_worker(progress: Synchronized[int] | None) -> None:
    global _progress
    _progress = progress


def _report_progress(done: int, _total: int) -> None:
    if _progress is not None:
        _progress.value = done


@dataclass
class Share:
    """What one worker made of its share of the capture."""

    #: The temporary file holding the records, one after another, without their ids.
    output: str
    #: Every connection's first frame (the merge key: ids count every connection) and the
    #: length in bytes of its record, -1 when the filter dropped it, in connection order.
    first_frames: array[int]
    sizes: array[int]
    report: CaptureReport | None
    #: Why the share stopped early (its records so far are in `output`), or None.
    error: str | None = None
    #: For the text table: the kept connections' rows (`render.conversation_row`), in
    #: order; small enough to come back to the parent whole.
    rows: list[tuple[Cell, ...]] = field(default_factory=list)


def _id_prefix(fmt: str, conn_id: int) -> str:
    """The start of a record up to the end of its connection id (see `_RecordWriter`)."""
    return f'{{"id": {conn_id}, ' if fmt != "csv" else f"{conn_id},"


# The CSV row's first columns are the file and the id: the parent writes both.
assert CSV_COLUMNS[:2] == ("file", "id")


class _RecordWriter:
    """Records as `analyze` writes them in `fmt`, less their start up to the connection id
    (`_id_prefix`): the JSON record's `{"id": N, `, the CSV row's file and id columns."""

    def __init__(self, fmt: str, path: str) -> None:
        self.fmt = fmt
        self.path = path
        self.line = io.StringIO()
        self.csv = csv.writer(self.line, lineterminator="\n")

    def text(self, conv: Conversation) -> str:
        if self.fmt == "csv":
            row = csv_row(self.path, conv)
            self.line.seek(0)
            self.line.truncate()
            self.csv.writerow([row[column] for column in CSV_COLUMNS[2:]])
            return self.line.getvalue()
        record = conv.to_record()
        if self.fmt == "jsonl":
            record["file"] = self.path
        text = json.dumps(record)
        prefix = _id_prefix(self.fmt, conv.id)
        assert text.startswith(prefix), "Conversation.to_record() must begin with the id"
        return text[len(prefix) :] + ("\n" if self.fmt == "jsonl" else "")


def _analyse_share(path: str, index: int, count: int, fmt: str, aliases: Aliases | None,
                   filter_text: str | None) -> Share:  # fmt: skip
    """In a worker: follow share `index` of `count` and write the records the filter keeps."""
    handle, output = tempfile.mkstemp(suffix=".tlslens")
    share = Share(output, array("q"), array("q"), None)
    writer = _RecordWriter(fmt, path)
    with os.fdopen(handle, "wb") as f:
        try:
            progress = _report_progress if index == 0 else None
            analysis = Analysis(path, aliases=aliases, share=(index, count), progress=progress)
        except CaptureError as exc:
            share.error = str(exc)
            return share
        try:
            predicate = compile_filter(filter_text) if filter_text is not None else None
            every = _noted(analysis.conversations(), share)
            for conv in matching(every, predicate, filter_text):
                # `matching` hands on each connection it keeps as soon as it has it.
                assert share.first_frames[-1] == conv.first_frame
                if fmt == "text":
                    share.rows.append(conversation_row(conv))
                    share.sizes[-1] = 0
                    continue
                data = writer.text(conv).encode()
                f.write(data)
                share.sizes[-1] = len(data)
        except Exception as exc:
            share.error = (
                f"{path}: internal error after frame {analysis.capture.frames_read} "
                f"({type(exc).__name__}: {exc}); results are partial. Please report this."
            )
        share.report = analysis.report
    return share


def _noted(conversations: Iterator[Conversation], share: Share) -> Iterator[Conversation]:
    """The conversations, each noted in `share` as not written (yet)."""
    for conv in conversations:
        share.first_frames.append(conv.first_frame)
        share.sizes.append(-1)
        yield conv


def _merged(shares: list[Share]) -> Iterator[tuple[int, int, int]]:
    """(first frame, share, size) of every connection, in the order of the first frames."""
    return heapq.merge(*(zip(s.first_frames, repeat(i), s.sizes, strict=False)
                         for i, s in enumerate(shares)))  # fmt: skip


class SplitAnalysis:
    """One capture analysed by `jobs` processes. Use as a context manager (it removes the
    workers' files); read `report` and `errors`, then `write` the records."""

    def __init__(self, path: str, fmt: str, aliases: Aliases | None, filter_text: str | None,
                 jobs: int, progress: Callable[[int, int], None] | None = None,
                 ) -> None:  # fmt: skip
        self.path = path
        self.filter_text = filter_text
        self.fmt = fmt
        self.aliases = aliases
        #: The capture's report; None when it could not be read or a worker died.
        self.report: CaptureReport | None = None
        #: One sentence per thing that went wrong (the records written may be partial).
        self.errors: list[str] = []
        self.shares = self._run(jobs, progress)
        if len(self.shares) == jobs:
            self.errors = list(dict.fromkeys(s.error for s in self.shares if s.error))
            reports = [s.report for s in self.shares if s.report is not None]
            if len(reports) == jobs:
                self.report = CaptureReport.of_shares(reports)

    def _run(self, jobs: int, progress: Callable[[int, int], None] | None) -> list[Share]:
        size = os.path.getsize(self.path)
        value: Synchronized[int] = multiprocessing.Value("q", 0)
        shares: list[Share] = []
        with ProcessPoolExecutor(jobs, initializer=_start_worker, initargs=(value,)) as pool:
            futures = [pool.submit(_analyse_share, self.path, i, jobs, self.fmt, self.aliases,
                                   self.filter_text)
                       for i in range(jobs)]  # fmt: skip
            pending: set[Future[Share]] = set(futures)
            while pending:
                _done, pending = wait(pending, timeout=0.2, return_when=FIRST_EXCEPTION)
                if progress is not None:
                    progress(value.value, size)
            for i, future in enumerate(futures):
                try:
                    shares.append(future.result())
                except Exception as exc:  # the worker died (out of memory, killed, ...)
                    self.errors.append(
                        f"{self.path}: the process analysing part {i + 1} of {jobs} failed "
                        f"({type(exc).__name__}: {exc}); rerun with -j 1"
                    )
        return shares

    def __enter__(self) -> SplitAnalysis:
        return self

    def __exit__(self, *_exc: object) -> None:
        for share in self.shares:
            os.unlink(share.output)

    def rows(self) -> list[tuple[Cell, ...]]:
        """The text table's rows in connection order, with their ids."""
        rows: list[tuple[Cell, ...]] = []
        taken = [0] * len(self.shares)
        for conn_id, (_first, i, size) in enumerate(_merged(self.shares)):
            if size < 0:
                continue
            row = self.shares[i].rows[taken[i]]
            taken[i] += 1
            rows.append((str(conn_id), *row[1:]))
        return rows

    def write(self, out: TextIO) -> int:
        """Write the records in connection order, each as one process writes it (for json:
        the records only, joined as `run_analyze` joins them). Returns how many."""
        fmt = self.fmt
        written = 0
        files = [open(s.output, "rb") for s in self.shares]  # noqa: SIM115 (closed below)
        try:
            file_column = ""
            if fmt == "csv":
                line = io.StringIO()
                csv.writer(line, lineterminator="\n").writerow([self.path])
                file_column = line.getvalue()[:-1] + ","
            for conn_id, (_first, i, size) in enumerate(_merged(self.shares)):
                if size < 0:
                    continue
                text = files[i].read(size).decode()
                if fmt == "json":
                    out.write("\n  " if written == 0 else ",\n  ")
                out.write(file_column + _id_prefix(fmt, conn_id) + text)
                written += 1
        finally:
            for f in files:
                f.close()
        return written
