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
from tlslens.eventlog.facts import NetworkFacts, SchannelFacts, is_capi2
from tlslens.tls import messages as m
from tlslens.tls.registry import (
    alert_level_name,
    alert_name,
    cipher_suite_name,
    handshake_title,
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
    #: For capture entries: the side that sent it (client or server), if one did.
    side: str | None = None
    #: For capture entries: the summary without the side ("ServerHello TLS 1.2, ...").
    label: str | None = None

    def to_record(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "ts": format_time(self.ts_ns),
            "source": self.source,
            "conn": self.conn,
            "kind": self.kind,
            "summary": self.summary,
            "frame": self.frame,
        }
        if self.source == CAPTURE:
            record["side"] = self.side
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
    return handshake_title(msg.msg_type)


def capture_entries(conv: Conversation, frame_time: Callable[[int], int | None]) -> list[Entry]:
    """The timeline entries of one connection, in no particular order. Each has the side
    that sent it and a short `label` (the summary without "from the client")."""
    cid, out = conv.id, []

    def add(frame: int | None, default_ns: int, kind: str, label: str, side: str | None,
            summary: str | None = None) -> None:  # fmt: skip
        t = frame_time(frame) if frame is not None else None
        if summary is None:
            summary = f"{label} from the {side}" if side else label
        out.append(Entry(t if t is not None else default_ns, CAPTURE, cid, kind, summary,
                         frame, side=side, label=label))  # fmt: skip

    c, s = conv.to_server, conv.to_client
    if c.syn_frame is not None:
        add(
            c.syn_frame,
            conv.start_ns,
            "tcp-open",
            "TCP SYN",
            "client",
            f"TCP SYN {conv.client} → {conv.server}",
        )
    if s.syn_frame is not None:
        add(
            s.syn_frame,
            conv.start_ns,
            "tcp-open",
            "TCP SYN-ACK",
            "server",
            f"TCP SYN-ACK {conv.server} → {conv.client}",
        )
    if c.syn_frame is None and s.syn_frame is None:
        add(
            conv.first_frame,
            conv.start_ns,
            "tcp-open",
            "TCP connection already open",
            None,
            f"TCP connection {conv.client} → {conv.server} already open",
        )
    for role, half in (("client", c), ("server", s)):
        for what, frame in (("FIN", half.fin_frame), ("RST", half.rst_frame)):
            if frame is not None:
                add(frame, conv.end_ns, "tcp-close", f"TCP {what}", role)
    for gap in conv.gaps:
        add(gap.frame, conv.end_ns, "tcp-gap", f"{gap.size} bytes missing ({gap.reason})", gap.side)
    tls = conv.tls
    if tls is None or not tls.is_tls:
        return out
    session = tls.session
    for event in session.events:
        if isinstance(event, HandshakeMessage):
            add(
                event.last_frame,
                conv.start_ns,
                "tls-handshake",
                _message_summary(event),
                event.role,
            )
        elif isinstance(event, ChangeCipherSpec):
            add(event.frame, conv.start_ns, "tls-ccs", "ChangeCipherSpec", event.role)
    for alert in tls.alerts:
        if alert.description is not None:
            level = alert_level_name(alert.level) if alert.level is not None else "?"
            label = f"Alert: {level} {alert_name(alert.description)} ({alert.description})"
            summary = f"Alert from the {alert.role}: {label[7:]}"
        else:
            label = f"Encrypted Alert (likely {alert.likely or 'unknown'})"
            summary = f"Encrypted alert from the {alert.role} " \
                f"(likely {alert.likely or 'unknown'})"  # fmt: skip
        add(alert.frame, conv.end_ns, "tls-alert", label, alert.role, summary)
    if is_tls13(session.version):
        # Before TLS 1.3 the ChangeCipherSpec entries say when each side starts encrypting.
        for role_index, role in enumerate(("client", "server")):
            frame = session.encrypted_from(role_index)
            if frame is not None:
                add(
                    frame,
                    conv.start_ns,
                    "tls-encrypted",
                    "encrypted from here",
                    role,
                    f"the {role} encrypts from here",
                )
    for anomaly in session.anomalies:
        add(
            anomaly.frame,
            conv.end_ns,
            "tls-anomaly",
            f"anomaly: {anomaly.message}",
            anomaly.role,
            f"{anomaly.role}: {anomaly.message}",
        )
    return out


def _kind(a: Attachment) -> str:
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
