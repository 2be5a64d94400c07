"""XML, JSON and CSV exports: the reference Schannel renderings and exports made from them."""

from __future__ import annotations

import csv
import json
import random
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import ROOT

from tlslens.eventlog import EventLogError, LogEvent, read_events

EXAMPLES = ROOT.parent / "shared" / "reference" / "schannel_xml_examples"
SHAPE_USERDATA = EXAMPLES / "axosyslog_test_schannel_36880.xml"
SHAPE_EVENTDATA = EXAMPLES / "service_fabric_tsg_schannel_36870.xml"

needs_examples = pytest.mark.skipif(not EXAMPLES.is_dir(), reason="reference examples absent")


def _one(path: Path) -> LogEvent:
    log = read_events(path)
    events = list(log)
    assert log.format == "xml"
    assert log.problems == []
    assert len(events) == 1
    return events[0]


@needs_examples
def test_userdata_shape() -> None:
    event = _one(SHAPE_USERDATA)
    assert (event.provider, event.event_id, event.record_id) == ("Schannel", 36880, 68584070)
    assert event.computer == "acme-dc1v.example.com"
    assert event.ts_ns == int(datetime(2026, 9, 21, 10, tzinfo=UTC).timestamp()) * 10**9
    assert event.fields["Protocol"] == "TLS 1.2"
    assert event.fields["CipherSuite"] == "0xc030"
    assert event.fields["LocalCertSubjectName"] == "CN=acme-dc1v.example.com"
    assert event.fields["TargetName"] == ""
    assert event.fields["Message"].startswith("A TLS server handshake completed")


@needs_examples
def test_eventdata_shape_keeps_nanoseconds() -> None:
    event = _one(SHAPE_EVENTDATA)
    assert (event.provider, event.event_id, event.record_id) == ("Schannel", 36870, 2213)
    assert event.fields == {"Type": "server", "ErrorCode": "0x8009030d", "ErrorStatus": "10001"}
    base = int(datetime(2022, 10, 16, 20, 27, 36, tzinfo=UTC).timestamp()) * 10**9
    assert event.ts_ns == base + 222_854_900


def _bodies() -> str:
    texts = [p.read_text(encoding="utf-8").strip() for p in (SHAPE_USERDATA, SHAPE_EVENTDATA)]
    return "\n".join(texts)


@needs_examples
def test_wevtutil_run_without_root(tmp_path: Path) -> None:
    path = tmp_path / "qe.xml"
    path.write_text(_bodies() + "\n")
    assert [e.event_id for e in read_events(path)] == [36880, 36870]


@needs_examples
def test_event_viewer_save_as_xml_utf16(tmp_path: Path) -> None:
    path = tmp_path / "saved.xml"
    text = '<?xml version="1.0" encoding="UTF-16"?>\n<Events>' + _bodies() + "</Events>"
    path.write_text("\ufeff" + text, encoding="utf-16-le")
    log = read_events(path)
    assert [e.event_id for e in log] == [36880, 36870]
    assert log.problems == []


@needs_examples
def test_xml_cut_short_keeps_earlier_events(tmp_path: Path) -> None:
    path = tmp_path / "cut.xml"
    text = _bodies()
    path.write_text(text[: len(text) - 200])
    log = read_events(path)
    assert [e.event_id for e in log] == [36880]
    assert any("not well formed" in p for p in log.problems)


@pytest.mark.parametrize("decl", ["<!DOCTYPE x [ ]>", '<!ENTITY a "b">'])
def test_xml_with_dtd_is_refused(tmp_path: Path, decl: str) -> None:
    path = tmp_path / "evil.xml"
    path.write_text(f'<?xml version="1.0"?>\n{decl}<Events></Events>')
    with pytest.raises(EventLogError, match="refused"):
        read_events(path)


@needs_examples
def test_xml_event_without_time_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "notime.xml"
    path.write_text(SHAPE_EVENTDATA.read_text().replace("2022-10-16T20:27:36.222854900Z", "soon"))
    log = read_events(path)
    assert list(log) == []
    assert len(log.problems) == 1 and "soon" in log.problems[0]


def _powershell_json(events: list[LogEvent], iso: bool) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for e in events:
        ms = e.ts_ns // 1_000_000
        when = datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat() if iso else f"/Date({ms})/"
        out.append(
            {
                "Id": e.event_id,
                "ProviderName": e.provider,
                "TimeCreated": when,
                "RecordId": e.record_id,
                "MachineName": e.computer,
                "Properties": [{"Value": v} for k, v in e.fields.items() if k != "Message"],
                "Message": e.fields.get("Message"),
                "LevelDisplayName": "Information",
            }
        )
    return out


@needs_examples
@pytest.mark.parametrize("iso", [False, True])
def test_json_export(tmp_path: Path, iso: bool) -> None:
    source = _one(SHAPE_EVENTDATA)
    path = tmp_path / "events.json"
    path.write_text(json.dumps(_powershell_json([source], iso), indent=2))
    log = read_events(path)
    (event,) = list(log)
    assert log.format == "json"
    assert log.problems == []
    assert event.ts_ns == source.ts_ns // 1_000_000 * 1_000_000
    assert (event.provider, event.event_id, event.record_id, event.computer) == (
        "Schannel",
        36870,
        2213,
        "nt0000000",
    )
    assert event.fields == {"param1": "server", "param2": "0x8009030d", "param3": "10001"}


@needs_examples
def test_json_single_object_utf16(tmp_path: Path) -> None:
    source = _one(SHAPE_USERDATA)
    path = tmp_path / "one.json"
    text = json.dumps(_powershell_json([source], False)[0])
    path.write_text("\ufeff" + text, encoding="utf-16-le")
    (event,) = list(read_events(path))
    assert event.fields["param2"] == "TLS 1.2"
    assert event.fields["Message"].startswith("A TLS server handshake")


def test_json_bad_items_are_problems(tmp_path: Path) -> None:
    path = tmp_path / "mixed.json"
    items = [
        3,
        {"Id": 1, "ProviderName": "p", "TimeCreated": "never"},
        {"Id": "x", "ProviderName": "p", "TimeCreated": "/Date(1700000000000)/"},
        {"Id": 36888, "ProviderName": "Schannel", "TimeCreated": "/Date(1700000000000)/"},
    ]
    path.write_text(json.dumps(items))
    log = read_events(path)
    events = list(log)
    assert [(e.event_id, e.ts_ns) for e in events] == [(36888, 1_700_000_000 * 10**9)]
    assert len(log.problems) == 3


@needs_examples
def test_export_csv(tmp_path: Path) -> None:
    source = _one(SHAPE_USERDATA)
    path = tmp_path / "events.csv"
    with path.open("w", newline="", encoding="utf-8-sig") as f:
        f.write("#TYPE System.Diagnostics.Eventing.Reader.EventLogRecord\n")
        writer = csv.writer(f, quoting=csv.QUOTE_ALL)
        writer.writerow(["Message", "Id", "RecordId", "ProviderName", "MachineName", "TimeCreated"])
        when = "9/21/2026 10:00:00 AM"
        row = [source.fields["Message"], "36880", "68584070", "Schannel", source.computer, when]
        writer.writerow(row)
    log = read_events(path)
    (event,) = list(log)
    assert log.format == "csv"
    assert event.ts_ns == source.ts_ns
    assert event.fields["Message"] == source.fields["Message"]
    assert (event.event_id, event.record_id, event.computer) == (36880, 68584070, source.computer)
    # The culture-formatted time has no zone: said once, not per event.
    assert len(log.problems) == 1 and "time zone" in log.problems[0]


def test_event_viewer_csv(tmp_path: Path) -> None:
    path = tmp_path / "viewer.csv"
    path.write_text(
        "Level,Date and Time,Source,Event ID,Task Category\n"
        'Error,2023-11-14T22:13:20.5Z,Schannel,36888,None,"A fatal alert was generated, 40."\n'
    )
    (event,) = list(read_events(path))
    assert event.ts_ns == 1_700_000_000_500_000_000
    assert event.fields["Message"] == "A fatal alert was generated, 40."


def test_csv_without_time_column(tmp_path: Path) -> None:
    path = tmp_path / "notime.csv"
    path.write_text("Id,ProviderName\n36888,Schannel\n")
    with pytest.raises(EventLogError) as err:
        read_events(path)
    assert str(path) in str(err.value) and "TimeCreated" in str(err.value)


@pytest.mark.parametrize("seed", range(20))
def test_random_bytes(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 5000)))
    if seed % 4 == 1:
        data = b"ElfFile\x00" + data
    elif seed % 4 == 2:
        data = b"<Event>" + data
    elif seed % 4 == 3:
        data = b"[" + data
    path = tmp_path / "noise.bin"
    path.write_bytes(data)
    try:
        log = read_events(path)
        list(log)
    except EventLogError:
        pass


def test_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(EventLogError, match="cannot be read"):
        read_events(tmp_path / "absent.evtx")
    empty = tmp_path / "empty.xml"
    empty.write_bytes(b"  \n")
    with pytest.raises(EventLogError, match="empty"):
        read_events(empty)
