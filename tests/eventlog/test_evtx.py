"""EVTX reading against the real files in ../shared/corpus/evtx (counts from its MANIFEST)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import CORPUS, needs_corpus

from tlslens.eventlog import EventLogError, read_events

EVTX = CORPUS / "evtx"
PLASO_SYSTEM = EVTX / "plaso/test_data/evtx/System.evtx"
RDP_TUN = EVTX / "EVTX-ATTACK-SAMPLES/Command and Control/DE_sysmon-3-rdp-tun.evtx"
BAD_CHUNKS = EVTX / "omerbenamram-evtx/samples/sysmon.evtx"

pytestmark = needs_corpus


def _ns(iso: str) -> int:
    whole, frac = iso.rstrip("Z").split(".")
    dt = datetime.fromisoformat(whole).replace(tzinfo=UTC)
    return int(dt.timestamp()) * 1_000_000_000 + int(frac.ljust(9, "0"))


def test_plaso_system_log() -> None:
    log = read_events(PLASO_SYSTEM)
    events = list(log)
    assert log.format == "evtx"
    assert log.problems == []
    assert len(events) == 5009
    first = events[0]
    assert (first.provider, first.event_id, first.record_id) == ("Service Control Manager", 7036, 1)
    assert first.ts_ns == _ns("2010-11-21T03:55:59.626427Z")
    assert first.computer == "37L4247F27-26"
    assert first.fields["param1"] == "Windows Event Log"
    assert first.fields["param2"] == "stopped"
    assert first.source == str(PLASO_SYSTEM)
    # A negative control: a System log without a single Schannel event.
    assert not any(e.provider == "Schannel" for e in events)


def test_sysmon_network_connections() -> None:
    log = read_events(RDP_TUN)
    events = list(log)
    assert len(events) == 73
    assert log.problems == []
    net = [e for e in events if e.provider == "Microsoft-Windows-Sysmon" and e.event_id == 3]
    assert len(net) == 42
    assert all(e.fields["SourceIp"] and e.fields["DestinationIp"] for e in net)
    first = events[0]
    # The event time is System/TimeCreated, not the Sysmon UtcTime field nor the record header.
    assert first.ts_ns == _ns("2019-02-16T10:01:46.884038Z")
    assert first.fields["UtcTime"] == "2019-02-16 10:01:45.887"
    assert events[-1].ts_ns == max(e.ts_ns for e in events) == _ns("2019-02-16T10:06:38.843856Z")


def test_bad_chunks_are_skipped_and_reported() -> None:
    log = read_events(BAD_CHUNKS)
    events = list(log)
    assert len(events) == 358
    assert len(log.problems) == 8
    assert all("chunk" in p for p in log.problems)
    net = [e for e in events if e.event_id == 3]
    assert len(net) == 2
    assert {(e.fields["DestinationIp"], e.fields["DestinationPort"]) for e in net} == {
        ("185.26.182.117", "443"),
        ("93.184.220.29", "80"),
    }
    assert all(e.fields["Image"].lower().endswith("installer.exe") for e in net)


def test_security_log_with_userdata() -> None:
    # System2.evtx is a Security log that plaso's tests truncated on purpose.
    log = read_events(EVTX / "plaso/test_data/evtx/System2.evtx")
    events = list(log)
    assert len(events) == 194
    assert any("truncated" in p for p in log.problems)
    top = Counter((e.provider, e.event_id) for e in events).most_common(1)
    assert top == [(("Microsoft-Windows-Security-Auditing", 4624), 47)]


def test_truncated_evtx_reports_problems(tmp_path: Path) -> None:
    cut = tmp_path / "cut.evtx"
    cut.write_bytes(PLASO_SYSTEM.read_bytes()[: 4096 + 3 * 65536 + 1000])
    log = read_events(cut)
    events = list(log)
    assert 0 < len(events) < 5009
    assert any("truncated" in p for p in log.problems)


def test_evtx_header_only_is_an_error(tmp_path: Path) -> None:
    stub = tmp_path / "stub.evtx"
    stub.write_bytes(PLASO_SYSTEM.read_bytes()[:100])
    with pytest.raises(EventLogError) as err:
        read_events(stub)
    assert str(stub) in str(err.value)


def test_reiteration_gives_same_events() -> None:
    log = read_events(BAD_CHUNKS)
    assert list(log) == list(log)
    assert len(log.problems) == 8
