"""The field namespace: every name a filter or a column can use, its kind, what it means, an
example, and how to read its values from a connection.

Names follow Wireshark's where one exists (`ip.addr`, `tcp.port`, `tls.handshake.type`, ...);
ours start with `conn.`, `cert.`, `process.` and `finding.`. A connection has a list of values
for each field (a field it lacks has none): `tls.handshake.type` holds the type of every
handshake message, `cert.sig_alg` the signature algorithm of every certificate sent. Over a
connection, `ip.src` is the client (the side that opened it) and `ip.dst` the server.

A row can also stand for one frame of a connection (`Row.frame`), as a frame list filters
them, the way Wireshark's display filters test each packet: the fields of messages
(`tls.handshake.*`, `tls.alert.*`, `cert.*`) then hold only what that frame carries (a
message belongs to the frame that completed it), and `ip.src`, `ip.dst`, `tcp.srcport` and
`tcp.dstport` are the frame's own sender and receiver; every other field is the
connection's.

Imports `tlslens.analysis`, `tlslens.tls` and `tlslens.query` only.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tlslens.analysis.conversation import Conversation
from tlslens.analysis.correlate import process_record
from tlslens.tls import messages as m
from tlslens.tls.session import HandshakeMessage


@dataclass
class Row:
    """One connection (or one frame of it), plus what the command knows beyond the capture."""

    conv: Conversation
    #: The finding codes of the connection, when the command computed them.
    findings: Callable[[], list[str]] | None = None
    #: The process record ({pid, name, ...}) an event log gave, when there is one.
    process: dict[str, Any] | None = None
    #: The frame this row stands for, or None for the whole connection.
    frame: int | None = None
    #: Whether that frame was sent by the client.
    from_client: bool = True


Getter = Callable[[Row], list[Any]]


@dataclass(frozen=True)
class Field:
    name: str
    kind: str
    help: str
    example: str
    get: Getter


def _ip(text: str) -> Any:
    return ipaddress.ip_address(text)


def _tls(row: Row) -> Any:
    tls = row.conv.tls
    return tls if tls is not None and tls.is_tls else None


def _session(row: Row) -> Any:
    tls = _tls(row)
    return tls.session if tls is not None else None


def _messages(row: Row) -> list[HandshakeMessage]:
    s = _session(row)
    if s is None:
        return []
    frame = row.frame
    return [e for e in s.events if isinstance(e, HandshakeMessage)
            and (frame is None or e.last_frame == frame)]  # fmt: skip


def _alerts(row: Row) -> list[Any]:
    tls = _tls(row)
    if tls is None:
        return []
    return [a for a in tls.alerts if row.frame is None or a.frame == row.frame]


def _sender(row: Row) -> Any:
    """The end that sent the row's frame; the client for a whole connection."""
    return row.conv.client if row.from_client else row.conv.server


def _receiver(row: Row) -> Any:
    return row.conv.server if row.from_client else row.conv.client


def _bodies(row: Row, kind: type) -> list[Any]:
    return [e.body for e in _messages(row) if isinstance(e.body, kind)]


def _one(value: Any) -> list[Any]:
    return [] if value is None else [value]


def _certs(row: Row) -> list[Any]:
    tls = _tls(row)
    if tls is None:
        return []
    seen = (*tls.certificates, *tls.client_certificates)
    return [c.summary for c in seen if row.frame is None or c.frame == row.frame]


def _process(row: Row) -> dict[str, Any] | None:
    return process_record(row.conv, lambda _conn: row.process)


def _handshake_versions(row: Row) -> list[int]:
    out = [h.legacy_version for h in _bodies(row, m.ClientHello)]
    out += [h.legacy_version for h in _bodies(row, m.ServerHello)]
    return out


def _suites(row: Row) -> list[int]:
    out = [c for h in _bodies(row, m.ClientHello) for c in h.cipher_suites]
    return out + [h.cipher_suite for h in _bodies(row, m.ServerHello)]


def _extensions(row: Row) -> list[int]:
    hellos = _bodies(row, m.ClientHello) + _bodies(row, m.ServerHello)
    return [t for h in hellos for t in h.extensions.types]


def _supported(row: Row) -> list[int]:
    hellos = _bodies(row, m.ClientHello) + _bodies(row, m.ServerHello)
    return [v for h in hellos for v in h.extensions.supported_versions]


def _record_versions(row: Row) -> list[int]:
    s = _session(row)
    return sorted(s.dirs[0].record_versions | s.dirs[1].record_versions) if s else []


def _alpn(row: Row) -> list[str]:
    hellos = _bodies(row, m.ClientHello) + _bodies(row, m.ServerHello)
    return [p for h in hellos for p in h.extensions.alpn]


def _aliases(row: Row) -> list[str]:
    return [a for a in (row.conv.client.alias, row.conv.server.alias) if a is not None]


def _tls_attr(name: str) -> Getter:
    return lambda row: _one(getattr(_tls(row), name) if _tls(row) is not None else None)


def _session_attr(name: str) -> Getter:
    return lambda row: _one(getattr(_session(row), name) if _session(row) is not None else None)


def _cert_attr(name: str) -> Getter:
    return lambda row: [v for c in _certs(row) if (v := getattr(c, name)) is not None]


def _cert_time(name: str) -> Getter:
    def get(row: Row) -> list[int]:
        out = []
        for c in _certs(row):
            when = getattr(c, name)
            if when is not None:
                out.append(int(when.timestamp()) * 1_000_000_000)
        return out

    return get


FIELDS: tuple[Field, ...] = (
    Field("ip.addr", "ip", "either end's address", "ip.addr == 10.0.0.0/8",
          lambda r: [_ip(r.conv.client.ip), _ip(r.conv.server.ip)]),
    Field("ip.src", "ip", "the client's address (the side that opened the connection); in "
          "messages, the frame's sender", "ip.src == 192.168.1.20",
          lambda r: [_ip(_sender(r).ip)]),
    Field("ip.dst", "ip", "the server's address; in messages, the frame's receiver",
          "ip.dst in {10.0.0.5 10.0.0.6}", lambda r: [_ip(_receiver(r).ip)]),
    Field("tcp.port", "int", "either end's port", "tcp.port == 443",
          lambda r: [r.conv.client.port, r.conv.server.port]),
    Field("tcp.srcport", "int", "the client's port; in messages, the frame's source port",
          "tcp.srcport > 50000", lambda r: [_sender(r).port]),
    Field("tcp.dstport", "int", "the server's port; in messages, the frame's destination port",
          "tcp.dstport != 443", lambda r: [_receiver(r).port]),
    Field("tcp.stream", "int", "the connection id (Wireshark's tcp.stream)", "tcp.stream == 3",
          lambda r: [r.conv.id]),
    Field("tls", "bool", "the connection carries TLS", "tls and not conn.established",
          lambda r: [_tls(r) is not None]),
    Field("tls.record.version", "version", "every record-layer version either side used",
          "tls.record.version != TLS1.2", _record_versions),
    Field("tls.handshake.type", "handshake", "the type of every handshake message in the clear",
          "tls.handshake.type == certificate_request",
          lambda r: [e.msg_type for e in _messages(r) if e.msg_type is not None]),
    Field("tls.handshake.version", "version", "legacy_version of the ClientHello and ServerHello",
          "tls.handshake.version < TLS1.2", _handshake_versions),
    Field("tls.handshake.ciphersuite", "cipher",
          "every cipher suite the client offered and the one the server chose",
          "tls.handshake.ciphersuite == 0x000a", _suites),
    Field("tls.handshake.extension.type", "extension", "every extension type in the hellos",
          "tls.handshake.extension.type == 0xff01", _extensions),
    Field("tls.handshake.extensions_server_name", "string", "the SNI the client sent",
          'tls.handshake.extensions_server_name contains "corp"',
          lambda r: [n for h in _bodies(r, m.ClientHello) if (n := h.extensions.server_name)]),
    Field("tls.handshake.extensions.supported_version", "version",
          "supported_versions offered (ClientHello) or chosen (ServerHello)",
          "tls.handshake.extensions.supported_version == TLS1.3", _supported),
    Field("tls.handshake.extensions_alpn_str", "string", "ALPN protocols offered and chosen",
          'tls.handshake.extensions_alpn_str == "h2"', _alpn),
    Field("tls.alert.description", "alert", "every alert's code (plaintext alerts)",
          "tls.alert.description == bad_certificate",
          lambda r: [a.description for a in _alerts(r) if a.description is not None]),
    Field("tls.alert.level", "alert_level", "every plaintext alert's level",
          "tls.alert.level == fatal",
          lambda r: [a.level for a in _alerts(r) if a.level is not None]),
    Field("conn.id", "int", "the connection id", "conn.id in {3 4 5}", lambda r: [r.conv.id]),
    Field("conn.version", "version", "the negotiated version", "conn.version <= TLS1.1",
          _session_attr("version")),
    Field("conn.cipher", "cipher", "the negotiated cipher suite", 'conn.cipher contains "CBC"',
          _session_attr("cipher")),
    Field("conn.outcome", "string", "established, failed, aborted, incomplete or not-tls",
          'conn.outcome == "failed"', lambda r: [r.conv.outcome]),
    Field("conn.established", "bool", "the handshake completed", "not conn.established",
          lambda r: [bool(_session(r) and _session(r).established)]),
    Field("conn.resumed", "bool", "the session was resumed", "conn.resumed",
          lambda r: [bool(_session(r) and _session(r).resumed)]),
    Field("conn.sni", "string", "the SNI the client sent", 'conn.sni matches "^api\\."',
          _tls_attr("sni")),
    Field("conn.group", "string", "the key exchange group", 'conn.group == "x25519"',
          _tls_attr("group")),
    Field("conn.ja3", "string", "the ClientHello's JA3 hash", 'conn.ja3 == "..."',
          _tls_attr("ja3")),
    Field("conn.ja3s", "string", "the ServerHello's JA3S hash", 'conn.ja3s == "..."',
          _tls_attr("ja3s")),
    Field("conn.history", "string", "the Zeek-style message history", 'conn.history contains "l"',
          _tls_attr("history")),
    Field("conn.packets", "int", "packets in the connection", "conn.packets > 1000",
          lambda r: [r.conv.packets]),
    Field("conn.bytes", "int", "stream bytes both sides sent", "conn.bytes > 1000000",
          lambda r: [r.conv.to_server.bytes + r.conv.to_client.bytes]),
    Field("conn.start", "time", "when the connection's first packet was captured (UTC)",
          'conn.start >= "2026-11-23T10:00:00Z"', lambda r: [r.conv.start_ns]),
    Field("conn.duration", "float", "seconds from first to last packet", "conn.duration > 30",
          lambda r: [(r.conv.end_ns - r.conv.start_ns) / 1e9]),
    Field("cert.subject", "string", "every certificate's subject", 'cert.subject contains "CN=*"',
          _cert_attr("subject")),
    Field("cert.issuer", "string", "every certificate's issuer", 'cert.issuer contains "Corp CA"',
          _cert_attr("issuer")),
    Field("cert.sig_alg", "string", "every certificate's signature algorithm",
          'cert.sig_alg matches "sha1|md5"', _cert_attr("sig_alg")),
    Field("cert.key_bits", "int", "every certificate's key size", "cert.key_bits < 2048",
          _cert_attr("key_bits")),
    Field("cert.key_type", "string", "every certificate's key type (RSA, EC, ...)",
          'cert.key_type == "RSA"', _cert_attr("key_type")),
    Field("cert.san", "string", "every DNS name in the certificates' SANs",
          'cert.san == "www.example.com"',
          lambda r: [name for c in _certs(r) for name in c.san_dns]),
    Field("cert.serial", "string", "every certificate's serial number (hex)",
          'cert.serial == "0a1b..."', _cert_attr("serial")),
    Field("cert.sha256", "string", "every certificate's SHA-256 fingerprint",
          'cert.sha256 == "..."', _cert_attr("sha256")),
    Field("cert.not_before", "time", "every certificate's start of validity",
          'cert.not_before > "2026-01-01"', _cert_time("not_before")),
    Field("cert.not_after", "time", "every certificate's end of validity",
          'cert.not_after < "2027-01-01"', _cert_time("not_after")),
    Field("process.name", "string", "the process that owned the connection",
          'process.name == "lsass.exe"',
          lambda r: [p["name"]] if (p := _process(r)) and p.get("name") else []),
    Field("process.pid", "int", "its process id", "process.pid == 4",
          lambda r: [p["pid"]] if (p := _process(r)) and p.get("pid") is not None else []),
    Field("alias", "string", "either end's alias (--aliases)", 'alias == "web01"', _aliases),
    Field("client.alias", "string", "the client's alias", 'client.alias == "laptop"',
          lambda r: _one(r.conv.client.alias)),
    Field("server.alias", "string", "the server's alias", 'server.alias == "web01"',
          lambda r: _one(r.conv.server.alias)),
    Field("finding.code", "string", "every finding's code (as diagnose gives them)",
          'finding.code == "weak-cipher"',
          lambda r: r.findings() if r.findings is not None else []),
)  # fmt: skip

BY_NAME: dict[str, Field] = {f.name: f for f in FIELDS}
