"""The summary of a certificate as `cryptography` reads it: the oracle `certs.x509`'s own
DER reader is held to (tests/certs/test_x509.py). This was tlslens's summary before the
reader replaced it (import time; see `tlslens.certs.der`)."""

from __future__ import annotations

import warnings

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.x509.oid import NameOID, ObjectIdentifier

from tlslens.certs.x509 import EKU_NAMES, KEY_USAGES, SIGNATURE_ALGORITHMS

#: The attribute names `certs.x509` writes that `cryptography` does not by default.
NAME_OVERRIDES: dict[ObjectIdentifier, str] = {
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


def _key(cert: x509.Certificate) -> tuple[str | None, int | None]:
    key = cert.public_key()
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


def _serial(number: int) -> str:
    text = format(number, "X")
    return text.zfill(len(text) + len(text) % 2)


def summary(der: bytes) -> dict[str, object]:
    """The fields of `CertSummary` that come from the certificate, by name."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cert = x509.load_der_x509_certificate(der)
        fields: dict[str, object] = {
            "subject": _name(cert.subject),
            "issuer": _name(cert.issuer),
            "serial": _serial(cert.serial_number),
            "not_before": cert.not_valid_before_utc,
            "not_after": cert.not_valid_after_utc,
        }
    oid = cert.signature_algorithm_oid.dotted_string
    fields["sig_alg"], fields["sig_hash"] = SIGNATURE_ALGORITHMS.get(oid, (oid, None))
    fields["sig_alg_oid"] = oid
    fields["key_type"], fields["key_bits"] = _key(cert)
    fields["san_dns"] = ()
    fields["ca"] = None
    fields["key_usage"] = fields["extended_key_usage"] = ()
    fields["subject_key_id"] = fields["authority_key_id"] = None
    for ext in cert.extensions:
        value = ext.value
        if isinstance(value, x509.SubjectAlternativeName):
            fields["san_dns"] = tuple(value.get_values_for_type(x509.DNSName))
        elif isinstance(value, x509.BasicConstraints):
            fields["ca"] = value.ca
        elif isinstance(value, x509.KeyUsage):
            fields["key_usage"] = tuple(u for u in KEY_USAGES if getattr(value, u))
        elif isinstance(value, x509.ExtendedKeyUsage):
            fields["extended_key_usage"] = tuple(
                EKU_NAMES.get(o.dotted_string, o.dotted_string) for o in value
            )
        elif isinstance(value, x509.SubjectKeyIdentifier):
            fields["subject_key_id"] = value.digest.hex()
        elif isinstance(value, x509.AuthorityKeyIdentifier) and value.key_identifier:
            fields["authority_key_id"] = value.key_identifier.hex()
    return fields
