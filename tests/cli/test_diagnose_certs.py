"""`tlslens diagnose` and `tlslens certs` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import CORPUS, needs_corpus

from tlslens.cli.main import main

FAILED = CORPUS / "zeek/testing/btest/Traces/tls/certificate-request-failed.pcap"
CHAIN = CORPUS / "zeek/testing/btest/Traces/tls/tls1.2.pcap"


@needs_corpus
def test_diagnose_text_puts_the_finding_and_its_frames_first(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["diagnose", str(FAILED)]) == 0
    out = capsys.readouterr().out
    assert "no-client-certificate" in out and "frame 9" in out and "remedy:" in out


@needs_corpus
def test_diagnose_jsonl_adds_findings_to_the_record(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diagnose", "--format", "jsonl", str(FAILED)]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["outcome"] == "failed"
    (finding,) = record["findings"]
    assert set(finding) == {"code", "severity", "summary", "evidence", "remedy"}
    assert finding["code"] == "no-client-certificate" and finding["severity"] == "error"


@needs_corpus
def test_certs_export_writes_pem_that_openssl_could_read(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["certs", "--export", str(tmp_path), "--format", "jsonl", str(CHAIN)]) == 0
    record = json.loads(capsys.readouterr().out)
    chain = record["chains"]["server"]
    assert len(chain["certificates"]) == 3
    assert [i["code"] for i in chain["issues"]] == ["weak-signature", "weak-signature"]
    files = sorted(tmp_path.glob("*.pem"))
    assert len(files) == 3 and files[0].read_text().startswith("-----BEGIN CERTIFICATE-----")


def test_unreadable_trust_store_is_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "roots.pem"
    bad.write_text("not a certificate")
    assert main(["diagnose", "--trust", str(bad), str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(bad) in err and "trust store" in err


@needs_corpus
def test_system_trust_store_validates_a_public_chain(capsys: pytest.CaptureFixture[str]) -> None:
    from tlslens.cli.diagnose_cmd import SYSTEM_BUNDLES

    if not any(Path(p).exists() for p in SYSTEM_BUNDLES):
        pytest.skip("no system CA bundle on this machine")
    ecdsa = CORPUS / "zeek/testing/btest/Traces/tls/ecdsa-cert.pcap"
    assert main(["certs", "--trust", "system", "--format", "jsonl", str(ecdsa)]) == 0
    record = json.loads(capsys.readouterr().out)
    # COMODO ECC's root is in every system bundle: nothing is missing or untrusted.
    assert record["chains"]["server"]["issues"] == []
    assert main(["certs", "--trust", str(Path(SYSTEM_BUNDLES[0]).parent / "none.pem"),
                 str(ecdsa)]) == 1  # fmt: skip
