"""Process attribution from the capture itself: pcapng option 8, etl2pcapng comments and Apple
process blocks, checked against the pids and tids the fixture generator recorded for every
frame (tests/fixtures/manifest.json, procinfo.pcapng: the real processes and threads that sent
each packet)."""

from __future__ import annotations

import pytest
from conftest import CAPTURES, load_manifest

from tlslens import Analysis

ENTRY = load_manifest().get("procinfo.pcapng")
pytestmark = pytest.mark.skipif(ENTRY is None, reason="procinfo.pcapng not in the manifest")


def _frames(spec: str) -> list[int]:
    out: list[int] = []
    for part in spec.split(","):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def _truth() -> dict[int, tuple[int, int]]:
    assert ENTRY is not None
    by_frame = {}
    for group in ENTRY["process_info"]["frames_by_process"]:
        for frame in _frames(group["frames"]):
            by_frame[frame] = (group["pid"], group["tid"])
    return by_frame


def test_each_side_gets_the_process_of_its_first_packet() -> None:
    truth = _truth()
    names = {d["pid"]: d["name"] for d in ENTRY["process_info"]["dpib"]}  # type: ignore[index]
    convs = list(Analysis(str(CAPTURES / "procinfo.pcapng")).conversations())
    assert len(convs) == 10
    for conv in convs:
        by_side = {p.side: p for p in conv.processes}
        assert set(by_side) == {"client", "server"}, conv.id
        client_first = conv.to_server.syn_frame
        server_first = conv.to_client.syn_frame
        assert client_first is not None and server_first is not None
        for side, frame in (("client", client_first), ("server", server_first)):
            seen = by_side[side]
            assert (seen.pid, seen.tid) == truth[frame], (conv.id, side)
            assert seen.frame == frame
            # A name only where an Apple process block was referenced; never invented.
            assert seen.name in (None, names.get(seen.pid))
        record = conv.to_record()
        assert record["process"]["side"] == "client" and record["process"]["pid"] == \
            truth[client_first][0]  # fmt: skip
    # openssl s_client and s_server ran tls12_openssl: their names come from the blocks.
    first = {p.side: p for p in convs[0].processes}
    assert (first["client"].name, first["server"].name) == ("openssl", "openssl")
    assert first["client"].source == "darwin_process_block"


def test_plain_pcap_has_no_process() -> None:
    convs = list(Analysis(str(CAPTURES / "basic.pcap")).conversations())
    assert convs and all(c.processes == () and "process" not in c.to_record() for c in convs)


def test_a_log_that_disagrees_is_a_conflict() -> None:
    from tlslens.analysis.correlate import correlate
    from tlslens.eventlog import LogEvent

    analysis = Analysis(str(CAPTURES / "procinfo.pcapng"), keep_frame_times=True)
    convs = list(analysis.conversations())
    conv = convs[0]
    fields = {"UtcTime": "", "ProcessId": "777", "Image": "C:\\x\\other.exe", "Protocol": "tcp",
              "Initiated": "true", "SourceIp": conv.client.ip,
              "SourcePort": str(conv.client.port), "DestinationIp": conv.server.ip,
              "DestinationPort": str(conv.server.port)}  # fmt: skip
    same = dict(fields, ProcessId=str(conv.processes[0].pid), Image="C:\\bin\\openssl.exe")
    events = [LogEvent(conv.start_ns, "t", "Microsoft-Windows-Sysmon", 3, 1, None, fields)]
    record = conv.to_record()
    correlate(convs, events, analysis.frame_time).annotate(record, conv.id)
    assert record["process"]["pid"] == conv.processes[0].pid
    assert [c["pid"] for c in record["process"]["conflicts"]] == [777]
    events = [LogEvent(conv.start_ns, "t", "Microsoft-Windows-Sysmon", 3, 1, None, same)]
    record = conv.to_record()
    correlate(convs, events, analysis.frame_time).annotate(record, conv.id)
    assert "conflicts" not in record["process"]
    assert record["process"]["image"] == "C:\\bin\\openssl.exe"
