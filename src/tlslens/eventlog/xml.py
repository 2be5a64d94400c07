"""Read Windows events rendered as XML, and map one <Event> element to a `LogEvent`.

Accepts `wevtutil qe /f:xml` output (a run of <Event> elements with no single root) and
Event Viewer's "Save as XML" (<Events><Event>...</Events>). The file is parsed
incrementally with a pull parser and each <Event> is dropped once mapped, so memory does
not grow with the file. Documents with a DTD or entity declarations are refused.

Both event-data shapes are understood: `EventData/Data[@Name]` and
`UserData/<Element>/<Field>` (as Schannel 36880 uses). `evtx.py` reuses `event_from_element`.
Standard library only; must not import capture, net, tls, certs or analysis.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

from .model import EventLogError, LogEvent, note
from .textfile import open_text
from .timestamp import parse_time

_CHUNK = 64 * 1024
_WRAPPER = "tlslens-events"
_DECLARATION = re.compile(r"\A\s*<\?xml[^>]*\?>", re.IGNORECASE)
_FORBIDDEN = ("<!doctype", "<!entity")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(elem: ET.Element, name: str) -> ET.Element | None:
    for child in elem:
        if _local(child.tag) == name:
            return child
    return None


def _text(elem: ET.Element | None) -> str:
    if elem is None or elem.text is None:
        return ""
    # Renderers write empty elements as an open and close tag with indentation between.
    return "" if elem.text.isspace() else elem.text


def _flatten(elem: ET.Element, prefix: str, fields: dict[str, str]) -> None:
    for child in elem:
        name = prefix + _local(child.tag)
        if len(child):
            _flatten(child, name + "/", fields)
        else:
            fields[name] = _text(child)


def _event_fields(event: ET.Element) -> dict[str, str]:
    fields: dict[str, str] = {}
    data = _child(event, "EventData")
    if data is not None:
        unnamed = 0
        for item in data:
            tag = _local(item.tag)
            name = item.get("Name") if tag == "Data" else tag
            if not name:
                unnamed += 1
                name = f"param{unnamed}"
            fields[name] = _text(item)
    user = _child(event, "UserData")
    if user is not None:
        # UserData holds one provider-defined element (e.g. EventXML) whose children are
        # the fields.
        for wrapper in user:
            _flatten(wrapper, "", fields)
    rendering = _child(event, "RenderingInfo")
    message = _child(rendering, "Message") if rendering is not None else None
    if message is not None:
        fields.setdefault("Message", _text(message))
    return fields


def _int_or_none(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isdigit() else None


def event_from_element(
    event: ET.Element,
    source: str,
    problems: list[str],
    where: str,
    fallback_time: str | None = None,
) -> LogEvent | None:
    """Map an <Event> element to a LogEvent, or note a problem (naming `where`) and skip it."""
    system = _child(event, "System")
    if system is None:
        note(problems, f"{where}: the event has no <System> element; it was skipped.")
        return None
    provider_elem = _child(system, "Provider")
    provider = ""
    if provider_elem is not None:
        provider = provider_elem.get("Name") or provider_elem.get("EventSourceName") or ""
    event_id = _int_or_none(_text(_child(system, "EventID")))
    if event_id is None:
        note(problems, f"{where}: the event has no numeric EventID; it was skipped.")
        return None
    created = _child(system, "TimeCreated")
    time_text = (created.get("SystemTime") if created is not None else None) or fallback_time
    parsed = parse_time(time_text or "")
    if parsed is None:
        note(problems, f"{where}: the event time {time_text!r} is not readable; it was skipped.")
        return None
    computer = _text(_child(system, "Computer")).strip() or None
    return LogEvent(
        ts_ns=parsed.ts_ns,
        source=source,
        provider=provider,
        event_id=event_id,
        record_id=_int_or_none(_text(_child(system, "EventRecordID"))),
        computer=computer,
        fields=_event_fields(event),
    )


class XmlReader:
    """Streams the <Event> elements of one XML file."""

    def __init__(self, path: Path, source: str) -> None:
        self.path = path
        self.source = source
        self._refuse_dtd()

    def _chunks(self) -> Iterator[str]:
        with open_text(self.path) as f:
            while chunk := f.read(_CHUNK):
                yield chunk

    def _refuse_dtd(self) -> None:
        # Entity declarations allow entity-expansion attacks; event exports never use them.
        tail = ""
        for chunk in self._chunks():
            window = (tail + chunk).lower()
            for marker in _FORBIDDEN:
                if marker in window:
                    raise EventLogError(
                        self.source,
                        f"the XML contains a {marker[1:].upper()} declaration, which event "
                        "exports never have; it was refused for safety. Export the events "
                        "again with wevtutil or Event Viewer.",
                    )
            tail = window[-16:]

    def events(self, problems: list[str]) -> Iterator[LogEvent]:
        parser: ET.XMLPullParser[ET.Element] = ET.XMLPullParser(events=("start", "end"))
        # Wrap the input in one root so that a run of <Event> elements is a document.
        parser.feed(f"<{_WRAPPER}>")
        stack: list[ET.Element] = []
        state = {"count": 0}
        first = True
        try:
            for chunk in self._chunks():
                if first:
                    chunk = _DECLARATION.sub("", chunk.lstrip("\ufeff"), count=1)
                    first = False
                parser.feed(chunk)
                yield from self._drain(parser, stack, problems, state)
            parser.feed(f"</{_WRAPPER}>")
            parser.close()
            yield from self._drain(parser, stack, problems, state)
        except ET.ParseError as exc:
            note(
                problems,
                f"The XML is not well formed ({exc}); reading stopped after "
                f"{state['count']} events.",
            )

    def _drain(
        self,
        parser: ET.XMLPullParser[ET.Element],
        stack: list[ET.Element],
        problems: list[str],
        state: dict[str, int],
    ) -> Iterator[LogEvent]:
        for item in parser.read_events():
            # Only "start" and "end" were requested, so every item is (kind, element).
            if not isinstance(item, tuple) or len(item) != 2:
                continue
            kind, elem = item
            if not isinstance(elem, ET.Element):
                continue
            if kind == "start":
                stack.append(elem)
                continue
            stack.pop()
            if _local(elem.tag) != "Event":
                continue
            state["count"] += 1
            where = f"XML event {state['count']}"
            event = event_from_element(elem, self.source, problems, where)
            # Drop the mapped element so that memory stays flat on long files.
            if stack:
                stack[-1].remove(elem)
            if event is not None:
                yield event
