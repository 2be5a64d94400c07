"""Handshake message parsers on real messages from the fixtures, and on damaged copies of
them: malformed bodies raise DecodeError (with an offset inside the message), never anything
else; a malformed extension is noted on its message, which is kept."""

from __future__ import annotations

import struct

import pytest
from conftest import CAPTURES
from hypothesis import given, settings
from hypothesis import strategies as st
from recorder import record_capture

from tlslens.tls import messages as m
from tlslens.tls.errors import DecodeError
from tlslens.tls.registry import (
    alert_name,
    cipher_suite_info,
    cipher_suite_name,
    extension_name,
    group_name,
    is_grease,
    signature_scheme_name,
    version_name,
)


def first_handshake(direction: int, conn: int = 0) -> tuple[int, bytes]:
    """(type, body) of the first handshake message a side of a basic.pcap connection sent."""
    recorder = record_capture(str(CAPTURES / "basic.pcap"))
    rec, obj = recorder.conns[conn], recorder.objects[conn]
    side = obj.client_side if direction == 0 else obj.client_side ^ 1
    stream = bytes(rec.data[side])
    assert stream[0] == 22
    msg_type = stream[5]
    (length,) = struct.unpack(">I", b"\0" + stream[6:9])
    return msg_type, stream[9 : 9 + length]


@pytest.fixture(scope="module")
def client_hello_body() -> bytes:
    msg_type, body = first_handshake(0, conn=1)
    assert msg_type == m.CLIENT_HELLO
    return body


def test_real_client_hello(client_hello_body: bytes) -> None:
    hello = m.parse_client_hello(client_hello_body, 9)
    ext = hello.extensions
    assert hello.format == "tls" and hello.legacy_version == 0x0303
    assert ext.server_name == "tlslens.test"
    assert 0x0304 in ext.supported_versions and ext.key_share_groups
    assert 0x1302 in hello.cipher_suites and ext.signature_algorithms
    assert ext.problems == ()


def test_real_server_hello_selects_tls13() -> None:
    msg_type, body = first_handshake(1, conn=1)
    hello = m.parse_server_hello(body, 9)
    assert msg_type == m.SERVER_HELLO and hello.version == 0x0304
    assert not hello.is_hello_retry_request and hello.extensions.key_share_groups


@settings(max_examples=300, deadline=None)
@given(cut=st.integers(min_value=0, max_value=600), noise=st.binary(max_size=8),
       at=st.integers(min_value=0, max_value=600))  # fmt: skip
def test_damaged_client_hello_raises_only_decode_error(
    client_hello_body: bytes, cut: int, noise: bytes, at: int
) -> None:
    body = client_hello_body[:cut] if cut < len(client_hello_body) else client_hello_body
    body = body[:at] + noise + body[at + len(noise) :]
    try:
        hello = m.parse_client_hello(body, 100)
    except DecodeError as exc:
        assert 100 <= exc.offset <= 100 + len(body) and exc.layer == "handshake"
    else:
        assert isinstance(hello, m.ClientHello)


def test_malformed_extension_keeps_the_message(client_hello_body: bytes) -> None:
    hello = m.parse_client_hello(client_hello_body, 0)
    # Make the supported_groups list claim an odd length inside a well-framed extension.
    raw = bytearray(client_hello_body)
    index = raw.find(bytes([0, 10]) + struct.pack(">H", len(hello.extensions.raw[0].data)))
    groups = next(e for e in hello.extensions.raw if e.type == 10)
    index = raw.find(bytes([0, 10]) + struct.pack(">H", len(groups.data)) + groups.data)
    assert index > 0
    raw[index + 4 : index + 6] = struct.pack(">H", len(groups.data) - 1)
    damaged = m.parse_client_hello(bytes(raw), 0)
    assert damaged.extensions.supported_groups == ()
    assert any("extension 10 malformed" in p for p in damaged.extensions.problems)
    assert damaged.extensions.server_name == "tlslens.test"


def test_registry_names_come_from_iana() -> None:
    assert cipher_suite_name(0x1301) == "TLS_AES_128_GCM_SHA256"
    assert cipher_suite_name(0xC030) == "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"
    assert cipher_suite_name(0x010080) == "SSL2_RC4_128_WITH_MD5"
    assert cipher_suite_name(0x2A2A) == "GREASE(0x2a2a)"
    assert cipher_suite_name(0x0AB0) == "unknown(0x0ab0)"
    assert group_name(29) == "x25519" and group_name(4588) == "X25519MLKEM768"
    assert signature_scheme_name(0x0804) == "rsa_pss_rsae_sha256"
    assert signature_scheme_name(0x0201) == "rsa_pkcs1_sha1"
    assert signature_scheme_name(0x0101) == "rsa_md5"  # TLS 1.2 pair, RFC 5246 7.4.1.4.1
    assert version_name(0x0301) == "TLS 1.0" and version_name(0x7F1C) == "TLS 1.3 (draft 28)"
    assert alert_name(48) == "unknown_ca" and alert_name(200) == "unknown(200)"
    assert extension_name(65281) == "renegotiation_info" and extension_name(0xDADA).startswith(
        "GREASE"
    )
    assert all(is_grease(v) for v in range(0x0A0A, 0x10000, 0x1010))
    assert not is_grease(0x0A0B) and not is_grease(0x1301)


def test_cipher_suite_weaknesses() -> None:
    rc4 = cipher_suite_info(0x0004)
    assert rc4 is not None and rc4.key_exchange == "RSA" and rc4.mac == "MD5"
    assert {"MD5 MAC", "RC4", "no forward secrecy"} <= set(rc4.weaknesses)
    modern = cipher_suite_info(0xC02F)
    assert modern is not None and modern.weaknesses == () and modern.mac == "AEAD"
    assert cipher_suite_info(0x1303) is not None and cipher_suite_info(0x1303).tls13  # type: ignore[union-attr]
    assert cipher_suite_info(0x00FF) is None  # a signalling value, not a suite
