"""Read `Export-Csv` output and Event Viewer's "Save as CSV".

Export-Csv may start with a `#TYPE ...` line, then a header naming TimeCreated, Id,
ProviderName, MachineName, Message and more. Event Viewer writes "Level,Date and Time,
Source,Event ID,Task Category" with the message in an extra, unnamed last column. Rows are
read one at a time. A file with no time or id column is refused. Standard library only;
must not import capture, net, tls, certs or analysis.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from .model import EventLogError, LogEvent, note
from .record import ID_NAMES, TIME_NAMES, event_from_record, scalar_text
from .textfile import open_text

_REST = "\x00rest"
# A file whose rows keep failing is given up on after this many errors in a row.
_MAX_CONSECUTIVE_ERRORS = 1000


def _skip_preamble(f: TextIO) -> list[str] | None:
    """Position `f` after any `#TYPE` line and return the header row (None if absent)."""
    reader = csv.reader(f)
    for row in reader:
        if row and row[0].lstrip("\ufeff").startswith("#"):
            continue
        return [name.lstrip("\ufeff").strip() for name in row]
    return None


class CsvReader:
    """Streams the rows of one CSV export."""

    def __init__(self, path: Path, source: str) -> None:
        self.path = path
        self.source = source
        try:
            with open_text(path) as f:
                header = _skip_preamble(f)
        except csv.Error as exc:
            raise EventLogError(source, f"the file is not readable as CSV ({exc}).") from exc
        columns = set(header or ())
        for what, names in (("time", TIME_NAMES), ("event id", ID_NAMES)):
            if not columns.intersection(names):
                raise EventLogError(
                    source,
                    f"the CSV has no {what} column; expected one of {', '.join(names)} in the "
                    "header (as written by Export-Csv or Event Viewer's Save as CSV).",
                )

    def events(self, problems: list[str]) -> Iterator[LogEvent]:
        unzoned = [False]
        with open_text(self.path) as f:
            header = _skip_preamble(f) or []
            reader = csv.DictReader(f, fieldnames=header, restkey=_REST)
            index = 0
            errors = 0
            while True:
                index += 1
                where = f"CSV row {index}"
                try:
                    row = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    note(problems, f"{where} is not valid CSV ({exc}); it was skipped.")
                    errors += 1
                    if errors >= _MAX_CONSECUTIVE_ERRORS:
                        note(problems, "Too many consecutive unreadable rows; reading stopped.")
                        return
                    continue
                errors = 0
                fields: dict[str, str] = {}
                message = row.get("Message")
                rest = row.get(_REST)
                if message:
                    fields["Message"] = scalar_text(message)
                elif isinstance(rest, list) and rest:
                    # Event Viewer puts the message after the last named column.
                    fields["Message"] = ",".join(rest)
                event = event_from_record(row, fields, self.source, problems, where, unzoned)
                if event is not None:
                    yield event
