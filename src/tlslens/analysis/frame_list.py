"""The frame list, as Network Monitor showed it: one row per frame with its time, source,
destination, protocol and a summary of what it carried ("ClientHello", "ServerHello.
Certificate. ServerHelloDone", "Encrypted Alert (likely close_notify)", "Continued data: 1460
bytes", "TCP FIN").

Built from the frames the pipeline recorded (`Analysis(keep_frames=True)`) and the finished
connections; the TLS facts come from the timeline's entries, so both views say the same.
Imports `tlslens.analysis` and `tlslens.net` (reason names) only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from tlslens.analysis.conversation import Conversation, format_time
from tlslens.analysis.pipeline import LATE, FrameRecord
from tlslens.analysis.timeline import capture_entries
from tlslens.net import packet
from tlslens.tls.registry import handshake_title
from tlslens.tls.session import HandshakeMessage

SYN, FIN, RST, PSH, ACK = 0x02, 0x01, 0x04, 0x08, 0x10


@dataclass(frozen=True, slots=True)
class FrameRow:
    frame: int
    ts_ns: int
    conn: int | None
    source: str
    destination: str
    protocol: str
    summary: str
    #: Whether the client sent it (None for a frame outside any connection).
    from_client: bool | None = None

    def to_record(self) -> dict[str, Any]:
        return {"frame": self.frame, "ts": format_time(self.ts_ns), "conn": self.conn,
                "source": self.source, "destination": self.destination,
                "protocol": self.protocol, "summary": self.summary}  # fmt: skip


def _tcp_flags(flags: int) -> str:
    names = [n for bit, n in ((SYN, "SYN"), (FIN, "FIN"), (RST, "RST")) if flags & bit]
    if names and flags & ACK and flags & SYN:
        names.append("ACK")
    return "TCP " + ", ".join(names) if names else "TCP ACK" if flags & ACK else "TCP"


class _ConnFacts:
    """What one connection's frames carried, by frame number."""

    def __init__(self, conv: Conversation, frame_time: Callable[[int], int | None]) -> None:
        self.conv = conv
        self.labels: dict[tuple[int, str], list[str]] = {}
        for entry in capture_entries(conv, frame_time):
            if entry.frame is not None and entry.side is not None and entry.label:
                if entry.kind in ("tcp-open", "tcp-close", "tls-encrypted"):
                    continue  # said by the flags, or not a message
                self.labels.setdefault((entry.frame, entry.side), []).append(entry.label)
        # Frames that carry the earlier part of a handshake message split over segments.
        self.continued: dict[tuple[int, str], str] = {}
        self.spans: list[tuple[str, int, int, str]] = []
        tls = conv.tls
        self.encrypted_from: dict[str, int | None] = {"client": None, "server": None}
        self.is_tls = tls is not None and tls.is_tls
        if tls is not None and self.is_tls:
            for event in tls.session.events:
                if isinstance(event, HandshakeMessage) and event.first_frame < event.last_frame:
                    name = handshake_title(event.msg_type) if event.msg_type is not None \
                        else "encrypted handshake"  # fmt: skip
                    self.spans.append((event.role, event.first_frame, event.last_frame, name))
            for index, role in enumerate(("client", "server")):
                self.encrypted_from[role] = tls.session.encrypted_from(index)

    def summary(self, record: FrameRecord, role: str) -> tuple[str, str]:
        """(protocol, summary) of one frame of this connection."""
        labels = self.labels.get((record.frame, role))
        flags = record.flags
        control = flags & (SYN | FIN | RST)
        started = [name for r, first, last, name in self.spans
                   if r == role and first <= record.frame < last]  # fmt: skip
        if labels:
            text = ". ".join(labels)
            if started:
                text += ". " + ". ".join(f"{name} (first part)" for name in started)
            if control:
                text += f"; {_tcp_flags(flags)}"
            return "TLS", text
        if record.length and self.is_tls:
            flag_note = f"; {_tcp_flags(flags)}" if control else ""
            if started:
                return "TLS", f"Continued data: {record.length} bytes ({started[0]}){flag_note}"
            start = self.encrypted_from[role]
            if start is not None and record.frame >= start:
                return "TLS", f"Encrypted data: {record.length} bytes{flag_note}"
            return "TLS", f"Continued data: {record.length} bytes{flag_note}"
        if record.length:
            text = f"TCP payload: {record.length} bytes"
            return "TCP", text + (f"; {_tcp_flags(flags)}" if control else "")
        return "TCP", _tcp_flags(flags)


def frame_rows(frames: Iterable[FrameRecord], conversations: Iterable[Conversation],
               frame_time: Callable[[int], int | None]) -> Iterator[FrameRow]:  # fmt: skip
    """One row per recorded frame, in frame order."""
    facts = {conv.id: _ConnFacts(conv, frame_time) for conv in conversations}
    for record in frames:
        if record.conn is None:
            reason = "a TCP packet after its connection closed" if record.flags == LATE else \
                packet.REASONS.get(record.flags, "not TCP")  # fmt: skip
            yield FrameRow(record.frame, record.ts_ns, None, "", "", "-", f"not analysed: {reason}")
            continue
        found = facts.get(record.conn)
        if found is None:
            continue  # a connection the filter left out
        conv = found.conv
        from_client = record.side == conv.client_side
        role = "client" if from_client else "server"
        src, dst = (conv.client, conv.server) if from_client else (conv.server, conv.client)
        protocol, summary = found.summary(record, role)
        yield FrameRow(record.frame, record.ts_ns, conv.id, str(src), str(dst), protocol, summary,
                       from_client)  # fmt: skip
