"""The compliance view PCI audits ask for: for every client/server pair, the highest version
the client offered, the versions and ciphers negotiated, the certificate signature algorithms,
and how many connections, with a verdict against a minimum version; worst first.

A pair is the client's address (or alias) and process, and the server's address (or alias),
port and SNI. Imports `tlslens.analysis`, `tlslens.tls` and `tlslens.certs` (names) only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from tlslens.analysis.conversation import Conversation
from tlslens.tls.registry import cipher_suite_info, cipher_suite_name, version_name
from tlslens.tls.session import TLS13, is_tls13

#: Process record of a connection ({pid, name, ...}) or None.
ProcessOf = Callable[[Conversation], dict[str, Any] | None]


def _rank(version: int) -> int:
    """TLS 1.3 drafts (0x7fXX) rank as TLS 1.3."""
    return TLS13 if is_tls13(version) else version


@dataclass
class PairAudit:
    client: str
    process: str | None
    server: str
    sni: str | None
    connections: int = 0
    established: int = 0
    failed: int = 0
    offered_max: int | None = None
    #: Negotiated version -> connections.
    versions: dict[int, int] = field(default_factory=dict)
    #: Negotiated cipher suite -> connections.
    ciphers: dict[int, int] = field(default_factory=dict)
    #: Signature algorithms of the server certificates sent.
    cert_sig_algs: set[str] = field(default_factory=set)
    #: Those of them with a hash clients no longer accept (CertSummary.weak_signature).
    weak_sig_algs: set[str] = field(default_factory=set)
    first_conn: int = 0
    #: The first connection's first frame (the order of connection ids, which a process
    #: analysing part of a capture does not know).
    first_frame: int = 0
    problems: list[str] = field(default_factory=list)

    def add(self, conv: Conversation) -> None:
        self.connections += 1
        tls = conv.tls
        if conv.outcome == "established":
            self.established += 1
        elif conv.outcome in ("failed", "aborted"):
            self.failed += 1
        offered = tls.offered_max if tls is not None else None
        if offered is not None and (self.offered_max is None or offered > self.offered_max):
            self.offered_max = offered
        if tls is None or not tls.is_tls:
            return
        version, cipher = tls.session.version, tls.session.cipher
        if version is not None and tls.session.established:
            self.versions[version] = self.versions.get(version, 0) + 1
        if cipher is not None and tls.session.established:
            self.ciphers[cipher] = self.ciphers.get(cipher, 0) + 1
        for cert in tls.certificates:
            if cert.summary.sig_alg:
                self.cert_sig_algs.add(cert.summary.sig_alg)
                if cert.summary.weak_signature:
                    self.weak_sig_algs.add(cert.summary.sig_alg)

    def judge(self, min_version: int) -> None:
        """Fill `problems`, most serious first."""
        low = sorted(v for v in self.versions if _rank(v) < min_version)
        if low:
            self.problems.append("negotiated " + ", ".join(version_name(v) for v in low))
        if self.offered_max is not None and self.offered_max < min_version:
            self.problems.append(f"client offers at most {version_name(self.offered_max)}")
        weak = [c for c in self.ciphers if (info := cipher_suite_info(c)) and info.weaknesses]
        if weak:
            self.problems.append("weak cipher " + ", ".join(cipher_suite_name(c) for c in weak))
        if self.weak_sig_algs:
            self.problems.append("certificate signed with " + ", ".join(sorted(self.weak_sig_algs)))

    @property
    def lowest_version(self) -> int:
        return min((_rank(v) for v in self.versions), default=0xFFFF)

    def to_record(self) -> dict[str, Any]:
        return {
            "client": self.client,
            "process": self.process,
            "server": self.server,
            "sni": self.sni,
            "connections": self.connections,
            "established": self.established,
            "failed": self.failed,
            "offered_max": version_name(self.offered_max) if self.offered_max else None,
            "versions": {version_name(v): n for v, n in sorted(self.versions.items())},
            "ciphers": {cipher_suite_name(c): n for c, n in sorted(self.ciphers.items())},
            "cert_sig_algs": sorted(self.cert_sig_algs),
            "violation": bool(self.problems),
            "problems": self.problems,
            "first_conn": self.first_conn,
        }


class PairTable:
    """Connections counted into their client/server pairs as they come."""

    def __init__(self, process_of: ProcessOf | None = None) -> None:
        self.process_of = process_of
        self.pairs: dict[tuple[Any, ...], PairAudit] = {}

    def add(self, conv: Conversation) -> bool:
        """Count `conv` into its pair; True if it began a new pair (False also for a
        connection without TLS, which has no pair)."""
        tls = conv.tls
        if tls is None or not tls.is_tls:
            return False
        process = self.process_of(conv) if self.process_of is not None else None
        name = (process.get("name") or f"({process['pid']})") if process else None
        client = conv.client.alias or conv.client.ip
        server = f"{conv.server.alias or conv.server.ip}:{conv.server.port}"
        key = (client, name, server, tls.sni)
        pair = self.pairs.get(key)
        new = pair is None
        if pair is None:
            pair = PairAudit(client, name, server, tls.sni, first_conn=conv.id,
                             first_frame=conv.first_frame)  # fmt: skip
            self.pairs[key] = pair
        pair.add(conv)
        return new


def ranked(pairs: Iterable[PairAudit], min_version: int) -> list[PairAudit]:
    """The pairs judged against `min_version`, worst first."""
    result = list(pairs)
    for pair in result:
        pair.judge(min_version)
    result.sort(key=lambda p: (not p.problems, p.lowest_version, -p.connections, p.first_conn))
    return result


def audit(conversations: Iterable[Conversation], min_version: int,
          process_of: ProcessOf | None = None) -> list[PairAudit]:  # fmt: skip
    """One PairAudit per client/server pair with TLS, worst first."""
    table = PairTable(process_of)
    for conv in conversations:
        table.add(conv)
    return ranked(table.pairs.values(), min_version)
