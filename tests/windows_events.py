"""Write Windows events as `wevtutil qe /f:xml` would render them, for tests.

No public event log with Schannel events exists (see ../shared/corpus/MANIFEST.md), so tests
write the events a Windows peer would have logged for the real failing handshakes in
tests/fixtures/captures/failures.pcap. The element layout follows the real renderings in
../shared/reference/schannel_xml_examples/ (EventData/Data[@Name] and UserData/EventXML);
field names come from ../shared/reference/schannel_events.csv and its README (Sysmon 3,
Security 5156/5157).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from xml.sax.saxutils import escape

PROVIDERS = {
    "Schannel": "{1f678132-5938-4686-9fdc-c8ff68f15c85}",
    "Microsoft-Windows-Sysmon": "{5770385f-c22a-43e0-bf4c-06f5698ffbd9}",
    "Microsoft-Windows-Security-Auditing": "{54849625-5478-4994-a5ba-3e3b0328c30d}",
}


def windows_time(ts_ns: int) -> str:
    """2026-11-23T10:56:05.6055790Z: seven fraction digits, as Windows writes 100 ns ticks."""
    seconds, ns = divmod(ts_ns, 1_000_000_000)
    stamp = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{ns // 100:07d}Z"


def sysmon_time(ts_ns: int) -> str:
    """Sysmon's UtcTime: 2019-02-16 10:01:45.887 (milliseconds, no zone)."""
    seconds, ns = divmod(ts_ns, 1_000_000_000)
    stamp = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S")
    return f"{stamp}.{ns // 1_000_000:03d}"


@dataclass
class Event:
    provider: str
    event_id: int
    ts_ns: int
    fields: dict[str, str] = field(default_factory=dict)
    #: Render the fields as UserData/EventXML (Schannel 36880) instead of EventData.
    userdata: bool = False
    computer: str = "win-test.example.test"
    record_id: int = 1

    def xml(self) -> str:
        guid = PROVIDERS.get(self.provider, "{00000000-0000-0000-0000-000000000000}")
        if self.userdata:
            inner = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in self.fields.items())
            data = f"<UserData><EventXML xmlns='LSA_NS'>{inner}</EventXML></UserData>"
        else:
            inner = "".join(f"<Data Name='{k}'>{escape(v)}</Data>" for k, v in self.fields.items())
            data = f"<EventData>{inner}</EventData>"
        return (
            "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>"
            f"<Provider Name='{self.provider}' Guid='{guid}'/><EventID>{self.event_id}</EventID>"
            "<Version>0</Version><Level>2</Level><Task>0</Task><Opcode>0</Opcode>"
            "<Keywords>0x8000000000000000</Keywords>"
            f"<TimeCreated SystemTime='{windows_time(self.ts_ns)}'/>"
            f"<EventRecordID>{self.record_id}</EventRecordID><Correlation/>"
            "<Execution ProcessID='784' ThreadID='1234'/><Channel>System</Channel>"
            f"<Computer>{self.computer}</Computer><Security/></System>{data}</Event>"
        )


def alert_generated(ts_ns: int, alert: int, state: int, target: str = "") -> Event:
    return Event(
        "Schannel",
        36888,
        ts_ns,
        {"AlertDesc": str(alert), "ErrorState": str(state), "TargetName": target},
    )


def alert_received(ts_ns: int, alert: int) -> Event:
    return Event("Schannel", 36887, ts_ns, {"AlertDesc": str(alert)})


def handshake_completed(ts_ns: int, role: str, protocol: str, cipher: int, target: str) -> Event:
    return Event("Schannel", 36880, ts_ns, {
        "Type": role, "Protocol": protocol, "CipherSuite": f"0x{cipher:x}",
        "ExchangeStrength": "256", "ContextHandle": "0x1", "TargetName": target,
        "LocalCertSubjectName": "", "RemoteCertSubjectName": "CN=tlslens.test",
    }, userdata=True)  # fmt: skip


def sysmon_connect(ts_ns: int, when_ns: int, pid: int, image: str, src: tuple[str, int],
                   dst: tuple[str, int]) -> Event:  # fmt: skip
    return Event("Microsoft-Windows-Sysmon", 3, ts_ns, {
        "RuleName": "", "UtcTime": sysmon_time(when_ns),
        "ProcessGuid": "{365ABB72-0000-0000-0000-000000000000}", "ProcessId": str(pid),
        "Image": image, "User": "TEST\\user", "Protocol": "tcp", "Initiated": "true",
        "SourceIsIpv6": "false", "SourceIp": src[0], "SourceHostname": "",
        "SourcePort": str(src[1]), "SourcePortName": "", "DestinationIsIpv6": "false",
        "DestinationIp": dst[0], "DestinationHostname": "", "DestinationPort": str(dst[1]),
        "DestinationPortName": "",
    })  # fmt: skip


def wfp_connect(ts_ns: int, pid: int, app: str, local: tuple[str, int],
                remote: tuple[str, int], allowed: bool = True) -> Event:  # fmt: skip
    return Event("Microsoft-Windows-Security-Auditing", 5156 if allowed else 5157, ts_ns, {
        "ProcessID": str(pid), "Application": app, "Direction": "%%14593",
        "SourceAddress": local[0], "SourcePort": str(local[1]), "DestAddress": remote[0],
        "DestPort": str(remote[1]), "Protocol": "6", "FilterRTID": "0",
        "LayerName": "%%14611", "LayerRTID": "48",
    })  # fmt: skip


def write_xml(path: Path, events: list[Event]) -> Path:
    """A wevtutil-style file: a run of <Event> elements without a single root."""
    for number, event in enumerate(events, 1):
        event.record_id = number
    path.write_text("\n".join(e.xml() for e in events) + "\n", encoding="utf-8")
    return path
