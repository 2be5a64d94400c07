"""The filter language: syntax errors point at their column, unknown fields get suggestions,
and what a filter selects agrees with tshark's display filters on real captures."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import CAPTURES, CORPUS, needs_tshark

from tlslens import Analysis
from tlslens.analysis.conversation import Conversation
from tlslens.query import FIELDS, FilterError, Row, compile_filter, suggest_fields

FAILURES = CAPTURES / "failures.pcap"
BASIC = CAPTURES / "basic.pcap"
CLIENT_CERT = CORPUS / "zeek/testing/btest/Traces/tls/client-certificate.pcap"


def _convs(path: Path) -> list[Conversation]:
    return list(Analysis(str(path)).conversations())


def _select(path: Path, text: str) -> set[int]:
    predicate = compile_filter(text)
    return {c.id for c in _convs(path) if predicate(Row(c))}


def _tshark(path: Path, text: str) -> set[int]:
    # TLS on 3306 (basic.pcap) is TLS: tshark needs telling, it gives the port to MySQL.
    command = ["tshark", "-r", str(path), "-n", "-d", "tcp.port==3306,tls", "-Y", text, "-T",
               "fields", "-e", "tcp.stream"]  # fmt: skip
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return {int(line) for line in out.split()}


@pytest.mark.parametrize(("text", "message", "column"), [
    ("", "the filter is empty", 0),
    ("conn.version ==", "expected a value after `==`", 15),
    ("conn.version == TLS1.9", "'TLS1.9' is not a TLS version", 16),
    ("(tls and conn.resumed", "expected `)` to close the `(` at column 1", 21),
    ("tls and", "expected a field", 7),
    ("tls \"x\"", "expected `and`, `or` or the end", 4),
    ("conn.sni == \"open", "no closing quote", 12),
    ("ip.addr < 10.0.0.1", "has no order", 0),
    ("ip.addr == 10.0.0.300", "not an IP address or network", 11),
    ("tcp.port in {443 x}", "'x' is not a number", 17),
    ("tcp.port in {}", "the set is empty", 13),
    ("cert.sig_alg matches \"(\"", "not a regular expression", 21),
    ("conn.cipher == TLS_NOT_A_SUITE", "is not a cipher suite", 15),
    ("tls.alert.description == bad_cert", "is not a TLS alert", 25),
    ("conn.start > \"yesterday\"", "is not a time", 13),
    ("tls.version == TLS1.2", "unknown field 'tls.version'; did you mean", 0),
    ("conn.sni == x $", "unexpected character '$'", 14),
])  # fmt: skip
def test_errors_point_at_the_problem(text: str, message: str, column: int) -> None:
    with pytest.raises(FilterError) as exc:
        compile_filter(text)
    assert message in exc.value.message
    assert exc.value.column == column
    rendered = exc.value.render().splitlines()
    assert rendered[1] == f"  {text}" and rendered[2] == "  " + " " * column + "^"


def test_suggestions() -> None:
    assert suggest_fields("conn.versoin")[0] == "conn.version"
    assert "tls.record.version" in suggest_fields("tls.version")
    assert "cert.sig_alg" in suggest_fields("sig_alg") or "cert.sig_alg" in suggest_fields(
        "cert.sigalg")  # fmt: skip


def test_every_field_example_compiles() -> None:
    for field in FIELDS:
        compile_filter(field.example)


def test_semantics_on_real_failures() -> None:
    convs = _convs(FAILURES)
    by = {c.id: c for c in convs}

    def sel(text: str) -> set[int]:
        predicate = compile_filter(text)
        return {c.id for c in convs if predicate(Row(c))}

    tls10 = {i for i, c in by.items() if c.tls and c.tls.session.version == 0x0301}
    assert tls10 and sel("conn.version == TLS1.0") == tls10 == sel("conn.version == 0x0301")
    assert sel("conn.version <= tls1.1") == tls10
    established = {i for i, c in by.items() if c.tls and c.tls.session.established}
    assert sel("conn.established") == established
    assert sel("not conn.established") == set(by) - established
    # != is "no value equals": the complement of ==, also for multi-valued fields.
    assert sel("tcp.port != 4401") == set(by) - sel("tcp.port == 4401")
    assert sel("tcp.port in {4401 4402, 4403}") == {0, 1, 2}
    assert sel('conn.cipher contains "CBC"') == sel('conn.cipher matches "_cbc_"') == {12, 13}
    assert sel("ip.addr == 127.0.0.0/8") == set(by) and not sel("ip.addr == 10.0.0.0/8")
    assert sel("(tcp.stream == 1 or tcp.stream == 2) and not tcp.stream == 2") == {1}
    assert sel("tls.alert.description == bad_certificate") == sel(
        "tls.alert.description == 42") == {0, 5}  # fmt: skip
    assert sel('cert.key_bits >= 2048 and cert.sig_alg matches "sha1"') == {0, 17}


def test_tls13_drafts_count_as_tls13() -> None:
    from tlslens.query.kinds import version_rank

    assert version_rank(0x7F17) == 0x0304 > version_rank(0x0303)
    assert version_rank(0xFEFD) == 0x0303  # DTLS 1.2 ranks with TLS 1.2


def _corpus(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} not in the corpus")
    return path


@needs_tshark
@pytest.mark.parametrize(("ours", "theirs"), [
    ("tls.handshake.type == certificate_request", "tls.handshake.type == 13"),
    ("tls.handshake.type == client_hello", "tls.handshake.type == 1"),
    ("tls.alert.description == unknown_ca", "tls.alert_message.desc == 48"),
    ("tls.record.version == TLS1.0", "tls.record.version == 0x0301"),
    ("tls.handshake.ciphersuite == 0x002f", "tls.handshake.ciphersuite == 0x002f"),
    ("tls.handshake.extensions_server_name == \"wrong.example\"",
     "tls.handshake.extensions_server_name == \"wrong.example\""),
    ("tls.handshake.extension.type == 0xff01", "tls.handshake.extension.type == 0xff01"),
    ("tls.handshake.extensions.supported_version == TLS1.3",
     "tls.handshake.extensions.supported_version == 0x0304"),
    ("tcp.port == 4433", "tcp.port == 4433"),
])  # fmt: skip
@pytest.mark.parametrize("capture", ["failures.pcap", "basic.pcap"])
def test_same_connections_as_tshark(ours: str, theirs: str, capture: str) -> None:
    path = CAPTURES / capture
    assert _select(path, ours) == _tshark(path, theirs)


@needs_tshark
@pytest.mark.parametrize("capture", ["failures.pcap", "basic.pcap"])
def test_not_equal_means_no_value_equals(capture: str) -> None:
    # tshark filters frames; over a connection, != is "no record of it has that version".
    path = CAPTURES / capture
    expected = _tshark(path, "tls") - _tshark(path, "tls.record.version == 0x0301")
    assert _select(path, "tls and tls.record.version != TLS1.0") == expected
    expected = _tshark(path, "tls") - _tshark(path, "tls.record.version == 0x0303")
    assert _select(path, "tls and tls.record.version != TLS1.2") == expected


@needs_tshark
def test_same_connections_as_tshark_on_the_corpus() -> None:
    path = _corpus(CLIENT_CERT)
    for ours, theirs in (("tls.handshake.type == certificate_request", "tls.handshake.type == 13"),
                         ("tls.handshake.ciphersuite == 0xc030",
                          "tls.handshake.ciphersuite == 0xc030")):  # fmt: skip
        assert _select(path, ours) == _tshark(path, theirs)
