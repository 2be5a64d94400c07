"""Check a certificate chain as it was sent, at the capture's time (never now()).

Checks (RFC 5280 for paths and validity, RFC 6125 for names, CA/Browser Forum baseline
requirements for key sizes, RFC 9155 / RFC 6151 for weak hashes):
  - order and issuer linkage: each certificate is issued by the next one (name and signature);
  - a missing intermediate: the last certificate sent is not self-issued and no trusted
    certificate issued it;
  - a self-signed leaf; expired or not yet valid certificates, and ones expiring soon;
  - a weak signature algorithm (MD2/MD4/MD5/SHA-1) on any certificate but a root, whose
    self-signature nobody checks;
  - a weak key (RSA or DSA under 2048 bits, EC under 224);
  - the server name asked for (SNI) not covered by the leaf's names;
  - a leaf whose extended key usage does not allow the role it played;
  - with a trust store: whether the chain ends at a trusted root.
The `cryptography` package is used only inside certs/.
"""

from __future__ import annotations

import ipaddress
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.x509.oid import ExtendedKeyUsageOID

from tlslens.certs.x509 import CertSummary, summarize

#: Trusted root certificates, as load_trust_store returns them.
TrustStore = list[x509.Certificate]

MIN_RSA_BITS: Final = 2048
MIN_EC_BITS: Final = 224
EXPIRING_SOON: Final = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class ChainIssue:
    """One thing wrong with a chain; `index` is the certificate's position (0 = leaf)."""

    code: str
    severity: str  # info | warning | error
    index: int | None
    message: str


def _load(der: bytes) -> x509.Certificate | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # see x509.summarize: real certificates bend rules
        try:
            return x509.load_der_x509_certificate(der)
        except ValueError:
            return None


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Name chaining and a valid signature (RFC 5280 6.1.3). A signature made with an
    algorithm `cryptography` will not verify (MD2, MD5...) counts on the names alone: the
    weak algorithm is reported on its own."""
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except InvalidSignature:
        return False
    except (ValueError, TypeError, NotImplementedError, UnsupportedAlgorithm):
        return True
    return True


def load_trust_store(path: str) -> list[x509.Certificate]:
    """Certificates of a PEM bundle. Raises OSError or ValueError with a sentence."""
    data = Path(path).read_bytes()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # old roots bend RFC 5280 (negative serials)
        certs = x509.load_pem_x509_certificates(data)
    if not certs:
        raise ValueError(f"{path} holds no PEM certificate")
    return certs


def name_matches(hostname: str, cert: CertSummary, der: bytes) -> bool:
    """RFC 6125 6.4: DNS names (one left-most wildcard label), IP addresses against IP
    SANs; the subject CN only when there is no SAN at all (legacy clients)."""
    host = hostname.rstrip(".").lower()
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    loaded = _load(der)
    ip_sans: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = []
    if loaded is not None:
        try:
            san = loaded.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            networks = (ipaddress.IPv4Network, ipaddress.IPv6Network)
            ip_sans = [
                a for a in san.get_values_for_type(x509.IPAddress) if not isinstance(a, networks)
            ]
        except (x509.ExtensionNotFound, ValueError):
            pass
    if ip is not None:
        return ip in ip_sans
    names = list(cert.san_dns)
    if not names and not ip_sans:
        names = [part[3:] for part in cert.subject.split(",") if part.startswith("CN=")]
    for name in names:
        pattern = name.rstrip(".").lower()
        if pattern == host:
            return True
        if pattern.startswith("*.") and "." in host:
            label, _, rest = host.partition(".")
            if rest == pattern[2:] and label:
                return True
    return False


def _eku_allows(der: bytes, role: str) -> bool | None:
    cert = _load(der)
    if cert is None:
        return None
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except (x509.ExtensionNotFound, ValueError):
        return None  # no EKU: any use is allowed
    wanted = (
        ExtendedKeyUsageOID.SERVER_AUTH if role == "server" else ExtendedKeyUsageOID.CLIENT_AUTH
    )
    return wanted in eku or ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in eku


def check_chain(
    ders: list[bytes],
    at: datetime | None,
    hostname: str | None = None,
    role: str = "server",
    trust: list[x509.Certificate] | None = None,
) -> list[ChainIssue]:
    """Everything wrong with a chain as sent, judged at time `at` (the capture's time)."""
    if not ders:
        return []
    issues: list[ChainIssue] = []
    summaries = [summarize(d) for d in ders]
    loaded = [_load(d) for d in ders]
    for i, (s, cert) in enumerate(zip(summaries, loaded, strict=True)):
        label = f"certificate {i} ({s.subject or 'unreadable'})"
        if s.error or cert is None:
            issues.append(ChainIssue("unreadable", "error", i, f"{label}: {s.error}"))
            continue
        is_root = s.self_issued and _issued_by(cert, cert)
        if at is not None and s.not_after is not None and s.not_before is not None:
            if at > s.not_after:
                issues.append(ChainIssue(
                    "expired", "error", i,
                    f"{label} expired on {s.not_after:%Y-%m-%d} (capture time {at:%Y-%m-%d})",
                ))  # fmt: skip
            elif at < s.not_before:
                issues.append(ChainIssue(
                    "not-yet-valid", "error", i,
                    f"{label} is valid only from {s.not_before:%Y-%m-%d} "
                    f"(capture time {at:%Y-%m-%d})",
                ))  # fmt: skip
            elif s.not_after - at < EXPIRING_SOON:
                issues.append(ChainIssue(
                    "expiring-soon", "warning", i,
                    f"{label} expires on {s.not_after:%Y-%m-%d}, "
                    f"{(s.not_after - at).days} days after the capture",
                ))  # fmt: skip
        if s.weak_signature and not is_root:
            issues.append(ChainIssue(
                "weak-signature", "error", i,
                f"{label} is signed with {s.sig_alg}, a hash clients no longer accept",
            ))  # fmt: skip
        weak_key = (s.key_type in ("rsa", "dsa") and (s.key_bits or 0) < MIN_RSA_BITS) or (
            s.key_type == "ecdsa" and (s.key_bits or 0) < MIN_EC_BITS
        )
        if weak_key:
            issues.append(ChainIssue(
                "weak-key", "error" if i == 0 else "warning", i,
                f"{label} has a {s.key_bits}-bit {s.key_type.upper() if s.key_type else ''} key",
            ))  # fmt: skip
        if i + 1 < len(ders):
            issuer = loaded[i + 1]
            if issuer is not None and not _issued_by(cert, issuer):
                issues.append(ChainIssue(
                    "misordered", "warning", i,
                    f"{label} is not issued by the next certificate sent "
                    f"({summaries[i + 1].subject}); the chain is out of order or mixed",
                ))  # fmt: skip
    leaf, leaf_cert = summaries[0], loaded[0]
    if leaf_cert is not None and leaf.self_issued and _issued_by(leaf_cert, leaf_cert):
        issues.append(ChainIssue(
            "self-signed", "warning", 0,
            f"the {role} certificate ({leaf.subject}) is self-signed: no client trusts it "
            "unless it was installed by hand",
        ))  # fmt: skip
    last, last_cert = summaries[-1], loaded[-1]
    if last_cert is not None and not last.self_issued:
        if trust is not None:
            if not any(_issued_by(last_cert, t) for t in trust):
                issues.append(ChainIssue(
                    "incomplete-chain", "error", len(ders) - 1,
                    f"the chain ends at {last.subject}, issued by {last.issuer}, which is "
                    "neither sent nor in the trust store: an intermediate is missing or the "
                    "root is not trusted",
                ))  # fmt: skip
        elif len(ders) == 1:
            # Servers should not send the root, but should send every intermediate. Without
            # a trust store we cannot tell whether the issuer is a root; say what we see.
            issues.append(ChainIssue(
                "leaf-only", "info", 0,
                f"only the {role} certificate was sent; if {last.issuer} is an intermediate "
                "CA, clients that do not have it cached will fail (missing intermediate)",
            ))  # fmt: skip
    elif last_cert is not None and trust is not None:
        if not any(t.subject == last_cert.subject and t.public_key() == last_cert.public_key()
                   for t in trust):  # fmt: skip
            issues.append(ChainIssue(
                "untrusted-root", "error", len(ders) - 1,
                f"the chain ends at {last.subject}, which is not in the trust store",
            ))  # fmt: skip
    if hostname and not name_matches(hostname, leaf, ders[0]):
        names = ", ".join(leaf.san_dns) or leaf.subject
        issues.append(ChainIssue(
            "name-mismatch", "error", 0,
            f"the name asked for, {hostname}, is not among the certificate's names ({names})",
        ))  # fmt: skip
    if _eku_allows(ders[0], role) is False:
        issues.append(ChainIssue(
            "wrong-eku", "error", 0,
            f"the {role} certificate's extended key usage does not allow "
            f"{'TLS server' if role == 'server' else 'TLS client'} authentication",
        ))  # fmt: skip
    return issues
