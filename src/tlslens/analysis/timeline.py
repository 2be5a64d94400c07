"""One chronological list of what happened: TCP opens and closes, TLS messages and alerts per
connection, and event-log events, like Message Analyzer's merged view.

`capture_entries(conv, frame_time)` turns one finished connection into entries;
`event_entries(correlation)` turns event-log attachments into entries; `merge` sorts both.
Entries of the capture carry their frame; entries of the log carry the event and the reason it
was (or was not) attached to a connection.

Imports `tlslens.analysis`, `tlslens.tls` (names) and `tlslens.eventlog` only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from tlslens.analysis.conversation import Conversation, format_time
from tlslens.analysis.correlate import Attachment, Correlation, describe, generic_summary
from tlslens.eventlog import LogEvent
from tlslens.tls import messages as m
from tlslens.tls.registry import (
    alert_level_name,
    alert_name,
    cipher_suite_name,
    handshake_type_name,
    version_name,
)
from tlslens.tls.session import ChangeCipherSpec, HandshakeMessage, is_tls13

CAPTURE = "capture"
EVENTLOG = "eventlog"


@dataclass(frozen=True, slots=True)
class Entry:
    ts_ns: int
    source: str
    conn: int | None
    #: tcp-open, tcp-close, tcp-gap, tls-handshake, tls-ccs, tls-encrypted, tls-alert,
    #: tls-anomaly, or for log events: schannel, network, capi2, event.
    kind: str
    summary: str
    frame: int | None = None
    event: LogEvent | None = None
    #: For log events: why the event was (or was not) attached to `conn`.
    reason: str | None = None

    def to_record(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "ts": format_time(self.ts_ns),
            "source": self.source,
            "conn": self.conn,
            "kind": self.kind,
            "summary": self.summary,
            "frame": self.frame,
        }
        e = self.event
        if e is not None:
            record.update(
                logged=format_time(e.ts_ns), event_id=e.event_id, provider=e.provider,
                record_id=e.record_id, computer=e.computer, reason=self.reason,
                fields=e.fields,
            )  # fmt: skip
        return record


def _hello_summary(body: m.ClientHello) -> str:
    ext = body.extensions
    versions = [v for v in body.offered_versions if v & 0x0F0F != 0x0A0A]
    top = version_name(max(versions)) if versions else "?"
    text = "ClientHello" + (" (SSL 2.0 format)" if body.format == "sslv2" else "")
    if ext.server_name:
        text += f" SNI={ext.server_name}"
    return text + f", up to {top}, {len(body.cipher_suites)} cipher suites"


def _message_summary(msg: HandshakeMessage) -> str:
    body = msg.body
    if msg.msg_type is None:
        return "encrypted handshake message"
    if isinstance(body, m.ClientHello):
        return _hello_summary(body)
    if isinstance(body, m.ServerHello):
        if body.is_hello_retry_request:
            return "HelloRetryRequest"
        ext = body.extensions
        version = ext.supported_versions[0] if ext.supported_versions else body.legacy_version
        return f"ServerHello {version_name(version)}, {cipher_suite_name(body.cipher_suite)}"
    if isinstance(body, m.SSLv2ServerHello):
        return "ServerHello (SSL 2.0)"
    if isinstance(body, m.Certificate):
        n = len(body.certificates)
        return f"Certificate ({n} certificate{'s' if n != 1 else ''})" if n else \
            "Certificate (empty)"  # fmt: skip
    return handshake_type_name(msg.msg_type)


def capture_entries(conv: Conversation, frame_time: Callable[[int], int | None]) -> list[Entry]:
    """The timeline entries of one connection, in no particular order."""

    def at(frame: int | None, default: int) -> int:
        t = frame_time(frame) if frame is not None else None
        return t if t is not None else default

    cid, out = conv.id, []
    c, s = conv.to_server, conv.to_client
    if c.syn_frame is not None:
        out.append(Entry(at(c.syn_frame, conv.start_ns), CAPTURE, cid, "tcp-open",
                         f"TCP SYN {conv.client} → {conv.server}", c.syn_frame))  # fmt: skip
    if s.syn_frame is not None:
        out.append(Entry(at(s.syn_frame, conv.start_ns), CAPTURE, cid, "tcp-open",
                         f"TCP SYN-ACK {conv.server} → {conv.client}", s.syn_frame))  # fmt: skip
    if c.syn_frame is None and s.syn_frame is None:
        out.append(Entry(conv.start_ns, CAPTURE, cid, "tcp-open",
                         f"TCP connection {conv.client} → {conv.server} already open",
                         conv.first_frame))  # fmt: skip
    for role, half in (("client", c), ("server", s)):
        for what, frame in (("FIN", half.fin_frame), ("RST", half.rst_frame)):
            if frame is not None:
                out.append(Entry(at(frame, conv.end_ns), CAPTURE, cid, "tcp-close",
                                 f"TCP {what} from the {role}", frame))  # fmt: skip
    for gap in conv.gaps:
        out.append(Entry(at(gap.frame, conv.end_ns), CAPTURE, cid, "tcp-gap",
                         f"{gap.size} bytes from the {gap.side} missing ({gap.reason})",
                         gap.frame))  # fmt: skip
    tls = conv.tls
    if tls is None or not tls.is_tls:
        return out
    session = tls.session
    for event in session.events:
        if isinstance(event, HandshakeMessage):
            out.append(Entry(at(event.last_frame, conv.start_ns), CAPTURE, cid, "tls-handshake",
                             f"{_message_summary(event)} from the {event.role}",
                             event.last_frame))  # fmt: skip
        elif isinstance(event, ChangeCipherSpec):
            out.append(Entry(at(event.frame, conv.start_ns), CAPTURE, cid, "tls-ccs",
                             f"ChangeCipherSpec from the {event.role}", event.frame))  # fmt: skip
    for alert in tls.alerts:
        if alert.description is not None:
            level = alert_level_name(alert.level) if alert.level is not None else "?"
            text = f"Alert from the {alert.role}: {level} {alert_name(alert.description)} " \
                f"({alert.description})"  # fmt: skip
        else:
            text = f"Encrypted alert from the {alert.role} (likely {alert.likely or 'unknown'})"
        out.append(Entry(at(alert.frame, conv.end_ns), CAPTURE, cid, "tls-alert", text,
                         alert.frame))  # fmt: skip
    if is_tls13(session.version):
        # Before TLS 1.3 the ChangeCipherSpec entries say when each side starts encrypting.
        for role_index, role in enumerate(("client", "server")):
            frame = session.encrypted_from(role_index)
            if frame is not None:
                out.append(Entry(at(frame, conv.start_ns), CAPTURE, cid, "tls-encrypted",
                                 f"the {role} encrypts from here", frame))  # fmt: skip
    for anomaly in session.anomalies:
        out.append(Entry(at(anomaly.frame, conv.end_ns), CAPTURE, cid, "tls-anomaly",
                         f"{anomaly.role}: {anomaly.message}", anomaly.frame))  # fmt: skip
    return out


def _kind(a: Attachment) -> str:
    from tlslens.eventlog.facts import NetworkFacts, SchannelFacts, is_capi2

    if isinstance(a.facts, SchannelFacts):
        return "schannel"
    if isinstance(a.facts, NetworkFacts):
        return "network"
    return "capi2" if is_capi2(a.event) else "event"


def event_entries(correlation: Correlation) -> Iterator[Entry]:
    for a in correlation.attachments:
        yield Entry(a.ts_ns, EVENTLOG, a.conn, _kind(a), describe(a), a.frame, a.event, a.reason)


def other_entries(events: Iterable[LogEvent], skew_ns: int) -> Iterator[Entry]:
    """Entries for log events that are not about connections (service starts, ...)."""
    for e in events:
        yield Entry(e.ts_ns + skew_ns, EVENTLOG, None, "event", generic_summary(e), None, e,
                    "not about one connection")  # fmt: skip


def merge(*streams: Iterable[Entry]) -> list[Entry]:
    """All entries in time order; at equal times capture facts first, by frame."""
    entries = [e for stream in streams for e in stream]
    entries.sort(key=lambda e: (e.ts_ns, e.source != CAPTURE, e.frame or 0))
    return entries
