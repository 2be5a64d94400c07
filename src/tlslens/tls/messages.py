"""Handshake messages and extensions as immutable records with RFC field names: `Value`s
(quicker to make than frozen dataclasses when compiled, and quicker to define at start-up:
see `tlslens.tls.value`).

Code points are kept as ints (names are looked up only for display, in `registry`), unknown
extensions are kept raw, and a malformed extension body is noted on its message instead of
losing the message. Parsers take the message body and its stream offset and raise
`DecodeError` when the body itself does not parse.

Sources: RFC 8446 4 (TLS 1.3 handshake), RFC 5246 7.4 (TLS 1.2), RFC 6101 5.6 (SSL 3.0),
RFC 6101 appendix E and RFC 5246 E.2 (SSL 2.0 CLIENT-HELLO), RFC 6066 (server_name,
status_request), RFC 7301 (ALPN), RFC 8422 (EC), RFC 5077 (session tickets), RFC 7627
(extended master secret), RFC 7366 (encrypt-then-MAC), RFC 8449 (record_size_limit),
RFC 5746 (renegotiation_info).
This module imports only `tlslens.tls`.
"""

from __future__ import annotations

from typing import ClassVar, Final

from tlslens.tls.errors import DecodeError
from tlslens.tls.value import Value
from tlslens.tls.wire import Reader

# Handshake types (RFC 8446 4, RFC 5246 7.4, RFC 6066 8).
HELLO_REQUEST: Final = 0
CLIENT_HELLO: Final = 1
SERVER_HELLO: Final = 2
HELLO_VERIFY_REQUEST: Final = 3
NEW_SESSION_TICKET: Final = 4
END_OF_EARLY_DATA: Final = 5
ENCRYPTED_EXTENSIONS: Final = 8
CERTIFICATE: Final = 11
SERVER_KEY_EXCHANGE: Final = 12
CERTIFICATE_REQUEST: Final = 13
SERVER_HELLO_DONE: Final = 14
CERTIFICATE_VERIFY: Final = 15
CLIENT_KEY_EXCHANGE: Final = 16
FINISHED: Final = 20
CERTIFICATE_URL: Final = 21
CERTIFICATE_STATUS: Final = 22
SUPPLEMENTAL_DATA: Final = 23
KEY_UPDATE: Final = 24
MESSAGE_HASH: Final = 254

# Extension types used below (IANA TLS ExtensionType Values).
EXT_SERVER_NAME: Final = 0
EXT_STATUS_REQUEST: Final = 5
EXT_SUPPORTED_GROUPS: Final = 10
EXT_EC_POINT_FORMATS: Final = 11
EXT_SIGNATURE_ALGORITHMS: Final = 13
EXT_ALPN: Final = 16
EXT_ENCRYPT_THEN_MAC: Final = 22
EXT_EXTENDED_MASTER_SECRET: Final = 23
EXT_RECORD_SIZE_LIMIT: Final = 28
EXT_SESSION_TICKET: Final = 35
EXT_PRE_SHARED_KEY: Final = 41
EXT_EARLY_DATA: Final = 42
EXT_SUPPORTED_VERSIONS: Final = 43
EXT_PSK_KEY_EXCHANGE_MODES: Final = 45
EXT_SIGNATURE_ALGORITHMS_CERT: Final = 50
EXT_KEY_SHARE: Final = 51
# TLS 1.3 drafts before -23 numbered key_share 40 (draft-ietf-tls-tls13-22, 4.2).
EXT_KEY_SHARE_DRAFT: Final = 40
EXT_RENEGOTIATION_INFO: Final = 65281

# A ServerHello with this random is a HelloRetryRequest: SHA-256("HelloRetryRequest"),
# RFC 8446 4.1.3.
HELLO_RETRY_REQUEST_RANDOM: Final = bytes.fromhex(
    "cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c"
)

LAYER: Final = "handshake"


class Extension(Value):
    """One extension as sent: its type and its body (RFC 8446 4.2)."""

    __match_args__: ClassVar[tuple[str, ...]] = ("type", "data")
    __slots__ = __match_args__

    def __init__(self, type: int, data: bytes) -> None:
        self.type: Final = type
        self.data: Final = data


class Extensions(Value):
    """The extensions of a hello, raw and (for the ones we know) parsed."""

    __match_args__: ClassVar[tuple[str, ...]] = (
        "raw", "server_name", "supported_versions", "supported_groups", "key_share_groups",
        "signature_algorithms", "signature_algorithms_cert", "alpn", "ec_point_formats",
        "psk_key_exchange_modes", "psk_identities", "psk_selected_identity", "session_ticket",
        "early_data", "extended_master_secret", "encrypt_then_mac", "renegotiation_info",
        "status_request", "record_size_limit", "problems",
    )  # fmt: skip
    __slots__ = (*__match_args__, "types")

    def __init__(
        self,
        raw: tuple[Extension, ...] = (),
        server_name: str | None = None,
        supported_versions: tuple[int, ...] = (),
        supported_groups: tuple[int, ...] = (),
        key_share_groups: tuple[int, ...] = (),
        signature_algorithms: tuple[int, ...] = (),
        signature_algorithms_cert: tuple[int, ...] = (),
        alpn: tuple[str, ...] = (),
        ec_point_formats: tuple[int, ...] = (),
        psk_key_exchange_modes: tuple[int, ...] = (),
        psk_identities: int = 0,
        psk_selected_identity: int | None = None,
        session_ticket: bytes | None = None,
        early_data: bool = False,
        extended_master_secret: bool = False,
        encrypt_then_mac: bool = False,
        renegotiation_info: bytes | None = None,
        status_request: bool = False,
        record_size_limit: int | None = None,
        problems: tuple[str, ...] = (),
    ) -> None:
        self.raw: Final = raw
        self.server_name: Final = server_name
        #: ClientHello: versions offered; ServerHello: the one selected (RFC 8446 4.2.1).
        self.supported_versions: Final = supported_versions
        self.supported_groups: Final = supported_groups
        #: ClientHello: groups with a key share; ServerHello: the selected share's group;
        #: HelloRetryRequest: the group the server asks for (RFC 8446 4.2.8).
        self.key_share_groups: Final = key_share_groups
        self.signature_algorithms: Final = signature_algorithms
        self.signature_algorithms_cert: Final = signature_algorithms_cert
        self.alpn: Final = alpn
        self.ec_point_formats: Final = ec_point_formats
        self.psk_key_exchange_modes: Final = psk_key_exchange_modes
        #: ClientHello: number of PSK identities offered (0 if none).
        self.psk_identities: Final = psk_identities
        #: ServerHello: index of the PSK identity the server accepted (RFC 8446 4.2.11).
        self.psk_selected_identity: Final = psk_selected_identity
        #: The session ticket sent (b"" asks for a new one); None when absent (RFC 5077 3.2).
        self.session_ticket: Final = session_ticket
        self.early_data: Final = early_data
        self.extended_master_secret: Final = extended_master_secret
        self.encrypt_then_mac: Final = encrypt_then_mac
        self.renegotiation_info: Final = renegotiation_info
        self.status_request: Final = status_request
        self.record_size_limit: Final = record_size_limit
        #: What could not be parsed, one sentence each (the raw bytes are still in `raw`).
        self.problems: Final = problems
        #: The extension types in the order sent (made once: JA3, JA3S and the record's
        #: extension names all read them). Not a field: it follows from `raw`.
        self.types: Final = tuple([e.type for e in raw])

    def has(self, ext_type: int) -> bool:
        return any(e.type == ext_type for e in self.raw)


#: A hello without extensions (SSL 3.0 style, or SSL 2.0's).
NO_EXTENSIONS: Final = Extensions()


class ClientHello(Value):
    """RFC 8446 4.1.2 / RFC 5246 7.4.1.2, or the SSL 2.0 CLIENT-HELLO (RFC 5246 E.2)."""

    __match_args__: ClassVar[tuple[str, ...]] = (
        "format", "legacy_version", "random", "session_id", "cipher_suites",
        "compression_methods", "extensions",
    )  # fmt: skip
    __slots__ = __match_args__

    def __init__(self, format: str, legacy_version: int, random: bytes, session_id: bytes,
                 cipher_suites: tuple[int, ...], compression_methods: tuple[int, ...],
                 extensions: Extensions = NO_EXTENSIONS) -> None:  # fmt: skip
        #: "tls" for a TLS/SSL 3.0 handshake message, "sslv2" for the SSL 2.0-format hello.
        self.format: Final = format
        self.legacy_version: Final = legacy_version
        self.random: Final = random
        self.session_id: Final = session_id
        #: Cipher suites; SSL 2.0 cipher kinds are kept as their 24-bit values.
        self.cipher_suites: Final = cipher_suites
        self.compression_methods: Final = compression_methods
        self.extensions: Final = extensions

    @property
    def offered_versions(self) -> tuple[int, ...]:
        """supported_versions if present, else the legacy version (RFC 8446 4.2.1)."""
        return self.extensions.supported_versions or (self.legacy_version,)


class ServerHello(Value):
    """RFC 8446 4.1.3 / RFC 5246 7.4.1.3 (also a HelloRetryRequest)."""

    __match_args__: ClassVar[tuple[str, ...]] = (
        "legacy_version", "random", "session_id", "cipher_suite", "compression_method",
        "extensions",
    )  # fmt: skip
    __slots__ = __match_args__

    def __init__(self, legacy_version: int, random: bytes, session_id: bytes, cipher_suite: int,
                 compression_method: int, extensions: Extensions = NO_EXTENSIONS
                 ) -> None:  # fmt: skip
        self.legacy_version: Final = legacy_version
        self.random: Final = random
        self.session_id: Final = session_id
        self.cipher_suite: Final = cipher_suite
        self.compression_method: Final = compression_method
        self.extensions: Final = extensions

    @property
    def is_hello_retry_request(self) -> bool:
        return self.random == HELLO_RETRY_REQUEST_RANDOM

    @property
    def version(self) -> int:
        """The negotiated version: supported_versions wins over legacy_version."""
        selected = self.extensions.supported_versions
        return selected[0] if selected else self.legacy_version


class SSLv2ServerHello(Value):
    __match_args__: ClassVar[tuple[str, ...]] = (
        "session_id_hit", "certificate_type", "version", "certificate", "cipher_specs"
    )  # fmt: skip
    __slots__ = __match_args__

    def __init__(self, session_id_hit: bool, certificate_type: int, version: int,
                 certificate: bytes, cipher_specs: tuple[int, ...]) -> None:  # fmt: skip
        self.session_id_hit: Final = session_id_hit
        self.certificate_type: Final = certificate_type
        self.version: Final = version
        self.certificate: Final = certificate
        self.cipher_specs: Final = cipher_specs


class Certificate(Value):
    __match_args__: ClassVar[tuple[str, ...]] = ("certificates", "request_context")
    __slots__ = __match_args__

    def __init__(self, certificates: tuple[bytes, ...], request_context: bytes = b"") -> None:
        #: DER certificates as sent, leaf first (RFC 5246 7.4.2, RFC 8446 4.4.2).
        self.certificates: Final = certificates
        self.request_context: Final = request_context


class ServerKeyExchange(Value):
    __match_args__: ClassVar[tuple[str, ...]] = (
        "kind", "named_group", "dh_prime_bits", "signature_scheme"
    )  # fmt: skip
    __slots__ = __match_args__

    def __init__(self, kind: str, named_group: int | None = None,
                 dh_prime_bits: int | None = None, signature_scheme: int | None = None
                 ) -> None:  # fmt: skip
        #: "ecdhe", "dhe", "rsa" (export), "psk", or "unknown".
        self.kind: Final = kind
        self.named_group: Final = named_group
        self.dh_prime_bits: Final = dh_prime_bits
        #: SignatureScheme (TLS 1.2); None before TLS 1.2 or for anonymous suites.
        self.signature_scheme: Final = signature_scheme


class CertificateRequest(Value):
    __match_args__: ClassVar[tuple[str, ...]] = (
        "certificate_types", "signature_algorithms", "certificate_authorities"
    )  # fmt: skip
    __slots__ = __match_args__

    def __init__(self, certificate_types: tuple[int, ...], signature_algorithms: tuple[int, ...],
                 certificate_authorities: tuple[bytes, ...]) -> None:  # fmt: skip
        self.certificate_types: Final = certificate_types
        self.signature_algorithms: Final = signature_algorithms
        #: DER-encoded DistinguishedNames of acceptable CAs (RFC 5246 7.4.4).
        self.certificate_authorities: Final = certificate_authorities


class NewSessionTicket(Value):
    __match_args__: ClassVar[tuple[str, ...]] = ("lifetime_hint", "ticket_length")
    __slots__ = __match_args__

    def __init__(self, lifetime_hint: int, ticket_length: int) -> None:
        self.lifetime_hint: Final = lifetime_hint
        self.ticket_length: Final = ticket_length


class CertificateVerify(Value):
    __match_args__: ClassVar[tuple[str, ...]] = ("signature_scheme",)
    __slots__ = __match_args__

    def __init__(self, signature_scheme: int | None) -> None:
        self.signature_scheme: Final = signature_scheme


class Opaque(Value):
    """A message whose body we only measure (ClientKeyExchange, Finished, ...)."""

    __match_args__: ClassVar[tuple[str, ...]] = ("length",)
    __slots__ = __match_args__

    def __init__(self, length: int) -> None:
        self.length: Final = length


Body = (
    ClientHello | ServerHello | SSLv2ServerHello | Certificate | ServerKeyExchange
    | CertificateRequest | NewSessionTicket | CertificateVerify | Opaque
)  # fmt: skip


# -- extensions ------------------------------------------------------------------------


class _Parsed:
    """What `_parse_extension` found so far, one attribute per field of `Extensions` (a
    compiled class: setting a field is a store, and `Extensions` is then made with
    positional arguments, where keyword arguments from a dict went through a generic call
    that cost as much as parsing the extensions)."""

    def __init__(self) -> None:
        self.server_name: str | None = None
        self.supported_versions: tuple[int, ...] = ()
        self.supported_groups: tuple[int, ...] = ()
        self.key_share_groups: tuple[int, ...] = ()
        self.signature_algorithms: tuple[int, ...] = ()
        self.signature_algorithms_cert: tuple[int, ...] = ()
        self.alpn: tuple[str, ...] = ()
        self.ec_point_formats: tuple[int, ...] = ()
        self.psk_key_exchange_modes: tuple[int, ...] = ()
        self.psk_identities = 0
        self.psk_selected_identity: int | None = None
        self.session_ticket: bytes | None = None
        self.early_data = False
        self.extended_master_secret = False
        self.encrypt_then_mac = False
        self.renegotiation_info: bytes | None = None
        self.status_request = False
        self.record_size_limit: int | None = None

    def extensions(self, raw: tuple[Extension, ...], problems: tuple[str, ...]) -> Extensions:
        return Extensions(
            raw, self.server_name, self.supported_versions, self.supported_groups,
            self.key_share_groups, self.signature_algorithms, self.signature_algorithms_cert,
            self.alpn, self.ec_point_formats, self.psk_key_exchange_modes, self.psk_identities,
            self.psk_selected_identity, self.session_ticket, self.early_data,
            self.extended_master_secret, self.encrypt_then_mac, self.renegotiation_info,
            self.status_request, self.record_size_limit, problems,
        )  # fmt: skip


def _parse_extension(ext: Extension, found: _Parsed, base: int, server: bool) -> None:
    t = ext.type
    # What is known from the type alone, or kept whole, first: no reader is made for it.
    if t == EXT_SESSION_TICKET:
        found.session_ticket = ext.data
        return
    if t == EXT_EARLY_DATA:
        found.early_data = True
        return
    if t == EXT_EXTENDED_MASTER_SECRET:
        found.extended_master_secret = True
        return
    if t == EXT_ENCRYPT_THEN_MAC:
        found.encrypt_then_mac = True
        return
    if t == EXT_STATUS_REQUEST:
        found.status_request = True
        return
    # The rest read their body (or, unknown, are kept in `raw` only).
    r = Reader(ext.data, "extension", base)
    if t == EXT_SERVER_NAME:
        if not ext.data:
            return  # a ServerHello acknowledges SNI with an empty extension (RFC 6066 3)
        names = r.sub(2, "server_name_list")
        while names.remaining:
            name_type = names.u8("name_type")
            name = names.vector(2, "HostName")
            if name_type == 0 and found.server_name is None:
                found.server_name = name.decode("ascii", "replace")
    elif t == EXT_SUPPORTED_VERSIONS:
        found.supported_versions = (
            (r.u16("selected_version"),) if server else r.u16_list(1, "supported_versions")
        )
    elif t == EXT_SUPPORTED_GROUPS:
        found.supported_groups = r.u16_list(2, "named_group_list")
    elif t in (EXT_KEY_SHARE, EXT_KEY_SHARE_DRAFT):
        if server:
            # ServerHello: one KeyShareEntry; HelloRetryRequest: only the group.
            found.key_share_groups = (r.u16("group"),)
        else:
            shares = r.sub(2, "client_shares")
            groups = []
            while shares.remaining:
                groups.append(shares.u16("group"))
                shares.vector(2, "key_exchange")
            found.key_share_groups = tuple(groups)
    elif t == EXT_SIGNATURE_ALGORITHMS:
        found.signature_algorithms = r.u16_list(2, "supported_signature_algorithms")
    elif t == EXT_SIGNATURE_ALGORITHMS_CERT:
        found.signature_algorithms_cert = r.u16_list(2, "supported_signature_algorithms")
    elif t == EXT_ALPN:
        names = r.sub(2, "protocol_name_list")
        protocols = []
        while names.remaining:
            protocols.append(names.vector(1, "ProtocolName").decode("ascii", "replace"))
        found.alpn = tuple(protocols)
    elif t == EXT_EC_POINT_FORMATS:
        found.ec_point_formats = r.u8_list(1, "ec_point_format_list")
    elif t == EXT_PSK_KEY_EXCHANGE_MODES:
        found.psk_key_exchange_modes = r.u8_list(1, "ke_modes")
    elif t == EXT_PRE_SHARED_KEY:
        if server:
            found.psk_selected_identity = r.u16("selected_identity")
        else:
            identities = r.sub(2, "identities")
            count = 0
            while identities.remaining:
                identities.vector(2, "identity")
                identities.u32("obfuscated_ticket_age")
                count += 1
            found.psk_identities = count
    elif t == EXT_RENEGOTIATION_INFO:
        found.renegotiation_info = r.vector(1, "renegotiated_connection")
    elif t == EXT_RECORD_SIZE_LIMIT:
        found.record_size_limit = r.u16("RecordSizeLimit")


def parse_extensions(r: Reader, server: bool) -> Extensions:
    """The extensions block at the end of a hello; absent (SSL 3.0 style) is allowed. The
    block's framing is read first, whole: a lying length there fails the message, while a
    malformed extension body only becomes one of `problems`."""
    if r.remaining == 0:
        return NO_EXTENSIONS
    block = r.sub(2, "extensions")
    raw: list[Extension] = []
    offsets: list[int] = []
    while block.remaining:
        ext_type = block.u16("extension_type")
        offsets.append(block.base + block.pos + 2)
        raw.append(Extension(ext_type, block.vector(2, "extension_data")))
    found = _Parsed()
    problems: list[str] = []
    for i, ext in enumerate(raw):
        try:
            _parse_extension(ext, found, offsets[i], server)
        except DecodeError as exc:
            problems.append(f"extension {ext.type} malformed at offset {exc.offset}: {exc.reason}")
    return found.extensions(tuple(raw), tuple(problems))


# -- messages ----------------------------------------------------------------------------


def parse_client_hello(body: bytes, base: int) -> ClientHello:
    """RFC 8446 4.1.2 / RFC 5246 7.4.1.2."""
    r = Reader(body, LAYER, base)
    legacy_version = r.u16("legacy_version")
    random = r.take(32, "random")
    session_id = r.vector(1, "legacy_session_id")
    suites = r.u16_list(2, "cipher_suites")
    compression = r.u8_list(1, "legacy_compression_methods")
    extensions = parse_extensions(r, server=False)
    return ClientHello("tls", legacy_version, random, session_id, suites, compression, extensions)


def parse_sslv2_client_hello(body: bytes, base: int) -> ClientHello:
    """The SSL 2.0 CLIENT-HELLO that old clients send to reach SSL 3.0/TLS servers
    (RFC 5246 E.2): body after the 2-byte record header, starting at msg_type."""
    r = Reader(body, LAYER, base)
    r.u8("msg_type")
    version = r.u16("version")
    specs_len = r.u16("cipher_spec_length")
    session_len = r.u16("session_id_length")
    challenge_len = r.u16("challenge_length")
    if specs_len % 3:
        raise r.fail(f"cipher_spec_length {specs_len} is not a multiple of 3")
    specs = r.take(specs_len, "cipher_specs")
    # A V2CipherSpec whose first byte is 0 carries a TLS cipher suite in the other two.
    suites = tuple(
        (specs[i + 1] << 8 | specs[i + 2]) if specs[i] == 0
        else (specs[i] << 16 | specs[i + 1] << 8 | specs[i + 2])
        for i in range(0, specs_len, 3)
    )  # fmt: skip
    session_id = r.take(session_len, "session_id")
    challenge = r.take(challenge_len, "challenge")
    random = challenge.rjust(32, b"\0")[-32:]
    return ClientHello("sslv2", version, random, session_id, suites, (0,))


def parse_sslv2_server_hello(body: bytes, base: int) -> SSLv2ServerHello:
    """SSL 2.0 SERVER-HELLO (msg_type 4), body after the 2-byte record header."""
    r = Reader(body, LAYER, base)
    r.u8("msg_type")
    hit = r.u8("session_id_hit")
    cert_type = r.u8("certificate_type")
    version = r.u16("server_version")
    cert_len = r.u16("certificate_length")
    specs_len = r.u16("cipher_specs_length")
    r.u16("connection_id_length")
    certificate = r.take(cert_len, "certificate")
    specs = r.take(specs_len - specs_len % 3, "cipher_specs")
    kinds = tuple(
        specs[i] << 16 | specs[i + 1] << 8 | specs[i + 2] for i in range(0, len(specs), 3)
    )
    return SSLv2ServerHello(bool(hit), cert_type, version, certificate, kinds)


def parse_server_hello(body: bytes, base: int) -> ServerHello:
    """RFC 8446 4.1.3 / RFC 5246 7.4.1.3 (also HelloRetryRequest)."""
    r = Reader(body, LAYER, base)
    legacy_version = r.u16("legacy_version")
    random = r.take(32, "random")
    if legacy_version >> 8 == 0x7F and (legacy_version & 0xFF) < 22:
        # TLS 1.3 drafts before -22 put the version here and had no session id or
        # compression fields (draft-ietf-tls-tls13-21, 4.1.3).
        suite = r.u16("cipher_suite")
        return ServerHello(legacy_version, random, b"", suite, 0, parse_extensions(r, True))
    session_id = r.vector(1, "legacy_session_id_echo")
    suite = r.u16("cipher_suite")
    compression = r.u8("legacy_compression_method")
    extensions = parse_extensions(r, server=True)
    return ServerHello(legacy_version, random, session_id, suite, compression, extensions)


def parse_certificate(body: bytes, base: int, tls13: bool) -> Certificate:
    """RFC 5246 7.4.2 (certificate_list) or RFC 8446 4.4.2 (with per-entry extensions)."""
    r = Reader(body, LAYER, base)
    context = r.vector(1, "certificate_request_context") if tls13 else b""
    entries = r.sub(3, "certificate_list")
    certs = []
    while entries.remaining:
        certs.append(entries.vector(3, "ASN.1Cert"))
        if tls13:
            entries.vector(2, "extensions")
    return Certificate(tuple(certs), context)


def parse_server_key_exchange(body: bytes, base: int, suite_name: str, version: int
                              ) -> ServerKeyExchange:  # fmt: skip
    """RFC 5246 7.4.3 with RFC 8422 5.4 (ECDHE) and RFC 4279 (PSK). The layout depends on
    the key exchange of the negotiated cipher suite, named by `suite_name`."""
    r = Reader(body, LAYER, base)
    anonymous = "_anon_" in suite_name
    group = prime_bits = None
    if "PSK" in suite_name:
        r.vector(2, "psk_identity_hint")
    if "_ECDHE_" in suite_name or "_ECDH_anon_" in suite_name:
        kind = "ecdhe"
        curve_type = r.u8("curve_type")
        if curve_type == 3:  # named_curve
            group = r.u16("namedcurve")
        else:
            raise r.fail(f"curve_type {curve_type} (explicit curves) is not parsed")
        r.vector(1, "ECPoint")
    elif "_DHE_" in suite_name or "_DH_anon_" in suite_name:
        kind = "dhe"
        prime = r.vector(2, "dh_p")
        prime_bits = int.from_bytes(prime, "big").bit_length()
        r.vector(2, "dh_g")
        r.vector(2, "dh_Ys")
    elif "_RSA_EXPORT" in suite_name or suite_name.startswith("TLS_RSA_"):
        kind = "rsa"
        r.vector(2, "rsa_modulus")
        r.vector(2, "rsa_exponent")
    elif "PSK" in suite_name:
        return ServerKeyExchange("psk")
    else:
        return ServerKeyExchange("unknown")
    scheme = None
    if not anonymous and "PSK" not in suite_name and version >= 0x0303 and r.remaining >= 2:
        scheme = r.u16("SignatureAndHashAlgorithm")
    return ServerKeyExchange(kind, group, prime_bits, scheme)


def parse_certificate_request(body: bytes, base: int, version: int) -> CertificateRequest:
    """RFC 5246 7.4.4 (signature algorithms only from TLS 1.2 on)."""
    r = Reader(body, LAYER, base)
    types = r.u8_list(1, "certificate_types")
    algorithms = r.u16_list(2, "supported_signature_algorithms") if version >= 0x0303 else ()
    names = r.sub(2, "certificate_authorities")
    authorities = []
    while names.remaining:
        authorities.append(names.vector(2, "DistinguishedName"))
    return CertificateRequest(types, algorithms, tuple(authorities))


def parse_new_session_ticket(body: bytes, base: int) -> NewSessionTicket:
    """RFC 5077 3.3."""
    r = Reader(body, LAYER, base)
    lifetime = r.u32("ticket_lifetime_hint")
    ticket = r.vector(2, "ticket")
    return NewSessionTicket(lifetime, len(ticket))


def parse_certificate_verify(body: bytes, base: int, version: int) -> CertificateVerify:
    r = Reader(body, LAYER, base)
    return CertificateVerify(r.u16("algorithm") if version >= 0x0303 else None)
