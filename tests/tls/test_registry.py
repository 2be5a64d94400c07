"""Names for TLS code points: spot checks against the IANA registries, GREASE, unknown
values, cipher suite parsing, and (where ../shared/reference is present) every assigned
registry row."""

from __future__ import annotations

import ast
import csv
import re
from importlib.resources import files
from pathlib import Path

import pytest

from tlslens.tls import registry as r
from tlslens.tls.registry import (
    alert_level_name,
    alert_name,
    cipher_suite_info,
    cipher_suite_name,
    content_type_name,
    extension_name,
    group_name,
    handshake_type_name,
    is_grease,
    signature_scheme_name,
    version_name,
)

REFERENCE = Path(__file__).resolve().parents[2].parent / "shared" / "reference"
needs_reference = pytest.mark.skipif(
    not REFERENCE.is_dir(), reason="../shared/reference not present"
)
GREASE = [0x0A0A + 0x1010 * i for i in range(16)]
DATA_FILES = ["cipher_suites.csv", "groups.csv", "signature_schemes.csv", "alerts.csv"]


# --- GREASE -------------------------------------------------------------------------------


def test_grease_values_are_the_sixteen_of_rfc_8701() -> None:
    assert GREASE[0] == 0x0A0A and GREASE[-1] == 0xFAFA
    assert [v for v in range(0x10000) if is_grease(v)] == GREASE


@pytest.mark.parametrize("value", [0x0A, 0x0A1A, 0x0B0B, 0x1A0A, 0x0A0A0A, -0x0A0A, 0xFFFF])
def test_not_grease(value: int) -> None:
    assert not is_grease(value)


@pytest.mark.parametrize("value", GREASE)
def test_grease_is_named_in_every_16_bit_registry(value: int) -> None:
    expected = f"GREASE(0x{value:04x})"
    for name_of in (
        version_name,
        cipher_suite_name,
        group_name,
        signature_scheme_name,
        extension_name,
    ):
        assert name_of(value) == expected
    assert cipher_suite_info(value) is None


# --- versions -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "name"),
    [
        (0x0002, "SSL 2.0"),
        (0x0300, "SSL 3.0"),
        (0x0301, "TLS 1.0"),
        (0x0302, "TLS 1.1"),
        (0x0303, "TLS 1.2"),
        (0x0304, "TLS 1.3"),
        (0x7F12, "TLS 1.3 (draft 18)"),
        (0x7F1C, "TLS 1.3 (draft 28)"),
        (0xFEFF, "DTLS 1.0"),
        (0xFEFD, "DTLS 1.2"),
        (0xFEFC, "DTLS 1.3"),
        (0x1A1A, "GREASE(0x1a1a)"),
        (0x1234, "unknown(0x1234)"),
        (0x0000, "unknown(0x0000)"),
    ],
)
def test_version_name(value: int, name: str) -> None:
    assert version_name(value) == name


# --- cipher suites ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "name"),
    [
        (0x0000, "TLS_NULL_WITH_NULL_NULL"),
        (0x0004, "TLS_RSA_WITH_RC4_128_MD5"),
        (0x002F, "TLS_RSA_WITH_AES_128_CBC_SHA"),
        (0x1301, "TLS_AES_128_GCM_SHA256"),
        (0x1302, "TLS_AES_256_GCM_SHA384"),
        (0x1303, "TLS_CHACHA20_POLY1305_SHA256"),
        (0xC02F, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
        (0xC030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"),
        (0xCCA8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"),
        (0xCCA9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"),
        (0x00FF, "TLS_EMPTY_RENEGOTIATION_INFO_SCSV"),
        (0x5600, "TLS_FALLBACK_SCSV"),
        (0x010080, "SSL2_RC4_128_WITH_MD5"),
        (0x020080, "SSL2_RC4_128_EXPORT40_WITH_MD5"),
        (0x030080, "SSL2_RC2_128_CBC_WITH_MD5"),
        (0x040080, "SSL2_RC2_128_CBC_EXPORT40_WITH_MD5"),
        (0x050080, "SSL2_IDEA_128_CBC_WITH_MD5"),
        (0x060040, "SSL2_DES_64_CBC_WITH_MD5"),
        (0x0700C0, "SSL2_DES_192_EDE3_CBC_WITH_MD5"),
        # Unassigned (0x00c8-0x00fe), "Reserved to avoid conflicts" (0x0060-0x0066),
        # private use (0xff00-0xffff) and an unknown SSL 2.0 kind.
        (0x00C8, "unknown(0x00c8)"),
        (0x0060, "unknown(0x0060)"),
        (0xFF01, "unknown(0xff01)"),
        (0x080080, "unknown(0x080080)"),
    ],
)
def test_cipher_suite_name(value: int, name: str) -> None:
    assert cipher_suite_name(value) == name


def test_rc4_md5_weaknesses() -> None:
    info = cipher_suite_info(0x0004)
    assert info is not None
    assert (info.key_exchange, info.authentication) == ("RSA", "RSA")
    assert (info.encryption, info.mac) == ("RC4_128", "MD5")
    assert info.recommended is False and not info.tls13
    assert {"RC4", "MD5 MAC", "no forward secrecy"} <= set(info.weaknesses)


def test_ecdhe_rsa_aes_gcm() -> None:
    assert cipher_suite_info(0xC030) == r.CipherSuiteInfo(
        code=0xC030,
        name="TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        key_exchange="ECDHE",
        authentication="RSA",
        encryption="AES_256_GCM",
        mac="AEAD",
        tls13=False,
        recommended=True,
        weaknesses=(),
    )


def test_tls13_suite() -> None:
    info = cipher_suite_info(0x1301)
    assert info is not None
    assert info.tls13 and info.recommended is True and info.weaknesses == ()
    assert (info.key_exchange, info.authentication) == ("any", "any")
    assert (info.encryption, info.mac) == ("AES_128_GCM", "AEAD")


@pytest.mark.parametrize(
    ("value", "kx", "auth", "encryption", "mac", "tls13", "weaknesses"),
    [
        (0x0000, "NULL", "NULL", "NULL", "NULL", False,
         ("NULL encryption", "anonymous (no authentication)")),
        (0x0003, "RSA", "RSA", "RC4_40", "MD5", False,
         ("export grade", "RC4", "MD5 MAC", "no forward secrecy")),
        (0x0009, "RSA", "RSA", "DES_CBC", "SHA", False, ("DES", "no forward secrecy")),
        (0x000A, "RSA", "RSA", "3DES_EDE_CBC", "SHA", False,
         ("3DES (Sweet32)", "no forward secrecy")),
        (0x0016, "DHE", "RSA", "3DES_EDE_CBC", "SHA", False, ("3DES (Sweet32)",)),
        (0x0018, "DH", "anon", "RC4_128", "MD5", False,
         ("RC4", "anonymous (no authentication)", "MD5 MAC", "no forward secrecy")),
        (0x002F, "RSA", "RSA", "AES_128_CBC", "SHA", False, ("no forward secrecy",)),
        (0x0033, "DHE", "RSA", "AES_128_CBC", "SHA", False, ()),
        (0x00AA, "DHE", "PSK", "AES_128_GCM", "AEAD", False, ()),
        (0xC00A, "ECDHE", "ECDSA", "AES_256_CBC", "SHA", False, ()),
        (0xC00E, "ECDH", "RSA", "AES_128_CBC", "SHA", False, ("no forward secrecy",)),
        (0xC010, "ECDHE", "RSA", "NULL", "SHA", False, ("NULL encryption",)),
        (0xC01E, "SRP", "RSA", "AES_128_CBC", "SHA", False, ()),
        (0xC09C, "RSA", "RSA", "AES_128_CCM", "AEAD", False, ("no forward secrecy",)),
        (0xC0AA, "DHE", "PSK", "AES_128_CCM_8", "AEAD", False, ()),  # "TLS_PSK_DHE_..."
        (0xCCA8, "ECDHE", "RSA", "CHACHA20_POLY1305", "AEAD", False, ()),
        (0xD003, "ECDHE", "PSK", "AES_128_CCM_8", "AEAD", False, ()),
        (0x00C6, "any", "any", "SM4_GCM", "AEAD", True, ()),  # RFC 8998: TLS 1.3, not 0x13xx
        (0xC0B4, "any", "any", "NULL", "SHA256", True, ("NULL encryption",)),  # RFC 9150
        (0xC103, "any", "any", "KUZNYECHIK_MGM_L", "AEAD", True, ()),  # RFC 9367
        (0xC100, "GOSTR341112_256", "GOSTR341112_256", "KUZNYECHIK_CTR", "OMAC", False, ()),
        (0x060040, "RSA", "RSA", "DES_64_CBC", "MD5", False,
         ("DES", "MD5 MAC", "no forward secrecy")),
        (0x0700C0, "RSA", "RSA", "DES_192_EDE3_CBC", "MD5", False,
         ("3DES (Sweet32)", "MD5 MAC", "no forward secrecy")),
    ],
)  # fmt: skip
def test_cipher_suite_info(
    value: int,
    kx: str,
    auth: str,
    encryption: str,
    mac: str,
    tls13: bool,
    weaknesses: tuple[str, ...],
) -> None:
    info = cipher_suite_info(value)
    assert info is not None
    assert info.code == value and info.name == cipher_suite_name(value)
    assert (info.key_exchange, info.authentication) == (kx, auth)
    assert (info.encryption, info.mac, info.tls13) == (encryption, mac, tls13)
    assert info.weaknesses == weaknesses


@pytest.mark.parametrize("value", [0x00FF, 0x5600, 0x00C8, 0x0A0A, 0x080080, 0xFF01])
def test_no_info_for_scsv_grease_and_unknown(value: int) -> None:
    assert cipher_suite_info(value) is None


def test_ssl2_kinds_are_not_recommended_or_not() -> None:
    info = cipher_suite_info(0x010080)
    assert info is not None and info.recommended is None


def _known_suites() -> list[int]:
    return [c for c in range(0x10000) if not cipher_suite_name(c).startswith(("unknown(", "G"))]


def test_every_suite_parses_into_known_parts() -> None:
    """Guards the name parser against a new naming pattern: every part must be one we
    expect, and the parts must still be visible in the name."""
    macs = {"AEAD", "SHA", "SHA256", "SHA384", "MD5", "NULL", "OMAC", "IMIT"}
    key_exchanges = {"NULL", "RSA", "DH", "DHE", "ECDH", "ECDHE", "PSK", "KRB5", "SRP"}
    key_exchanges |= {"ECCPWD", "GOSTR341112_256", "any"}
    suites = _known_suites()
    assert len(suites) > 300
    for code in suites:
        name = cipher_suite_name(code)
        info = cipher_suite_info(code)
        if name.endswith("_SCSV"):
            assert info is None
            continue
        assert info is not None, name
        assert info.mac in macs, name
        assert info.key_exchange in key_exchanges, name
        assert info.tls13 == (info.key_exchange == "any"), name
        assert info.recommended is not None, name
        if name not in ("TLS_SHA256_SHA256", "TLS_SHA384_SHA384"):  # RFC 9150: no cipher
            assert info.encryption in name, name
        if info.recommended:
            assert info.weaknesses == (), name


def test_tls13_suites() -> None:
    tls13 = [c for c in _known_suites() if (i := cipher_suite_info(c)) and i.tls13]
    assert [c for c in tls13 if c >> 8 == 0x13] == list(range(0x1301, 0x1308))
    assert {0x00C6, 0x00C7, 0xC0B4, 0xC0B5, 0xC103, 0xC104, 0xC105, 0xC106} <= set(tls13)


# --- groups, signature schemes --------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "name"),
    [
        (23, "secp256r1"),
        (24, "secp384r1"),
        (25, "secp521r1"),
        (29, "x25519"),
        (30, "x448"),
        (256, "ffdhe2048"),
        (260, "ffdhe8192"),
        (4588, "X25519MLKEM768"),
        (4587, "SecP256r1MLKEM768"),
        (25497, "X25519Kyber768Draft00 (OBSOLETE)"),
        (65281, "arbitrary_explicit_prime_curves"),
        (0, "unknown(0x0000)"),  # "Reserved" in the registry
        (42, "unknown(0x002a)"),
        (0xFE00, "unknown(0xfe00)"),  # private use
    ],
)
def test_group_name(value: int, name: str) -> None:
    assert group_name(value) == name


@pytest.mark.parametrize(
    ("value", "name"),
    [
        (0x0201, "rsa_pkcs1_sha1"),
        (0x0203, "ecdsa_sha1"),
        (0x0401, "rsa_pkcs1_sha256"),
        (0x0403, "ecdsa_secp256r1_sha256"),
        (0x0804, "rsa_pss_rsae_sha256"),
        (0x0807, "ed25519"),
        (0x0809, "rsa_pss_pss_sha256"),
        (0x081A, "ecdsa_brainpoolP256r1tls13_sha256"),
        (0x0905, "mldsa65"),
        # TLS 1.2 pairs the SignatureScheme registry leaves reserved (RFC 5246 7.4.1.4.1).
        (0x0101, "rsa_md5"),
        (0x0102, "dsa_md5"),
        (0x0103, "ecdsa_md5"),
        (0x0202, "dsa_sha1"),
        (0x0301, "rsa_sha224"),
        (0x0303, "ecdsa_sha224"),
        (0x0402, "dsa_sha256"),
        (0x0602, "dsa_sha512"),
        (0x0840, "gostr34102012_256"),  # RFC 9189
        (0x0841, "gostr34102012_512"),
        (0x0000, "unknown(0x0000)"),
        (0x0104, "unknown(0x0104)"),
        (0x0801, "unknown(0x0801)"),
        (0xFE00, "unknown(0xfe00)"),
    ],
)
def test_signature_scheme_name(value: int, name: str) -> None:
    assert signature_scheme_name(value) == name


# --- small registries -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "name"),
    [
        (0, "close_notify"),
        (10, "unexpected_message"),
        (20, "bad_record_mac"),
        (21, "decryption_failed_RESERVED"),
        (40, "handshake_failure"),
        (42, "bad_certificate"),
        (48, "unknown_ca"),
        (70, "protocol_version"),
        (86, "inappropriate_fallback"),
        (112, "unrecognized_name"),
        (116, "certificate_required"),
        (120, "no_application_protocol"),
        (121, "ech_required"),
        (1, "unknown(1)"),
        (255, "unknown(255)"),
    ],
)
def test_alert_name(value: int, name: str) -> None:
    assert alert_name(value) == name


def test_alert_level_name() -> None:
    assert [alert_level_name(v) for v in (1, 2, 3)] == ["warning", "fatal", "unknown(3)"]


@pytest.mark.parametrize(
    ("value", "name"),
    [
        (0, "hello_request"),
        (1, "client_hello"),
        (2, "server_hello"),
        (4, "new_session_ticket"),
        (5, "end_of_early_data"),
        (8, "encrypted_extensions"),
        (11, "certificate"),
        (12, "server_key_exchange"),
        (15, "certificate_verify"),
        (16, "client_key_exchange"),
        (20, "finished"),
        (22, "certificate_status"),
        (24, "key_update"),
        (25, "compressed_certificate"),
        (254, "message_hash"),
        (7, "unknown(7)"),
        (255, "unknown(255)"),
    ],
)
def test_handshake_type_name(value: int, name: str) -> None:
    assert handshake_type_name(value) == name


def test_content_type_name() -> None:
    names = [content_type_name(v) for v in range(19, 28)]
    assert names == [
        "unknown(19)",
        "change_cipher_spec",
        "alert",
        "handshake",
        "application_data",
        "heartbeat",
        "tls12_cid",
        "ack",
        "unknown(27)",
    ]


@pytest.mark.parametrize(
    ("value", "name"),
    [
        (0, "server_name"),
        (5, "status_request"),
        (10, "supported_groups"),
        (11, "ec_point_formats"),
        (13, "signature_algorithms"),
        (16, "application_layer_protocol_negotiation"),
        (21, "padding"),
        (23, "extended_master_secret"),
        (27, "compress_certificate"),
        (35, "session_ticket"),
        (41, "pre_shared_key"),
        (43, "supported_versions"),
        (45, "psk_key_exchange_modes"),
        (51, "key_share"),
        (57, "quic_transport_parameters"),
        (17513, "application_settings"),
        (65037, "encrypted_client_hello"),
        (65281, "renegotiation_info"),
        (40, "unknown(0x0028)"),  # "Reserved" (key_share of early TLS 1.3 drafts)
        (0x1234, "unknown(0x1234)"),
    ],
)
def test_extension_name(value: int, name: str) -> None:
    assert extension_name(value) == name


def test_extension_types_cover_the_registry_start() -> None:
    missing = [v for v in range(63) if v not in r.EXTENSION_TYPES]
    assert missing == [40, 46]  # the two "Reserved" rows


def test_small_registries() -> None:
    assert r.PSK_KEY_EXCHANGE_MODES == {0: "psk_ke", 1: "psk_dhe_ke"}
    assert r.EC_POINT_FORMATS[0] == "uncompressed"
    assert r.COMPRESSION_METHODS[1] == "DEFLATE"
    assert r.CLIENT_CERTIFICATE_TYPES[64] == "ecdsa_sign"
    assert r.CERTIFICATE_TYPES[2] == "RawPublicKey"
    assert r.HEARTBEAT_MODES[1] == "peer_allowed_to_send"


# --- the data files -----------------------------------------------------------------------


def _data_rows(name: str) -> list[dict[str, str]]:
    text = (files("tlslens.tls") / "data" / name).read_text(encoding="utf-8")
    return list(csv.DictReader(ln for ln in text.splitlines() if not ln.startswith("#")))


@pytest.mark.parametrize("name", DATA_FILES)
def test_data_files_are_packaged_with_source_and_unique_values(name: str) -> None:
    path = files("tlslens.tls") / "data" / name
    assert path.is_file()
    assert path.read_text(encoding="utf-8").startswith("# ")  # the header names the source
    rows = _data_rows(name)
    values = [int(row["value"], 0) for row in rows]
    assert len(values) == len(set(values)) > 30
    assert all(row["reference"] for row in rows)
    for row in rows:
        assert not row["name"].startswith(("Reserved", "Unassigned")), row


def test_registry_imports_nothing_from_tlslens() -> None:
    # The source beside the module, which may be loaded compiled (tlslens.compiled).
    source = Path(r.__file__).parent / "registry.py"
    tree = ast.parse(source.read_text(encoding="utf-8"))
    imported = [
        node.module or "" if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    ]
    assert imported and not [m for m in imported if m.startswith("tlslens")]


# --- every assigned row of the reference registries -------------------------------------


def _reference(name: str) -> list[dict[str, str]]:
    with (REFERENCE / name).open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _assigned(description: str) -> bool:
    return not description.startswith(("Unassigned", "Reserved"))


@needs_reference
def test_every_assigned_iana_cipher_suite_has_its_description_as_name() -> None:
    checked = 0
    for row in _reference("iana/tls-cipher-suites.csv"):
        m = re.fullmatch(r"0x([0-9A-F]{2}),0x([0-9A-F]{2})", row["Value"], re.I)
        if m is None or not _assigned(row["Description"]):
            continue  # a range ("0x00,0x1C-1D", "0x01-09,*") or a reserved value
        code = int(m[1] + m[2], 16)
        assert cipher_suite_name(code) == row["Description"]
        info = cipher_suite_info(code)
        if info is not None:
            expected = {"Y": True, "N": False, "D": False}.get(row["Recommended"])
            assert info.recommended is expected
        checked += 1
    assert checked == len(_data_rows("cipher_suites.csv")) > 340


@needs_reference
def test_every_assigned_iana_group_has_its_description_as_name() -> None:
    checked = 0
    for row in _reference("iana/tls-supported-groups.csv"):
        if row["Value"].isdigit() and _assigned(row["Description"]):
            assert group_name(int(row["Value"])) == row["Description"]
            checked += 1
    assert checked == len(_data_rows("groups.csv")) > 50


@needs_reference
def test_every_assigned_iana_signature_scheme_has_its_description_as_name() -> None:
    checked = 0
    for row in _reference("iana/tls-signature-schemes.csv"):
        if re.fullmatch(r"0x[0-9A-F]{4}", row["Value"], re.I) and _assigned(row["Description"]):
            assert signature_scheme_name(int(row["Value"], 16)) == row["Description"]
            checked += 1
    assert checked == len(_data_rows("signature_schemes.csv")) > 30


@needs_reference
def test_every_reference_alert_has_its_name() -> None:
    rows = _reference("tls_alerts.csv")
    assert len(rows) == len(_data_rows("alerts.csv"))
    for row in rows:
        assert alert_name(int(row["code"])) == row["name"]


def test_named_lists_are_remembered_within_bounds() -> None:
    short = (0x1301, 0x1302)
    assert r.names_of(r.cipher_suite_name, short) == ("TLS_AES_128_GCM_SHA256",
                                                      "TLS_AES_256_GCM_SHA384")  # fmt: skip
    assert (r.cipher_suite_name, short) in r._NAMED_LISTS
    # A hostile hello's long list is named, not kept.
    long_list = tuple(range(0xFE00, 0xFE00 + r.NAMED_LIST_LENGTH_KEPT + 1))
    names = r.names_of(r.cipher_suite_name, long_list)
    assert names == tuple(r.cipher_suite_name(v) for v in long_list)
    assert (r.cipher_suite_name, long_list) not in r._NAMED_LISTS
    for i in range(r.NAMED_LISTS_KEPT + 5):
        r.names_of(r.group_name, (i,))
    assert len(r._NAMED_LISTS) <= r.NAMED_LISTS_KEPT
