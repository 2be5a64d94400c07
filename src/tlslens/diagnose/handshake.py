"""Why a handshake failed: which side gave up, after which message, and most likely why.

Each rule reads the evidence the TLS session kept (messages and alerts with their frames,
how TCP ended) and the chain checks; none parses bytes.
"""

from __future__ import annotations

from collections.abc import Iterator

from tlslens.analysis.conversation import Conversation
from tlslens.certs.chain import ChainIssue
from tlslens.diagnose.context import Context, max_offered_version
from tlslens.diagnose.finding import Evidence, Finding
from tlslens.tls.registry import (
    alert_name,
    cipher_suite_info,
    cipher_suite_name,
    handshake_type_name,
    version_name,
)
from tlslens.tls.session import ALERT_FATAL, CLIENT, SERVER, Alert, HandshakeMessage, is_tls13

# Alerts a client sends when it does not accept the server's certificate (RFC 8446 6.2).
CERTIFICATE_ALERTS = {42: "bad_certificate", 43: "unsupported_certificate",
                      44: "certificate_revoked", 45: "certificate_expired",
                      46: "certificate_unknown", 48: "unknown_ca", 49: "access_denied",
                      51: "decrypt_error"}  # fmt: skip
#: Which chain problems each alert most often stands for, best first.
ALERT_CAUSES = {
    45: ("expired", "not-yet-valid"),
    48: ("self-signed", "untrusted-root", "incomplete-chain", "leaf-only"),
    42: ("name-mismatch", "weak-signature", "weak-key", "expired", "self-signed"),
    43: ("wrong-eku", "weak-key", "weak-signature"),
    46: ("self-signed", "untrusted-root", "incomplete-chain", "name-mismatch", "expired"),
}  # fmt: skip


def _messages(conv: Conversation) -> list[HandshakeMessage]:
    assert conv.tls is not None
    return [e for e in conv.tls.session.events if isinstance(e, HandshakeMessage)]


def _last_message(conv: Conversation, role: str, before: int) -> HandshakeMessage | None:
    found = None
    for msg in _messages(conv):
        if msg.role == role and msg.last_frame <= before:
            found = msg
    return found


def _describe(msg: HandshakeMessage | None) -> str:
    if msg is None:
        return "nothing"
    if msg.msg_type is None:
        return "an encrypted handshake message"
    return handshake_type_name(msg.msg_type).replace("_", " ")


def _first_fatal(conv: Conversation) -> Alert | None:
    assert conv.tls is not None
    for alert in conv.tls.alerts:
        if alert.level == ALERT_FATAL or alert.likely == "fatal":
            return alert
    return None


def _issue_evidence(issues: list[ChainIssue], frame: int | None) -> list[Evidence]:
    return [Evidence(frame, f"{i.code}: {i.message}") for i in issues]


def _ranked(issues: list[ChainIssue], causes: tuple[str, ...]) -> list[ChainIssue]:
    wanted = [i for c in causes for i in issues if i.code == c]
    return wanted or [i for i in issues if i.severity == "error"]


def failure(conv: Conversation, ctx: Context) -> Iterator[Finding]:
    tls = conv.tls
    if tls is None:
        yield from _tcp_only(conv)
        return
    s = tls.session
    if not tls.is_tls:
        yield from _tcp_only(conv)
        return
    if tls.outcome not in ("failed", "aborted"):
        return
    alert = _first_fatal(conv)
    if (
        alert is not None
        and conv.end_frame is not None
        and conv.end_frame < alert.frame
        and (conv.end_first != alert.role)
    ):
        # The other side had already closed: the alert only answers that close (OpenSSL
        # sends decode_error on an unexpected end of stream). The close is what to explain.
        alert = None
    if alert is not None:
        yield from _after_alert(conv, ctx, alert)
        return
    # No alert: the connection was closed or reset during the handshake.
    server = s.dirs[SERVER]
    if server.plain_bytes and s.client_hello is not None:
        text = server.first_plain.decode("ascii", "replace").split("\r\n")[0][:60]
        yield Finding(
            "non-tls-response", "error",
            f"the server answered the ClientHello with something that is not TLS: {text!r}",
            (Evidence(s.client_hello_frame, "ClientHello"),
             Evidence(None, f"server's first bytes: {server.first_plain[:32].hex(' ')}")),
            "Point the client at the TLS port of the service, or enable TLS on this port "
            "(the server speaks a plaintext protocol here).",
        )  # fmt: skip
        return
    yield from _closed(conv, ctx)


def _tcp_only(conv: Conversation) -> Iterator[Finding]:
    c, s = conv.to_server, conv.to_client
    if c.syn_frame is not None and s.syn_frame is None and s.rst_frame is not None:
        yield Finding(
            "connection-refused", "error",
            f"nothing accepted the connection to {conv.server}: the SYN was answered with a "
            "reset",
            (Evidence(c.syn_frame, "client SYN"), Evidence(s.rst_frame, "server RST")),
            "Check that the service runs and listens on this address and port, and that no "
            "firewall rejects it.",
        )  # fmt: skip
    elif c.syn_frame is not None and s.syn_frame is None and conv.to_server.packets:
        yield Finding(
            "no-answer", "warning",
            f"{conv.server} never answered the SYN ({conv.to_server.packets} packet(s))",
            (Evidence(c.syn_frame, "client SYN"),),
            "Check routing and firewalls between the client and the server, and that the "
            "server is up.",
        )  # fmt: skip


def _after_alert(conv: Conversation, ctx: Context, alert: Alert) -> Iterator[Finding]:
    assert conv.tls is not None
    s = conv.tls.session
    sender = alert.role
    code = alert.description
    name = alert_name(code) if code is not None else "an encrypted alert"
    other = "server" if sender == "client" else "client"
    before = _last_message(conv, other, alert.frame)
    code_text = f" ({code})" if code is not None else ""
    evidence = [
        Evidence(alert.frame, f"{sender} sent fatal alert {name}{code_text}"),
        Evidence(
            before.last_frame if before else None,
            f"last message from the {other} before it: {_describe(before)}",
        ),
    ]
    if (
        sender == "server"
        and s.client_certificate_frame is not None
        and (s.client_certificate_frame <= alert.frame)
    ):
        if not s.client_certificates:
            yield Finding(
                "no-client-certificate", "error",
                f"the server asked for a client certificate, the client sent none, and the "
                f"server ended the handshake with {name}",
                (Evidence(s.certificate_request_frame, "server's CertificateRequest"),
                 Evidence(s.client_certificate_frame, "client's Certificate message is empty"),
                 *evidence),
                "Give the client a certificate from a CA the server accepts (the "
                "CertificateRequest lists the CA names), or stop requiring one on the server.",
            )  # fmt: skip
            return
        issues = ctx.client_chain_issues(conv)
        leaf = (
            conv.tls.client_certificates[0].summary.subject if conv.tls.client_certificates else "?"
        )
        yield Finding(
            "client-certificate-rejected", "error",
            f"the server rejected the client certificate ({leaf}) with {name}",
            (Evidence(s.client_certificate_frame, f"client's certificate: {leaf}"), *evidence,
             *_issue_evidence(issues, s.client_certificate_frame)),
            "Issue the client a certificate from a CA the server trusts (see the "
            "CertificateRequest's CA list), valid now and with the clientAuth key usage.",
        )  # fmt: skip
        return
    if code == 116:  # certificate_required, RFC 8446 6.2
        yield Finding(
            "client-certificate-required", "error",
            "the server requires a client certificate and the client sent none",
            tuple(evidence),
            "Configure a client certificate, or stop requiring one on the server.",
        )  # fmt: skip
        return
    if sender == "client" and s.certificates and (code in CERTIFICATE_ALERTS or code is None):
        cert_frame = s.certificates[0][1]
        if cert_frame <= alert.frame:
            issues = ctx.server_chain_issues(conv)
            likely = _ranked(issues, ALERT_CAUSES.get(code or 0, ()))
            cause = f": most likely {likely[0].message}" if likely else ""
            yield Finding(
                "server-certificate-rejected", "error",
                f"the client rejected the server's certificate chain with {name}{cause}",
                (Evidence(cert_frame, f"server's Certificate ({len(s.certificates)} "
                                      "certificate(s))"),
                 *evidence, *_issue_evidence(issues, cert_frame)),
                "Serve a chain the client trusts: the full chain up to a trusted root, valid at "
                "the time, covering the name the client asks for, with SHA-256 or better "
                "signatures; or add the issuing CA to the client's trust store.",
            )  # fmt: skip
            return
    if sender == "client" and code in CERTIFICATE_ALERTS and is_tls13(s.version):
        yield Finding(
            "server-certificate-rejected", "error",
            f"the client rejected the server's certificate with {name}; TLS 1.3 encrypts the "
            "certificates, so the chain cannot be checked here",
            tuple(evidence),
            "Check the server's chain from the client's side (trust, expiry, name); a key "
            "log (SSLKEYLOGFILE) would let it be shown.",
        )  # fmt: skip
        return
    if code == 70 or (code in (40, 71) and s.server_hello is None):
        yield from _no_common(conv, code, evidence)
        return
    if (
        alert.encrypted and sender == "client" and s.version is not None
        and alert.frame == ctx.first_client_encrypted_frame(conv)
    ):  # fmt: skip
        yield Finding(
            "tls13-client-rejected-server", "error",
            "the client answered the server's encrypted flight with an alert instead of its "
            "Finished: it rejected the server's handshake, most often its certificate "
            "(TLS 1.3 encrypts the certificates, so which check failed is not visible)",
            tuple(evidence),
            "Check the server's certificate chain from the client's side (trust, expiry, "
            "name); a key log (SSLKEYLOGFILE) would let the chain be shown.",
        )  # fmt: skip
        return
    if alert.encrypted and sender == "server" and is_tls13(s.version):
        first = ctx.first_client_encrypted_frame(conv)
        if first is not None and first <= alert.frame:
            yield Finding(
                "tls13-server-rejected-client", "error",
                "the server answered the client's encrypted flight with an alert: it "
                "rejected the client's Finished or, most often, its certificate",
                (Evidence(first, "client's first encrypted record"), *evidence),
                "If the server asks for client certificates, check the client's certificate "
                "and its CA against the server's trust list.",
            )  # fmt: skip
            return
    yield Finding(
        "fatal-alert", "error",
        f"the {sender} ended the handshake with {name} after the {other}'s "
        f"{_describe(before)}",
        tuple(evidence),
        f"The side that sent the alert decided; its own log (for Schannel, System events "
        f"36887/36888 with the internal error state) says why; `tlslens explain {code}` "
        "tells what the alert means.",
    )  # fmt: skip


def _no_common(conv: Conversation, code: int | None, evidence: list[Evidence]
               ) -> Iterator[Finding]:  # fmt: skip
    assert conv.tls is not None
    s = conv.tls.session
    hello = s.client_hello
    offered = max_offered_version(conv)
    versions = ", ".join(version_name(v) for v in hello.offered_versions) if hello else "?"
    if code == 70 or (offered is not None and offered < 0x0303):
        yield Finding(
            "no-common-version", "error",
            f"no protocol version both sides accept: the client offered {versions}"
            + (f", the server wanted {version_name(s.version)}" if s.version else ""),
            (Evidence(s.client_hello_frame, f"ClientHello offers {versions}"), *evidence),
            "Enable TLS 1.2 (and 1.3) on the client (for .NET: SchUseStrongCrypto / "
            "SystemDefaultTlsVersions; for Schannel: the Protocols registry keys), or, only "
            "if policy allows, the client's version on the server.",
        )  # fmt: skip
        return
    suites = hello.cipher_suites if hello else ()
    strong: list[str] = []
    weak: list[str] = []
    for suite in suites:
        info = cipher_suite_info(suite)
        if info is None:
            continue
        (weak if info.weaknesses else strong).append(cipher_suite_name(suite))
    listing = "; ".join(strong[:6]) or "none"
    yield Finding(
        "no-common-cipher",
        "error",
        f"no cipher suite both sides accept: the server refused all {len(suites)} the client "
        "offered",
        (
            Evidence(
                s.client_hello_frame,
                f"client offers {len(strong)} strong suite(s): {listing}"
                + (f" and {len(weak)} weak one(s): {'; '.join(weak[:4])}" if weak else ""),
            ),
            *evidence,
        ),
        "Enable on one side a cipher suite the other offers (modern: ECDHE with AES-GCM or "
        "ChaCha20-Poly1305); check the server's certificate key type matches the suites.",
    )


def _closed(conv: Conversation, ctx: Context) -> Iterator[Finding]:
    assert conv.tls is not None
    s = conv.tls.session
    if conv.end_first is None:
        return
    who, how, frame = conv.end_first, conv.end_how, conv.end_frame
    verb = "reset" if how == "rst" else "closed"
    ender = CLIENT if who == "client" else SERVER
    other = "server" if who == "client" else "client"
    before = _last_message(conv, other, frame or 0)
    evidence = [Evidence(frame, f"{who} {verb} the connection ({how.upper()})"),
                Evidence(before.last_frame if before else None,
                         f"last message from the {other}: {_describe(before)}")]  # fmt: skip
    if ender == CLIENT and s.client_hello is not None and conv.to_client.bytes == 0:
        waited = (conv.end_ns - conv.start_ns) / 1e9
        yield Finding(
            "no-server-response", "error",
            f"the server never answered the ClientHello; the client gave up and {verb} the "
            f"connection ({waited:.1f} s after it opened)",
            (Evidence(s.client_hello_frame, "ClientHello"), evidence[0]),
            "Suspect a middlebox that drops TLS (SNI filtering, TLS inspection), or a "
            "stalled service: capture on the server side to see whether the hello arrives.",
        )  # fmt: skip
        return
    if (
        ender == CLIENT
        and s.certificates
        and before is not None
        and (s.certificates[0][1] <= (frame or 0))
        and not s.dirs[CLIENT].encrypted
    ):
        issues = ctx.server_chain_issues(conv)
        weak = [i for i in issues if i.code == "weak-signature"]
        if weak:
            first = weak[0]
            yield Finding(
                "chain-rejected-weak-signature", "error",
                f"the client {verb} the connection right after the server's certificates, "
                f"without an alert: it rejected the chain because {first.message}",
                (*evidence, *_issue_evidence(weak, s.certificates[0][1])),
                "Reissue that certificate (or get the CA's SHA-256 intermediate) and serve a "
                "chain signed with SHA-256 or better; clients such as Schannel drop SHA-1/MD5 "
                "chains silently.",
            )  # fmt: skip
            return
        cause = f": {issues[0].message}" if issues else ""
        yield Finding(
            "client-closed-after-certificate", "error",
            f"the client {verb} the connection right after the server's certificates, "
            f"without an alert: it most likely rejected the chain{cause}",
            (*evidence, *_issue_evidence(issues, s.certificates[0][1])),
            "Check the chain from the client's side (trust, expiry, name, algorithms); the "
            "client's own log (e.g. Schannel events 36882/36888) names the reason.",
        )  # fmt: skip
        return
    if ender == SERVER and s.client_hello is not None and s.server_hello is None:
        yield Finding(
            "server-closed-after-client-hello", "error",
            f"the server {verb} the connection right after the ClientHello, without a "
            "ServerHello or an alert",
            (Evidence(s.client_hello_frame, "ClientHello"), *evidence),
            "Usually no common version or cipher on a server that does not send alerts, a "
            "middlebox or SNI filter, or a service that is not TLS: compare the ClientHello "
            "with the server's configuration and look for a firewall in between.",
        )  # fmt: skip
        return
    yield Finding(
        "handshake-aborted", "error",
        f"the {who} {verb} the connection during the handshake, after the {other}'s "
        f"{_describe(before)}, without an alert",
        tuple(evidence),
        "Look at the side that closed: its logs say why it gave up.",
    )  # fmt: skip


def silence(conv: Conversation, ctx: Context) -> Iterator[Finding]:
    """A ClientHello that got no answer at all before the capture ended."""
    tls = conv.tls
    if tls is None or not tls.is_tls or tls.outcome != "incomplete":
        return
    s = tls.session
    if conv.to_client.packets == 0:
        yield Finding(
            "one-sided-capture", "info",
            "the capture holds no packet at all from the server, not even an ACK: it saw only "
            "one direction of this connection",
            (Evidence(conv.first_frame, "first packet from the client"),),
            "Capture where both directions pass (asymmetric routing, a SPAN of one direction "
            "or a capture filter can hide the other one).",
        )  # fmt: skip
        return
    if s.client_hello is not None and s.server_hello is None and not s.dirs[SERVER].plain_bytes:
        yield Finding(
            "no-server-response", "warning",
            "the server never answered the ClientHello in this capture",
            (Evidence(s.client_hello_frame, "ClientHello"),),
            "If the capture ran long enough, suspect a middlebox dropping TLS (SNI "
            "filtering) or a stalled service.",
        )  # fmt: skip
