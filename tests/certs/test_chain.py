"""Chain checks on chains built with `cryptography` for each property under test, judged at
a given time (the capture's), never now."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta

import pytest
from conftest import CORPUS, needs_corpus
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tlslens import Analysis
from tlslens.certs.chain import check_chain, name_matches
from tlslens.certs.x509 import summarize

T0 = datetime(2024, 6, 1, tzinfo=UTC)


def key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def cert(subject: str, issuer: str, public: object, signer: object, *, ca: bool = False,
         days: tuple[int, int] = (-30, 365), sans: tuple[str, ...] = (),
         algorithm: hashes.HashAlgorithm | None = None, eku: object = None) -> bytes:  # fmt: skip
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(public)  # type: ignore[arg-type]
        .serial_number(x509.random_serial_number())
        .not_valid_before(T0 + timedelta(days=days[0]))
        .not_valid_after(T0 + timedelta(days=days[1]))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if sans:
        names: list[x509.GeneralName] = []
        for name in sans:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                names.append(x509.DNSName(name))
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    if eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    signed = builder.sign(signer, algorithm or hashes.SHA256())  # type: ignore[arg-type]
    return signed.public_bytes(serialization.Encoding.DER)


@pytest.fixture(scope="module")
def pki() -> dict[str, object]:
    root, inter, leaf = key(), key(), key()
    return {
        "root_key": root, "inter_key": inter, "leaf_key": leaf,
        "root": cert("Root", "Root", root.public_key(), root, ca=True, days=(-999, 3650)),
        "inter": cert("Inter", "Root", inter.public_key(), root, ca=True, days=(-999, 3650)),
        "leaf": cert("www.example.test", "Inter", leaf.public_key(), inter,
                     sans=("www.example.test", "*.example.test", "127.0.0.1")),
    }  # fmt: skip


def codes(issues: list) -> list[tuple[str, int | None]]:  # type: ignore[type-arg]
    return [(i.code, i.index) for i in issues]


def test_a_good_chain_has_no_issues(pki: dict) -> None:  # type: ignore[type-arg]
    assert check_chain([pki["leaf"], pki["inter"]], T0, "www.example.test") == []


def test_time_is_the_captures(pki: dict) -> None:  # type: ignore[type-arg]
    chain = [pki["leaf"], pki["inter"]]
    assert codes(check_chain(chain, T0 + timedelta(days=400))) == [("expired", 0)]
    assert codes(check_chain(chain, T0 - timedelta(days=60))) == [("not-yet-valid", 0)]
    assert codes(check_chain(chain, T0 + timedelta(days=350))) == [("expiring-soon", 0)]


@needs_corpus
def test_weak_signature_below_the_root_only() -> None:
    """Real chain (Zeek's tls1.2.pcap): SHA-1 leaf and intermediate, SHA-1 self-signed root.
    (cryptography no longer signs with SHA-1, so this one comes from a capture.)"""
    (conv,) = Analysis(str(CORPUS / "zeek/testing/btest/Traces/tls/tls1.2.pcap")).conversations()
    assert conv.tls is not None
    ders = [d for d, _ in conv.tls.session.certificates]
    at = datetime.fromtimestamp(conv.start_ns / 1e9, UTC)
    found = check_chain(ders, at)
    assert codes(found) == [("weak-signature", 0), ("weak-signature", 1)]
    assert "sha1WithRSAEncryption" in found[0].message


def test_weak_keys() -> None:
    small = key(1024)
    leaf = cert("a", "a", small.public_key(), small)
    found = codes(check_chain([leaf], T0))
    assert ("weak-key", 0) in found and ("self-signed", 0) in found
    p256 = ec.generate_private_key(ec.SECP256R1())
    assert summarize(cert("b", "b", p256.public_key(), p256)).key_bits == 256


def test_order_and_missing_pieces(pki: dict) -> None:  # type: ignore[type-arg]
    assert ("misordered", 0) in codes(check_chain([pki["leaf"], pki["root"]], T0))
    assert codes(check_chain([pki["leaf"]], T0)) == [("leaf-only", 0)]
    root = x509.load_der_x509_certificate(pki["root"])
    assert check_chain([pki["leaf"], pki["inter"]], T0, trust=[root]) == []
    other_root = key()
    stranger = x509.load_der_x509_certificate(
        cert("Other", "Other", other_root.public_key(), other_root, ca=True)
    )
    assert codes(check_chain([pki["leaf"], pki["inter"]], T0, trust=[stranger])) == [
        ("incomplete-chain", 1)]  # fmt: skip
    assert codes(check_chain([pki["leaf"], pki["inter"], pki["root"]], T0,
                             trust=[stranger])) == [("untrusted-root", 2)]  # fmt: skip


def test_names_follow_rfc6125(pki: dict) -> None:  # type: ignore[type-arg]
    leaf = summarize(pki["leaf"])
    der = pki["leaf"]
    assert name_matches("www.example.test", leaf, der)
    assert name_matches("API.example.test.", leaf, der)  # wildcard, case, trailing dot
    assert not name_matches("a.b.example.test", leaf, der)  # one label only
    assert not name_matches("example.test", leaf, der)
    assert name_matches("127.0.0.1", leaf, der) and not name_matches("127.0.0.2", leaf, der)
    found = check_chain([pki["leaf"], pki["inter"]], T0, "wrong.example.org")
    assert codes(found) == [("name-mismatch", 0)]


def test_extended_key_usage_must_allow_the_role(pki: dict) -> None:  # type: ignore[type-arg]
    client_only = cert("c", "Inter", pki["leaf_key"].public_key(), pki["inter_key"],
                       eku=[ExtendedKeyUsageOID.CLIENT_AUTH])  # fmt: skip
    assert ("wrong-eku", 0) in codes(check_chain([client_only, pki["inter"]], T0))
    assert check_chain([client_only, pki["inter"]], T0, role="client") == []


def test_garbage_is_reported_not_raised() -> None:
    assert codes(check_chain([b"\x30\x03\x02\x01\x01"], T0)) == [("unreadable", 0)]
