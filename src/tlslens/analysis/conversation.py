"""One record per TCP connection, like a row of Zeek's conn.log/ssl.log, built when the
connection ends. Interfaces render it; they never look at packets.

The records made for every connection (`Conversation`, its two `DirectionStats` and
`Endpoint`s, its `GapRecord`s) are `tlslens.tls.value.Value`s: compiled, a frozen
dataclass with a dozen fields took as long to make as the connection's TLS parsing.

Imports `tlslens.net` (for the connection state it summarises), `tlslens.tls.value`, and
beside it only `aliases` and `tls_summary`.
"""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from typing import Any, ClassVar, Final

from tlslens.analysis.aliases import Aliases
from tlslens.analysis.tls_summary import TlsSummary
from tlslens.net.tcp import Connection, Half
from tlslens.tls.value import Value

#: What `format_ip` and `_utc_second` made: plain dicts, as compiled code calls an
#: `lru_cache` wrapper like any Python object (about 1,000 instructions a call), each
#: emptied when it holds _KEPT entries.
_IP_TEXT: Final[dict[bytes, str]] = {}
_SECOND_TEXT: Final[dict[int, str]] = {}
_KEPT: Final = 4096


def format_ip(raw: bytes) -> str:
    """An address as text (remembered: a capture's connections share few hosts)."""
    text = _IP_TEXT.get(raw)
    if text is None:
        if len(_IP_TEXT) >= _KEPT:
            _IP_TEXT.clear()
        family = socket.AF_INET if len(raw) == 4 else socket.AF_INET6
        text = _IP_TEXT[raw] = socket.inet_ntop(family, raw)
    return text


def format_time(ts_ns: int) -> str:
    """ISO-8601 UTC with microseconds, e.g. 2026-11-23T09:18:47.123456Z."""
    seconds = ts_ns // 1_000_000_000
    # The microseconds, zero-padded to six digits by a leading 1 cut off: a format
    # specification would be a generic call.
    micro = str(1_000_000 + (ts_ns - seconds * 1_000_000_000) // 1000)
    return _utc_second(seconds) + "." + micro[1:] + "Z"


def _utc_second(seconds: int) -> str:
    # Connections of one capture start within few seconds of each other: remembered.
    text = _SECOND_TEXT.get(seconds)
    if text is None:
        if len(_SECOND_TEXT) >= _KEPT:
            _SECOND_TEXT.clear()
        moment = datetime.fromtimestamp(seconds, UTC)
        text = _SECOND_TEXT[seconds] = moment.strftime("%Y-%m-%dT%H:%M:%S")
    return text


class Endpoint(Value):
    __match_args__: ClassVar[tuple[str, ...]] = ("ip", "port", "alias")
    __slots__ = __match_args__

    def __init__(self, ip: str, port: int, alias: str | None = None) -> None:
        self.ip: Final = ip
        self.port: Final = port
        #: A nickname from the user's aliases file; shown instead of the address.
        self.alias: Final = alias

    def __str__(self) -> str:
        host = self.alias or (f"[{self.ip}]" if ":" in self.ip else self.ip)
        return f"{host}:{self.port}"

    def to_record(self) -> dict[str, Any]:
        record: dict[str, Any] = {"ip": self.ip, "port": self.port}
        if self.alias is not None:
            record["alias"] = self.alias
        return record


def _frame_of(gap: GapRecord) -> int:
    """A gap's frame, to sort by (a function of its own: a lambda in `Conversation.of` makes
    the compiled function allocate its closure on every call)."""
    return gap.frame


def _endpoint(raw: bytes, port: int, aliases: Aliases | None) -> Endpoint:
    ip = format_ip(raw)
    return Endpoint(ip, port, aliases.lookup(ip) if aliases is not None else None)


class GapRecord(Value):
    """Stream bytes one side sent that the capture does not hold."""

    __match_args__: ClassVar[tuple[str, ...]] = ("side", "offset", "size", "frame", "reason")
    __slots__ = __match_args__

    def __init__(self, side: str, offset: int, size: int, frame: int, reason: str) -> None:
        self.side: Final = side
        self.offset: Final = offset
        self.size: Final = size
        self.frame: Final = frame
        self.reason: Final = reason


class DirectionStats(Value):
    """What one side sent."""

    __match_args__: ClassVar[tuple[str, ...]] = (
        "packets", "bytes", "syn_frame", "fin_frame", "rst_frame", "retransmissions",
        "out_of_order", "keepalives", "zero_window_probes", "gap_count", "gap_bytes",
        "truncated_bytes",
    )  # fmt: skip
    __slots__ = __match_args__

    def __init__(self, packets: int, bytes: int, syn_frame: int | None, fin_frame: int | None,
                 rst_frame: int | None, retransmissions: int, out_of_order: int,
                 keepalives: int, zero_window_probes: int, gap_count: int, gap_bytes: int,
                 truncated_bytes: int) -> None:  # fmt: skip
        self.packets: Final = packets
        self.bytes: Final = bytes
        self.syn_frame: Final = syn_frame
        self.fin_frame: Final = fin_frame
        self.rst_frame: Final = rst_frame
        self.retransmissions: Final = retransmissions
        self.out_of_order: Final = out_of_order
        self.keepalives: Final = keepalives
        self.zero_window_probes: Final = zero_window_probes
        self.gap_count: Final = gap_count
        self.gap_bytes: Final = gap_bytes
        self.truncated_bytes: Final = truncated_bytes

    @classmethod
    def of(cls, half: Half) -> DirectionStats:
        # The class by name, not `cls`: compiled, that is a direct call of its constructor
        # where `cls(...)` is a generic one (nothing derives from these records).
        return DirectionStats(half.packets, half.offset, half.syn_frame, half.fin_frame,
                              half.rst_frame, half.retransmissions, half.out_of_order,
                              half.keepalives, half.zero_window_probes, half.gap_count,
                              half.gap_bytes, half.truncated_bytes)  # fmt: skip

    def to_record(self) -> dict[str, Any]:
        return {
            "packets": self.packets,
            "bytes": self.bytes,
            "syn_frame": self.syn_frame,
            "fin_frame": self.fin_frame,
            "rst_frame": self.rst_frame,
            "retransmissions": self.retransmissions,
            "out_of_order": self.out_of_order,
            "keepalives": self.keepalives,
            "zero_window_probes": self.zero_window_probes,
            "gaps": self.gap_count,
            "gap_bytes": self.gap_bytes,
            "truncated_bytes": self.truncated_bytes,
        }


#: How far to trust a process id, by the direction of the packet that carried it: Windows
#: (ETL, pktmon, etl2pcapng) records the thread that was running when the packet passed, which
#: for a sent packet is its sender, but for a received one is whoever happened to run.
PID_CONFIDENCE: Final = {"outbound": "high", None: "medium", "inbound": "low"}


class ProcessSeen(Value):
    """A process id the capture recorded on one side's packets."""

    __match_args__: ClassVar[tuple[str, ...]] = (
        "side", "pid", "tid", "name", "source", "direction", "frame", "others"
    )  # fmt: skip
    __slots__ = __match_args__

    def __init__(self, side: str, pid: int, tid: int | None, name: str | None, source: str,
                 direction: str | None, frame: int, others: tuple[int, ...] = ()
                 ) -> None:  # fmt: skip
        #: Which end's packets carried it: client or server.
        self.side: Final = side
        self.pid: Final = pid
        self.tid: Final = tid
        self.name: Final = name
        #: Where the id came from: epb_option, comment (etl2pcapng), darwin_process_block,
        #: etl...
        self.source: Final = source
        #: inbound, outbound, or None when the capture does not say.
        self.direction: Final = direction
        self.frame: Final = frame
        #: Other ids seen later on the same side's packets (a conflict, shown not hidden).
        self.others: Final = others

    def seen_by(self, side: str, others: tuple[int, ...]) -> ProcessSeen:
        """The same id, on `side` (roles may be settled after the first packet), with the
        other ids seen later."""
        return ProcessSeen(side, self.pid, self.tid, self.name, self.source, self.direction,
                           self.frame, others)  # fmt: skip

    @property
    def confidence(self) -> str:
        return PID_CONFIDENCE.get(self.direction, "medium")

    def to_record(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "pid": self.pid,
            "tid": self.tid,
            "name": self.name,
            "display": self.name or f"({self.pid})",
            "side": self.side,
            "source": self.source,
            "direction": self.direction,
            "confidence": self.confidence,
            "frame": self.frame,
        }
        if self.others:
            record["conflicts"] = [{"pid": pid} for pid in self.others]
        return record


class Conversation(Value):
    """Everything tlslens knows about one TCP connection."""

    __match_args__: ClassVar[tuple[str, ...]] = (
        "id", "client", "server", "roles_from", "first_frame", "last_frame", "start_ns",
        "end_ns", "packets", "to_server", "to_client", "end_first", "end_how", "end_frame",
        "gaps", "tls", "processes", "client_side",
    )  # fmt: skip
    __slots__ = __match_args__

    def __init__(self, id: int, client: Endpoint, server: Endpoint, roles_from: str,
                 first_frame: int, last_frame: int, start_ns: int, end_ns: int, packets: int,
                 to_server: DirectionStats, to_client: DirectionStats, end_first: str | None,
                 end_how: str, end_frame: int | None, gaps: tuple[GapRecord, ...],
                 tls: TlsSummary | None = None, processes: tuple[ProcessSeen, ...] = (),
                 client_side: int = 0) -> None:  # fmt: skip
        self.id: Final = id
        self.client: Final = client
        self.server: Final = server
        #: How the roles were decided: syn, syn-ack, client-hello or port-heuristic.
        self.roles_from: Final = roles_from
        self.first_frame: Final = first_frame
        self.last_frame: Final = last_frame
        self.start_ns: Final = start_ns
        self.end_ns: Final = end_ns
        self.packets: Final = packets
        self.to_server: Final = to_server
        self.to_client: Final = to_client
        #: Who sent the first FIN or RST (client|server), None if neither was seen.
        self.end_first: Final = end_first
        self.end_how: Final = end_how
        self.end_frame: Final = end_frame
        self.gaps: Final = gaps
        #: What the TLS layer found; None when no byte of payload was exchanged.
        self.tls: Final = tls
        #: Process ids the capture recorded on each side's packets, most trusted first.
        self.processes: Final = processes
        #: Which of the flow's two halves (0: the first packet's sender) is the client.
        self.client_side: Final = client_side

    @classmethod
    def of(cls, conn: Connection, tls: TlsSummary | None = None,
           processes: tuple[ProcessSeen, ...] = (),
           aliases: Aliases | None = None) -> Conversation:  # fmt: skip
        c = conn.client_side
        s = c ^ 1
        gaps = [
            GapRecord(conn.role_of(side), g.offset, g.size, g.frame, g.reason)
            for side in (c, s)
            for g in conn.halves[side].gaps
        ]
        if len(gaps) > 1:
            gaps.sort(key=_frame_of)
        return Conversation(
            conn.id,
            _endpoint(conn.addrs[c], conn.ports[c], aliases),
            _endpoint(conn.addrs[s], conn.ports[s], aliases),
            conn.role_source,
            conn.first_frame,
            conn.last_frame,
            conn.first_ns,
            conn.last_ns,
            conn.packets,
            DirectionStats.of(conn.halves[c]),
            DirectionStats.of(conn.halves[s]),
            None if conn.end_side is None else conn.role_of(conn.end_side),
            conn.end_how or "none",
            conn.end_frame,
            tuple(gaps),
            tls,
            processes,
            c,
        )

    @property
    def complete_handshake(self) -> bool:
        """True if the capture holds both SYNs (the connection's start was seen)."""
        return self.to_server.syn_frame is not None and self.to_client.syn_frame is not None

    @property
    def outcome(self) -> str:
        return self.tls.outcome if self.tls is not None else "not-tls"

    def to_record(self) -> dict[str, Any]:
        """The JSON shape of `tlslens analyze --format json|jsonl` (documented in README)."""
        record = {
            "id": self.id,
            "client": self.client.to_record(),
            "server": self.server.to_record(),
            "roles_from": self.roles_from,
            "first_frame": self.first_frame,
            "last_frame": self.last_frame,
            "start": format_time(self.start_ns),
            "duration": round((self.end_ns - self.start_ns) / 1e9, 6),
            "packets": self.packets,
            "bytes": {"client": self.to_server.bytes, "server": self.to_client.bytes},
            "end": {"first": self.end_first, "how": self.end_how, "frame": self.end_frame},
            "tcp": {
                "client": self.to_server.to_record(),
                "server": self.to_client.to_record(),
                "gaps": [
                    {
                        "side": g.side,
                        "offset": g.offset,
                        "size": g.size,
                        "frame": g.frame,
                        "reason": g.reason,
                    }
                    for g in self.gaps
                ],
            },
        }
        if self.processes:
            record["process"] = self.processes[0].to_record()
            record["processes"] = [p.to_record() for p in self.processes]
        if self.tls is not None:
            self.tls.add_to_record(record)
        else:
            record.update(tls=False, outcome="not-tls")
        return record
