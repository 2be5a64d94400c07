"""What an event says about TLS connections: `facts(event)` reads the fields of the events
tlslens understands into small typed records, and returns None for every other event.

- Schannel (provider `Schannel`, ids 36864-36928): the local side's verdicts. Field names
  come from the Schannel manifest (see ../shared/reference/schannel_events.csv): 36887
  `AlertDesc`; 36888 `AlertDesc`, `ErrorState`, `TargetName` (Windows 10 1511+); 36880
  `Type`, `Protocol`, `CipherSuite`, `TargetName`; 36884 `Name`; 36874 `Protocol`; 36876,
  36877 `ErrorCode` (an HRESULT); 36870 `ErrorStatus`; 36871 `ErrorState`. No Schannel event
  carries an address or port: they are joined to connections by time and content.
- Sysmon event 3 (network connection): process id and image plus both ends. `UtcTime` is when
  the connection happened; the event itself is often written seconds later.
- Security 5156 (WFP permitted a connection) and 5157 (blocked): process id, application
  path, direction, and the ends; `Source*` is always the local end and `Dest*` the remote
  one (Microsoft's audit documentation for these events).
- CAPI2 operational events (certificate chain building) are recognised by provider only.

Standard library only; must not import capture, net, tls, certs or analysis.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from .model import LogEvent
from .timestamp import parse_time

SCHANNEL: Final = "schannel"
SYSMON: Final = "microsoft-windows-sysmon"
SECURITY: Final = "microsoft-windows-security-auditing"
CAPI2: Final = "microsoft-windows-capi2"

# Schannel event ids (../shared/reference/schannel_events.csv).
CREDENTIAL_EVENTS: Final = frozenset((36867, 36868, 36869, 36870, 36871, 36872, 36886, 36889))
NO_COMMON_CIPHER: Final = 36874
SERVER_CERT_VALIDATION: Final = 36876
CLIENT_CERT_VALIDATION: Final = 36877
CLIENT_CERT_MAPPING: Final = frozenset((36878, 36879))
HANDSHAKE_COMPLETED: Final = 36880
SERVER_CERT_EXPIRED: Final = 36881
SERVER_CERT_UNTRUSTED: Final = 36882
SERVER_CERT_REVOKED: Final = 36883
SERVER_CERT_NAME: Final = 36884
ALERT_RECEIVED: Final = 36887
ALERT_GENERATED: Final = 36888

#: Schannel's verdicts on the server's certificate: the local side is the client.
SERVER_CERT_EVENTS: Final = frozenset(
    (SERVER_CERT_VALIDATION, SERVER_CERT_EXPIRED, SERVER_CERT_UNTRUSTED, SERVER_CERT_REVOKED,
     SERVER_CERT_NAME)
)  # fmt: skip

# WFP direction codes as wevtutil leaves them unrendered (%%14592 inbound, %%14593 outbound).
_WFP_DIRECTIONS: Final = {"%%14592": False, "%%14593": True, "inbound": False, "outbound": True}


@dataclass(frozen=True, slots=True)
class SchannelFacts:
    """One Schannel event's facts; None where the event does not carry the field."""

    event_id: int
    #: 36887/36888: the TLS alert description received or generated.
    alert: int | None = None
    #: 36888 ErrorState, 36871 ErrorState, 36870 ErrorStatus: Schannel's internal state.
    state: int | None = None
    #: The name the client asked for (36888/36880 TargetName, 36884 Name).
    target: str | None = None
    #: The local side's role, `client` or `server`, where the event says or implies it.
    role: str | None = None
    #: 36880/36874: the protocol as Schannel names it, e.g. "TLS 1.2".
    protocol: str | None = None
    #: 36880: the negotiated cipher suite.
    cipher: int | None = None
    #: 36876/36877/...: an HRESULT such as 0x80090325.
    error_code: int | None = None

    @property
    def tied_to_connection(self) -> bool:
        """False for credential events, which happen before (or instead of) a handshake."""
        return self.event_id not in CREDENTIAL_EVENTS


@dataclass(frozen=True, slots=True)
class NetworkFacts:
    """A process's network connection from Sysmon 3 or WFP 5156/5157."""

    #: "sysmon" or "wfp".
    origin: str
    pid: int | None
    #: The executable's path as the log gives it.
    image: str | None
    #: "tcp", "udp", or the protocol number as text.
    protocol: str
    ip_a: str
    port_a: int
    ip_b: str
    port_b: int
    #: True when the log says the local side opened the connection; None if unknown.
    outbound: bool | None
    #: The end that is known to be this machine's ("a" or "b"), or None.
    local: str | None
    #: False for WFP 5157 (blocked).
    allowed: bool
    #: When the connection happened (Sysmon UtcTime), else the event's own time.
    when_ns: int

    @property
    def process_name(self) -> str | None:
        if not self.image:
            return None
        return self.image.replace("/", "\\").rsplit("\\", 1)[-1] or None


def _int(text: str | None) -> int | None:
    if text is None:
        return None
    t = text.strip()
    try:
        return int(t, 16) if t.lower().startswith("0x") else int(t)
    except ValueError:
        return None


def _text(fields: dict[str, str], name: str) -> str | None:
    value = fields.get(name, "").strip()
    return value or None


def _schannel(event: LogEvent) -> SchannelFacts:
    f = event.fields
    eid = event.event_id
    role = (_text(f, "Type") or "").lower() or None
    if role not in ("client", "server"):
        role = None
    if eid in SERVER_CERT_EVENTS:
        role = "client"
    elif eid in (CLIENT_CERT_VALIDATION, NO_COMMON_CIPHER) or eid in CLIENT_CERT_MAPPING:
        role = "server"
    return SchannelFacts(
        event_id=eid,
        alert=_int(f.get("AlertDesc")),
        state=_int(f.get("ErrorState", f.get("ErrorStatus"))),
        target=_text(f, "TargetName") or _text(f, "Name"),
        role=role,
        protocol=_text(f, "Protocol"),
        cipher=_int(f.get("CipherSuite")),
        error_code=_int(f.get("ErrorCode")),
    )


def _ip(text: str | None) -> str | None:
    if not text:
        return None
    ip = text.strip().strip("[]")
    # WFP writes IPv4-mapped IPv6 addresses for dual-stack sockets.
    if ip.lower().startswith("::ffff:") and "." in ip:
        ip = ip[7:]
    return ip or None


def _sysmon(event: LogEvent) -> NetworkFacts | None:
    f = event.fields
    src, dst = _ip(f.get("SourceIp")), _ip(f.get("DestinationIp"))
    sport, dport = _int(f.get("SourcePort")), _int(f.get("DestinationPort"))
    if src is None or dst is None or sport is None or dport is None:
        return None
    initiated = (_text(f, "Initiated") or "").lower()
    outbound = True if initiated == "true" else False if initiated == "false" else None
    when = parse_time(f.get("UtcTime", ""))
    return NetworkFacts(
        origin="sysmon",
        pid=_int(f.get("ProcessId")),
        image=_text(f, "Image"),
        protocol=(_text(f, "Protocol") or "").lower(),
        ip_a=src, port_a=sport, ip_b=dst, port_b=dport,
        outbound=outbound,
        # An initiated connection's source is this machine; for an accepted one Sysmon's
        # Source/Destination order is not consistent across versions, so claim nothing.
        local="a" if outbound else None,
        allowed=True,
        when_ns=when.ts_ns if when is not None else event.ts_ns,
    )  # fmt: skip


def _wfp(event: LogEvent) -> NetworkFacts | None:
    f = event.fields
    src, dst = _ip(f.get("SourceAddress")), _ip(f.get("DestAddress"))
    sport, dport = _int(f.get("SourcePort")), _int(f.get("DestPort"))
    if src is None or dst is None or sport is None or dport is None:
        return None
    protocol = _text(f, "Protocol") or ""
    protocol = {"6": "tcp", "17": "udp"}.get(protocol, protocol.lower())
    return NetworkFacts(
        origin="wfp",
        pid=_int(f.get("ProcessID", f.get("ProcessId"))),
        image=_text(f, "Application"),
        protocol=protocol,
        ip_a=src, port_a=sport, ip_b=dst, port_b=dport,
        outbound=_WFP_DIRECTIONS.get((_text(f, "Direction") or "").lower()),
        local="a",
        allowed=event.event_id == 5156,
        when_ns=event.ts_ns,
    )  # fmt: skip


def facts(event: LogEvent) -> SchannelFacts | NetworkFacts | None:
    """The connection-related facts of `event`, or None for events tlslens does not read."""
    provider = event.provider.lower()
    if provider == SCHANNEL and 36864 <= event.event_id <= 36928:
        return _schannel(event)
    if provider == SYSMON and event.event_id == 3:
        return _sysmon(event)
    if provider == SECURITY and event.event_id in (5156, 5157):
        return _wfp(event)
    return None


def is_capi2(event: LogEvent) -> bool:
    """A CAPI2 (certificate chain building and verification) event."""
    return event.provider.lower() == CAPI2
