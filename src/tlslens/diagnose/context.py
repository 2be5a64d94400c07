"""What rules may know beyond one connection: the trust store, and the connections seen
before (for a client that retries with a lower version).

Imports `tlslens.analysis` and `tlslens.certs` only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from tlslens.analysis.conversation import Conversation
from tlslens.analysis.correlate import Correlation
from tlslens.certs.chain import ChainIssue, TrustStore, check_chain
from tlslens.tls.session import CLIENT

#: How soon after a failure a retry counts as the same attempt (seconds of capture time).
FALLBACK_WINDOW_NS = 30 * 1_000_000_000


def max_offered_version(conv: Conversation) -> int | None:
    return conv.tls.offered_max if conv.tls is not None else None


@dataclass
class Context:
    trust: TrustStore | None = None
    #: Event-log events joined to this capture's connections (`--events`), if any.
    correlation: Correlation | None = None
    #: Recent failed connections by (client ip, server ip, server port), newest last.
    failures: dict[tuple[str, str, int], list[Conversation]] = field(default_factory=dict)

    def capture_time(self, conv: Conversation) -> datetime:
        return datetime.fromtimestamp(conv.start_ns / 1e9, UTC)

    def server_chain_issues(self, conv: Conversation) -> list[ChainIssue]:
        tls = conv.tls
        if tls is None or not tls.session.certificates:
            return []
        return check_chain([d for d, _ in tls.session.certificates], self.capture_time(conv),
                           tls.sni, "server", self.trust)  # fmt: skip

    def client_chain_issues(self, conv: Conversation) -> list[ChainIssue]:
        tls = conv.tls
        if tls is None or not tls.session.client_certificates:
            return []
        return check_chain([d for d, _ in tls.session.client_certificates],
                           self.capture_time(conv), None, "client", self.trust)  # fmt: skip

    def remember(self, conv: Conversation) -> list[Conversation]:
        """Note a finished connection; return earlier failures of the same client and server
        that it may be retrying."""
        key = (conv.client.ip, conv.server.ip, conv.server.port)
        recent = [c for c in self.failures.get(key, [])
                  if conv.start_ns - c.end_ns <= FALLBACK_WINDOW_NS]  # fmt: skip
        if conv.outcome in ("failed", "aborted"):
            self.failures[key] = [*recent, conv][-4:]
        elif key in self.failures:
            self.failures[key] = recent
        return recent

    def first_client_encrypted_frame(self, conv: Conversation) -> int | None:
        tls = conv.tls
        if tls is None:
            return None
        first = tls.session.dirs[CLIENT].first_enc
        return first[1] if first else None
