"""Joining Windows events to connections, on the real failing handshakes of failures.pcap.

The events are the ones a Windows peer would have logged for each failure (written by
tests/windows_events.py in wevtutil's XML shape, then read by our reader). Which connection
each belongs to comes from the fixture manifest (the alerts the real peers sent) and the times
from tshark, never from tlslens: so a wrong join fails.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import CAPTURES, load_manifest, needs_tshark
from oracle import tshark_frame_times, tshark_tls
from windows_events import (
    Event,
    alert_generated,
    alert_received,
    handshake_completed,
    sysmon_connect,
    wfp_connect,
    write_xml,
)

from tlslens.analysis.conversation import Conversation
from tlslens.analysis.correlate import (
    NS,
    Correlation,
    correlate,
    estimate_skew,
    parse_skew,
)
from tlslens.analysis.pipeline import Analysis
from tlslens.eventlog import read_events

PCAP = CAPTURES / "failures.pcap"
MANIFEST = load_manifest().get("failures.pcap")
pytestmark = [
    needs_tshark,
    pytest.mark.skipif(MANIFEST is None, reason="failures.pcap not in the manifest"),
]

#: Schannel logs as it decides; these small delays are what a log and the wire differ by.
BEFORE_SEND_NS = 300_000
AFTER_RECEIVE_NS = 700_000
#: Sysmon writes its event a while after the connection.
SYSMON_DELAY_NS = 1_500_000_000


def _conn_ids() -> dict[int, int]:
    """client port -> connection id, from tshark's tcp.stream numbering."""
    from oracle import tshark_streams

    return {s.syn_from[1]: n for n, s in tshark_streams(str(PCAP)).items() if s.syn_from}


class Truth:
    """Events a Windows peer would have logged, each with the connection it is about."""

    def __init__(self) -> None:
        assert MANIFEST is not None
        times = tshark_frame_times(str(PCAP))
        tls = tshark_tls(str(PCAP))
        ids = _conn_ids()
        self.events: list[Event] = []
        self.expected: list[int | None] = []
        for i, conn in enumerate(MANIFEST["connections"]):
            cid = ids.get(conn["client"]["port"])
            if cid is None:
                continue
            first = times[conn["first_frame"]]
            image = f"C:\\Program Files\\App{i}\\app{i}.exe"
            ends = ((conn["client"]["ip"], conn["client"]["port"]),
                    (conn["server"]["ip"], conn["server"]["port"]))  # fmt: skip
            self.add(sysmon_connect(first + SYSMON_DELAY_NS, first, 4000 + i, image, *ends), cid)
            failure = conn.get("expect_failure") or {}
            for alert in conn.get("alerts", []):
                # The rejecting side logs 36888 for the alert it sends (with the state a
                # Windows peer would give), the other side 36887 for the one it receives.
                if alert["encrypted"] and alert["description"] == 0:
                    continue
                code = failure.get("alert") if alert["encrypted"] else alert["description"]
                if code is None:
                    continue
                at = times[alert["frame"]]
                # A Windows client names its target (the SNI it sent); a server names none.
                sni = (tls[cid].sni if cid in tls else None) or ""
                target = sni if alert["from"] == "client" else ""
                self.add(alert_generated(at - BEFORE_SEND_NS, code, 252, target), cid)
                if not alert["encrypted"]:
                    self.add(alert_received(at + AFTER_RECEIVE_NS, code), cid)
            stream = tls.get(cid)
            if conn["scenario"] in ("tls10_success", "weak_cipher_success") and stream:
                protocol = {0x0301: "TLS 1.0", 0x0303: "TLS 1.2"}[stream.version or 0]
                hello = next(f for f, t in _hello_frames(cid) if t == 2)
                self.add(handshake_completed(times[hello] + AFTER_RECEIVE_NS, "client",
                                             protocol, stream.cipher or 0, "tlslens.test"),
                         cid)  # fmt: skip

    def add(self, event: Event, conn: int | None) -> None:
        self.events.append(event)
        self.expected.append(conn)

    def shifted(self, offset_ns: int) -> list[Event]:
        """The same events from a log whose clock is `offset_ns` off the capture's."""
        out = []
        for e in self.events:
            fields = dict(e.fields)
            if "UtcTime" in fields:
                from windows_events import sysmon_time

                base = _parse_sysmon(fields["UtcTime"])
                fields["UtcTime"] = sysmon_time(base + offset_ns)
            out.append(Event(e.provider, e.event_id, e.ts_ns + offset_ns, fields, e.userdata))
        return out


def _parse_sysmon(text: str) -> int:
    from datetime import UTC, datetime

    dt = datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC)
    return int(dt.timestamp()) * NS + dt.microsecond * 1000


def _hello_frames(cid: int) -> list[tuple[int, int]]:
    import subprocess

    out = subprocess.run(
        ["tshark", "-r", str(PCAP), "-n", "-Y", f"tcp.stream=={cid} and tls.handshake",
         "-T", "fields", "-E", "occurrence=f", "-e", "frame.number", "-e", "tls.handshake.type"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return [(int(f), int(t)) for f, t in (line.split("\t") for line in out.splitlines())]


@pytest.fixture(scope="module")
def truth() -> Truth:
    return Truth()


@pytest.fixture(scope="module")
def capture() -> tuple[list[Conversation], Analysis]:
    analysis = Analysis(str(PCAP), keep_frame_times=True)
    return list(analysis.conversations()), analysis


def _read(tmp_path: Path, events: list[Event], name: str = "events.xml") -> list:  # type: ignore[type-arg]
    return list(read_events(write_xml(tmp_path / name, events)))


def _joined(result: Correlation) -> list[int | None]:
    return [a.conn for a in result.attachments]


def test_frame_times_equal_tshark(capture: tuple[list[Conversation], Analysis]) -> None:
    _, analysis = capture
    times = tshark_frame_times(str(PCAP))
    assert analysis.frame_times is not None and len(analysis.frame_times) == len(times)
    assert all(analysis.frame_time(n) == t for n, t in times.items())
    assert analysis.frame_time(0) is None and analysis.frame_time(len(times) + 1) is None


def test_every_event_joins_its_connection(tmp_path: Path, truth: Truth, capture: tuple) -> None:  # type: ignore[type-arg]
    convs, analysis = capture
    events = _read(tmp_path, truth.events)
    assert len(events) == len(truth.events) > 40
    result = correlate(convs, events, analysis.frame_time)
    assert _joined(result) == truth.expected
    # Alerts are joined with the frame that carried them, and say why.
    alerts = [a for a in result.attachments if a.event.event_id == 36888]
    assert alerts and all(a.frame is not None and "apart" in a.reason for a in alerts)


def test_processes_come_from_sysmon(tmp_path: Path, truth: Truth, capture: tuple) -> None:  # type: ignore[type-arg]
    convs, analysis = capture
    result = correlate(convs, _read(tmp_path, truth.events), analysis.frame_time)
    assert MANIFEST is not None
    ids = _conn_ids()
    for i, conn in enumerate(MANIFEST["connections"]):
        process = result.process(ids[conn["client"]["port"]])
        assert process is not None
        assert (process["pid"], process["name"]) == (4000 + i, f"app{i}.exe")
        assert process["source"] == "sysmon 3" and "conflicts" not in process


def test_conflicting_process_claims_are_shown(tmp_path: Path, capture: tuple) -> None:  # type: ignore[type-arg]
    convs, analysis = capture
    conv = convs[3]
    ends = ((conv.client.ip, conv.client.port), (conv.server.ip, conv.server.port))
    events = [
        sysmon_connect(conv.start_ns, conv.start_ns, 111, "C:\\a\\one.exe", *ends),
        wfp_connect(conv.start_ns, 222, "\\device\\harddiskvolume2\\b\\two.exe", *ends),
    ]
    result = correlate(convs, _read(tmp_path, events), analysis.frame_time)
    process = result.process(conv.id)
    assert process is not None and process["pid"] == 111
    assert [c["pid"] for c in process["conflicts"]] == [222]
    assert process["conflicts"][0]["name"] == "two.exe"


def test_auto_skew_recovers_the_offset(tmp_path: Path, truth: Truth, capture: tuple) -> None:  # type: ignore[type-arg]
    convs, analysis = capture
    offset = -(2 * 3600 * NS + 123_456_700)  # the log's clock is 2 h 0.12 s behind
    events = _read(tmp_path, truth.shifted(offset))
    # Without the skew nothing is near its connection in time, except 4-tuple matches.
    plain = correlate(convs, events, analysis.frame_time)
    schannel = [a for a in plain.attachments if a.event.provider == "Schannel"]
    assert schannel and all(a.conn is None and "--skew auto" in a.reason for a in schannel)
    estimate = estimate_skew(convs, events, analysis.frame_time)
    assert estimate.offset_ns is not None
    assert abs(estimate.offset_ns + offset) < 2_000_000, estimate
    assert estimate.support >= 10 and "agreed by" in estimate.note
    fixed = correlate(convs, events, analysis.frame_time, estimate.offset_ns)
    assert _joined(fixed) == truth.expected


def test_target_name_must_match_the_sni(tmp_path: Path, capture: tuple) -> None:  # type: ignore[type-arg]
    convs, analysis = capture
    # Alert 42 went out in connection 0 (SNI tlslens.test) and 5 (SNI wrong.example), about
    # 0.7 s apart. An event at connection 0's alert naming wrong.example belongs to 5.
    frame = next(a.frame for a in convs[0].tls.alerts if a.description == 42)  # type: ignore[union-attr]
    at = analysis.frame_time(frame)
    assert at is not None and convs[5].tls is not None and convs[5].tls.sni == "wrong.example"
    events = _read(tmp_path, [alert_generated(at, 42, 0, "wrong.example"),
                              alert_generated(at, 42, 0, "tlslens.test")])  # fmt: skip
    result = correlate(convs, events, analysis.frame_time)
    assert _joined(result) == [5, 0]
    assert "(TargetName wrong.example equals the SNI)" in result.attachments[0].reason


def test_one_wire_alert_takes_one_event(tmp_path: Path, capture: tuple) -> None:  # type: ignore[type-arg]
    convs, analysis = capture
    frame = next(a.frame for a in convs[6].tls.alerts)  # type: ignore[union-attr]
    at = analysis.frame_time(frame)
    assert at is not None
    # Three events for alert 70, but only two alerts 70 went over the wire (connection 6's
    # and, 0.45 s later, connection 10's): one event is left over.
    events = _read(tmp_path, [alert_generated(at, 70, 0), alert_generated(at + 1000, 70, 0),
                              alert_generated(at + 2000, 70, 0)])  # fmt: skip
    result = correlate(convs, events, analysis.frame_time)
    joined = _joined(result)
    assert joined[0] == 6 and sorted(j for j in joined if j is not None) == [6, 10]
    left = [a for a in result.attachments if a.conn is None]
    assert len(left) == 1 and "another event" in left[0].reason


def test_events_that_fit_nothing_say_why(tmp_path: Path, capture: tuple) -> None:  # type: ignore[type-arg]
    convs, analysis = capture
    start = convs[0].start_ns
    events = _read(tmp_path, [
        Event("Schannel", 36871, start, {"Type": "client", "ErrorState": "10013"}),
        sysmon_connect(start, start, 1, "C:\\x.exe", ("127.0.0.1", 1), ("127.0.0.1", 2)),
        Event("Service Control Manager", 7036, start, {"param1": "Windows Update"}),
        alert_generated(start - 3600 * NS, 40, 1205),
    ])  # fmt: skip
    result = correlate(convs, events, analysis.frame_time)
    assert _joined(result) == [None, None, None, None]
    reasons = [a.reason for a in result.attachments]
    assert "credential event" in reasons[0]
    assert "no connection in the capture has these addresses" in reasons[1]
    assert reasons[2] == "not about one connection"
    assert "--skew auto" in reasons[3]


def test_auto_skew_without_evidence_says_so(capture: tuple) -> None:  # type: ignore[type-arg]
    convs, analysis = capture
    estimate = estimate_skew(convs, [], analysis.frame_time)
    assert estimate.offset_ns is None and "cannot be estimated" in estimate.note


@pytest.mark.parametrize(("text", "ns"), [
    ("+2.5s", 2_500_000_000), ("-300ms", -300_000_000), ("1h", 3600 * NS), ("0", 0),
    ("2.5", 2_500_000_000), ("-1m", -60 * NS), ("15us", 15_000), ("auto", None),
])  # fmt: skip
def test_parse_skew(text: str, ns: int | None) -> None:
    assert parse_skew(text) == ns


@pytest.mark.parametrize("text", ["", "fast", "2x", "s", "+-1s"])
def test_parse_skew_refuses_nonsense(text: str) -> None:
    with pytest.raises(ValueError, match="not a time offset"):
        parse_skew(text)
