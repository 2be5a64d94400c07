"""Build a `LogEvent` from one flat record of a PowerShell or Event Viewer export.

`Get-WinEvent | ConvertTo-Json`, `Export-Csv` and Event Viewer's "Save as CSV" name the same
facts differently; the alias tables here list the names each writes. Standard library only;
must not import capture, net, tls, certs or analysis.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from .model import LogEvent, note
from .timestamp import parse_time

TIME_NAMES = ("TimeCreated", "Date and Time", "TimeGenerated", "TimeWritten", "Time")
ID_NAMES = ("Id", "EventID", "Event ID", "EventId", "InstanceId")
PROVIDER_NAMES = ("ProviderName", "Source", "Provider", "ProviderId")
RECORD_NAMES = ("RecordId", "EventRecordID", "RecordNumber", "Index")
COMPUTER_NAMES = ("MachineName", "Computer", "ComputerName")


def scalar_text(value: object) -> str:
    """Render a JSON or CSV value as the string a field holds."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def pick(record: Mapping[str, object], names: Sequence[str]) -> object:
    """Return the first present, non-empty value among `names`, or None."""
    for name in names:
        value = record.get(name)
        if value is not None and value != "":
            return value
    return None


def _as_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    text = scalar_text(value).strip()
    try:
        return int(text, 0) if text.lower().startswith("0x") else int(text)
    except ValueError:
        return None


def _time_text(value: object) -> str:
    # PowerShell 5.1 sometimes writes a DateTime as {"value": "/Date(...)/", "DateTime": ...}.
    if isinstance(value, Mapping):
        value = value.get("value") or value.get("DateTime")
    return scalar_text(value)


def event_from_record(
    record: Mapping[str, object],
    fields: dict[str, str],
    source: str,
    problems: list[str],
    where: str,
    unzoned: list[bool],
) -> LogEvent | None:
    """Map one flat record to a LogEvent, or note a problem naming `where` and skip it.

    `unzoned` is a one-element flag list set when a time without a zone was taken as UTC, so
    that the caller reports that once per file rather than once per event.
    """
    time_text = _time_text(pick(record, TIME_NAMES))
    parsed = parse_time(time_text)
    if parsed is None:
        note(problems, f"{where}: the event time {time_text!r} is not readable; it was skipped.")
        return None
    if not parsed.zoned and not unzoned[0]:
        unzoned[0] = True
        note(
            problems,
            "Event times carry no time zone (for example "
            f"{time_text!r}); they were taken as UTC, so they may be off by the exporting "
            "machine's UTC offset. Export with TimeCreated as UTC ISO 8601 to avoid this.",
        )
    event_id = _as_int(pick(record, ID_NAMES))
    if event_id is None:
        note(problems, f"{where}: the event has no numeric event id; it was skipped.")
        return None
    computer = scalar_text(pick(record, COMPUTER_NAMES)).strip() or None
    return LogEvent(
        ts_ns=parsed.ts_ns,
        source=source,
        provider=scalar_text(pick(record, PROVIDER_NAMES)),
        event_id=event_id,
        record_id=_as_int(pick(record, RECORD_NAMES)),
        computer=computer,
        fields=fields,
    )
