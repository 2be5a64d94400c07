"""Windows event logs in, `LogEvent`s out.

`read_events(path)` detects the format by content (binary EVTX, XML from wevtutil or Event
Viewer, JSON from ConvertTo-Json, CSV from Export-Csv or Event Viewer) and returns an
`EventLog`: iterate it for `LogEvent`s, streamed in file order, then read `.problems` for
damage that was skipped. A file that cannot be read at all raises `EventLogError`.

This package must not import capture, net, tls, certs or analysis (analysis joins events
to connections by time); the `evtx` package is imported only in `evtx.py`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from .csv import CsvReader
from .evtx import MAGIC, EvtxReader
from .json import JsonReader
from .model import EventLogError, LogEvent
from .textfile import detect_encoding
from .xml import XmlReader

__all__ = ["EventLog", "EventLogError", "LogEvent", "read_events"]


class _Reader(Protocol):
    def events(self, problems: list[str]) -> Iterator[LogEvent]: ...


class EventLog:
    """The events of one file. Iterating reads the file again and refills `problems`."""

    def __init__(self, source: str, format: str, reader: _Reader) -> None:
        self.source = source
        self.format = format
        self.problems: list[str] = []
        self._reader = reader

    def __iter__(self) -> Iterator[LogEvent]:
        self.problems.clear()
        try:
            yield from self._reader.events(self.problems)
        except OSError as exc:
            raise EventLogError(self.source, f"reading failed ({exc}).") from exc

    def __repr__(self) -> str:
        return f"EventLog({self.source!r}, format={self.format!r})"


def _sniff(path: Path, source: str) -> str:
    with path.open("rb") as f:
        head = f.read(4096)
    if head.startswith(MAGIC):
        return "evtx"
    text = head.decode(detect_encoding(head), errors="replace").lstrip("\ufeff \t\r\n")
    if not text:
        raise EventLogError(source, "the file is empty; there are no events to read.")
    if text[0] == "<":
        return "xml"
    if text[0] in "[{":
        return "json"
    return "csv"


def read_events(path: str | os.PathLike[str]) -> EventLog:
    """Open an event log file of any supported format.

    Raises EventLogError when the file is missing, empty, or not an event log at all.
    """
    p = Path(path)
    source = str(path)
    try:
        fmt = _sniff(p, source)
        if fmt == "evtx":
            reader: _Reader = EvtxReader(p, source)
        elif fmt == "xml":
            reader = XmlReader(p, source)
        elif fmt == "json":
            reader = JsonReader(p, source)
        else:
            reader = CsvReader(p, source)
    except OSError as exc:
        raise EventLogError(source, f"the file cannot be read ({exc.strerror or exc}).") from exc
    return EventLog(source, fmt, reader)
