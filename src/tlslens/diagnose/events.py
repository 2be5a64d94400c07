"""Event-log evidence: what Windows logged about a connection, set beside the wire facts.

When `diagnose --events` joined Schannel or CAPI2 events to a connection, they are added to
the evidence of the connection's first error finding (the wire says what happened, the log
says what the local side decided and why). When the wire shows no failure but Schannel logged
one, that becomes its own finding, `event-log-error`. Remedies gain what the Schannel internal
error state suggests, for the few states whose meaning is corroborated.

Imports `tlslens.analysis` and `tlslens.diagnose` only.
"""

from __future__ import annotations

from dataclasses import replace

from tlslens.analysis.conversation import Conversation, format_time
from tlslens.analysis.correlate import Attachment, describe
from tlslens.diagnose.context import Context
from tlslens.diagnose.finding import Evidence, Finding
from tlslens.eventlog.facts import (
    ALERT_GENERATED,
    ALERT_RECEIVED,
    HANDSHAKE_COMPLETED,
    NetworkFacts,
    SchannelFacts,
)

#: What a Schannel internal error state points at, for states whose name is corroborated
#: (../shared/reference/schannel_internal_error_states.csv, confidence high or medium).
STATE_REMEDIES: dict[int, str] = {
    252: "Schannel state 252 (RemoteCert_SigAlg): a certificate in the peer's chain is signed "
    "with an algorithm this side's policy refuses (typically SHA-1 or MD5); reissue it with "
    "SHA-256 or better.",
    1203: "Schannel state 1203 (SrvCliUniHello_Invalid): the server could not read the "
    "ClientHello (often plain HTTP or another protocol sent to a TLS port, or an SSL 2.0-format "
    "hello).",
    1205: "Schannel state 1205 (SrvCliHello_MismatchAlg): no cipher suite or algorithm in "
    "common; compare the ClientHello's offer with the suites enabled on the server "
    "(Get-TlsCipherSuite, or the cipher suite order policy).",
    960: "Schannel state 960 (Unwrap_DecryptFailure): a record failed to decrypt or verify; "
    "look for a middlebox altering traffic or a buggy TLS stack.",
    10001: "Schannel state 10001 (Cred_GetServerPrivateKeyFailed): Schannel cannot use the "
    "certificate's private key; give the service account access to the key, or import the "
    "certificate again with its key.",
    10013: "Schannel state 10013 (Cred_InitEnabledProtocolsFailed): no protocol version is "
    "enabled that both the application and the SCHANNEL Protocols registry keys allow.",
}

#: Schannel events that report a failure (not 36880, a completed handshake).
FAILURE_EVENTS = frozenset((36874, 36876, 36877, 36878, 36879, 36881, 36882, 36883, 36884,
                            ALERT_GENERATED, ALERT_RECEIVED))  # fmt: skip


def _evidence(a: Attachment) -> Evidence:
    where = f" on {a.event.computer}" if a.event.computer else ""
    return Evidence(a.frame, f"{describe(a)} [logged {format_time(a.ts_ns)[11:-1]}{where}; "
                    f"joined: {a.reason}]")  # fmt: skip


def _remedies(attached: list[Attachment]) -> list[str]:
    out = []
    for a in attached:
        f = a.facts
        if isinstance(f, SchannelFacts) and f.state in STATE_REMEDIES:
            text = STATE_REMEDIES[f.state]
            if text not in out:
                out.append(text)
    return out


def with_event_evidence(conv: Conversation, ctx: Context, findings: list[Finding]
                        ) -> list[Finding]:  # fmt: skip
    """`findings` with the connection's joined log events added as evidence."""
    if ctx.correlation is None:
        return findings
    attached = [a for a in ctx.correlation.by_conn.get(conv.id, [])
                if not isinstance(a.facts, NetworkFacts)]  # fmt: skip
    if not attached:
        return findings
    evidence = tuple(_evidence(a) for a in attached)
    remedies = _remedies(attached)
    for index, finding in enumerate(findings):
        if finding.severity == "error":
            remedy = " ".join([finding.remedy, *remedies])
            findings[index] = replace(finding, evidence=finding.evidence + evidence,
                                      remedy=remedy)  # fmt: skip
            return findings
    failures = [
        a for a in attached
        if isinstance(a.facts, SchannelFacts) and a.facts.event_id in FAILURE_EVENTS
    ]  # fmt: skip
    if failures:
        findings.append(Finding(
            "event-log-error", "error",
            f"Schannel logged a failure the capture does not show: {describe(failures[0])}",
            evidence,
            " ".join(remedies) or "Run `tlslens explain` on the event id, alert and state for "
            "what they mean; the local side's policy (versions, cipher suites, certificate "
            "checks) is where to look.",
        ))  # fmt: skip
    elif any(isinstance(a.facts, SchannelFacts) and a.facts.event_id == HANDSHAKE_COMPLETED
             for a in attached) and findings:  # fmt: skip
        first = findings[0]
        findings[0] = replace(first, evidence=first.evidence + evidence)
    return findings
