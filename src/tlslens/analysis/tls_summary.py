"""The TLS part of a connection record: what the client offered, what the server chose,
the certificates, the alerts and the outcome, built from a finished `TLSSession`.

Names are looked up here, for display; the session keeps code points.
Imports `tlslens.tls` and `tlslens.certs` (the analysis layer composes them).
"""

from __future__ import annotations

import hashlib
from typing import Any, ClassVar, Final

from tlslens.certs.x509 import CertSummary, summarize
from tlslens.tls import messages as m
from tlslens.tls.registry import (
    alert_level_name,
    alert_name,
    cipher_suite_name,
    extension_name,
    group_name,
    handshake_type_name,
    is_grease,
    names_of,
    signature_scheme_name,
    version_name,
)
from tlslens.tls.session import (
    CLIENT,
    SERVER,
    TLS13,
    Alert,
    HandshakeMessage,
    TLSSession,
    is_tls13,
)
from tlslens.tls.value import Value


class CertificateSeen(Value):
    """A certificate as one connection carried it: its summary and the frame (a `Value`: a
    connection makes one per certificate, and a compiled dataclass's __init__ is not)."""

    __match_args__: ClassVar[tuple[str, ...]] = ("summary", "frame")
    __slots__ = __match_args__

    def __init__(self, summary: CertSummary, frame: int) -> None:
        self.summary: Final = summary
        self.frame: Final = frame

    def to_record(self) -> dict[str, Any]:
        record = _certificate_fields(self.summary).copy()
        record["frame"] = self.frame
        return record


#: What `_certificate_fields` made, by the certificate's SHA-256 (a string, whose hash
#: Python keeps: a summary's own hash would hash its twenty fields, for every certificate
#: of every connection).
_FIELDS_BY_SHA256: Final[dict[str, dict[str, Any]]] = {}
_FIELDS_KEPT: Final = 1024


def _certificate_fields(s: CertSummary) -> dict[str, Any]:
    """A certificate's part of its record, but the frame: remembered per certificate, which
    a server sends on every connection. Shared, so callers copy it before adding to it, and
    its lists are tuples (the same JSON arrays)."""
    record = _FIELDS_BY_SHA256.get(s.sha256)
    if record is not None:
        return record
    if len(_FIELDS_BY_SHA256) >= _FIELDS_KEPT:
        _FIELDS_BY_SHA256.clear()
    record = {
        "subject": s.subject,
        "issuer": s.issuer,
        "serial": s.serial,
        "sig_alg": s.sig_alg,
        "not_before": s.not_before.isoformat().replace("+00:00", "Z")
        if s.not_before else None,
        "not_after": s.not_after.isoformat().replace("+00:00", "Z") if s.not_after else None,
        "key": s.key,
        "san": tuple(s.san_dns),
        "sha256": s.sha256,
        "sha1": s.sha1,
        "ca": s.ca,
        "key_usage": tuple(s.key_usage),
        "extended_key_usage": tuple(s.extended_key_usage),
        "subject_key_id": s.subject_key_id,
        "authority_key_id": s.authority_key_id,
    }  # fmt: skip
    if s.error:
        record["error"] = s.error
    _FIELDS_BY_SHA256[s.sha256] = record
    return record


#: What `_dashed` and `_md5` made, kept while short (a hostile hello's lists and strings
#: can be long) and at most _KEPT of each. Plain dicts: compiled code calls a
#: `functools.lru_cache` wrapper like any Python object, at about 1,000 instructions.
_DASHED: Final[dict[tuple[int, ...], str]] = {}
_MD5: Final[dict[str, str]] = {}
_KEPT: Final = 1024
_LIST_KEPT: Final = 128
_TEXT_KEPT: Final = 2048


def _dashed(values: tuple[int, ...]) -> str:
    """A JA3 field: decimal values joined by dashes, GREASE left out (remembered per list:
    the same few client builds offer the same lists over and over, and equal lists are
    mostly one object: `tls.wire.Reader.u16_list`)."""
    text = _DASHED.get(values)
    if text is None:
        text = "-".join([str(v) for v in values if not is_grease(v)])
        if len(values) <= _LIST_KEPT:
            if len(_DASHED) >= _KEPT:
                _DASHED.clear()
            _DASHED[values] = text
    return text


def _md5(text: str) -> str:
    """A JA3 or JA3S hash (MD5 of the string, as JA3 defines it), remembered per string: a
    capture holds few distinct client and server builds."""
    digest = _MD5.get(text)
    if digest is None:
        digest = hashlib.md5(text.encode()).hexdigest()
        if len(text) <= _TEXT_KEPT:
            if len(_MD5) >= _KEPT:
                _MD5.clear()
            _MD5[text] = digest
    return digest


def _alert_record(alert: Alert) -> dict[str, Any]:
    return {
        "from": alert.role,
        "frame": alert.frame,
        "encrypted": alert.encrypted,
        "level": alert_level_name(alert.level) if alert.level is not None else None,
        "code": alert.description,
        "description": alert_name(alert.description) if alert.description is not None else None,
        "likely": alert.likely,
    }


class TlsSummary(Value):
    """Facts about the TLS in one connection, ready for display (a `Value`, made once per
    connection)."""

    __match_args__: ClassVar[tuple[str, ...]] = (
        "session", "certificates", "client_certificates", "alerts", "outcome"
    )  # fmt: skip
    __slots__ = __match_args__

    def __init__(self, session: TLSSession, certificates: tuple[CertificateSeen, ...],
                 client_certificates: tuple[CertificateSeen, ...], alerts: tuple[Alert, ...],
                 outcome: str) -> None:  # fmt: skip
        self.session: Final = session
        self.certificates: Final = certificates
        self.client_certificates: Final = client_certificates
        self.alerts: Final = alerts
        self.outcome: Final = outcome

    @classmethod
    def of(cls, session: TLSSession) -> TlsSummary:
        # The class by name: a direct call of its constructor, where `cls(...)` is generic.
        return TlsSummary(
            session,
            tuple([CertificateSeen(summarize(d), f) for d, f in session.certificates]),
            tuple([CertificateSeen(summarize(d), f) for d, f in session.client_certificates]),
            tuple(session.final_alerts()),
            session.outcome(),
        )

    @property
    def is_tls(self) -> bool:
        return self.session.is_tls

    @property
    def sni(self) -> str | None:
        hello = self.session.client_hello
        return hello.extensions.server_name if hello else None

    @property
    def version(self) -> str | None:
        v = self.session.version
        return version_name(v) if v is not None else None

    @property
    def cipher(self) -> str | None:
        c = self.session.cipher
        return cipher_suite_name(c) if c is not None else None

    @property
    def last_alert(self) -> str | None:
        if not self.alerts:
            return None
        alert = self.alerts[-1]
        if alert.description is not None:
            return alert_name(alert.description)
        return f"encrypted ({alert.likely or 'unknown'})"

    @property
    def offered_max(self) -> int | None:
        """The highest version the ClientHello offered (GREASE left out; TLS 1.3 drafts
        count as TLS 1.3), or None without a ClientHello."""
        hello = self.session.client_hello
        if hello is None:
            return None
        versions = [v for v in hello.offered_versions if v & 0x0F0F != 0x0A0A]
        return max((TLS13 if is_tls13(v) else v for v in versions), default=None)

    @property
    def ja3_string(self) -> str | None:
        """JA3: legacy version, cipher suites, extensions, groups and point formats of the
        ClientHello in decimal, GREASE values (RFC 8701) left out."""
        hello = self.session.client_hello
        if hello is None or hello.format != "tls":
            return None
        ext = hello.extensions
        return ",".join((
            str(hello.legacy_version),
            _dashed(hello.cipher_suites),
            _dashed(ext.types),
            _dashed(ext.supported_groups),
            _dashed(ext.ec_point_formats),
        ))  # fmt: skip

    @property
    def ja3(self) -> str | None:
        text = self.ja3_string
        return _md5(text) if text is not None else None

    @property
    def ja3s_string(self) -> str | None:
        """JA3S: the ServerHello's legacy version, cipher suite and extensions."""
        hello = self.session.server_hello
        if hello is None:
            return None
        return f"{hello.legacy_version},{hello.cipher_suite},{_dashed(hello.extensions.types)}"

    @property
    def ja3s(self) -> str | None:
        text = self.ja3s_string
        return _md5(text) if text is not None else None

    @property
    def history(self) -> str:
        return "".join(self.session.history)

    def notes(self) -> list[str]:
        s = self.session
        notes = []
        if is_tls13(s.version) and not s.certificates:
            notes.append(
                "TLS 1.3 encrypts the certificates; without the session keys they cannot be shown"
            )
        if s.starttls:
            notes.append("TLS started after a plaintext exchange (STARTTLS)")
        if s.hello_retry_request is not None:
            notes.append("the server asked for another key share (HelloRetryRequest)")
        if s.renegotiation_records:
            notes.append(
                f"{s.renegotiation_records} encrypted handshake record(s) after the handshake: "
                "renegotiation (or a HelloRequest)"
            )
        if s.early_data_records:
            notes.append(f"{s.early_data_records} record(s) of TLS 1.3 early data (0-RTT)")
        return notes

    def to_record(self) -> dict[str, Any]:
        record: dict[str, Any] = {}
        self.add_to_record(record)
        return record

    def add_to_record(self, record: dict[str, Any]) -> None:
        """Put the TLS part of a connection's record into `record` (its `Conversation`'s:
        no dict of its own to be made and merged)."""
        s = self.session
        record["tls"] = s.is_tls
        if not s.is_tls:
            record["outcome"] = self.outcome
            return
        hello = s.client_hello
        server_hello = s.server_hello
        # Key by key: compiled, each is a store, where update(**...) went through a
        # generic call with keyword arguments.
        record["sni"] = self.sni
        record["version"] = self.version
        record["cipher"] = self.cipher
        record["cipher_id"] = s.cipher
        record["resumed"] = s.resumed
        record["established"] = s.established
        record["outcome"] = self.outcome
        record["history"] = self.history
        record["ja3"] = self.ja3
        record["ja3s"] = self.ja3s
        if hello is not None:
            ext = hello.extensions
            record["client_hello"] = {
                "format": hello.format,
                "frame": s.client_hello_frame,
                "legacy_version": version_name(hello.legacy_version),
                "supported_versions": list(names_of(version_name, ext.supported_versions)),
                "cipher_suites": list(names_of(cipher_suite_name, hello.cipher_suites)),
                "extensions": list(names_of(extension_name, ext.types)),
                "alpn": list(ext.alpn),
                "groups": list(names_of(group_name, ext.supported_groups)),
                "key_share_groups": list(names_of(group_name, ext.key_share_groups)),
                "signature_algorithms": list(names_of(signature_scheme_name,
                                                      ext.signature_algorithms)),
                "session_id": hello.session_id.hex() or None,
                "session_ticket": None if ext.session_ticket is None
                else len(ext.session_ticket),
                "psk_identities": ext.psk_identities,
            }  # fmt: skip
        if server_hello is not None:
            ext = server_hello.extensions
            record["server_hello"] = {
                "frame": s.server_hello_frame,
                "legacy_version": version_name(server_hello.legacy_version),
                "selected_version": version_name(ext.supported_versions[0])
                if ext.supported_versions else None,
                "extensions": list(names_of(extension_name, ext.types)),
                "alpn": ext.alpn[0] if ext.alpn else None,
                "key_share_group": group_name(ext.key_share_groups[0])
                if ext.key_share_groups else None,
                "session_id": server_hello.session_id.hex() or None,
            }  # fmt: skip
        ske = s.server_key_exchange
        if ske is not None:
            record["server_key_exchange"] = {
                "kind": ske.kind,
                "group": group_name(ske.named_group) if ske.named_group is not None else None,
                "dh_bits": ske.dh_prime_bits,
                "signature": signature_scheme_name(ske.signature_scheme)
                if ske.signature_scheme is not None else None,
            }  # fmt: skip
        record["group"] = self.group
        record["certificates"] = [c.to_record() for c in self.certificates]
        record["client_certificates"] = [c.to_record() for c in self.client_certificates]
        record["client_certificate_sent"] = s.client_certificate_frame is not None
        record["certificate_request"] = s.certificate_request is not None
        record["alerts"] = [_alert_record(a) for a in self.alerts]
        record["application_data"] = {
            "client_bytes": s.dirs[CLIENT].app_bytes,
            "server_bytes": s.dirs[SERVER].app_bytes,
        }
        record["encrypted_from"] = {"client": s.encrypted_from(CLIENT),
                                    "server": s.encrypted_from(SERVER)}  # fmt: skip
        record["starttls"] = s.starttls
        record["notes"] = self.notes()
        record["anomalies"] = [
            {"from": a.role, "frame": a.frame, "offset": a.offset, "message": a.message}
            for a in s.anomalies
        ]

    @property
    def group(self) -> str | None:
        """The key exchange group: from the key_share (TLS 1.3) or the ServerKeyExchange."""
        s = self.session
        if s.server_hello is not None and s.server_hello.extensions.key_share_groups:
            return group_name(s.server_hello.extensions.key_share_groups[0])
        if s.server_key_exchange is not None and s.server_key_exchange.named_group is not None:
            return group_name(s.server_key_exchange.named_group)
        return None

    def handshake_types(self) -> list[tuple[str, str]]:
        """(role, message name) of every readable handshake message, in order."""
        out = []
        for e in self.session.events:
            if isinstance(e, HandshakeMessage) and e.msg_type is not None:
                if isinstance(e.body, m.SSLv2ServerHello):
                    out.append((e.role, "server_hello (SSL 2.0)"))
                elif isinstance(e.body, m.ClientHello) and e.body.format == "sslv2":
                    out.append((e.role, "client_hello (SSL 2.0)"))
                else:
                    out.append((e.role, handshake_type_name(e.msg_type)))
        return out
