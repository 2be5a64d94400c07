"""`tlslens timeline`, and `--events`/`--skew` on analyze and diagnose, on failures.pcap with the
events a Windows peer would have logged (see tests/analysis/test_correlate.py)."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CAPTURES, CORPUS, load_manifest, needs_corpus, needs_tshark
from oracle import tshark_frame_times
from windows_events import write_xml

from tlslens.analysis.conversation import format_time
from tlslens.cli.main import main

PCAP = CAPTURES / "failures.pcap"
SYSMON = CORPUS / "evtx/EVTX-ATTACK-SAMPLES/Command and Control/DE_sysmon-3-rdp-tun.evtx"
pytestmark = [
    needs_tshark,
    pytest.mark.skipif(load_manifest().get("failures.pcap") is None, reason="no failures.pcap"),
]


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[int | None]]:
    """(events on the capture's clock, the same 1 h 0.25 s behind, expected connections)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "analysis"))
    from test_correlate import Truth

    truth = Truth()
    folder = tmp_path_factory.mktemp("logs")
    same = write_xml(folder / "same.xml", truth.events)
    behind = write_xml(folder / "behind.xml", truth.shifted(-3600_250_000_000))
    return same, behind, truth.expected


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_timeline_jsonl(capsys: pytest.CaptureFixture[str], logs: tuple) -> None:  # type: ignore[type-arg]
    same, _, expected = logs
    code, out, err = run(capsys, "timeline", str(PCAP), "--events", str(same), "--format",
                         "jsonl")  # fmt: skip
    assert code == 0, err
    entries = [json.loads(line) for line in out.splitlines()]
    assert [e["ts"] for e in entries] == sorted(e["ts"] for e in entries)
    for e in entries:
        assert {"ts", "source", "conn", "kind", "summary"} <= e.keys()
    capture = [e for e in entries if e["source"] == "capture"]
    log = [e for e in entries if e["source"] == "eventlog"]
    # Capture entries carry tshark's time for their frame.
    times = tshark_frame_times(str(PCAP))
    assert all(e["ts"] == format_time(times[e["frame"]]) for e in capture)
    alerts = {e["frame"] for e in capture if e["kind"] == "tls-alert"}
    assert 10 in alerts and 26 in alerts
    # Log entries keep their fields and are joined as the truth says (same multiset; the
    # timeline is in time order, not log order).
    assert sorted(e["conn"] for e in log) == sorted(expected)
    assert all({"event_id", "provider", "fields", "reason"} <= e.keys() for e in log)
    schannel = [e for e in log if e["event_id"] == 36888]
    assert schannel and all(e["fields"]["ErrorState"] == "252" for e in schannel)


def test_timeline_text_and_csv(capsys: pytest.CaptureFixture[str], logs: tuple) -> None:  # type: ignore[type-arg]
    same, _, _ = logs
    code, out, _ = run(capsys, "timeline", str(PCAP), "--events", str(same))
    assert code == 0
    assert "Schannel 36888: fatal alert 42 (bad_certificate)" in out
    assert "joined: alert 42 from the client in connection 0" in out
    code, out, _ = run(capsys, "timeline", str(PCAP), "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and rows and {r["source"] for r in rows} == {"capture"}


def test_skew_auto(capsys: pytest.CaptureFixture[str], logs: tuple) -> None:  # type: ignore[type-arg]
    _, behind, expected = logs
    code, out, err = run(capsys, "timeline", str(PCAP), "--events", str(behind), "--format",
                         "jsonl")  # fmt: skip
    assert code == 0 and "no event matched" not in err  # the Sysmon 4-tuples still match
    log = [json.loads(line) for line in out.splitlines() if '"eventlog"' in line]
    assert any(e["conn"] is None and "--skew auto" in e["reason"] for e in log)
    code, out, err = run(capsys, "timeline", str(PCAP), "--events", str(behind), "--skew",
                         "auto", "--format", "jsonl")  # fmt: skip
    assert code == 0 and "clock offset +3600.250 s" in err, err
    log = [json.loads(line) for line in out.splitlines() if '"eventlog"' in line]
    assert sorted(e["conn"] for e in log) == sorted(expected)
    # The explicit offset gives the same joins.
    code, out, _ = run(capsys, "timeline", str(PCAP), "--events", str(behind), "--skew",
                       "+3600.25s", "--format", "jsonl")  # fmt: skip
    explicit = [json.loads(line) for line in out.splitlines() if '"eventlog"' in line]
    assert [e["conn"] for e in explicit] == [e["conn"] for e in log]


def test_diagnose_uses_events_as_evidence(capsys: pytest.CaptureFixture[str], logs: tuple) -> None:  # type: ignore[type-arg]
    same, _, _ = logs
    code, out, _ = run(capsys, "diagnose", str(PCAP), "--events", str(same), "--format",
                       "jsonl")  # fmt: skip
    assert code == 0
    records = {r["id"]: r for r in (json.loads(line) for line in out.splitlines())}
    first = records[0]
    assert first["process"]["name"] == "app0.exe" and first["process"]["pid"] == 4000
    finding = first["findings"][0]
    assert finding["code"] == "server-certificate-rejected"
    texts = [e["text"] for e in finding["evidence"]]
    assert any("Schannel 36888" in t and "state 252 (RemoteCert_SigAlg)" in t for t in texts)
    assert "RemoteCert_SigAlg" in finding["remedy"]
    # In time order: Sysmon wrote its event 1.5 s after the connection.
    assert [e["event_id"] for e in first["events"]] == [36888, 36887, 3]
    code, out, _ = run(capsys, "diagnose", str(PCAP), "--events", str(same))
    assert "process app0.exe (pid 4000, sysmon 3)" in out


def test_analyze_with_events(capsys: pytest.CaptureFixture[str], logs: tuple) -> None:  # type: ignore[type-arg]
    same, _, _ = logs
    code, out, _ = run(capsys, "analyze", str(PCAP), "--events", str(same), "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and len(rows) == 19
    assert [r["process_name"] for r in rows] == [f"app{i}.exe" for i in range(19)]
    code, out, _ = run(capsys, "analyze", str(PCAP), "--events", str(same))
    assert "app0.exe (4000)" in out


def test_bad_event_log_keeps_the_capture(capsys: pytest.CaptureFixture[str],
                                         tmp_path: Path) -> None:  # fmt: skip
    bad = tmp_path / "notes.txt"
    bad.write_text("this is not an event log\n")
    code, out, err = run(capsys, "analyze", str(PCAP), "--events", str(bad), "--format", "jsonl")
    assert code == 1
    assert len(out.splitlines()) == 19
    lines = [line for line in err.splitlines() if "error" in line]
    assert len(lines) == 1 and str(bad) in lines[0]


def test_bad_skew_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["timeline", str(PCAP), "--skew", "soon"])
    assert exc.value.code == 2
    assert "not a time offset" in capsys.readouterr().err


@needs_corpus
def test_real_sysmon_log_on_an_unrelated_capture(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "timeline", str(PCAP), "--events", str(SYSMON), "--all-events",
                         "--format", "jsonl")  # fmt: skip
    assert code == 0
    log = [json.loads(line) for line in out.splitlines() if '"eventlog"' in line]
    assert len(log) == 73
    network = [e for e in log if e["kind"] == "network"]
    assert len(network) == 42 and all(e["conn"] is None for e in network)
    assert "no event matched a connection" in err
    # Without --all-events, events years away from the capture are left out.
    code, out, _ = run(capsys, "timeline", str(PCAP), "--events", str(SYSMON), "--format",
                       "jsonl")  # fmt: skip
    assert sum('"eventlog"' in line for line in out.splitlines()) == 42


def test_no_traceback_from_the_shell(logs: tuple) -> None:  # type: ignore[type-arg]
    same, _, _ = logs
    result = subprocess.run(
        [sys.executable, "-m", "tlslens", "timeline", str(PCAP), "--events", str(same),
         "--events", "/nonexistent.evtx"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "/nonexistent.evtx" in result.stderr and "Schannel 36888" in result.stdout
