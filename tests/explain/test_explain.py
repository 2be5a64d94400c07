"""`tlslens explain`: every reading of a code, facts from the reference tables."""

from __future__ import annotations

import csv

import pytest
from conftest import ROOT

from tlslens.cli.main import main
from tlslens.explain import ALERT_MEANINGS, explain

REFERENCE = ROOT.parent / "shared" / "reference"


def readings(term: str) -> list[tuple[str, str]]:
    return [(e.kind.split(" (")[0], e.name) for e in explain(term)]


def test_each_kind_of_code() -> None:
    assert readings("48") == [("TLS alert", "unknown_ca")]
    assert readings("36888") == [("Schannel event", "FatalAlertGenerated")]
    assert readings("252") == [("Schannel internal error state", "RemoteCert_SigAlg")]
    assert readings("0x80090325") == [("HRESULT", "SEC_E_UNTRUSTED_ROOT")]
    assert readings("sec_e_untrusted_root") == [("HRESULT", "SEC_E_UNTRUSTED_ROOT")]
    assert readings("0xC030") == [("cipher suite", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384")]
    assert readings("0x0301") == [("TLS version", "TLS 1.0")]
    assert readings("1.2.840.113549.1.1.2") == [("signature algorithm OID",
                                                 "md2WithRSAEncryption")]  # fmt: skip
    assert readings("no such thing") == []


def test_ambiguous_codes_list_every_reading() -> None:
    kinds = [k for k, _ in readings("10")]
    assert kinds == ["TLS alert", "Schannel internal error state"]


def test_facts_carry_their_weight() -> None:
    (alert,) = explain("48")
    assert "SEC_E_UNTRUSTED_ROOT" in " ".join(alert.lines) and alert.source
    (state,) = explain("252")
    assert any(line.startswith("how sure: high") for line in state.lines)
    (rc4,) = explain("TLS_RSA_WITH_RC4_128_MD5")
    assert "RC4" in rc4.lines[1] and "no forward secrecy" in rc4.lines[1]
    (tls10,) = explain("0x0301")
    assert any("SchUseStrongCrypto" in line for line in tls10.lines)


@pytest.mark.skipif(not REFERENCE.is_dir(), reason="../shared/reference not present")
def test_every_reference_alert_and_event_is_explained() -> None:
    alerts = (REFERENCE / "tls_alerts.csv").read_text().splitlines()
    for row in csv.DictReader(alerts):
        (found,) = [e for e in explain(row["code"]) if e.kind == "TLS alert"]
        assert found.name == row["name"] and int(row["code"]) in ALERT_MEANINGS
    events = (REFERENCE / "schannel_events.csv").read_text().splitlines()
    for row in csv.DictReader(events):
        assert ("Schannel event", row["name"]) in readings(row["id"])


def test_cli_prints_and_fails_honestly(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "48", "0x80090325"]) == 0
    out = capsys.readouterr().out
    assert "48: TLS alert: unknown_ca" in out and "SEC_E_UNTRUSTED_ROOT" in out
    assert main(["explain", "bogus"]) == 1
    assert "bogus: not a TLS alert" in capsys.readouterr().err
