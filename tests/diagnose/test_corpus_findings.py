"""Diagnosis on real third-party captures whose story is known (their origin projects'
tests say what happened): the right finding, citing the right frames."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import CORPUS, needs_corpus

from tlslens import Analysis
from tlslens.diagnose import CODES, Context, Finding, diagnose

ZEEK = CORPUS / "zeek/testing/btest/Traces/tls"


def findings(path: Path) -> list[list[Finding]]:
    ctx = Context()
    return [diagnose(conv, ctx) for conv in Analysis(str(path)).conversations()]


def codes(found: list[Finding]) -> list[str]:
    return [f.code for f in found]


@needs_corpus
def test_empty_client_certificate_then_handshake_failure() -> None:
    (found,) = findings(ZEEK / "certificate-request-failed.pcap")
    assert codes(found) == ["no-client-certificate"]
    frames = [e.frame for e in found[0].evidence]
    # CertificateRequest, the empty Certificate, the server's alert (as tshark numbers them).
    assert frames[:3] == [6, 8, 9]


@needs_corpus
def test_protocol_version_alert_and_the_retry_with_a_lower_version() -> None:
    first, second = findings(ZEEK / "tls13draft16-ff52.a01-aborted.pcap")
    assert codes(first) == ["no-common-version"]
    assert "TLS 1.3 (draft 16)" in first[0].summary
    assert codes(second) == ["no-common-version", "version-fallback"]
    assert "after connection 0 failed" in second[1].summary


@needs_corpus
def test_alert_after_client_hello_means_no_common_cipher() -> None:
    (found,) = findings(ZEEK / "tls-1.2-handshake-failure.pcap")
    assert codes(found) == ["no-common-cipher"]
    assert found[0].evidence[1].frame == 6  # the server's handshake_failure


@needs_corpus
def test_tls13_certificate_alert_is_a_rejected_server_certificate() -> None:
    rejected, fine = findings(ZEEK / "tls13draft16-ff52.a01.pcap")
    assert codes(rejected) == ["server-certificate-rejected"]
    assert "unknown_ca" in rejected[0].summary and fine == []


@needs_corpus
def test_audit_of_an_sslv2_session() -> None:
    (found,) = findings(ZEEK / "ssl-v2.pcap")
    assert codes(found) == ["sslv2-client-hello", "deprecated-version", "weak-cipher"]
    assert found[1].severity == "error" and "SSL 2.0" in found[1].summary


@needs_corpus
def test_md5_signed_certificate_is_a_weak_chain() -> None:
    (found,) = findings(ZEEK / "pop3-starttls.pcap")
    assert [(f.code, "md5WithRSAEncryption" in f.summary) for f in found] == [("weak-chain", True)]


@needs_corpus
def test_tls10_with_rc4_is_flagged_twice() -> None:
    for found in findings(ZEEK / "ssl.v3.pcap"):
        assert {"deprecated-version", "weak-cipher"} <= set(codes(found))


@needs_corpus
@pytest.mark.parametrize("name", ["ecdsa-cert.pcap", "hrr.pcap", "tls13_psk_succesfull.pcap"])
def test_modern_healthy_connections_have_no_findings(name: str) -> None:
    assert all(found == [] for found in findings(ZEEK / name))


def test_every_code_is_documented_in_the_readme() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for code, _severity, _meaning in CODES:
        assert f"`{code}`" in readme, code


@needs_corpus
def test_renegotiation_is_noticed_with_its_frame() -> None:
    renegotiated, _resumed = findings(CORPUS / "wireshark/test/captures/rsasnakeoil2.pcap")
    found = [f for f in renegotiated if f.code == "renegotiation"]
    assert len(found) == 1 and found[0].severity == "info"
    frame = found[0].evidence[0].frame
    assert frame is not None and frame > 10


@needs_corpus
def test_a_capture_of_one_direction_says_so() -> None:
    path = CORPUS / "wireshark/test/captures/tls-fragmented-handshakes.pcap.gz"
    assert all(codes(found) == ["one-sided-capture"] for found in findings(path))
