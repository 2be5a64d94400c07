"""Read binary EVTX files with the `evtx` package; the only module that imports it.

Records are streamed as XML and mapped with `xml.event_from_element`, so EVTX and XML exports
give identical fields. A bad chunk or record becomes a problem and reading goes on. The
file header is checked by hand as well, because the `evtx` package silently returns nothing
for chunks cut off by truncation. Must not import capture, net, tls, certs or analysis.
"""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

from evtx import PyEvtxParser

from .model import EventLogError, LogEvent, note
from .xml import event_from_element

MAGIC = b"ElfFile\x00"
_HEADER_SIZE = 4096
_CHUNK_SIZE = 65536
# A file whose iterator keeps failing without progress is given up on after this many errors.
_MAX_CONSECUTIVE_ERRORS = 10_000


def _chunk_count(head: bytes) -> int | None:
    # File header: magic (8), first/last chunk number and next record id (8 each), header
    # size (4), minor/major version (2 each), header block size (2), chunk count (2).
    if len(head) < 0x2C or not head.startswith(MAGIC):
        return None
    (count,) = struct.unpack_from("<H", head, 0x2A)
    return int(count)


class EvtxReader:
    """Streams the records of one EVTX file."""

    def __init__(self, path: Path, source: str) -> None:
        self.path = path
        self.source = source
        try:
            PyEvtxParser(str(path))
        except (OSError, RuntimeError, ValueError) as exc:
            raise EventLogError(
                source, f"the EVTX file header is not readable ({exc}); the file is damaged."
            ) from exc

    def _check_length(self, problems: list[str]) -> None:
        with self.path.open("rb") as f:
            head = f.read(0x2C)
            size = f.seek(0, 2)
        count = _chunk_count(head)
        whole = max(0, size - _HEADER_SIZE) // _CHUNK_SIZE
        if count is not None and whole < count:
            note(
                problems,
                f"The file header lists {count} chunks but only {whole} are complete; the file "
                "looks truncated, so events in the missing part are lost.",
            )
        elif (size - _HEADER_SIZE) % _CHUNK_SIZE:
            note(problems, "The file ends with a partial chunk, which could not be read.")

    def events(self, problems: list[str]) -> Iterator[LogEvent]:
        self._check_length(problems)
        records = iter(PyEvtxParser(str(self.path)).records())
        errors = 0
        while True:
            try:
                record = next(records)
            except StopIteration:
                return
            except Exception as exc:  # The native parser raises plain RuntimeErrors.
                note(problems, f"Damaged data skipped: {exc}.")
                errors += 1
                if errors >= _MAX_CONSECUTIVE_ERRORS:
                    note(problems, "Too many consecutive errors; reading stopped.")
                    return
                continue
            errors = 0
            if not isinstance(record, dict):
                note(problems, "The EVTX parser returned an empty record; it was skipped.")
                continue
            record_id = record.get("event_record_id")
            where = f"EVTX record {record_id}"
            try:
                elem = ET.fromstring(str(record["data"]).encode("utf-8"))
            except ET.ParseError as exc:
                note(problems, f"{where}: its XML rendering is not readable ({exc}); skipped.")
                continue
            timestamp = str(record.get("timestamp") or "")
            event = event_from_element(elem, self.source, problems, where, timestamp)
            if event is not None:
                yield event
