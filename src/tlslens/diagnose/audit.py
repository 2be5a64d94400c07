"""Audit findings on any connection that negotiated something: old protocol versions (PCI
DSS wants TLS 1.2 or newer), weak cipher suites, weak certificate chains, certificates about
to expire (relative to the capture's time), and SSL 2.0-format hellos."""

from __future__ import annotations

from collections.abc import Iterator

from tlslens.analysis.conversation import Conversation
from tlslens.diagnose.context import Context
from tlslens.diagnose.finding import Evidence, Finding
from tlslens.tls.registry import cipher_suite_info, version_name

#: Versions below TLS 1.2: SSL 2.0 (RFC 6176) and 3.0 (RFC 7568) are prohibited, TLS 1.0
#: and 1.1 deprecated (RFC 8996).
PROHIBITED = {0x0002, 0x0300}
DEPRECATED = {0x0301, 0x0302}


def versions(conv: Conversation, ctx: Context) -> Iterator[Finding]:
    tls = conv.tls
    if tls is None or not tls.is_tls:
        return
    s = tls.session
    hello = s.client_hello
    if hello is not None and hello.format == "sslv2":
        yield Finding(
            "sslv2-client-hello", "warning",
            "the client sent its hello in the SSL 2.0 format (SSL 2.0 compatibility is on)",
            (Evidence(s.client_hello_frame, "SSL 2.0-format ClientHello"),),
            "Turn off SSL 2.0 / 'SSL 2.0 compatible hello' on the client (RFC 6176).",
        )  # fmt: skip
    version = s.version
    if version in PROHIBITED or version in DEPRECATED:
        name = version_name(version)
        yield Finding(
            "deprecated-version", "error" if version in PROHIBITED else "warning",
            f"{name} was negotiated; PCI DSS and RFC 8996 require TLS 1.2 or newer",
            (Evidence(s.server_hello_frame, f"ServerHello selects {name}"),),
            "Enable TLS 1.2/1.3 on both sides and disable older versions (Schannel: "
            "HKLM\\SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\SCHANNEL\\Protocols; "
            ".NET: SchUseStrongCrypto=1).",
        )  # fmt: skip


def ciphers(conv: Conversation, ctx: Context) -> Iterator[Finding]:
    tls = conv.tls
    if tls is None or tls.session.cipher is None:
        return
    s = tls.session
    info = cipher_suite_info(s.cipher)  # type: ignore[arg-type]
    if info is None:
        return
    problems = list(info.weaknesses)
    if s.version == 0x0301 and "_CBC" in info.encryption + "_":
        problems.append("CBC with TLS 1.0 (BEAST)")
    if not problems:
        return
    severe = {"NULL encryption", "export grade", "anonymous (no authentication)", "RC4", "DES"}
    yield Finding(
        "weak-cipher", "error" if severe & set(problems) else "warning",
        f"the negotiated cipher suite {info.name} is weak: {', '.join(problems)}",
        (Evidence(s.server_hello_frame, f"ServerHello selects {info.name}"),),
        "Prefer ECDHE key exchange with AES-GCM or ChaCha20-Poly1305 and remove the weak "
        "suites from the server's list.",
    )  # fmt: skip


def certificates(conv: Conversation, ctx: Context) -> Iterator[Finding]:
    tls = conv.tls
    if tls is None or not tls.session.certificates or tls.outcome != "established":
        return
    frame = tls.session.certificates[0][1]
    for issue in ctx.server_chain_issues(conv):
        if issue.code in ("expiring-soon",):
            code = "certificate-expiring"
        elif issue.code in ("weak-signature", "weak-key"):
            code = "weak-chain"
        elif issue.code in ("expired", "not-yet-valid"):
            code = "certificate-expired"
        else:
            continue
        yield Finding(
            code, issue.severity if code != "weak-chain" else "warning", issue.message,
            (Evidence(frame, f"server's Certificate, certificate {issue.index}"),),
            "Replace the certificate before it expires / reissue it with a SHA-256 signature "
            "and a 2048-bit (RSA) or 256-bit (EC) key.",
        )  # fmt: skip


def renegotiation(conv: Conversation, ctx: Context) -> Iterator[Finding]:
    tls = conv.tls
    if tls is None or not tls.session.renegotiation_records:
        return
    s = tls.session
    requested = s.certificate_request is not None
    yield Finding(
        "renegotiation", "info",
        f"{s.renegotiation_records} encrypted handshake record(s) after the handshake "
        "completed: a renegotiation"
        + ("" if requested else "; servers such as IIS renegotiate this way to ask for a "
           "client certificate after the request, which no capture shows in the clear"),
        (Evidence(s.renegotiation_frame, "first encrypted handshake record after Finished"),),
        "If clients fail here, check whether the site requires client certificates per path "
        "(IIS: SSL settings) and whether the client can renegotiate (TLS 1.3 cannot).",
    )  # fmt: skip
