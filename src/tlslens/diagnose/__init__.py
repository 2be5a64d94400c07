"""Diagnosis: small rules over a finished connection, each giving findings with a stable
code, a severity, a one-line summary, evidence frames and a remedy.

Rules are `(conversation, context) -> Iterable[Finding]`, one module per family:
`handshake` (why a handshake failed), `audit` (versions, ciphers, certificates), `events`
(what an event log adds) and the cross-connection version-fallback rule here.
Interfaces call `diagnose()`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from tlslens.analysis.conversation import Conversation
from tlslens.diagnose import audit, handshake
from tlslens.diagnose.context import Context, max_offered_version
from tlslens.diagnose.events import with_event_evidence
from tlslens.diagnose.finding import Evidence, Finding
from tlslens.tls.registry import version_name

__all__ = ["CODES", "Context", "Evidence", "Finding", "diagnose"]

Rule = Callable[[Conversation, Context], Iterable[Finding]]

RULES: tuple[Rule, ...] = (
    handshake.failure,
    handshake.silence,
    audit.versions,
    audit.ciphers,
    audit.certificates,
    audit.renegotiation,
)

#: Every finding code, its usual severity and what it means (the README's table).
CODES: tuple[tuple[str, str, str], ...] = (
    ("connection-refused", "error", "the SYN was answered with a reset: nothing listens"),
    ("no-answer", "warning", "the SYN was never answered"),
    ("non-tls-response", "error", "the server answered the ClientHello with non-TLS bytes"),
    ("no-client-certificate", "error",
     "a CertificateRequest was answered with an empty Certificate, then a fatal alert"),
    ("client-certificate-rejected", "error", "the server rejected the client certificate"),
    ("client-certificate-required", "error", "certificate_required: no client certificate"),
    ("server-certificate-rejected", "error",
     "the client rejected the server's chain with an alert; the chain facts that explain it"),
    ("chain-rejected-weak-signature", "error",
     "the client closed without an alert after a chain with an MD2/MD5/SHA-1 signature"),
    ("client-closed-after-certificate", "error",
     "the client closed without an alert right after the server's certificates"),
    ("no-common-version", "error", "no protocol version both sides accept"),
    ("no-common-cipher", "error", "no cipher suite both sides accept"),
    ("tls13-client-rejected-server", "error",
     "TLS 1.3: the client's first encrypted record is an alert"),
    ("tls13-server-rejected-client", "error",
     "TLS 1.3: the server's answer to the client's encrypted flight is an alert"),
    ("server-closed-after-client-hello", "error",
     "the server closed or reset right after the ClientHello"),
    ("handshake-aborted", "error", "a side closed during the handshake without an alert"),
    ("fatal-alert", "error", "a fatal alert that no more specific rule explains"),
    ("no-server-response", "warning",
     "the ClientHello got no answer (an error when the client gave up and closed)"),
    ("one-sided-capture", "info", "no packet at all from the server: one direction missing"),
    ("version-fallback", "warning",
     "the client retried the same server with a lower version after a failure"),
    ("sslv2-client-hello", "warning", "an SSL 2.0-format ClientHello"),
    ("deprecated-version", "warning", "SSL 2.0/3.0 (error), TLS 1.0/1.1 (warning) negotiated"),
    ("weak-cipher", "warning", "NULL, export, RC4, DES/3DES, anonymous, MD5, static RSA, "
     "CBC with TLS 1.0"),
    ("weak-chain", "warning", "a chain certificate with a weak signature or key"),
    ("certificate-expired", "error", "a chain certificate expired at capture time"),
    ("certificate-expiring", "warning", "a chain certificate expires within 30 days"),
    ("renegotiation", "info", "encrypted handshake after the handshake: renegotiation (IIS "
     "asks for client certificates this way)"),
    ("event-log-error", "error", "Schannel logged a failure for a connection whose packets "
     "show none (with --events)"),
)  # fmt: skip


def _fallback(conv: Conversation, ctx: Context) -> Iterable[Finding]:
    earlier = ctx.remember(conv)
    now = max_offered_version(conv)
    for previous in reversed(earlier):
        before = max_offered_version(previous)
        if now is not None and before is not None and now < before:
            yield Finding(
                "version-fallback", "warning",
                f"after connection {previous.id} failed ({previous.outcome}, offering up to "
                f"{version_name(before)}), the client retried with at most {version_name(now)}",
                (Evidence(previous.first_frame, f"connection {previous.id} starts"),
                 Evidence(conv.first_frame, f"connection {conv.id} starts")),
                "Fix the first failure instead of letting the client fall back; TLS_FALLBACK_"
                "SCSV (RFC 7507) lets servers refuse downgrades.",
            )  # fmt: skip
            return


def diagnose(conv: Conversation, ctx: Context | None = None) -> list[Finding]:
    """All findings for one connection. Pass the same Context for every connection of a
    capture, in order, so rules across connections (version fallback) can work."""
    ctx = ctx or Context()
    findings = [f for rule in RULES for f in rule(conv, ctx)]
    findings.extend(_fallback(conv, ctx))
    return with_event_evidence(conv, ctx, findings)
