"""Read `Get-WinEvent | ConvertTo-Json` output (one object or a list of them).

Fields used: Id, ProviderName, TimeCreated ("/Date(ms)/" or ISO 8601), RecordId,
MachineName, Properties (a list of {"Value": ...}, named param1, param2, ... in order) and
Message. JSON has no streaming parser in the standard library, so the file is loaded whole
and refused above MAX_JSON_BYTES. Standard library only; must not import capture, net,
tls, certs or analysis.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path

from .model import EventLogError, LogEvent, note
from .record import event_from_record, scalar_text
from .textfile import open_text

MAX_JSON_BYTES = 256 * 1024 * 1024


def _fields(record: Mapping[str, object]) -> dict[str, str]:
    fields: dict[str, str] = {}
    properties = record.get("Properties")
    if isinstance(properties, list):
        for index, prop in enumerate(properties, start=1):
            value = prop.get("Value") if isinstance(prop, Mapping) else prop
            fields[f"param{index}"] = scalar_text(value)
    message = record.get("Message")
    if message is not None:
        fields["Message"] = scalar_text(message)
    return fields


class JsonReader:
    """Loads one JSON export and yields its events."""

    def __init__(self, path: Path, source: str) -> None:
        self.source = source
        if path.stat().st_size > MAX_JSON_BYTES:
            raise EventLogError(
                source,
                f"the JSON file is larger than {MAX_JSON_BYTES // 2**20} MiB; export EVTX or "
                "CSV instead, which are read as a stream.",
            )
        try:
            with open_text(path) as f:
                data = json.load(f)
        except json.JSONDecodeError as exc:
            raise EventLogError(
                source, f"the file is not valid JSON ({exc}); expected ConvertTo-Json output."
            ) from exc
        if isinstance(data, dict):
            data = [data]
        if not isinstance(data, list):
            raise EventLogError(
                source, "the JSON holds neither an event object nor a list of them."
            )
        self._items: list[object] = data

    def events(self, problems: list[str]) -> Iterator[LogEvent]:
        unzoned = [False]
        for index, item in enumerate(self._items, start=1):
            where = f"JSON item {index}"
            if not isinstance(item, dict):
                note(problems, f"{where} is not an event object; it was skipped.")
                continue
            event = event_from_record(item, _fields(item), self.source, problems, where, unzoned)
            if event is not None:
                yield event
