"""Value kinds of the filter language: how a literal is read, how values compare, and how a
value is shown (for `contains` and `matches`, which work on the shown text).

Each kind turns a literal into the value a field holds, or raises ValueError with a sentence
saying what was expected. Imports `tlslens.tls.registry` only.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tlslens.tls.registry import (
    ALERT_LEVELS,
    HANDSHAKE_TYPES,
    alert_name,
    cipher_suite_code,
    cipher_suite_name,
    extension_name,
    handshake_type_name,
    version_name,
)

_VERSION_WORD = re.compile(r"^(ssl|tls|dtls)v?\s*([0-9])(?:\.([0-9]))?$", re.IGNORECASE)
_VERSIONS = {("ssl", 2, 0): 0x0002, ("ssl", 3, 0): 0x0300, ("tls", 1, 0): 0x0301,
             ("tls", 1, 1): 0x0302, ("tls", 1, 2): 0x0303, ("tls", 1, 3): 0x0304,
             ("dtls", 1, 0): 0xFEFF, ("dtls", 1, 2): 0xFEFD, ("dtls", 1, 3): 0xFEFC}  # fmt: skip


def _number(text: str) -> int:
    t = text.strip().lower()
    return int(t, 16) if t.startswith("0x") else int(t)


def version_code(text: str) -> int:
    """TLS1.2, tls1.2, TLSv1.2, "TLS 1.2", SSL3, SSLv3.0, 0x0303 -> the version number."""
    t = text.strip()
    match = _VERSION_WORD.match(t.replace(" ", ""))
    if match:
        family, major, minor = match.group(1).lower(), int(match.group(2)), match.group(3)
        key = (family, major, int(minor) if minor is not None else 0)
        if key in _VERSIONS:
            return _VERSIONS[key]
    try:
        return _number(t)
    except ValueError:
        raise ValueError(f"{text!r} is not a TLS version (e.g. TLS1.2, SSL3.0, 0x0303)") \
            from None  # fmt: skip


def version_rank(code: int) -> int:
    """Versions in order of age; DTLS counts down (RFC 6347 4.1), TLS 1.3 drafts rank as 1.3."""
    if code >> 8 == 0x7F:
        return 0x0304
    if code >> 8 == 0xFE:
        return {0xFEFF: 0x0302, 0xFEFD: 0x0303, 0xFEFC: 0x0304}.get(code, code)
    return code


def _named(names: dict[str, int], what: str, example: str) -> Callable[[str], int]:
    def read(text: str) -> int:
        t = text.strip()
        try:
            return _number(t)
        except ValueError:
            pass
        code = names.get(t.lower())
        if code is None:
            raise ValueError(f"{text!r} is not {what} (e.g. {example})")
        return code

    return read


def _cipher(text: str) -> int:
    t = text.strip()
    try:
        return _number(t)
    except ValueError:
        pass
    code = cipher_suite_code(t.upper())
    if code is None:
        raise ValueError(f"{text!r} is not a cipher suite (e.g. 0xc02f or "
                         "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)")  # fmt: skip
    return code


def _ip(text: str) -> Any:
    try:
        return ipaddress.ip_network(text.strip().strip("[]"), strict=False)
    except ValueError:
        raise ValueError(f"{text!r} is not an IP address or network (e.g. 10.0.0.5, "
                         "10.0.0.0/8, ::1)") from None  # fmt: skip


def _time(text: str) -> int:
    t = text.strip()
    try:
        parsed = datetime.fromisoformat(t.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is not a time (e.g. 2026-11-23T10:00:00Z)") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp()) * 1_000_000_000 + parsed.microsecond * 1000


def _bool(text: str) -> bool:
    t = text.strip().lower()
    if t in ("true", "1", "yes"):
        return True
    if t in ("false", "0", "no"):
        return False
    raise ValueError(f"{text!r} is not true or false")


def _int(text: str) -> int:
    try:
        return _number(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None


def _time_text(ns: int) -> str:
    seconds, rest = divmod(ns, 1_000_000_000)
    stamp = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{rest // 1000:06d}Z"


@dataclass(frozen=True)
class Kind:
    name: str
    #: Literal text -> value (raises ValueError with what was expected).
    read: Callable[[str], Any]
    #: Value -> the text `contains` and `matches` look at.
    text: Callable[[Any], str]
    #: Value -> what `<`, `>` compare; None when the kind has no order.
    order: Callable[[Any], Any] | None = None


def _alert_names() -> dict[str, int]:
    # Unassigned codes are named "unknown(0x..)"; unknown_ca (48) is a real name.
    return {alert_name(code): code for code in range(256)
            if not alert_name(code).startswith("unknown(")}  # fmt: skip


KINDS: dict[str, Kind] = {
    "int": Kind("int", _int, str, lambda v: v),
    "float": Kind("float", _float, str, lambda v: v),
    "string": Kind("string", lambda t: t, str, lambda v: v),
    "bool": Kind("bool", _bool, lambda v: "true" if v else "false"),
    "ip": Kind("ip", _ip, str),
    "time": Kind("time", _time, _time_text, lambda v: v),
    "version": Kind("version", version_code, version_name, version_rank),
    "cipher": Kind("cipher", _cipher, cipher_suite_name, lambda v: v),
    "alert": Kind("alert", _named(_alert_names(), "a TLS alert", "bad_certificate or 42"),
                  alert_name, lambda v: v),
    "alert_level": Kind("alert_level", _named({v: k for k, v in ALERT_LEVELS.items()},
                                              "an alert level", "fatal or 2"),
                        lambda v: ALERT_LEVELS.get(v, str(v)), lambda v: v),
    "handshake": Kind("handshake", _named({v: k for k, v in HANDSHAKE_TYPES.items()},
                                          "a handshake type", "client_hello or 1"),
                      handshake_type_name, lambda v: v),
    "extension": Kind("extension", _int, extension_name, lambda v: v),
}  # fmt: skip
