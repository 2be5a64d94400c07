"""The values the event-log readers produce: `LogEvent`, `EventLogError` and problem notes.

This module holds plain data only; it must not import capture, net, tls, certs or analysis,
nor any third-party package.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# A damaged file can produce one problem per record; past this many we stop listing them so
# that a hostile file cannot grow memory through the problem list.
MAX_PROBLEMS = 1000


@dataclass(frozen=True, slots=True)
class LogEvent:
    """One Windows event, whatever file format it came from.

    `ts_ns` is the event's creation time (System/TimeCreated) in UTC nanoseconds since the
    Unix epoch. `fields` holds the event's own data by name: `EventData/Data[@Name]`,
    `UserData/<X>/<Name>`, unnamed values as `param1`, `param2`, ... and the rendered text,
    when the file carries it, as `Message`.
    """

    ts_ns: int
    source: str
    provider: str
    event_id: int
    record_id: int | None
    computer: str | None
    fields: dict[str, str] = field(default_factory=dict)


class EventLogError(Exception):
    """A file that cannot be read as an event log at all."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


def note(problems: list[str], message: str) -> None:
    """Append `message` to `problems`, keeping the list bounded by MAX_PROBLEMS."""
    if len(problems) < MAX_PROBLEMS:
        problems.append(message)
    elif len(problems) == MAX_PROBLEMS:
        problems.append("Further problems were found but are not listed.")
