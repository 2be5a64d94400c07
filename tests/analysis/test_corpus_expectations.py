"""What other projects' test suites assert about the corpus captures, asserted by ours:
Zeek's ssl.log and x509.log rows and Suricata's TLS event checks (../shared/corpus)."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from conftest import CORPUS, needs_corpus

from tlslens import Analysis, Conversation
from tlslens.tls.registry import alert_name

ZEEK = CORPUS / "zeek" / "expected_ssl_x509.json"
ZEEK_TRACES = CORPUS / "zeek" / "testing" / "btest" / "Traces"
SURICATA = CORPUS / "suricata-verify" / "expected_tls_checks.json"

ZEEK_VERSIONS = {0x0002: "SSLv2", 0x0300: "SSLv3", 0x0301: "TLSv10", 0x0302: "TLSv11",
                 0x0303: "TLSv12", 0x0304: "TLSv13"}  # fmt: skip


def zeek_version(v: int | None) -> str:
    if v is None:
        return "-"
    if v >> 8 == 0x7F:
        return f"TLSv13-draft{v & 0xFF}"
    return ZEEK_VERSIONS.get(v, hex(v))


@cache
def conversations(path: Path) -> list[Conversation]:
    return list(Analysis(str(path)).conversations())


def zeek_rows(kind: str) -> list[tuple[Path, dict[str, Any]]]:
    if not ZEEK.exists():
        return []
    out = []
    for trace, blocks in json.loads(ZEEK.read_text()).items():
        path = ZEEK_TRACES / trace
        if not path.exists() or "dtls" in trace:  # DTLS runs over UDP: not ours yet
            continue
        for block in blocks:
            if block["path"] == kind:
                out.extend((path, row) for row in block["rows"])
    return out


def _label(item: tuple[Path, dict[str, Any]]) -> str:
    path, row = item
    return f"{path.name}:{row.get('id.orig_p', row.get('fingerprint', '')[:8])}"


@needs_corpus
@pytest.mark.parametrize("item", zeek_rows("ssl"), ids=_label)
def test_zeek_ssl_log_rows(item: tuple[Path, dict[str, Any]]) -> None:
    path, row = item
    key = (row["id.orig_h"], int(row["id.orig_p"]), row["id.resp_h"], int(row["id.resp_p"]))
    matches = [c for c in conversations(path)
               if (c.client.ip, c.client.port, c.server.ip, c.server.port) == key]  # fmt: skip
    if not matches:
        pytest.skip("row belongs to another trace of the same Zeek test")
    conv = matches[0]
    tls = conv.tls
    assert tls is not None and tls.is_tls
    s = tls.session
    plaintext = [a for a in tls.alerts if a.description is not None]
    ours = {
        "version": zeek_version(s.version),
        "cipher": tls.cipher or "-",
        "curve": tls.group or "-",
        "server_name": tls.sni or "-",
        "resumed": "T" if s.resumed else "F",
        "last_alert": alert_name(plaintext[-1].description) if plaintext else "-",
        "established": "T" if s.established else "F",
        "ssl_history": tls.history,
    }
    theirs = {k: row[k] for k in ours}
    assert ours == theirs


@needs_corpus
@pytest.mark.parametrize("item", zeek_rows("x509"), ids=_label)
def test_zeek_x509_log_rows(item: tuple[Path, dict[str, Any]]) -> None:
    path, row = item
    certs = {c.summary.sha256: c.summary for conv in conversations(path) if conv.tls
             for c in conv.tls.certificates}  # fmt: skip
    cert = certs.get(row["fingerprint"])
    assert cert is not None, "certificate not found in any connection"
    assert cert.subject == row["certificate.subject"].replace("\\x2c", "\\,")
    assert cert.issuer == row["certificate.issuer"].replace("\\x2c", "\\,")
    assert cert.serial == row["certificate.serial"]
    assert cert.sig_alg == row["certificate.sig_alg"]
    assert cert.key_type == row["certificate.key_type"]
    assert str(cert.key_bits) == row["certificate.key_length"]
    if row.get("san.dns", "-") != "-":
        assert ",".join(cert.san_dns) == row["san.dns"]


def suricata_checks() -> list[tuple[str, dict[str, Any]]]:
    if not SURICATA.exists():
        return []
    out = []
    for _name, test in json.loads(SURICATA.read_text()).items():
        for check in test["checks"]:
            out.append((test["pcap"], check))
    return out


def _suricata_dn(rfc4514: str) -> str:
    """Suricata prints names in certificate order with ", " between parts."""
    parts = re.split(r"(?<!\\),", rfc4514)
    parts = [p.replace("emailAddress=", "Email=").replace("\\,", ",") for p in parts]
    return ", ".join(reversed(parts))


@needs_corpus
@pytest.mark.parametrize("item", suricata_checks(), ids=lambda i: i[0].split("/")[-2])
def test_suricata_tls_events(item: tuple[str, dict[str, Any]]) -> None:
    pcap, check = item
    path = CORPUS / "suricata-verify" / pcap
    found = 0
    for conv in conversations(path):
        tls = conv.tls
        if tls is None or not tls.is_tls:
            continue
        leaf = tls.certificates[0].summary if tls.certificates else None
        fields: dict[str, Any] = {
            "event_type": "tls",
            "tls.sni": tls.sni,
            "tls.version": tls.version,
            "tls.ja3.string": tls.ja3_string,
            "tls.ja3.hash": tls.ja3,
            "src_ip": conv.client.ip, "src_port": conv.client.port,
            "dest_ip": conv.server.ip, "dest_port": conv.server.port, "proto": "TCP",
        }  # fmt: skip
        if leaf is not None:
            fields.update({
                "tls.subject": _suricata_dn(leaf.subject),
                "tls.issuerdn": _suricata_dn(leaf.issuer),
                "tls.serial": leaf.serial,
                "tls.fingerprint": ":".join(leaf.sha1[i:i + 2] for i in range(0, 40, 2)),
                "tls.notbefore": leaf.not_before.strftime("%Y-%m-%dT%H:%M:%S")
                if leaf.not_before else None,
                "tls.notafter": leaf.not_after.strftime("%Y-%m-%dT%H:%M:%S")
                if leaf.not_after else None,
            })  # fmt: skip
        if tls.session.starttls:
            fields["tls.from_proto"] = "ldap" if conv.server.port == 389 else "starttls"
        wanted = {k: v for k, v in check["match"].items()
                  if k not in ("pcap_cnt", "pkt_src")}  # fmt: skip
        if all(_suricata_equal(k, fields.get(k), v) for k, v in wanted.items()):
            found += 1
    assert found == check["count"]


def _suricata_equal(key: str, ours: Any, theirs: Any) -> bool:
    if key == "tls.version":
        # Suricata writes "TLSv1" for TLS 1.0 in older versions and "TLS 1.2" style later.
        aliases = {"TLSv1": "TLS 1.0", "TLS 1.3 draft-28": "TLS 1.3 (draft 28)"}
        return ours == aliases.get(theirs, theirs)
    if key == "tls.serial":
        # Suricata writes the serial as colon-separated bytes, zero-padded.
        return ours is not None and ours.lstrip("0") == str(theirs).replace(":", "").lstrip("0")
    return bool(ours == theirs)
