"""`certs.x509` reads certificates with its own DER reader; these tests hold it to what
`cryptography` reads from the same bytes (tests/cryptography_summary.py): on every
certificate of the fixtures and the corpus, on certificates `cryptography` builds from
generated names, keys and extensions, and on damaged ones."""

from __future__ import annotations

import ipaddress
import warnings
from datetime import UTC, datetime, timedelta

import pytest
from conftest import CAPTURES, CORPUS
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier
from cryptography_summary import NAME_OVERRIDES, summary
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tlslens import Analysis
from tlslens.capture import CaptureError
from tlslens.certs import der
from tlslens.certs.x509 import NAME_ATTRIBUTES, summarize

# DSA keys, and serial numbers damage made negative.
pytestmark = pytest.mark.filterwarnings("ignore::cryptography.utils.CryptographyDeprecationWarning")


def agree(data: bytes) -> None:
    """Our summary of `data` is cryptography's, field by field."""
    ours = summarize(data)._asdict()
    assert ours["error"] is None
    theirs = summary(data)
    assert {k: ours[k] for k in theirs} == theirs


def certificates_in(paths: list[str]) -> set[bytes]:
    found: set[bytes] = set()
    for path in paths:
        try:
            for conv in Analysis(path).conversations():
                if conv.tls is not None:
                    session = conv.tls.session
                    found.update(d for d, _ in session.certificates)
                    found.update(d for d, _ in session.client_certificates)
        except CaptureError:
            pass
    return found


def test_every_certificate_of_the_fixtures_and_the_corpus_reads_as_cryptography_reads_it() -> None:
    paths = [str(p) for p in CAPTURES.glob("*.pcap*")]
    if CORPUS.is_dir():
        paths += [str(p) for p in CORPUS.rglob("*") if p.suffix in (".pcap", ".pcapng", ".cap")]
    compared = 0
    for data in sorted(certificates_in(paths)):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                x509.load_der_x509_certificate(data).extensions  # noqa: B018
        except ValueError:
            continue  # unreadable to cryptography: see the tests of damaged ones below
        agree(data)
        compared += 1
    # The fixtures hold 9 certificates that cryptography reads; the corpus, when present
    # beside the project, adds more.
    assert compared >= (15 if CORPUS.is_dir() else 9)


def test_the_attribute_names_are_cryptographys_and_openssls() -> None:
    from cryptography.x509.name import _NAMEOID_TO_NAME

    expected = {oid.dotted_string: name for oid, name in _NAMEOID_TO_NAME.items()}
    expected.update({oid.dotted_string: name for oid, name in NAME_OVERRIDES.items()})
    assert expected == NAME_ATTRIBUTES


# Keys are made once: an RSA or DSA key takes tens of milliseconds.
KEYS: dict[str, CertificateIssuerPrivateKeyTypes] = {
    "rsa1024": rsa.generate_private_key(65537, 1024),
    "rsa2048": rsa.generate_private_key(65537, 2048),
    "p256": ec.generate_private_key(ec.SECP256R1()),
    "p384": ec.generate_private_key(ec.SECP384R1()),
    "p521": ec.generate_private_key(ec.SECP521R1()),
    "k256": ec.generate_private_key(ec.SECP256K1()),
    "brainpool384": ec.generate_private_key(ec.BrainpoolP384R1()),
    "ed25519": ed25519.Ed25519PrivateKey.generate(),
    "ed448": ed448.Ed448PrivateKey.generate(),
}
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # DSA is deprecated, and still in certificates
    KEYS["dsa2048"] = dsa.generate_private_key(2048)
#: Signing keys and the hashes they sign with (None: the algorithm has its own).
SIGNERS = [("rsa2048", hashes.SHA256()), ("rsa2048", hashes.SHA512()), ("rsa1024", hashes.SHA224()),
           ("p256", hashes.SHA384()), ("ed25519", None), ("ed448", None)]  # fmt: skip
# (All deterministic, DSA's signature is not: hypothesis must get the same bytes again.)

ATTRIBUTE_OIDS = [
    NameOID.COMMON_NAME, NameOID.ORGANIZATION_NAME, NameOID.ORGANIZATIONAL_UNIT_NAME,
    NameOID.LOCALITY_NAME, NameOID.STATE_OR_PROVINCE_NAME, NameOID.STREET_ADDRESS,
    NameOID.DOMAIN_COMPONENT, NameOID.USER_ID, NameOID.EMAIL_ADDRESS, NameOID.SERIAL_NUMBER,
    NameOID.POSTAL_CODE, NameOID.GIVEN_NAME, NameOID.SURNAME, NameOID.TITLE,
    NameOID.BUSINESS_CATEGORY, NameOID.JURISDICTION_LOCALITY_NAME, NameOID.PSEUDONYM,
    NameOID.ORGANIZATION_IDENTIFIER, NameOID.DN_QUALIFIER, ObjectIdentifier("1.2.3.4.5"),
    ObjectIdentifier("2.999.1"),
]  # fmt: skip
#: Characters that RFC 4514 escapes, around letters and beyond the BMP.
TEXT = st.text(alphabet=st.sampled_from('ab Z09#"+,;<>\\=\0é€😀'), min_size=1, max_size=12)
STRING_TYPES = [_ASN1Type.UTF8String, _ASN1Type.BMPString, _ASN1Type.UniversalString]


@st.composite
def attributes(draw: st.DrawFn) -> x509.NameAttribute:  # type: ignore[type-arg]
    kind = draw(st.sampled_from(["country", "printable", "ia5", "text", "unique"]))
    if kind == "country":
        oid = draw(st.sampled_from([NameOID.COUNTRY_NAME, NameOID.JURISDICTION_COUNTRY_NAME]))
        return x509.NameAttribute(oid, draw(st.sampled_from(["US", "DE", "ZZ"])))
    if kind == "printable":
        value = draw(st.text(alphabet="Ab9 '()+,-./:=?", min_size=1, max_size=10))
        return x509.NameAttribute(NameOID.COMMON_NAME, value, _ASN1Type.PrintableString)
    if kind == "ia5":
        value = draw(st.text(alphabet="ab.@-_ #", min_size=1, max_size=10))
        return x509.NameAttribute(NameOID.EMAIL_ADDRESS, value, _ASN1Type.IA5String)
    if kind == "unique":
        value = draw(st.binary(min_size=1, max_size=6))
        return x509.NameAttribute(NameOID.X500_UNIQUE_IDENTIFIER, value, _ASN1Type.BitString)
    oid = draw(st.sampled_from(ATTRIBUTE_OIDS))
    return x509.NameAttribute(oid, draw(TEXT), draw(st.sampled_from(STRING_TYPES)))


@st.composite
def names(draw: st.DrawFn) -> x509.Name:
    rdns = draw(st.lists(st.lists(attributes(), min_size=1, max_size=3, unique_by=repr),
                         max_size=4))  # fmt: skip
    return x509.Name([x509.RelativeDistinguishedName(rdn) for rdn in rdns])


GENERAL_NAMES = st.one_of(
    st.from_regex(r"\*?[a-z0-9-]{1,8}(\.[a-z0-9-]{1,8}){0,3}", fullmatch=True).map(x509.DNSName),
    st.just(x509.IPAddress(ipaddress.ip_address("127.0.0.1"))),
    st.just(x509.RFC822Name("a@b.test")),
    st.just(x509.UniformResourceIdentifier("https://a.test/")),
)
PURPOSES = st.sampled_from([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH,
                            ExtendedKeyUsageOID.OCSP_SIGNING, ObjectIdentifier("1.3.6.1.4.1.99.1"),
                            ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE])  # fmt: skip
USAGES = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
          "key_agreement", "key_cert_sign", "crl_sign")  # fmt: skip


@st.composite
def extensions(draw: st.DrawFn) -> list[x509.ExtensionType]:
    found: list[x509.ExtensionType] = []
    if draw(st.booleans()):
        dns = draw(st.lists(GENERAL_NAMES, min_size=1, max_size=4, unique=True))
        found.append(x509.SubjectAlternativeName(dns))
    if draw(st.booleans()):
        ca = draw(st.booleans())
        found.append(x509.BasicConstraints(ca, draw(st.sampled_from([None, 0, 3])) if ca else None))
    if draw(st.booleans()):
        bits = draw(st.lists(st.sampled_from(USAGES), unique=True))
        agreement = "key_agreement" in bits
        found.append(x509.KeyUsage(**{u: u in bits for u in USAGES},
                                   encipher_only=agreement and draw(st.booleans()),
                                   decipher_only=False))  # fmt: skip
    if draw(st.booleans()):
        found.append(x509.ExtendedKeyUsage(draw(st.lists(PURPOSES, min_size=1, unique=True))))
    if draw(st.booleans()):
        found.append(x509.SubjectKeyIdentifier(draw(st.binary(min_size=1, max_size=24))))
    if draw(st.booleans()):
        key_id = draw(st.one_of(st.none(), st.binary(min_size=1, max_size=24)))
        found.append(x509.AuthorityKeyIdentifier(key_id, None, None))
    if draw(st.booleans()):
        found.append(x509.UnrecognizedExtension(ObjectIdentifier("1.2.3.99"),
                                                draw(st.binary(max_size=8))))  # fmt: skip
    return found


@st.composite
def certificates(draw: st.DrawFn) -> bytes:
    key = KEYS[draw(st.sampled_from(sorted(KEYS)))]
    signer, algorithm = draw(st.sampled_from(SIGNERS))
    start = datetime(1951, 1, 1, tzinfo=UTC) + timedelta(
        seconds=draw(st.integers(0, 150 * 365 * 86400)))  # fmt: skip
    builder = (
        x509.CertificateBuilder()
        .subject_name(draw(names()))
        .issuer_name(draw(names()))
        .public_key(key.public_key())  # type: ignore[arg-type]
        .serial_number(draw(st.integers(1, 2**159 - 1)))
        .not_valid_before(start)
        .not_valid_after(start + timedelta(seconds=draw(st.integers(0, 40 * 365 * 86400))))
    )
    for extension in draw(extensions()):
        builder = builder.add_extension(extension, critical=draw(st.booleans()))
    deterministic = True if signer == "p256" else None
    signed = builder.sign(KEYS[signer], algorithm, ecdsa_deterministic=deterministic)  # type: ignore[arg-type]
    return signed.public_bytes(serialization.Encoding.DER)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(certificates())
def test_generated_certificates_read_as_cryptography_reads_them(data: bytes) -> None:
    agree(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(certificates(), st.data())
def test_a_damaged_certificate_is_summarised(data: bytes, draw: st.DataObject) -> None:
    """Bytes changed, cut or inserted anywhere: still a summary, with an error when the
    structure is gone; and where `cryptography` reads the damaged certificate whole, what
    it reads outside the extensions (which we read one by one) is what we read."""
    at = draw.draw(st.integers(0, len(data) - 1))
    how = draw.draw(st.sampled_from(["flip", "cut", "insert"]))
    if how == "flip":
        damaged = data[:at] + bytes([data[at] ^ draw.draw(st.integers(1, 255))]) + data[at + 1 :]
    elif how == "cut":
        damaged = data[:at]
    else:
        damaged = data[:at] + draw.draw(st.binary(min_size=1, max_size=3)) + data[at:]
    ours = summarize(damaged)
    assert ours.sha256 and ours.der_length == len(damaged)
    try:
        theirs = summary(damaged)
    except Exception:  # cryptography's reasons are many (ValueError, TypeError...)
        return
    assert ours.error is None
    for field in ("subject", "issuer", "serial", "not_before", "not_after", "sig_alg_oid"):
        assert getattr(ours, field) == theirs[field], field


def test_der_lengths_are_the_shortest_and_definite() -> None:
    assert der.Reader(b"\x04\x81\x80" + bytes(128)).next() == (0x04, 3, 131)
    for bad in (b"\x04\x80\x00\x00", b"\x04\x81\x05abcde", b"\x04\x82\x00\x80" + bytes(128),
                b"\x04\x05abc", b"\x1f\x01\x00"):  # fmt: skip
        with pytest.raises(der.DERError):
            der.Reader(bad).next()


def test_object_identifiers_read_in_dotted_form() -> None:
    assert der.oid_text(bytes.fromhex("2a864886f70d01010b")) == "1.2.840.113549.1.1.11"
    assert der.oid_text(bytes.fromhex("8837")) == "2.999"
    for bad in (b"", b"\x2a\x86", b"\x2a\x80\x01"):
        with pytest.raises(der.DERError):
            der.oid_text(bad)


def self_signed(*extensions: tuple[x509.ExtensionType, bool]) -> bytes:
    """A self-signed P-256 certificate for CN=a.test, valid through 2024, with `extensions`
    (and whether each is critical)."""
    key = KEYS["p256"]
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "a.test")])
    builder = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(7)
        .not_valid_before(datetime(2024, 1, 1, tzinfo=UTC))
        .not_valid_after(datetime(2025, 1, 1, tzinfo=UTC))
    )  # fmt: skip
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def test_a_malformed_extension_counts_as_absent_on_its_own() -> None:
    data = self_signed(
        (x509.BasicConstraints(ca=True, path_length=None), True),
        # A SubjectAltName with no names (RFC 5280 4.2.1.6 wants at least one), as a real
        # certificate in the corpus has it:
        (x509.UnrecognizedExtension(x509.OID_SUBJECT_ALTERNATIVE_NAME, b"\x30\x00"), False),
    )
    ours = summarize(data)
    assert (ours.san_dns, ours.ca, ours.subject) == ((), True, "CN=a.test")
    with pytest.raises(ValueError):
        x509.load_der_x509_certificate(data).extensions  # noqa: B018 - cryptography drops all


def test_a_time_in_another_form_reads_as_unknown_and_the_rest_is_kept() -> None:
    """RFC 5280 4.1.2.5 allows UTCTime YYMMDDHHMMSSZ or GeneralizedTime YYYYMMDDHHMMSSZ;
    a UTCTime's text under GeneralizedTime's tag is neither."""
    data = self_signed()
    at = data.index(b"\x17\x0d240101000000Z")
    ours = summarize(data[:at] + b"\x18" + data[at + 1 :])
    assert ours.error is None and ours.not_before is None
    assert ours.not_after == datetime(2025, 1, 1, tzinfo=UTC)
    assert (ours.subject, ours.key) == ("CN=a.test", "ecdsa 256")
    assert ours._replace(key_bits=None).key == "ecdsa"
    assert ours._replace(key_type=None).key is None
