"""One record per TCP connection, like a row of Zeek's conn.log/ssl.log, built when the
connection ends. Interfaces render it; they never look at packets.

Imports only `tlslens.net` (for the connection state it summarises).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from tlslens.analysis.aliases import Aliases
from tlslens.analysis.tls_summary import TlsSummary
from tlslens.net.tcp import Connection, Half


@lru_cache(maxsize=4096)
def format_ip(raw: bytes) -> str:
    """An address as text (remembered: a capture's connections share few hosts)."""
    return socket.inet_ntop(socket.AF_INET if len(raw) == 4 else socket.AF_INET6, raw)


def format_time(ts_ns: int) -> str:
    """ISO-8601 UTC with microseconds, e.g. 2026-11-23T09:18:47.123456Z."""
    seconds, ns = divmod(ts_ns, 1_000_000_000)
    return f"{_utc_second(seconds)}.{ns // 1000:06d}Z"


@lru_cache(maxsize=64)
def _utc_second(seconds: int) -> str:
    # Connections of one capture start within few seconds of each other: remembered.
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")


@dataclass(frozen=True, slots=True)
class Endpoint:
    ip: str
    port: int
    #: A nickname from the user's aliases file; shown instead of the address.
    alias: str | None = None

    def __str__(self) -> str:
        host = self.alias or (f"[{self.ip}]" if ":" in self.ip else self.ip)
        return f"{host}:{self.port}"

    def to_record(self) -> dict[str, Any]:
        record: dict[str, Any] = {"ip": self.ip, "port": self.port}
        if self.alias is not None:
            record["alias"] = self.alias
        return record


def _endpoint(raw: bytes, port: int, aliases: Aliases | None) -> Endpoint:
    ip = format_ip(raw)
    return Endpoint(ip, port, aliases.lookup(ip) if aliases is not None else None)


@dataclass(frozen=True, slots=True)
class GapRecord:
    """Stream bytes one side sent that the capture does not hold."""

    side: str
    offset: int
    size: int
    frame: int
    reason: str


@dataclass(frozen=True, slots=True)
class DirectionStats:
    """What one side sent."""

    packets: int
    bytes: int
    syn_frame: int | None
    fin_frame: int | None
    rst_frame: int | None
    retransmissions: int
    out_of_order: int
    keepalives: int
    zero_window_probes: int
    gap_count: int
    gap_bytes: int
    truncated_bytes: int

    @classmethod
    def of(cls, half: Half) -> DirectionStats:
        return cls(
            packets=half.packets,
            bytes=half.offset,
            syn_frame=half.syn_frame,
            fin_frame=half.fin_frame,
            rst_frame=half.rst_frame,
            retransmissions=half.retransmissions,
            out_of_order=half.out_of_order,
            keepalives=half.keepalives,
            zero_window_probes=half.zero_window_probes,
            gap_count=half.gap_count,
            gap_bytes=half.gap_bytes,
            truncated_bytes=half.truncated_bytes,
        )

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
PID_CONFIDENCE = {"outbound": "high", None: "medium", "inbound": "low"}


@dataclass(frozen=True, slots=True)
class ProcessSeen:
    """A process id the capture recorded on one side's packets."""

    #: Which end's packets carried it: client or server.
    side: str
    pid: int
    tid: int | None
    name: str | None
    #: Where the id came from: epb_option, comment (etl2pcapng), darwin_process_block, etl...
    source: str
    #: inbound, outbound, or None when the capture does not say.
    direction: str | None
    frame: int
    #: Other ids seen later on the same side's packets (a conflict, shown not hidden).
    others: tuple[int, ...] = ()

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


@dataclass(frozen=True, slots=True)
class Conversation:
    """Everything tlslens knows about one TCP connection."""

    id: int
    client: Endpoint
    server: Endpoint
    #: How the roles were decided: syn, syn-ack, client-hello or port-heuristic.
    roles_from: str
    first_frame: int
    last_frame: int
    start_ns: int
    end_ns: int
    packets: int
    to_server: DirectionStats
    to_client: DirectionStats
    #: Who sent the first FIN or RST (client|server), None if neither was seen.
    end_first: str | None
    end_how: str
    end_frame: int | None
    gaps: tuple[GapRecord, ...]
    #: What the TLS layer found; None when no byte of payload was exchanged.
    tls: TlsSummary | None = None
    #: Process ids the capture recorded on each side's packets, most trusted first.
    processes: tuple[ProcessSeen, ...] = ()
    #: Which of the flow's two halves (0: the first packet's sender) is the client.
    client_side: int = 0

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
        gaps.sort(key=lambda g: g.frame)
        return cls(
            id=conn.id,
            client=_endpoint(conn.addrs[c], conn.ports[c], aliases),
            server=_endpoint(conn.addrs[s], conn.ports[s], aliases),
            roles_from=conn.role_source,
            first_frame=conn.first_frame,
            last_frame=conn.last_frame,
            start_ns=conn.first_ns,
            end_ns=conn.last_ns,
            packets=conn.packets,
            to_server=DirectionStats.of(conn.halves[c]),
            to_client=DirectionStats.of(conn.halves[s]),
            end_first=None if conn.end_side is None else conn.role_of(conn.end_side),
            end_how=conn.end_how or "none",
            end_frame=conn.end_frame,
            gaps=tuple(gaps),
            tls=tls,
            processes=processes,
            client_side=c,
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
            record.update(self.tls.to_record())
        else:
            record.update(tls=False, outcome="not-tls")
        return record
