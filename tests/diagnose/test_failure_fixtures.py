"""Diagnosis of real failing handshakes (tests/fixtures/captures/failures.pcap, made by real
OpenSSL and Python peers; the manifest says who rejected what and which alert went on the
wire): the right finding, naming the side and the alert the manifest records, citing the
alert's frame, and the chain fact that explains a rejected certificate."""

from __future__ import annotations

import pytest
from conftest import CAPTURES, load_manifest

from tlslens import Analysis
from tlslens.diagnose import Context, Finding, diagnose

MANIFEST = load_manifest().get("failures.pcap")
pytestmark = pytest.mark.skipif(MANIFEST is None, reason="failures.pcap not in the manifest")

#: scenario -> (finding code, words the summary must contain)
EXPECTED = {
    "sha1_chain_rejected": ("server-certificate-rejected", "sha1WithRSAEncryption"),
    "client_cert_rejected": ("client-certificate-rejected", "unknown_ca"),
    "no_client_cert": ("no-client-certificate", "handshake_failure"),
    "untrusted_server": ("server-certificate-rejected", "self-signed"),
    "expired_server": ("server-certificate-rejected", "expired on"),
    "name_mismatch": ("server-certificate-rejected", "wrong.example"),
    "version_mismatch": ("no-common-version", "TLS 1.1"),
    "no_common_cipher": ("no-common-cipher", "refused all"),
    "reset_after_hello": ("server-closed-after-client-hello", "reset"),
    "http_answer": ("non-tls-response", "HTTP/1.1 400"),
    "tls13_client_rejects": ("server-certificate-rejected", "unknown_ca"),
    "tls13_server_rejects": ("tls13-server-rejected-client", "encrypted flight"),
    "client_silent_close_sha1": ("chain-rejected-weak-signature", "sha1WithRSAEncryption"),
    "server_silent": ("no-server-response", "gave up"),
    "nothing_listening": ("connection-refused", "reset"),
}


@pytest.fixture(scope="module")
def results() -> list[tuple[dict, list[Finding]]]:  # type: ignore[type-arg]
    ctx = Context()
    convs = list(Analysis(str(CAPTURES / "failures.pcap")).conversations())
    assert MANIFEST is not None and len(convs) == len(MANIFEST["connections"])
    return [(exp, diagnose(conv, ctx)) for conv, exp in
            zip(convs, MANIFEST["connections"], strict=True)]  # fmt: skip


@pytest.mark.parametrize("scenario", sorted(EXPECTED))
def test_failure_is_explained(results: list, scenario: str) -> None:  # type: ignore[type-arg]
    matches = [(e, f) for e, f in results if e["scenario"] == scenario]
    assert matches, f"{scenario} missing from the capture"
    expected_code, words = EXPECTED[scenario]
    for exp, found in matches:
        assert [f.code for f in found if f.severity == "error"][:1] == [expected_code]
        finding = next(f for f in found if f.code == expected_code)
        assert words in finding.summary
        for alert in exp.get("alerts", []):
            if alert["level"] == 2 and not alert["encrypted"] and exp["expect_failure"]["alert"]:
                # The evidence cites the frame of the alert the manifest saw on the wire.
                assert alert["frame"] in [e.frame for e in finding.evidence]


def test_retry_with_a_lower_version_is_connected(results: list) -> None:  # type: ignore[type-arg]
    first, second = [f for e, f in results if e["scenario"] == "version_fallback"]
    assert [f.code for f in first] == ["no-common-version"]
    assert [f.code for f in second] == ["version-fallback"]


def test_successful_but_weak_connections_are_audited(results: list) -> None:  # type: ignore[type-arg]
    by_name = {e["scenario"]: f for e, f in results}
    assert {"deprecated-version", "weak-cipher"} <= {f.code for f in by_name["tls10_success"]}
    weak = by_name["weak_cipher_success"]
    assert [f.code for f in weak] == ["weak-cipher"] and "no forward secrecy" in weak[0].summary
