"""Summarise one DER certificate for display and diagnosis, with `cryptography`.

A certificate that does not parse still gets a summary (with `error` set and its
fingerprints), so a damaged chain is shown rather than dropped.
Signature algorithm names are OpenSSL's long names (`sha256WithRSAEncryption`), from
OpenSSL's objects.txt (see ../shared/reference/openssl), which Zeek's x509.log also uses.
"""

from __future__ import annotations

import functools
import hashlib
import warnings
from datetime import UTC, datetime
from typing import Final, NamedTuple

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.x509.oid import NameOID, ObjectIdentifier

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
    def self_issued(self) -> bool:
        return self.subject == self.issuer

    @property
    def weak_signature(self) -> bool:
        return self.sig_hash in WEAK_HASHES


def _time(cert: x509.Certificate, which: str) -> datetime | None:
    try:
        value: datetime = getattr(cert, which + "_utc")
    except (ValueError, AttributeError):
        return None
    return value.astimezone(UTC)


def _key(cert: x509.Certificate) -> tuple[str | None, int | None]:
    try:
        key = cert.public_key()
    except (ValueError, TypeError, NotImplementedError):
        return None, None
    if isinstance(key, rsa.RSAPublicKey):
        return "rsa", key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "ecdsa", key.curve.key_size
    if isinstance(key, dsa.DSAPublicKey):
        return "dsa", key.key_size
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "ed25519", 256
    if isinstance(key, ed448.Ed448PublicKey):
        return "ed448", 456
    return type(key).__name__, None


#: Attribute names as OpenSSL (and so Zeek's x509.log) prints them, for the attributes
#: RFC 4514 has no short name for (OpenSSL objects.txt).
NAME_OVERRIDES: Final[dict[ObjectIdentifier, str]] = {
    NameOID.EMAIL_ADDRESS: "emailAddress",
    NameOID.STREET_ADDRESS: "street",
    NameOID.POSTAL_CODE: "postalCode",
    NameOID.SERIAL_NUMBER: "serialNumber",
    NameOID.BUSINESS_CATEGORY: "businessCategory",
    NameOID.JURISDICTION_COUNTRY_NAME: "jurisdictionC",
    NameOID.JURISDICTION_STATE_OR_PROVINCE_NAME: "jurisdictionST",
    NameOID.JURISDICTION_LOCALITY_NAME: "jurisdictionL",
    NameOID.GIVEN_NAME: "GN",
    NameOID.SURNAME: "SN",
    NameOID.TITLE: "title",
    NameOID.USER_ID: "UID",
    NameOID.DN_QUALIFIER: "dnQualifier",
    NameOID.PSEUDONYM: "pseudonym",
    NameOID.ORGANIZATION_IDENTIFIER: "organizationIdentifier",
}


def _name(name: x509.Name) -> str:
    try:
        return name.rfc4514_string(NAME_OVERRIDES)
    except ValueError:
        return "(unreadable name)"


#: Extended key usage purposes by their OpenSSL short names (RFC 5280 4.2.1.12).
EKU_NAMES: Final = {
    "1.3.6.1.5.5.7.3.1": "serverAuth", "1.3.6.1.5.5.7.3.2": "clientAuth",
    "1.3.6.1.5.5.7.3.3": "codeSigning", "1.3.6.1.5.5.7.3.4": "emailProtection",
    "1.3.6.1.5.5.7.3.8": "timeStamping", "1.3.6.1.5.5.7.3.9": "OCSPSigning",
    "2.5.29.37.0": "anyExtendedKeyUsage", "1.3.6.1.4.1.311.10.3.3": "msSGC",
    "2.16.840.1.113730.4.1": "nsSGC",
}  # fmt: skip

#: Key usage bits by the names RFC 5280 4.2.1.3 gives them.
KEY_USAGES: Final = (
    "digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
    "key_agreement", "key_cert_sign", "crl_sign",
)  # fmt: skip


def _extensions(
    cert: x509.Certificate,
) -> tuple[bool | None, tuple[str, ...], tuple[str, ...], str | None, str | None]:
    """Basic constraints, key usage, extended key usage, SKI and AKI; a malformed extension
    counts as absent."""
    ca = None
    usages: tuple[str, ...] = ()
    eku: tuple[str, ...] = ()
    ski = aki = None
    try:
        extensions = cert.extensions
    except ValueError:
        return ca, usages, eku, ski, aki
    for ext in extensions:
        value = ext.value
        if isinstance(value, x509.BasicConstraints):
            ca = value.ca
        elif isinstance(value, x509.KeyUsage):
            usages = tuple(u for u in KEY_USAGES if getattr(value, u))
        elif isinstance(value, x509.ExtendedKeyUsage):
            eku = tuple(EKU_NAMES.get(o.dotted_string, o.dotted_string) for o in value)
        elif isinstance(value, x509.SubjectKeyIdentifier):
            ski = value.digest.hex()
        elif isinstance(value, x509.AuthorityKeyIdentifier) and value.key_identifier:
            aki = value.key_identifier.hex()
    return ca, usages, eku, ski, aki


def _serial(cert: x509.Certificate) -> str:
    """Upper-case hex, padded to whole bytes (as Zeek and OpenSSL print serials)."""
    text = format(cert.serial_number, "X")
    return text.zfill(len(text) + len(text) % 2)


#: Distinct certificates whose summaries are kept: a server sends the same chain in every
#: handshake, and parsing it again was a fifth of the time on handshake-heavy captures.
SUMMARY_CACHE_SIZE = 2048


@functools.lru_cache(maxsize=SUMMARY_CACHE_SIZE)
def summarize(der: bytes) -> CertSummary:
    """Summary of one DER certificate; never raises. Summaries are immutable, so the same
    certificate seen again gets the same object."""
    with warnings.catch_warnings():
        # Real certificates break rules (negative serials, odd encodings) that only earn a
        # deprecation warning from cryptography; what we show is unaffected.
        warnings.simplefilter("ignore")
        return _summarize(der)


def _summarize(der: bytes) -> CertSummary:
    sha1 = hashlib.sha1(der).hexdigest()
    sha256 = hashlib.sha256(der).hexdigest()
    try:
        cert = x509.load_der_x509_certificate(der)
        oid = cert.signature_algorithm_oid.dotted_string
    except ValueError as exc:
        return CertSummary("", "", "", None, None, "", "", None, None, None, (), sha1, sha256,
                           len(der), error=f"not a readable certificate: {exc}")  # fmt: skip
    name, sig_hash = SIGNATURE_ALGORITHMS.get(oid, (oid, None))
    try:
        sans = tuple(
            cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            .get_values_for_type(x509.DNSName)
        )  # fmt: skip
    except (x509.ExtensionNotFound, ValueError):
        sans = ()
    key_type, key_bits = _key(cert)
    ca, key_usage, eku, ski, aki = _extensions(cert)
    return CertSummary(
        subject=_name(cert.subject),
        issuer=_name(cert.issuer),
        serial=_serial(cert),
        not_before=_time(cert, "not_valid_before"),
        not_after=_time(cert, "not_valid_after"),
        sig_alg=name,
        sig_alg_oid=oid,
        sig_hash=sig_hash,
        key_type=key_type,
        key_bits=key_bits,
        san_dns=sans,
        sha1=sha1,
        sha256=sha256,
        der_length=len(der),
        ca=ca,
        key_usage=key_usage,
        extended_key_usage=eku,
        subject_key_id=ski,
        authority_key_id=aki,
    )
