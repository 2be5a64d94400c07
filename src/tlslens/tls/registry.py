"""Names for TLS code points, for display only: everything else stores the raw ints.

The large registries (cipher suites, supported groups, signature schemes, alerts) are CSV
files in `tls/data/`, copied from IANA's registries; each file's header names its source
and each row keeps IANA's reference column. The small registries are dicts below, each with
the RFC section or registry it comes from. A value that no table names comes out as
`GREASE(0x1a1a)` when RFC 8701 reserves it and as `unknown(0x1234)` otherwise (16-bit and
24-bit code points in hex, 8-bit ones in decimal: `unknown(255)`).

All functions are pure; each data file is read once, on first use.
This module imports nothing from tlslens (it sits below every other part of `tls/`).

It is compiled (`tlslens.compiled`): each connection's record names a dozen code points and
lists, and as interpreted calls they cost about 1,500 instructions each. Its caches are
plain dicts, as compiled code calls a `functools.cache` wrapper like any Python object.
"""

from __future__ import annotations

import csv
import pkgutil
from collections.abc import Callable, Mapping
from typing import Final, NamedTuple

__all__ = [
    "ALERT_LEVELS",
    "CERTIFICATE_TYPES",
    "CLIENT_CERTIFICATE_TYPES",
    "COMPRESSION_METHODS",
    "CONTENT_TYPES",
    "EC_POINT_FORMATS",
    "EXTENSION_TYPES",
    "HANDSHAKE_TYPES",
    "HEARTBEAT_MESSAGE_TYPES",
    "HEARTBEAT_MODES",
    "PSK_KEY_EXCHANGE_MODES",
    "SSL2_CIPHER_SPECS",
    "VERSIONS",
    "CipherSuiteInfo",
    "alert_level_name",
    "alert_name",
    "cipher_suite_info",
    "cipher_suite_name",
    "content_type_name",
    "extension_name",
    "group_name",
    "handshake_type_name",
    "is_grease",
    "names_of",
    "signature_scheme_name",
    "version_name",
]

# ProtocolVersion values: RFC 6101 (SSL 3.0), RFC 2246/4346/5246/8446 appendix A/B,
# RFC 6347 4.1 and RFC 9147 5.3 (DTLS, which counts down from 0xfeff). SSL 2.0 puts 0x0002
# in its CLIENT-HELLO (SSL 2.0 specification, Hickman 1995). A dict, where the other tables
# are Mappings: compiled, `get` on a dict is a direct call, on a Mapping a generic method
# call of about 500 instructions, and versions are named a few times per connection.
VERSIONS: Final[dict[int, str]] = {
    0x0002: "SSL 2.0", 0x0300: "SSL 3.0", 0x0301: "TLS 1.0", 0x0302: "TLS 1.1",
    0x0303: "TLS 1.2", 0x0304: "TLS 1.3",
    0xFEFF: "DTLS 1.0", 0xFEFD: "DTLS 1.2", 0xFEFC: "DTLS 1.3",
}  # fmt: skip

# ContentType: RFC 8446 5.1 and B.1, RFC 6520 3 (heartbeat), RFC 9146 (tls12_cid),
# RFC 9147 4 (ack, DTLS 1.3).
CONTENT_TYPES: Final[Mapping[int, str]] = {
    20: "change_cipher_spec", 21: "alert", 22: "handshake", 23: "application_data",
    24: "heartbeat", 25: "tls12_cid", 26: "ack",
}  # fmt: skip

# HandshakeType: RFC 8446 4 and B.3, RFC 5246 7.4, IANA TLS HandshakeType registry.
# 3 hello_verify_request: RFC 6347 4.2.1; 9/10: RFC 9147 7; 17: RFC 9261 (exported
# authenticators); 21/22: RFC 6066 5 and 8; 23: RFC 4680; 25: RFC 8879 4; 26: RFC 8870.
# 6 was the draft TLS 1.3 HelloRetryRequest; RFC 8446 sends a ServerHello instead.
HANDSHAKE_TYPES: Final[Mapping[int, str]] = {
    0: "hello_request", 1: "client_hello", 2: "server_hello", 3: "hello_verify_request",
    4: "new_session_ticket", 5: "end_of_early_data", 6: "hello_retry_request_RESERVED",
    8: "encrypted_extensions", 9: "request_connection_id", 10: "new_connection_id",
    11: "certificate", 12: "server_key_exchange", 13: "certificate_request",
    14: "server_hello_done", 15: "certificate_verify", 16: "client_key_exchange",
    17: "client_certificate_request", 20: "finished", 21: "certificate_url",
    22: "certificate_status", 23: "supplemental_data", 24: "key_update",
    25: "compressed_certificate", 26: "ekt_key", 254: "message_hash",
}  # fmt: skip

# IANA TLS ExtensionType Values (tls-extensiontype-values-1). Defining documents, by value:
# 0-5 RFC 6066; 6 RFC 4681; 7-8 RFC 5878; 9 RFC 6091; 10-11 RFC 8422 and 7919; 12 RFC 5054;
# 13 RFC 8446 4.2.3; 14 RFC 5764; 15 RFC 6520; 16 RFC 7301; 17 RFC 6961; 18 RFC 6962;
# 19-20 RFC 7250; 21 RFC 7685; 22 RFC 7366; 23 RFC 7627 (renamed extended_main_secret by
# the RFC 8446 revision; we keep the name tshark and OpenSSL print); 24 RFC 8472;
# 25 RFC 7924; 26 draft-gutmann-tls-lts; 27 RFC 8879; 28 RFC 8449; 29-31 RFC 8492;
# 32 RFC 8672; 33 RFC 8773; 34 RFC 9345; 35 RFC 5077 and 8447; 36-38 ETSI TS 103 523-2;
# 39 RFC 8870; 41-45 and 47-51 RFC 8446 4.2; 52 RFC 9162; 53-54 RFC 9146; 55-56 RFC 8844;
# 57 RFC 9001; 58 RFC 9149; 59 RFC 9102; 60 draft-pismenny-tls-dtls-plaintext-sequence-number;
# 61 draft-ietf-tls-dtls-rrc; 62 draft-ietf-tls-tlsflags; 64768 and 65037 draft-ietf-tls-esni
# (ECH); 65281 RFC 5746. 40 and 46 are "Reserved" in the registry (40 was key_share in early
# TLS 1.3 drafts) and stay unnamed.
# Code points outside the registry that real clients send: 13172 draft-agl-tls-nextprotoneg
# (NPN); 17513 and 17613 draft-vvv-tls-alps (Chrome's first and second ALPS code points);
# 30032 Chrome's Channel ID; 65445 quic_transport_parameters of the QUIC drafts;
# 65486 draft-ietf-tls-esni's encrypted_server_name (before ECH).
EXTENSION_TYPES: Final[Mapping[int, str]] = {
    0: "server_name", 1: "max_fragment_length", 2: "client_certificate_url",
    3: "trusted_ca_keys", 4: "truncated_hmac", 5: "status_request", 6: "user_mapping",
    7: "client_authz", 8: "server_authz", 9: "cert_type", 10: "supported_groups",
    11: "ec_point_formats", 12: "srp", 13: "signature_algorithms", 14: "use_srtp",
    15: "heartbeat", 16: "application_layer_protocol_negotiation",
    17: "status_request_v2", 18: "signed_certificate_timestamp",
    19: "client_certificate_type", 20: "server_certificate_type", 21: "padding",
    22: "encrypt_then_mac", 23: "extended_master_secret", 24: "token_binding",
    25: "cached_info", 26: "tls_lts", 27: "compress_certificate", 28: "record_size_limit",
    29: "pwd_protect", 30: "pwd_clear", 31: "password_salt", 32: "ticket_pinning",
    33: "tls_cert_with_extern_psk", 34: "delegated_credential", 35: "session_ticket",
    36: "TLMSP", 37: "TLMSP_proxying", 38: "TLMSP_delegate", 39: "supported_ekt_ciphers",
    41: "pre_shared_key", 42: "early_data", 43: "supported_versions", 44: "cookie",
    45: "psk_key_exchange_modes", 47: "certificate_authorities", 48: "oid_filters",
    49: "post_handshake_auth", 50: "signature_algorithms_cert", 51: "key_share",
    52: "transparency_info", 53: "connection_id (deprecated)", 54: "connection_id",
    55: "external_id_hash", 56: "external_session_id", 57: "quic_transport_parameters",
    58: "ticket_request", 59: "dnssec_chain", 60: "sequence_number_encryption_algorithms",
    61: "rrc", 62: "tls_flags",
    13172: "next_protocol_negotiation", 17513: "application_settings",
    17613: "application_settings (new code point)", 30032: "channel_id",
    64768: "ech_outer_extensions", 65037: "encrypted_client_hello",
    65281: "renegotiation_info", 65445: "quic_transport_parameters (draft)",
    65486: "encrypted_server_name",
}  # fmt: skip

# AlertLevel: RFC 5246 7.2 (RFC 8446 6 keeps it only for compatibility).
ALERT_LEVELS: Final[Mapping[int, str]] = {1: "warning", 2: "fatal"}

# PskKeyExchangeMode: RFC 8446 4.2.9.
PSK_KEY_EXCHANGE_MODES: Final[Mapping[int, str]] = {0: "psk_ke", 1: "psk_dhe_ke"}

# ECPointFormat: RFC 8422 5.1.2 (IANA TLS EC Point Formats).
EC_POINT_FORMATS: Final[Mapping[int, str]] = {
    0: "uncompressed", 1: "ansiX962_compressed_prime", 2: "ansiX962_compressed_char2",
}  # fmt: skip

# CompressionMethod: RFC 5246 7.4.1.2 (null), RFC 3749 2 (DEFLATE), RFC 3943 (LZS).
COMPRESSION_METHODS: Final[Mapping[int, str]] = {0: "null", 1: "DEFLATE", 64: "LZS"}

# ClientCertificateType in CertificateRequest: RFC 5246 7.4.4, RFC 8422 5.5 (64-66),
# RFC 9189 (67-68); IANA TLS ClientCertificateType Identifiers spells 5, 6 and 20 with
# _RESERVED.
CLIENT_CERTIFICATE_TYPES: Final[Mapping[int, str]] = {
    1: "rsa_sign", 2: "dss_sign", 3: "rsa_fixed_dh", 4: "dss_fixed_dh",
    5: "rsa_ephemeral_dh_RESERVED", 6: "dss_ephemeral_dh_RESERVED",
    20: "fortezza_dms_RESERVED", 64: "ecdsa_sign", 65: "rsa_fixed_ecdh",
    66: "ecdsa_fixed_ecdh", 67: "gost_sign256", 68: "gost_sign512",
}  # fmt: skip

# CertificateType in client_certificate_type/server_certificate_type: RFC 7250 3 and
# RFC 8446 4.4.2 (IANA TLS Certificate Types); 3 is RFC 8902.
CERTIFICATE_TYPES: Final[Mapping[int, str]] = {
    0: "X509", 1: "OpenPGP", 2: "RawPublicKey", 3: "1609Dot2",
}  # fmt: skip

# HeartbeatMode (the extension) and HeartbeatMessageType: RFC 6520 2 and 3.
HEARTBEAT_MODES: Final[Mapping[int, str]] = {
    1: "peer_allowed_to_send", 2: "peer_not_allowed_to_send",
}  # fmt: skip
HEARTBEAT_MESSAGE_TYPES: Final[Mapping[int, str]] = {
    1: "heartbeat_request", 2: "heartbeat_response",
}  # fmt: skip

# SSL 2.0 CIPHER-KIND values (3 bytes), from the SSL 2.0 specification's protocol
# constants (Hickman, 1995), named the way tshark names them. RFC 6101 E carries TLS
# suites in the same 3-byte field as 0x00 followed by the 2-byte suite.
SSL2_CIPHER_SPECS: Final[Mapping[int, str]] = {
    0x010080: "SSL2_RC4_128_WITH_MD5",
    0x020080: "SSL2_RC4_128_EXPORT40_WITH_MD5",
    0x030080: "SSL2_RC2_128_CBC_WITH_MD5",
    0x040080: "SSL2_RC2_128_CBC_EXPORT40_WITH_MD5",
    0x050080: "SSL2_IDEA_128_CBC_WITH_MD5",
    0x060040: "SSL2_DES_64_CBC_WITH_MD5",
    0x0700C0: "SSL2_DES_192_EDE3_CBC_WITH_MD5",
}

# TLS 1.2 SignatureAndHashAlgorithm halves, RFC 5246 7.4.1.4.1, for the pairs that the
# SignatureScheme registry leaves "Reserved for backward compatibility". 0 (none and
# anonymous) must not appear in signature_algorithms, so it stays unnamed.
_HASH_ALGORITHMS: Final[Mapping[int, str]] = {
    1: "md5", 2: "sha1", 3: "sha224", 4: "sha256", 5: "sha384", 6: "sha512",
}  # fmt: skip
_SIGNATURE_ALGORITHMS: Final[Mapping[int, str]] = {1: "rsa", 2: "dsa", 3: "ecdsa"}
# RFC 9189 (GOST for TLS 1.2): hash 8 "Intrinsic" (RFC 8422 5.1.3) with the GOST
# SignatureAlgorithm values 64 and 65, also "Reserved for backward compatibility" in the
# SignatureScheme registry.
_TLS12_GOST_SCHEMES: Final[Mapping[int, str]] = {
    0x0840: "gostr34102012_256", 0x0841: "gostr34102012_512",
}  # fmt: skip

_CIPHER_SUITES: Final = "cipher_suites.csv"
_GROUPS: Final = "groups.csv"
_SIGNATURE_SCHEMES: Final = "signature_schemes.csv"
_ALERTS: Final = "alerts.csv"


#: The data files read so far: file name -> `_table`.
_TABLES: Final[dict[str, dict[int, tuple[str, str]]]] = {}


def _table(file: str) -> dict[int, tuple[str, str]]:
    """value -> (name, IANA "Recommended" flag or "") from one CSV file in tls/data.

    Lines starting with "#" are the file's header comment (its source), not data.
    """
    table = _TABLES.get(file)
    if table is None:
        # pkgutil, not importlib.resources: the latter imports tempfile, shutil, bz2 and lzma
        # (a few milliseconds of every run's start-up) for what is one read of a file.
        data = pkgutil.get_data("tlslens.tls", "data/" + file)
        assert data is not None, "the tlslens.tls package has a loader that reads files"
        text = data.decode("utf-8")
        lines = [line for line in text.splitlines() if line and not line.startswith("#")]
        # csv.reader with the header's positions, not DictReader: a dict per row made the
        # cipher suites' table cost 0.5 ms, paid again by each process of a split run.
        rows = csv.reader(lines)
        header = next(rows)
        value, name = header.index("value"), header.index("name")
        flag = header.index("recommended") if "recommended" in header else len(header)
        table = _TABLES[file] = {
            int(row[value], 0): (row[name], row[flag] if flag < len(row) else "") for row in rows
        }
    return table


def is_grease(value: int) -> bool:
    """True for the 16 GREASE values of RFC 8701 2 (0x0a0a, 0x1a1a, ... 0xfafa).

    They are reserved in every 16-bit registry (cipher suites, extensions, groups,
    signature algorithms, versions) so that peers learn to ignore values they do not know.
    """
    return 0 <= value <= 0xFFFF and value & 0x0F0F == 0x0A0A and value >> 8 == value & 0xFF


def _unknown16(value: int) -> str:
    if is_grease(value):
        return f"GREASE(0x{value:04x})"
    return f"unknown(0x{value:04x})"


def _unknown8(value: int) -> str:
    return f"unknown({value})"


def version_name(v: int) -> str:
    """Display name of a ProtocolVersion: TLS 1.2, DTLS 1.0, TLS 1.3 (draft 23)..."""
    name = VERSIONS.get(v)
    if name is not None:
        return name
    if 0x7F00 <= v <= 0x7FFF:
        # The draft-ietf-tls-tls13 drafts (before RFC 8446) announced 0x7f00 + the draft
        # number in supported_versions.
        return f"TLS 1.3 (draft {v & 0xFF})"
    return _unknown16(v)


def cipher_suite_name(c: int) -> str:
    """IANA name, or the SSL 2.0 CIPHER-KIND name for 3-byte values (> 0xffff)."""
    if c > 0xFFFF:
        return SSL2_CIPHER_SPECS.get(c) or f"unknown(0x{c:06x})"
    row = _table(_CIPHER_SUITES).get(c)
    return row[0] if row else _unknown16(c)


def group_name(g: int) -> str:
    """IANA Supported Groups name: "x25519", "secp256r1", "X25519MLKEM768", "ffdhe2048"."""
    row = _table(_GROUPS).get(g)
    return row[0] if row else _unknown16(g)


def signature_scheme_name(s: int) -> str:
    """IANA SignatureScheme name, else a TLS 1.2 "<signature>_<hash>" pair name."""
    row = _table(_SIGNATURE_SCHEMES).get(s)
    if row:
        return row[0]
    hash_name = _HASH_ALGORITHMS.get(s >> 8)
    signature = _SIGNATURE_ALGORITHMS.get(s & 0xFF)
    if hash_name is not None and signature is not None:
        return f"{signature}_{hash_name}"
    return _TLS12_GOST_SCHEMES.get(s) or _unknown16(s)


def extension_name(e: int) -> str:
    return EXTENSION_TYPES.get(e) or _unknown16(e)


def alert_name(a: int) -> str:
    """AlertDescription name as RFC 8446 B.2 spells it ("decryption_failed_RESERVED")."""
    row = _table(_ALERTS).get(a)
    return row[0] if row else _unknown8(a)


def alert_level_name(level: int) -> str:
    return ALERT_LEVELS.get(level) or _unknown8(level)


def handshake_type_name(t: int) -> str:
    return HANDSHAKE_TYPES.get(t) or _unknown8(t)


#: Distinct lists named at once and kept. A capture holds few distinct ClientHellos (one per
#: client build), so naming whole lists once pays off; the bounds keep a hostile capture of
#: ever-different lists from growing memory: only lists of at most NAMED_LIST_LENGTH_KEPT
#: codes are kept (a list may hold 32,767, each with a name of its own: 2 MB).
NAMED_LISTS_KEPT: Final = 256
NAMED_LIST_LENGTH_KEPT: Final = 128


#: (naming function, list) -> names, the oldest first.
_NAMED_LISTS: Final[dict[tuple[Callable[[int], str], tuple[int, ...]], tuple[str, ...]]] = {}


def names_of(name: Callable[[int], str], values: tuple[int, ...]) -> tuple[str, ...]:
    """`name` (one of the functions above) of every code point of a list, remembered per
    list."""
    key = (name, values)
    names = _NAMED_LISTS.get(key)
    if names is None:
        names = tuple([name(v) for v in values])
        if len(values) <= NAMED_LIST_LENGTH_KEPT:
            if len(_NAMED_LISTS) >= NAMED_LISTS_KEPT:
                del _NAMED_LISTS[next(iter(_NAMED_LISTS))]
            _NAMED_LISTS[key] = names
    return names


#: The message names as the RFCs' prose and Message Analyzer write them (ClientHello), for
#: summaries; `handshake_type_name` gives the registry's (client_hello).
HANDSHAKE_TITLES: Final[Mapping[int, str]] = {
    0: "HelloRequest", 1: "ClientHello", 2: "ServerHello", 3: "HelloVerifyRequest",
    4: "NewSessionTicket", 5: "EndOfEarlyData", 8: "EncryptedExtensions", 11: "Certificate",
    12: "ServerKeyExchange", 13: "CertificateRequest", 14: "ServerHelloDone",
    15: "CertificateVerify", 16: "ClientKeyExchange", 20: "Finished", 21: "CertificateURL",
    22: "CertificateStatus", 23: "SupplementalData", 24: "KeyUpdate",
    25: "CompressedCertificate", 254: "MessageHash",
}  # fmt: skip


def handshake_title(t: int) -> str:
    """ClientHello, ServerHelloDone, ...; the registry name for types without a title."""
    return HANDSHAKE_TITLES.get(t) or handshake_type_name(t)


def content_type_name(t: int) -> str:
    return CONTENT_TYPES.get(t) or _unknown8(t)


class CipherSuiteInfo(NamedTuple):
    """The parts of a cipher suite, read from its name.

    TLS 1.3 suites fix only the AEAD and the hash (RFC 8446 B.4); their key exchange and
    authentication are negotiated apart (key_share, psk_key_exchange_modes,
    signature_algorithms), so both read "any". `mac` is "AEAD" for AEAD ciphers (the hash in
    their name is the PRF or HKDF hash), else the HMAC hash as the name spells it ("SHA" is
    SHA-1). (A NamedTuple, not a frozen dataclass, for start-up time: see
    `tlslens.limits.Limits`.)
    """

    code: int
    name: str
    key_exchange: str
    authentication: str
    encryption: str
    mac: str
    tls13: bool
    #: IANA's "Recommended" column: True for Y, False for N or D (discouraged), None where
    #: the registry has no value (SSL 2.0 kinds are not in it).
    recommended: bool | None
    weaknesses: tuple[str, ...]


# The part of a TLS 1.0-1.2 name before _WITH_ -> (key exchange, authentication), where
# the name does not split as <key exchange>_<authentication>. RFC 5246 7.4.2 and A.5,
# RFC 4279 2-4 (PSK), RFC 5054 2.1 (SRP), RFC 8492 (ECCPWD), RFC 9189 (GOST).
_KX_AUTH_SPECIAL: Final[Mapping[str, tuple[str, str]]] = {
    "NULL": ("NULL", "NULL"),
    "RSA": ("RSA", "RSA"),
    "PSK": ("PSK", "PSK"),
    "KRB5": ("KRB5", "KRB5"),
    # RFC 4279 4: RSA-encrypted premaster secret plus the PSK; the server also shows an
    # RSA certificate, but the PSK is what authenticates both sides.
    "RSA_PSK": ("RSA", "PSK"),
    # RFC 6655 registered 0xC0AA/0xC0AB as TLS_PSK_DHE_...: the DHE_PSK key exchange.
    "PSK_DHE": ("DHE", "PSK"),
    "SRP_SHA": ("SRP", "SRP"),
    "SRP_SHA_RSA": ("SRP", "RSA"),
    "SRP_SHA_DSS": ("SRP", "DSS"),
    "ECCPWD": ("ECCPWD", "ECCPWD"),
    "GOSTR341112_256": ("GOSTR341112_256", "GOSTR341112_256"),
}

# RFC 9367 3: the TLS 1.3 GOST suites keep _WITH_ in their names.
_TLS13_WITH_NAMES: Final = frozenset({0xC103, 0xC104, 0xC105, 0xC106})

# Key exchanges whose premaster secret does not come from ephemeral keys, so a stolen
# long-term key (or PSK) decrypts recorded traffic: RFC 7525 4.1 / RFC 9325 4.1.
_STATIC_KEY_EXCHANGES: Final = frozenset({"RSA", "DH", "ECDH", "PSK", "KRB5"})

_AEAD_SUFFIXES: Final = ("_GCM", "_CCM", "_CCM_8", "_POLY1305", "_MGM_L", "_MGM_S")


def _split_cipher(cipher: str, tls13: bool) -> tuple[str, str]:
    """ "AES_128_CBC_SHA" -> ("AES_128_CBC", "SHA"); AEAD ciphers -> (cipher, "AEAD")."""
    if cipher.endswith(_AEAD_SUFFIXES):
        # RFC 6655 CCM suites and RFC 9367 GOST suites name no hash at all.
        return cipher, "AEAD"
    encryption, _, last = cipher.rpartition("_")
    if encryption.endswith(_AEAD_SUFFIXES) or encryption.startswith("AEGIS"):
        return encryption, "AEAD"
    if tls13 and encryption in ("SHA256", "SHA384"):
        # RFC 9150: TLS_SHA256_SHA256 and TLS_SHA384_SHA384 authenticate with HMAC and
        # do not encrypt at all.
        return "NULL", last
    return encryption, last


def _weaknesses(
    name: str, kx: str, auth: str, encryption: str, mac: str, tls13: bool
) -> tuple[str, ...]:
    found = []
    if encryption == "NULL":
        found.append("NULL encryption")
    # RFC 2246 A.5 and the SSL 2.0 EXPORT40 kinds: 40-bit (or 56-bit) secret keys.
    if "EXPORT" in name.split("_") or "EXPORT40" in encryption:
        found.append("export grade")
    if encryption.startswith("RC4"):  # RFC 7465 forbids RC4.
        found.append("RC4")
    if encryption.startswith("RC2"):
        found.append("RC2")
    if encryption.startswith("3DES") or "EDE3" in encryption:
        found.append("3DES (Sweet32)")  # 64-bit block: RFC 9325 4.2, Sweet32 (CVE-2016-2183).
    elif encryption.startswith("DES"):  # RFC 5469 retired DES (and IDEA).
        found.append("DES")
    if encryption.startswith("IDEA"):
        found.append("IDEA (Sweet32)")
    if auth in ("anon", "NULL"):
        found.append("anonymous (no authentication)")
    if mac == "MD5":
        found.append("MD5 MAC")
    if not tls13 and kx in _STATIC_KEY_EXCHANGES:
        found.append("no forward secrecy")
    return tuple(found)


def _parse(code: int, name: str, recommended: bool | None) -> CipherSuiteInfo:
    if name.startswith("SSL2_"):
        # SSL 2.0 has one key exchange: the client encrypts the master key to the server's
        # RSA key. Every kind uses an MD5 MAC.
        encryption = name.removeprefix("SSL2_").split("_WITH_")[0]
        kx = auth = "RSA"
        mac, tls13 = "MD5", False
    else:
        body = name.removeprefix("TLS_")
        tls13 = "_WITH_" not in body or code in _TLS13_WITH_NAMES
        if tls13:
            kx = auth = "any"
            cipher = body.split("_WITH_", 1)[-1]
        else:
            kx_auth, cipher = body.split("_WITH_", 1)
            kx_auth = kx_auth.replace("_EXPORT", "")
            special = _KX_AUTH_SPECIAL.get(kx_auth)
            if special is not None:
                kx, auth = special
            else:
                kx, _, auth = kx_auth.partition("_")
        encryption, mac = _split_cipher(cipher, tls13)
    weaknesses = _weaknesses(name, kx, auth, encryption, mac, tls13)
    return CipherSuiteInfo(code, name, kx, auth, encryption, mac, tls13, recommended, weaknesses)


_RECOMMENDED: Final[Mapping[str, bool]] = {"Y": True, "N": False, "D": False}


#: `_infos`, once made.
_INFOS: Final[dict[int, CipherSuiteInfo]] = {}


def _infos() -> dict[int, CipherSuiteInfo]:
    if not _INFOS:
        for code, (name, flag) in _table(_CIPHER_SUITES).items():
            if not name.endswith("_SCSV"):  # RFC 5746 3.3 and RFC 7507: signals, not suites.
                _INFOS[code] = _parse(code, name, _RECOMMENDED.get(flag))
        for code, name in SSL2_CIPHER_SPECS.items():
            _INFOS[code] = _parse(code, name, None)
    return _INFOS


def cipher_suite_info(c: int) -> CipherSuiteInfo | None:
    """Key exchange, authentication, cipher, MAC and weaknesses of a known suite; None for
    unknown values, GREASE and the SCSVs."""
    return _infos().get(c)


def cipher_suite_code(name: str) -> int | None:
    """The code point of a cipher suite given by its IANA name (any case), or None."""
    wanted = name.upper()
    for code, entry in _table("cipher_suites.csv").items():
        if entry[0].upper() == wanted:
            return code
    return None
