"""Summarise one DER certificate for display and diagnosis (RFC 5280 section 4.1).

The certificate is read with `certs.der` rather than `cryptography`, whose import alone
cost a third of a small run (see there); names are written as `cryptography`'s
`Name.rfc4514_string` writes them (RFC 4514), with OpenSSL's attribute names, and the
tests hold the two readers to the same summaries.
A certificate that does not parse still gets a summary (with `error` set and its
fingerprints), so a damaged chain is shown rather than dropped; a malformed name reads
"(unreadable name)" and a malformed extension counts as absent, each on its own.
Signature algorithm names are OpenSSL's long names (`sha256WithRSAEncryption`), from
OpenSSL's objects.txt (see ../shared/reference/openssl), which Zeek's x509.log also uses.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
from datetime import UTC, datetime
from typing import Final, NamedTuple

from tlslens.certs import der
from tlslens.certs.der import DERError, Reader

#: Signature algorithm OID -> (OpenSSL long name, hash it uses). Source: OpenSSL
#: crypto/objects/objects.txt (pkcs1 = 1.2.840.113549.1.1, X9-62 ecSigType =
#: 1.2.840.10045.4, X9cm = 1.2.840.10040.4, OIW algorithm = 1.3.14.3.2, NIST sigAlgs =
#: 2.16.840.1.101.3.4.3) and RFC 8410 for Ed25519/Ed448.
SIGNATURE_ALGORITHMS: Final = {
    "1.2.840.113549.1.1.2": ("md2WithRSAEncryption", "md2"),
    "1.2.840.113549.1.1.3": ("md4WithRSAEncryption", "md4"),
    "1.2.840.113549.1.1.4": ("md5WithRSAEncryption", "md5"),
    "1.2.840.113549.1.1.5": ("sha1WithRSAEncryption", "sha1"),
    "1.2.840.113549.1.1.10": ("rsassaPss", "pss"),
    "1.2.840.113549.1.1.11": ("sha256WithRSAEncryption", "sha256"),
    "1.2.840.113549.1.1.12": ("sha384WithRSAEncryption", "sha384"),
    "1.2.840.113549.1.1.13": ("sha512WithRSAEncryption", "sha512"),
    "1.2.840.113549.1.1.14": ("sha224WithRSAEncryption", "sha224"),
    "1.2.840.10045.4.1": ("ecdsa-with-SHA1", "sha1"),
    "1.2.840.10045.4.3.1": ("ecdsa-with-SHA224", "sha224"),
    "1.2.840.10045.4.3.2": ("ecdsa-with-SHA256", "sha256"),
    "1.2.840.10045.4.3.3": ("ecdsa-with-SHA384", "sha384"),
    "1.2.840.10045.4.3.4": ("ecdsa-with-SHA512", "sha512"),
    "1.2.840.10040.4.3": ("dsaWithSHA1", "sha1"),
    "2.16.840.1.101.3.4.3.1": ("dsa_with_SHA224", "sha224"),
    "2.16.840.1.101.3.4.3.2": ("dsa_with_SHA256", "sha256"),
    "1.3.14.3.2.3": ("md5WithRSA", "md5"),
    "1.3.14.3.2.13": ("dsaWithSHA", "sha"),
    "1.3.14.3.2.15": ("shaWithRSAEncryption", "sha"),
    "1.3.14.3.2.27": ("dsaWithSHA1-old", "sha1"),
    "1.3.14.3.2.29": ("sha1WithRSA", "sha1"),
    "1.3.101.112": ("ED25519", "ed25519"),
    "1.3.101.113": ("ED448", "ed448"),
}

#: Hashes no longer acceptable in certificate signatures (collisions are practical or
#: near it): RFC 6151 (MD5), RFC 6150 (MD4), RFC 6149 (MD2), RFC 9155 (SHA-1 in TLS 1.2).
WEAK_HASHES: Final = frozenset({"md2", "md4", "md5", "sha", "sha1"})


class CertSummary(NamedTuple):
    """What tlslens shows of a certificate. (A NamedTuple, not a frozen dataclass: a
    dataclass compiles its methods from source when its module is imported, a millisecond
    on every run; see `tlslens.limits.Limits`.)"""

    subject: str
    issuer: str
    serial: str
    not_before: datetime | None
    not_after: datetime | None
    sig_alg: str
    sig_alg_oid: str
    sig_hash: str | None
    key_type: str | None
    key_bits: int | None
    san_dns: tuple[str, ...]
    sha1: str
    sha256: str
    der_length: int
    error: str | None = None
    #: Basic constraints: True for a CA, None when the extension is absent.
    ca: bool | None = None
    key_usage: tuple[str, ...] = ()
    extended_key_usage: tuple[str, ...] = ()
    subject_key_id: str | None = None
    authority_key_id: str | None = None

    @property
    def key(self) -> str | None:
        """The key as shown: its type and size ("rsa 2048"), or its type alone."""
        if self.key_type is None:
            return None
        return self.key_type if self.key_bits is None else f"{self.key_type} {self.key_bits}"

    @property
    def self_issued(self) -> bool:
        return self.subject == self.issuer

    @property
    def weak_signature(self) -> bool:
        return self.sig_hash in WEAK_HASHES


#: Attribute names in distinguished names (RFC 4514 section 3 for CN, L, ST, O, OU, C,
#: STREET, DC and UID; OpenSSL's objects.txt, which Zeek's x509.log also uses, for the
#: rest and for `street`); others are written as their dotted OID.
NAME_ATTRIBUTES: Final = {
    "2.5.4.3": "CN", "2.5.4.7": "L", "2.5.4.8": "ST", "2.5.4.10": "O", "2.5.4.11": "OU",
    "2.5.4.6": "C", "0.9.2342.19200300.100.1.25": "DC", "0.9.2342.19200300.100.1.1": "UID",
    "1.2.840.113549.1.9.1": "emailAddress", "2.5.4.9": "street", "2.5.4.17": "postalCode",
    "2.5.4.5": "serialNumber", "2.5.4.15": "businessCategory",
    "1.3.6.1.4.1.311.60.2.1.3": "jurisdictionC", "1.3.6.1.4.1.311.60.2.1.2": "jurisdictionST",
    "1.3.6.1.4.1.311.60.2.1.1": "jurisdictionL", "2.5.4.42": "GN", "2.5.4.4": "SN",
    "2.5.4.12": "title", "2.5.4.46": "dnQualifier", "2.5.4.65": "pseudonym",
    "2.5.4.97": "organizationIdentifier",
}  # fmt: skip

#: x500UniqueIdentifier (RFC 4519 section 2.39), the one attribute whose value is a BIT
#: STRING; it is written as '#' and the hex of its contents (RFC 4514 section 2.4).
UNIQUE_IDENTIFIER: Final = "2.5.4.45"

#: How attribute values decode, by their tag. X.680 gives the narrower string types a
#: smaller character set; they are read as UTF-8, which holds them, without holding them
#: to it (a name that breaks it is still shown; `cryptography` refuses the certificate).
#: An OCTET STRING or a time as a value is no string type, but `cryptography` reads them
#: as UTF-8 too, and we read what it reads.
_STRING_CODECS: Final = {
    der.UTF8_STRING: "utf-8", der.PRINTABLE_STRING: "utf-8", der.IA5_STRING: "utf-8",
    der.NUMERIC_STRING: "utf-8", der.VISIBLE_STRING: "utf-8", der.TELETEX_STRING: "utf-8",
    der.BMP_STRING: "utf-16-be", der.UNIVERSAL_STRING: "utf-32-be",
    der.OCTET_STRING: "utf-8", der.UTC_TIME: "utf-8", der.GENERALIZED_TIME: "utf-8",
}  # fmt: skip

#: RFC 4514 section 2.4: the characters escaped with a backslash anywhere in a value.
_ESCAPES: Final = str.maketrans(
    {"\\": "\\\\", '"': '\\"', "+": "\\+", ",": "\\,", ";": "\\;", "<": "\\<", ">": "\\>",
     "\0": "\\00"}
)  # fmt: skip


def _escaped(value: str) -> str:
    """An attribute value as RFC 4514 section 2.4 writes it: the specials escaped, and a
    '#' or space at the start or a space at the end."""
    if not value:
        return ""
    value = value.translate(_ESCAPES)
    if value[0] == "#" or (value[0] == " " and len(value) > 1):
        value = "\\" + value
    if value[-1] == " ":
        value = value[:-1] + "\\ "
    return value


def _attribute(reader: Reader) -> tuple[str, str]:
    """One AttributeTypeAndValue (RFC 5280 4.1.2.4) as its name and escaped value."""
    pair = reader.inner(der.SEQUENCE)
    oid = pair.oid()
    tag, start, stop = pair.next()
    pair.expect_end()
    content = pair.data[start:stop]
    if tag == der.BIT_STRING and oid == UNIQUE_IDENTIFIER:
        text = "#" + content.hex()  # all of it, the count of unused bits first
    else:
        codec = _STRING_CODECS.get(tag)
        if codec is None:
            raise DERError(f"attribute value of tag {tag:#04x}")
        text = _escaped(content.decode(codec))
    return NAME_ATTRIBUTES.get(oid, oid), text


def _name(reader: Reader) -> str:
    """A Name (RFC 5280 4.1.2.4) as RFC 4514 section 2.1 writes it: the last RDN first,
    the attributes of a multi-valued RDN joined by '+' in their order."""
    sequence = reader.inner(der.SEQUENCE)
    try:
        rdns = []
        while not sequence.at_end():
            rdn = sequence.inner(der.SET)
            attributes = []
            while not rdn.at_end():
                attributes.append(_attribute(rdn))
            if not attributes or len(set(attributes)) != len(attributes):
                raise DERError("empty RDN, or one attribute twice")
            rdns.append("+".join(f"{name}={value}" for name, value in attributes))
    except (DERError, UnicodeDecodeError):
        return "(unreadable name)"
    return ",".join(reversed(rdns))


def _time(reader: Reader) -> datetime | None:
    """A Time (RFC 5280 4.1.2.5): UTCTime YYMMDDHHMMSSZ, years 50-99 in the 1900s, or
    GeneralizedTime YYYYMMDDHHMMSSZ; another form reads as None."""
    tag, start, stop = reader.next()
    text = reader.data[start:stop]
    if tag == der.UTC_TIME and len(text) == 13:
        year = int(text[:2]) if text[:2].isdigit() else -1
        text = (b"19" if year >= 50 else b"20") + text
    elif tag != der.GENERALIZED_TIME or len(text) != 15:
        return None
    if not (text[-1:] == b"Z" and text[:-1].isdigit()):
        return None
    try:
        return datetime(int(text[0:4]), int(text[4:6]), int(text[6:8]), int(text[8:10]),
                        int(text[10:12]), int(text[12:14]), tzinfo=UTC)  # fmt: skip
    except ValueError:
        return None


#: Named elliptic curves (RFC 5480 section 2.1.1.1, SEC 2, RFC 5639) -> key size in bits.
EC_CURVE_BITS: Final = {
    "1.2.840.10045.3.1.1": 192, "1.3.132.0.33": 224, "1.2.840.10045.3.1.7": 256,
    "1.3.132.0.34": 384, "1.3.132.0.35": 521, "1.3.132.0.10": 256,
    "1.3.36.3.3.2.8.1.1.7": 256, "1.3.36.3.3.2.8.1.1.11": 384, "1.3.36.3.3.2.8.1.1.13": 512,
    "1.3.132.0.1": 163, "1.3.132.0.15": 163, "1.3.132.0.26": 233, "1.3.132.0.27": 233,
    "1.3.132.0.16": 283, "1.3.132.0.17": 283, "1.3.132.0.36": 409, "1.3.132.0.37": 409,
    "1.3.132.0.38": 571, "1.3.132.0.39": 571,
}  # fmt: skip

#: Public key algorithms with no parameters to read (RFC 8410): name and key size in bits.
_FIXED_KEYS: Final = {
    "1.3.101.112": ("ed25519", 256), "1.3.101.113": ("ed448", 456),
    "1.3.101.110": ("x25519", 256), "1.3.101.111": ("x448", 448),
}  # fmt: skip

_RSA_KEYS: Final = ("1.2.840.113549.1.1.1", "1.2.840.113549.1.1.10")  # RFC 8017, RFC 4055
_EC_KEY: Final = "1.2.840.10045.2.1"  # id-ecPublicKey, RFC 5480
_DSA_KEY: Final = "1.2.840.10040.4.1"  # id-dsa, RFC 3279 section 2.3.2


def _key(reader: Reader) -> tuple[str | None, int | None]:
    """The SubjectPublicKeyInfo's algorithm and key size (RFC 5280 4.1.2.7): RSA's modulus
    (RFC 3279 2.3.1), DSA's p (2.3.2), an EC key's named curve (RFC 5480)."""
    info = reader.inner(der.SEQUENCE)
    try:
        algorithm = info.inner(der.SEQUENCE)
        oid = algorithm.oid()
        key = info.bit_string()
        if oid in _RSA_KEYS:
            numbers = Reader(key).inner(der.SEQUENCE)
            modulus = numbers.integer()
            return ("rsa", modulus.bit_length()) if modulus > 0 else ("rsa", None)
        if oid == _EC_KEY:
            curve = algorithm.oid() if algorithm.peek() == der.OID else ""
            return "ecdsa", EC_CURVE_BITS.get(curve)
        if oid == _DSA_KEY:
            if algorithm.peek() != der.SEQUENCE:
                return "dsa", None  # parameters inherited from the issuer
            prime = algorithm.inner(der.SEQUENCE).integer()
            return "dsa", prime.bit_length() if prime > 0 else None
        return _FIXED_KEYS.get(oid, (oid, None))
    except DERError:
        return None, None


#: Extended key usage purposes by their OpenSSL short names (RFC 5280 4.2.1.12).
EKU_NAMES: Final = {
    "1.3.6.1.5.5.7.3.1": "serverAuth", "1.3.6.1.5.5.7.3.2": "clientAuth",
    "1.3.6.1.5.5.7.3.3": "codeSigning", "1.3.6.1.5.5.7.3.4": "emailProtection",
    "1.3.6.1.5.5.7.3.8": "timeStamping", "1.3.6.1.5.5.7.3.9": "OCSPSigning",
    "2.5.29.37.0": "anyExtendedKeyUsage", "1.3.6.1.4.1.311.10.3.3": "msSGC",
    "2.16.840.1.113730.4.1": "nsSGC",
}  # fmt: skip

#: Key usage bits by the names RFC 5280 4.2.1.3 gives them, from bit 0.
KEY_USAGES: Final = (
    "digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
    "key_agreement", "key_cert_sign", "crl_sign",
)  # fmt: skip

# Extension OIDs (RFC 5280 section 4.2.1).
_SUBJECT_KEY_ID: Final = "2.5.29.14"
_KEY_USAGE: Final = "2.5.29.15"
_SUBJECT_ALT_NAME: Final = "2.5.29.17"
_BASIC_CONSTRAINTS: Final = "2.5.29.19"
_AUTHORITY_KEY_ID: Final = "2.5.29.35"
_EXTENDED_KEY_USAGE: Final = "2.5.29.37"
#: dNSName in GeneralName (RFC 5280 4.2.1.6): [2] IMPLICIT IA5String.
_DNS_NAME: Final = der.context(2, constructed=False)
_KEY_IDENTIFIER: Final = der.context(0, constructed=False)


class _Extensions(NamedTuple):
    san_dns: tuple[str, ...] = ()
    ca: bool | None = None
    key_usage: tuple[str, ...] = ()
    extended_key_usage: tuple[str, ...] = ()
    subject_key_id: str | None = None
    authority_key_id: str | None = None


def _extension_values(reader: Reader) -> dict[str, bytes]:
    """Extensions (RFC 5280 4.1.2.9) by OID: the value of the first of each."""
    values: dict[str, bytes] = {}
    extensions = reader.inner(der.context(3)).inner(der.SEQUENCE)
    while not extensions.at_end():
        extension = extensions.inner(der.SEQUENCE)
        oid = extension.oid()
        if extension.peek() == der.BOOLEAN:
            extension.next()  # critical: what it means is the reader's, not ours
        values.setdefault(oid, extension.bytes_of(der.OCTET_STRING))
        extension.expect_end()
    return values


def _boolean(reader: Reader) -> bool:
    content = reader.bytes_of(der.BOOLEAN)
    if content not in (b"\x00", b"\xff"):  # X.690 11.1: DER's TRUE is all ones
        raise DERError("bad BOOLEAN")
    return content == b"\xff"


#: The extensions read, by OID, and the `_Extensions` field each fills.
_FIELDS: Final = {
    _SUBJECT_ALT_NAME: "san_dns", _BASIC_CONSTRAINTS: "ca", _KEY_USAGE: "key_usage",
    _EXTENDED_KEY_USAGE: "extended_key_usage", _SUBJECT_KEY_ID: "subject_key_id",
    _AUTHORITY_KEY_ID: "authority_key_id",
}  # fmt: skip


def _extension(oid: str, value: bytes) -> object:
    """What one extension (of an OID in `_FIELDS`) puts in its `_Extensions` field."""
    reader = Reader(value)
    result: object
    if oid == _SUBJECT_ALT_NAME:
        names = reader.inner(der.SEQUENCE)
        if names.at_end():
            raise DERError("no names")  # GeneralNames ::= SEQUENCE SIZE (1..MAX)
        dns = []
        while not names.at_end():
            tag, start, stop = names.next()
            if tag == _DNS_NAME:
                dns.append(value[start:stop].decode("ascii"))
        result = tuple(dns)
    elif oid == _BASIC_CONSTRAINTS:
        constraints = reader.inner(der.SEQUENCE)
        result = constraints.peek() == der.BOOLEAN and _boolean(constraints)
    elif oid == _KEY_USAGE:
        bits = int.from_bytes(reader.bit_string()[:1] or b"\0", "big")
        result = tuple(u for i, u in enumerate(KEY_USAGES) if bits & 0x80 >> i)
    elif oid == _EXTENDED_KEY_USAGE:
        purposes = reader.inner(der.SEQUENCE)
        oids = []
        while not purposes.at_end():
            oids.append(purposes.oid())
        if not oids:
            raise DERError("no purposes")  # SEQUENCE SIZE (1..MAX), 4.2.1.12
        result = tuple(EKU_NAMES.get(o, o) for o in oids)
    elif oid == _SUBJECT_KEY_ID:
        result = reader.bytes_of(der.OCTET_STRING).hex()
    else:  # _AUTHORITY_KEY_ID
        # keyIdentifier [0] IMPLICIT OCTET STRING, if the issuer is named by its key.
        identifier = reader.inner(der.SEQUENCE)
        result = None
        if identifier.peek() == _KEY_IDENTIFIER:
            result = identifier.bytes_of(_KEY_IDENTIFIER).hex() or None
    reader.expect_end()
    return result


def _extensions(reader: Reader) -> _Extensions:
    """SAN DNS names, basic constraints, key usage, extended key usage, SKI and AKI."""
    try:
        values = _extension_values(reader)
    except DERError:
        return _Extensions()
    found: dict[str, object] = {}
    for oid, value in values.items():
        field = _FIELDS.get(oid)
        if field is not None:
            # A malformed extension counts as absent.
            with contextlib.suppress(DERError, UnicodeDecodeError):
                found[field] = _extension(oid, value)
    return _Extensions(**found)  # type: ignore[arg-type]


def _serial(number: int) -> str:
    """Upper-case hex, padded to whole bytes (as Zeek and OpenSSL print serials)."""
    text = format(number, "X")
    return text.zfill(len(text) + len(text) % 2)


#: Distinct certificates whose summaries are kept: a server sends the same chain in every
#: handshake, and parsing it again was a fifth of the time on handshake-heavy captures.
SUMMARY_CACHE_SIZE = 2048


@functools.lru_cache(maxsize=SUMMARY_CACHE_SIZE)
def summarize(der_bytes: bytes) -> CertSummary:
    """Summary of one DER certificate; never raises. Summaries are immutable, so the same
    certificate seen again gets the same object."""
    sha1 = hashlib.sha1(der_bytes).hexdigest()
    sha256 = hashlib.sha256(der_bytes).hexdigest()
    try:
        return _summarize(der_bytes, sha1, sha256)
    except DERError as exc:
        return CertSummary("", "", "", None, None, "", "", None, None, None, (), sha1, sha256,
                           len(der_bytes), error=f"not a readable certificate: {exc}")  # fmt: skip


def _summarize(data: bytes, sha1: str, sha256: str) -> CertSummary:
    """RFC 5280 section 4.1: Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm,
    signatureValue }."""
    outer = Reader(data)
    certificate = outer.inner(der.SEQUENCE)
    tbs = certificate.inner(der.SEQUENCE)
    signature_oid = certificate.inner(der.SEQUENCE).oid()
    certificate.bit_string()
    certificate.expect_end()
    outer.expect_end()

    if tbs.peek() == der.context(0):
        version = tbs.inner(der.context(0))
        if version.integer() not in (0, 1, 2):  # v1, v2, v3 (4.1.2.1)
            raise DERError("unknown version")
        version.expect_end()
    serial = tbs.integer()
    tbs.inner(der.SEQUENCE)  # the signature algorithm again, inside what is signed
    issuer = _name(tbs)
    validity = tbs.inner(der.SEQUENCE)
    not_before, not_after = _time(validity), _time(validity)
    subject = _name(tbs)
    key_type, key_bits = _key(tbs)
    for unique_id in (der.context(1, constructed=False), der.context(2, constructed=False)):
        if tbs.peek() == unique_id:
            tbs.next()
    extensions = _extensions(tbs) if tbs.peek() == der.context(3) else _Extensions()

    name, sig_hash = SIGNATURE_ALGORITHMS.get(signature_oid, (signature_oid, None))
    return CertSummary(
        subject=subject,
        issuer=issuer,
        serial=_serial(serial),
        not_before=not_before,
        not_after=not_after,
        sig_alg=name,
        sig_alg_oid=signature_oid,
        sig_hash=sig_hash,
        key_type=key_type,
        key_bits=key_bits,
        san_dns=extensions.san_dns,
        sha1=sha1,
        sha256=sha256,
        der_length=len(data),
        ca=extensions.ca,
        key_usage=extensions.key_usage,
        extended_key_usage=extensions.extended_key_usage,
        subject_key_id=extensions.subject_key_id,
        authority_key_id=extensions.authority_key_id,
    )
