"""`tlslens explain`: what a TLS or Windows code means (Err.exe for TLS).

Facts come from data files in `explain/data/` (built from ../shared/reference, each row
keeping its source) and from the TLS registries and OID table; the explanations are ours.
Ambiguous input gets every reading ("48" is an alert and could be a version byte, "36888" an
event id). Imports `tlslens.tls.registry` and `tlslens.certs.x509` (for OID names) only.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files

from tlslens.certs.x509 import SIGNATURE_ALGORITHMS, WEAK_HASHES
from tlslens.tls.registry import (
    cipher_suite_code,
    cipher_suite_info,
    cipher_suite_name,
    version_name,
)

#: Alert meanings in our words, and which side usually sends each (RFC 8446 6, RFC 5246 7.2).
ALERT_MEANINGS: dict[int, tuple[str, str]] = {
    0: ("the sender will send nothing more on this connection; a normal close", "either"),
    10: ("a message came that the protocol state does not allow", "either"),
    20: ("a record failed its integrity check: corruption, tampering or wrong keys",
         "either"),
    21: ("obsolete (SSL 3.0/TLS 1.0 era); must not be sent any more", "either"),
    22: ("a record was longer than the protocol allows", "either"),
    30: ("obsolete: TLS compression is gone", "either"),
    40: ("no acceptable set of parameters (often: no common cipher suite or version, or a "
         "required client certificate missing)", "server"),
    41: ("obsolete SSL 3.0 alert for a missing client certificate", "client"),
    42: ("the peer's certificate is corrupt or failed a check (signature, name, algorithm)",
         "client"),
    43: ("the peer's certificate is of a type or usage the receiver does not support",
         "client"),
    44: ("the peer's certificate was revoked by its issuer", "client"),
    45: ("the peer's certificate has expired or is not yet valid", "client"),
    46: ("some other problem with the peer's certificate made it unacceptable", "client"),
    47: ("a field in the handshake is out of range or inconsistent", "either"),
    48: ("the certificate chain does not lead to a trusted root (untrusted or missing CA)",
         "client"),
    49: ("the certificate was fine but access is refused by policy", "server"),
    50: ("a message could not be decoded: bad length or malformed field", "either"),
    51: ("a signature or Finished check failed: the handshake does not verify", "either"),
    52: ("too many connection ids were requested (DTLS 1.3)", "either"),
    60: ("obsolete: export restrictions", "server"),
    70: ("the version the peer wants is not supported (no common protocol version)",
         "server"),
    71: ("the peer's parameters are too weak for this side's policy (e.g. only weak "
         "ciphers offered)", "server"),
    80: ("an error inside the sender, unrelated to the peer", "either"),
    86: ("the client signalled a version fallback (TLS_FALLBACK_SCSV) the server sees as a "
         "downgrade attack", "server"),
    90: ("the user cancelled the handshake", "either"),
    100: ("obsolete: renegotiation refused", "either"),
    109: ("a mandatory extension is missing", "either"),
    110: ("an extension came that was not asked for or is not allowed there", "either"),
    111: ("obsolete: certificate unobtainable from a URL", "client"),
    112: ("the server does not know the name asked for in SNI", "server"),
    113: ("the OCSP status response is invalid", "client"),
    114: ("obsolete: certificate hash mismatch", "server"),
    115: ("the PSK identity offered is unknown", "server"),
    116: ("the server requires a client certificate and none was sent", "server"),
    117: ("an error with no better alert; see the sender's logs", "either"),
    120: ("no ALPN protocol in common (e.g. the client wants h2, the server only http/1.1)",
          "server"),
    121: ("the server requires Encrypted Client Hello", "server"),
}  # fmt: skip

#: Our words for the Schannel events a TLS troubleshooter meets.
SCHANNEL_MEANINGS: dict[int, str] = {
    36870: "the server could not use its certificate's private key (permissions, "
    "missing key, wrong provider); ErrorStatus says why",
    36871: "Schannel could not create its credentials (often: no usable certificate or a "
    "protocol/cipher policy that leaves nothing enabled); ErrorState says why",
    36874: "a client connected but no cipher suite is acceptable to both sides",
    36876: "the server's certificate failed validation on this client",
    36877: "the client's certificate failed validation on this server",
    36880: "a handshake completed (protocol, cipher, key strength)",
    36882: "the server's certificate chains to a root this client does not trust",
    36884: "the server's certificate does not cover the name the client asked for",
    36885: "the list of trusted issuers sent to clients was cut (too many roots)",
    36886: "the server has no default certificate for TLS",
    36887: "this machine RECEIVED a fatal alert from the peer (AlertDesc)",
    36888: "this machine SENT a fatal alert (AlertDesc), for the reason ErrorState names",
}  # fmt: skip

REGISTRY_HINT = (
    "Schannel protocols: HKLM\\SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\SCHANNEL\\"
    "Protocols\\<TLS 1.2|TLS 1.3|...>\\<Client|Server>, DWORD Enabled and DisabledByDefault; "
    ".NET Framework: HKLM\\SOFTWARE\\Microsoft\\.NETFramework\\v4.0.30319 (and Wow6432Node) "
    "SchUseStrongCrypto=1, SystemDefaultTlsVersions=1."
)


@dataclass(frozen=True, slots=True)
class Explanation:
    kind: str
    code: str
    name: str
    lines: list[str] = field(default_factory=list)
    source: str = ""


@cache
def _rows(name: str) -> list[dict[str, str]]:
    text = (files("tlslens.explain") / "data" / name).read_text(encoding="utf-8")
    body = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    return list(csv.DictReader(io.StringIO(body)))


def _int(term: str) -> int | None:
    t = term.strip().lower()
    try:
        return int(t, 16) if t.startswith("0x") else int(t)
    except ValueError:
        return None


def _alert(code: int) -> Explanation | None:
    row = next((r for r in _rows("alerts.csv") if int(r["code"]) == code), None)
    if row is None:
        return None
    meaning, side = ALERT_MEANINGS.get(code, ("", "either"))
    lines = [meaning] if meaning else []
    lines.append(f"usually sent by: {side}")
    if row["schannel_constant"]:
        lines.append(f"Schannel: {row['schannel_constant']}")
    if row["hresult_on_receipt"]:
        lines.append(f"Schannel returns {row['hresult_on_receipt']} when it receives it")
    return Explanation("TLS alert", str(code), row["name"], lines, row["rfc"])


def _event(code: int) -> Explanation | None:
    row = next((r for r in _rows("schannel_events.csv") if int(r["id"]) == code), None)
    if row is None:
        return None
    lines = [SCHANNEL_MEANINGS[code]] if code in SCHANNEL_MEANINGS else []
    lines += [f"fields: {row['params']}", f"level: {row['level']}"]
    if code in (36887, 36888):
        lines.append("no address or port is in the event: match it to a connection by time, "
                     "alert code and TargetName (SNI)")  # fmt: skip
    return Explanation("Schannel event", str(code), row["name"], lines, row["source"])


def _state(code: int) -> Explanation | None:
    row = next((r for r in _rows("schannel_error_states.csv") if int(r["code"]) == code), None)
    if row is None:
        return None
    lines = [f"how sure: {row['confidence']}",
             "Microsoft does not document these states; the name comes from symbols"]  # fmt: skip
    return Explanation("Schannel internal error state (36888 ErrorState)", str(code),
                       row["name"], lines, row["source"])  # fmt: skip


def _hresult(code: int) -> Explanation | None:
    row = next((r for r in _rows("hresults.csv") if int(r["hex"], 16) == code), None)
    if row is None:
        return None
    lines = [f"Schannel: {row['alert_mapping']}"] if row["alert_mapping"] else []
    return Explanation("HRESULT", f"0x{code:08X}", row["name"], lines, row["source"])


def _hresult_by_name(name: str) -> Explanation | None:
    row = next((r for r in _rows("hresults.csv") if r["name"].upper() == name.upper()), None)
    return _hresult(int(row["hex"], 16)) if row else None


def _cipher(code: int) -> Explanation | None:
    info = cipher_suite_info(code)
    if info is None:
        name = cipher_suite_name(code)
        if name.startswith(("unknown", "GREASE")):
            return None
        return Explanation("cipher suite", f"0x{code:04X}", name, [], "IANA TLS Cipher Suites")
    verdict = "weak: " + ", ".join(info.weaknesses) if info.weaknesses else "no known weakness"
    lines = [f"key exchange {info.key_exchange}, authentication {info.authentication}, "
             f"cipher {info.encryption}, MAC {info.mac}"
             + (" (TLS 1.3 only)" if info.tls13 else ""), verdict]  # fmt: skip
    return Explanation("cipher suite", f"0x{code:04X}", info.name, lines,
                       "IANA TLS Cipher Suites")  # fmt: skip


def _cipher_by_name(name: str) -> Explanation | None:
    code = cipher_suite_code(name)
    return _cipher(code) if code is not None else None


def _version(code: int) -> Explanation | None:
    name = version_name(code)
    if name.startswith("unknown"):
        return None
    lines = []
    if code in (0x0002, 0x0300):
        lines.append("prohibited (RFC 6176, RFC 7568)")
    elif code in (0x0301, 0x0302):
        lines.append("deprecated (RFC 8996); PCI DSS requires TLS 1.2 or newer")
    lines.append(REGISTRY_HINT)
    return Explanation("TLS version", f"0x{code:04X}", name, lines, "RFC 8446, RFC 8996")


def _oid(term: str) -> Explanation | None:
    entry = SIGNATURE_ALGORITHMS.get(term)
    if entry is None:
        return None
    name, digest = entry
    lines = [f"hash: {digest}"]
    if digest in WEAK_HASHES:
        lines.append("weak: modern clients reject certificates signed this way")
    return Explanation("signature algorithm OID", term, name, lines, "OpenSSL objects.txt")


def error_state(code: int) -> tuple[str, str] | None:
    """(name, how sure) of a Schannel internal error state, or None if unknown."""
    row = next((r for r in _rows("schannel_error_states.csv") if int(r["code"]) == code), None)
    return (row["name"], row["confidence"]) if row else None


def hresult_name(code: int) -> str | None:
    """The symbolic name of an HRESULT such as 0x80090325 (SEC_E_UNTRUSTED_ROOT)."""
    code &= 0xFFFFFFFF
    row = next((r for r in _rows("hresults.csv") if int(r["hex"], 16) == code), None)
    return row["name"] if row else None


def schannel_event_name(code: int) -> str | None:
    """The manifest name of a Schannel event id, e.g. FatalAlertGenerated for 36888."""
    row = next((r for r in _rows("schannel_events.csv") if int(r["id"]) == code), None)
    return row["name"] if row else None


def explain(term: str) -> list[Explanation]:
    """Every reading of `term`; empty when nothing matches."""
    term = term.strip()
    out: list[Explanation] = []
    if term.count(".") >= 2 and all(p.isdigit() for p in term.split(".")):
        found = _oid(term)
        return [found] if found else []
    number = _int(term)
    if number is None:
        for finder in (_hresult_by_name, _cipher_by_name):
            found = finder(term)
            if found:
                out.append(found)
        return out
    hexed = term.lower().startswith("0x")
    readers = []
    if not hexed and number < 256:
        readers.append(_alert)
    if 36864 <= number <= 36999:
        readers.append(_event)
    if not hexed and number < 100000:
        readers.append(_state)
    if number > 0xFFFF:
        readers.append(_hresult)
    if number <= 0xFFFF and (hexed or number > 255):
        readers += [_cipher, _version]
    for reader in readers:
        found = reader(number)
        if found:
            out.append(found)
    return out
