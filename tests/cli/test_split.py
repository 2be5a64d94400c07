"""One capture over several processes (`cli/split.py`): the output and the messages are byte
for byte those of one process, in every machine format, on every real capture at hand.

The captures here are small, so the size below which a file is not split is lowered to 0
for these tests.
"""

from __future__ import annotations

import json
import os
import pickle
import select
import signal
import struct
from collections import deque
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from conftest import CAPTURES, corpus_captures, long_lived_capture

from tlslens.analysis import pipeline
from tlslens.analysis.pipeline import Analysis, CaptureReport, in_host_share, in_share
from tlslens.cli import files, split
from tlslens.cli import main as cli_main
from tlslens.limits import Limits


def _captures() -> list[Path]:
    ours = sorted(p for p in CAPTURES.iterdir() if p.suffix in (".pcap", ".pcapng", ".gz"))
    return ours + corpus_captures()


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = cli_main.main(["analyze", *args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.fixture(autouse=True)
def split_small_files(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(files, "MIN_SPLIT_BYTES", 0)


@pytest.mark.parametrize("fmt", ["jsonl", "text"])
@pytest.mark.parametrize("path", _captures(), ids=lambda p: p.name)
def test_split_equals_one_process(path: Path, fmt: str, capsys: pytest.CaptureFixture[str]
                                  ) -> None:  # fmt: skip
    one = run(capsys, "--format", fmt, "-j", "1", str(path))
    three = run(capsys, "--format", fmt, "-j", "3", str(path))
    assert three == one


def _frames(source: Path) -> list[tuple[int, bytes]]:
    """(time, bytes) of every frame of a capture."""
    from tlslens.capture import open_capture

    return [(ts, bytes(data)) for _n, ts, _lt, data, _m in open_capture(str(source))]


def _etl_trace(frames: list[tuple[int, bytes]], out: Path, provider: str,
               **options: Any) -> Path:  # fmt: skip
    """Frames as an ETL trace of NDIS-PacketCapture or PktMon events, on two processors (so
    that the time-order merge has buffers to merge); each pktmon packet appears twice, as at
    two components. `options` go to `EtlWriter`."""
    from capture.etl_writer import EtlWriter

    writer = EtlWriter(start_ns=frames[0][0], cpus=2, **options)
    for number, (ts_ns, data) in enumerate(frames, 1):
        cpu = number % 2
        if provider == "ndis":
            writer.ndis(data, ts_ns, pid=100 + cpu, cpu=cpu)
        else:
            for appearance in (1, 2):
                writer.pktmon(data, ts_ns + appearance, group=number, appearance=appearance,
                              component=appearance, cpu=cpu)  # fmt: skip
    out.write_bytes(writer.to_bytes())
    return out


@pytest.mark.parametrize("provider", ["ndis", "pktmon"])
@pytest.mark.parametrize("name", ["failures.pcap", "basic.pcap", "lossy.pcap"])
def test_split_etl_equals_one_process(name: str, provider: str, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    """A split ETL run: each worker numbers and times the other shares' packets without
    copying them (`FrameSink.wants`), and writes what one process writes."""
    path = str(_etl_trace(_frames(CAPTURES / name), tmp_path / "trace.etl", provider))
    for fmt in ("jsonl", "text"):
        one = run(capsys, "--format", fmt, "-j", "1", path)
        assert one[0] == 0 and one[1]
        assert run(capsys, "--format", fmt, "-j", "3", path) == one
    one = cli_main.main(["diagnose", "--format", "json", "-j", "1", path]), capsys.readouterr()
    assert (cli_main.main(["diagnose", "--format", "json", "-j", "2", path]),
            capsys.readouterr()) == one  # fmt: skip


def _ports_moved(frame: bytes, delta: int) -> bytes:
    """An Ethernet frame with both TCP ports moved by `delta` (IPv4 or IPv6; any other
    frame as it is): both directions of a connection alike, so it stays one connection."""
    ethertype = struct.unpack_from("!H", frame, 12)[0]
    if ethertype == 0x0800 and frame[23] == 6:
        tcp = 14 + (frame[14] & 15) * 4
    elif ethertype == 0x86DD and frame[20] == 6:
        tcp = 54
    else:
        return frame
    sport, dport = struct.unpack_from("!HH", frame, tcp)
    moved = struct.pack("!HH", (sport + delta) % 65536, (dport + delta) % 65536)
    return frame[:tcp] + moved + frame[tcp + 4 :]


@pytest.mark.parametrize("provider", ["ndis", "pktmon"])
def test_split_etl_of_many_windows(provider: str, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    """18,000 packets, more than the ETL reader's time-order merge holds several times over:
    a worker's objects for packets given are filled again for the next (`_waiting`), and for
    another share's packets with their time and identity only (`_another`); what the split
    writes is still what one process writes."""
    frames = _frames(CAPTURES / "basic.pcap")
    span = frames[-1][0] - frames[0][0] + 10**9
    copies = [(ts + copy * span, _ports_moved(data, 7 * copy))
              for copy in range(60) for ts, data in frames]  # fmt: skip
    path = _etl_trace(copies, tmp_path / "many.etl", provider, buffer_size=0x10000)
    one = run(capsys, "--format", "jsonl", "-j", "1", str(path))
    assert one[0] == 0 and len(one[1].splitlines()) > 60 * 3, one[2]
    assert run(capsys, "--format", "jsonl", "-j", "2", str(path)) == one


@pytest.mark.parametrize("fmt", ["json", "csv", "text"])
@pytest.mark.parametrize("name", ["failures.pcap", "basic.pcapng", "lossy.pcap", "midstream.pcap"])
def test_split_other_formats(name: str, fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(CAPTURES / name)
    one = run(capsys, "--format", fmt, "-j", "1", path)
    for jobs in ("2", "4"):
        assert run(capsys, "--format", fmt, "-j", jobs, path) == one
    assert one[0] == 0 and one[1]


def test_the_split_really_happens(monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    """Guards the tests above: they compare nothing if the split path is never taken."""
    calls: list[int] = []

    class Spy(split.SplitAnalysis):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            calls.append(self.jobs)

    monkeypatch.setattr(split, "SplitAnalysis", Spy)
    run(capsys, "--format", "jsonl", "-j", "2", str(CAPTURES / "failures.pcap"))
    assert calls == [2]
    calls.clear()
    monkeypatch.setattr(files, "MIN_SPLIT_BYTES", 1 << 40)
    run(capsys, "--format", "jsonl", "-j", "2", str(CAPTURES / "failures.pcap"))
    assert not calls


def test_each_connection_is_in_one_share() -> None:
    path = str(CAPTURES / "failures.pcap")
    whole = [c.first_frame for c in Analysis(path).conversations()]
    parts = [[c.first_frame for c in Analysis(path, share=(i, 3)).conversations()]
             for i in range(3)]  # fmt: skip
    assert sorted(f for part in parts for f in part) == whole
    assert sum(1 for part in parts if part) >= 2, "one share took every connection"


def test_share_is_the_same_both_ways() -> None:
    a, b = bytes([127, 0, 0, 1]), bytes([127, 0, 0, 9])
    for one, other in ((443, 50000), (80, 50001), (8443, 1)):
        assert in_share(a, b, one, other, 5) == in_share(b, a, other, one, 5)


def test_unreadable_file_is_one_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.pcap"
    bad.write_bytes(b"\xd4\xc3\xb2\xa1" + b"\0" * 3)
    status, out, err = run(capsys, "--format", "jsonl", "-j", "3", str(bad))
    assert (status, out, err) == run(capsys, "--format", "jsonl", "-j", "1", str(bad))
    assert status == 1 and err.count("error") == 1


@pytest.mark.parametrize(
    "filter_text",
    ["tls", 'conn.version == "TLS 1.2"', 'conn.sni == "no.such.name"',
     "ip.dst == 127.0.0.1 and not conn.established"],
)  # fmt: skip
def test_split_with_a_filter(filter_text: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(CAPTURES / "failures.pcap")
    for fmt in ("jsonl", "text"):
        one = run(capsys, "--format", fmt, "-j", "1", "-Y", filter_text, path)
        assert run(capsys, "--format", fmt, "-j", "3", "-Y", filter_text, path) == one


def test_no_split_for_columns_or_events(capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("split where it must not be")

    monkeypatch.setattr(split, "SplitAnalysis", refuse)
    path = str(CAPTURES / "failures.pcap")
    run(capsys, "--format", "csv", "-j", "2", "--columns", "tcp.stream", path)


@pytest.mark.parametrize(
    "filter_text",
    [
        "tcp.stream > 2",
        "tls and conn.id in {1 3 5}",
        "finding.code",
        "tcp.stream < 4 or finding.code",
    ],
)
def test_split_with_filters_on_ids_and_findings(
    filter_text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Such filters need the capture's ids (`share_ids`) or a client's connections
    together (`by_hosts`): the split then gives one process's output all the same."""
    path = str(many_clients(tmp_path))
    for fmt in ("jsonl", "text"):
        one = run(capsys, "--format", fmt, "-j", "1", "-Y", filter_text, path)
        assert run(capsys, "--format", fmt, "-j", "3", "-Y", filter_text, path) == one
        assert one[1]


def test_a_worker_that_dies_is_one_error(monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    real = split._worker

    def dying(path: str, index: int, *args: Any) -> None:
        if index == 1:
            os._exit(3)
        real(path, index, *args)

    monkeypatch.setattr(split, "_worker", dying)
    status, _out, err = run(capsys, "--format", "jsonl", "-j", "2",
                            str(CAPTURES / "failures.pcap"))  # fmt: skip
    assert status == 1
    assert "part 2 of 2 failed (exit code 3); rerun with -j 1" in err
    assert "Traceback" not in err


def audit(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = cli_main.main(["audit", *args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def many_clients(tmp_path: Path) -> Path:
    """failures.pcap (real traffic, all between 127.0.0.1 and itself, one server port per
    scenario) with each client moved to one of seven addresses and every server to port
    4400: audit's host shares are not all one, and a pair holds several connections."""
    data = bytearray((CAPTURES / "failures.pcap").read_bytes())
    assert struct.unpack_from("<I", data)[0] == 0xA1B2C3D4  # little-endian, Ethernet
    pos = 24
    while pos + 16 <= len(data):
        incl = struct.unpack_from("<I", data, pos + 8)[0]
        frame = pos + 16
        if data[frame + 12 : frame + 14] == b"\x08\x00" and data[frame + 23] == 6:
            ip = frame + 14
            tcp = ip + (data[ip] & 0x0F) * 4
            sport, dport = struct.unpack_from("!HH", data, tcp)
            client, where = (sport, ip + 12) if sport > dport else (dport, ip + 16)
            # Neighbouring ports share an address: the client that retries after a failed
            # handshake (failures.pcap's connections 10 and 11) stays one client.
            data[where : where + 4] = bytes([127, 3, 0, (client - 40099) // 2 % 7 + 1])
            # One server port for all, so that a pair holds several connections.
            struct.pack_into("!H", data, tcp + (2 if sport > dport else 0), 4400)
        pos = frame + incl
    path = tmp_path / "many-clients.pcap"
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("path", _captures(), ids=lambda p: p.name)
def test_split_audit_equals_one_process(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for fmt in ("text", "json"):
        one = audit(capsys, "--format", fmt, "-j", "1", str(path))
        assert audit(capsys, "--format", fmt, "-j", "3", str(path)) == one


@pytest.mark.parametrize(
    "filter_text", [None, "tls", 'conn.sni == "no.such.name"', "finding.code", "not finding.code"]
)  # fmt: skip
def test_split_audit_of_many_hosts(filter_text: str | None, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    path = str(many_clients(tmp_path))
    shares = [sum(1 for _ in Analysis(path, share=(i, 3), share_by_hosts=True).conversations())
              for i in range(3)]  # fmt: skip
    assert all(shares), f"every share should have connections: {shares}"
    args = ["-Y", filter_text] if filter_text else []
    for fmt in ("text", "csv"):
        one = audit(capsys, "--format", fmt, "-j", "1", *args, path)
        assert audit(capsys, "--format", fmt, "-j", "3", *args, path) == one
        if filter_text in (None, "tls"):
            assert one[1].count("127.3.0.") >= 3


def test_host_share_keeps_host_pairs_together() -> None:
    a, b = bytes([127, 0, 0, 1]), bytes([127, 0, 0, 9])
    shares = {in_host_share(a, b, port, 443, 5) for port in range(40000, 40100)}
    assert shares == {in_host_share(b, a, 443, 40000, 5)}
    path = str(CAPTURES / "failures.pcap")
    whole = [c.first_frame for c in Analysis(path).conversations()]
    parts = [c.first_frame for i in range(3)
             for c in Analysis(path, share=(i, 3), share_by_hosts=True).conversations()
             ]  # fmt: skip
    assert sorted(parts) == whole


def test_split_audit_of_an_unreadable_file_is_one_error(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]
                                                       ) -> None:  # fmt: skip
    bad = tmp_path / "bad.pcap"
    bad.write_bytes(b"\xd4\xc3\xb2\xa1" + b"\0" * 3)
    status, out, err = audit(capsys, "-j", "3", str(bad))
    assert (status, out, err) == audit(capsys, "-j", "1", str(bad))
    assert status == 1 and err.count("error") == 1


def test_an_internal_error_in_a_worker_is_one_message(monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]
                                                      ) -> None:  # fmt: skip
    """A worker that fails in the middle reports it; the records stop where its part of
    the ids stops being known, and nothing prints a traceback."""
    # What a worker makes of each connection is the command's (interpreted) job; the
    # analysis below it may be compiled, where a patch would not reach.
    from tlslens.cli import analyze_cmd, audit_cmd

    calls = {"n": 0}

    def failing_on_the_third(real: Any) -> Any:
        def failing(*args: Any, **kwargs: Any) -> Any:
            calls["n"] += 1
            if calls["n"] == 3:
                raise RuntimeError("boom")
            return real(*args, **kwargs)

        return failing

    monkeypatch.setattr(analyze_cmd._RecordJob, "data",
                        failing_on_the_third(analyze_cmd._RecordJob.data))  # fmt: skip
    monkeypatch.setattr(audit_cmd._PairJob, "data", failing_on_the_third(audit_cmd._PairJob.data))
    path = str(CAPTURES / "failures.pcap")
    status, out, err = run(capsys, "--format", "jsonl", "-j", "2", path)
    assert status == 1
    assert "internal error" in err and "boom" in err and "Traceback" not in err
    ids = [json.loads(line)["id"] for line in out.splitlines()]
    assert ids == list(range(len(ids)))
    status, out, err = audit(capsys, "-j", "2", path)
    assert status == 1 and "boom" in err and "Traceback" not in err


def test_audit_with_aliases_is_not_split(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    """An alias may name a network: one pair could span host shares."""
    aliases = tmp_path / "aliases.txt"
    aliases.write_text("127.3.0.0/24 branch\n")
    path = str(many_clients(tmp_path))
    one = audit(capsys, "-j", "1", "--aliases", str(aliases), path)

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("split where it must not be")

    monkeypatch.setattr(split, "SplitAnalysis", refuse)
    assert audit(capsys, "-j", "3", "--aliases", str(aliases), path) == one
    assert "branch" in one[1]


def diagnose(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = cli_main.main(["diagnose", *args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.mark.parametrize("path", _captures(), ids=lambda p: p.name)
def test_split_diagnose_equals_one_process(path: Path, capsys: pytest.CaptureFixture[str]
                                           ) -> None:  # fmt: skip
    for fmt in ("text", "jsonl"):
        one = diagnose(capsys, "--format", fmt, "-j", "1", str(path))
        assert diagnose(capsys, "--format", fmt, "-j", "3", str(path)) == one


@pytest.mark.parametrize("filter_text", [None, "finding.code", 'conn.sni == "no.such.name"'])
def test_split_diagnose_of_many_hosts(filter_text: str | None, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    """Findings that name other connections (a client retrying with a lower version) keep
    the capture's ids though the connections are spread over three processes."""
    path = str(many_clients(tmp_path))
    args = ["-Y", filter_text] if filter_text else []
    for fmt in ("text", "json"):
        one = diagnose(capsys, "--format", fmt, "--all", "-j", "1", *args, path)
        assert diagnose(capsys, "--format", fmt, "--all", "-j", "3", *args, path) == one
        if filter_text is None:
            assert "version-fallback: after connection 10 failed" in one[1] or fmt != "text"


@pytest.mark.parametrize("name", ["failures.pcap", "basic.pcapng", "lossy.pcap"])
def test_shares_with_the_captures_ids(name: str, tmp_path: Path) -> None:
    """`Analysis(share_ids=True)`: together the shares give every connection once, with the
    record one process makes (ids included), and each share's report is the whole one."""
    path = str(many_clients(tmp_path)) if name == "failures.pcap" else str(CAPTURES / name)
    whole = Analysis(path)
    records = [c.to_record() for c in whole.conversations()]
    parts = []
    for i in range(3):
        share = Analysis(path, share=(i, 3), share_by_hosts=True, share_ids=True)
        parts += [c.to_record() for c in share.conversations()]
        assert share.report.to_record() == whole.report.to_record()
    assert sorted(parts, key=lambda r: r["id"]) == records


@pytest.mark.parametrize("fmt", ["jsonl", "text"])
def test_split_behind_a_long_lived_connection_equals_one_process(
    fmt: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    spilled: list[tuple[int, object]],
) -> None:
    """Every other connection waits for connection 0; with room for only two in memory, the
    rest wait on disk, in the workers (as the text they send) and in one process alike."""
    monkeypatch.setattr(pipeline, "Limits", partial(Limits, max_waiting_connections=2))
    path = str(long_lived_capture(tmp_path))
    one = run(capsys, "--format", fmt, "-j", "1", path)
    assert spilled  # the one-process run waited on disk (workers are other processes)
    assert run(capsys, "--format", fmt, "-j", "3", path) == one
    assert one[0] == 0 and "3389" in one[1]  # the long connection is there


def test_workers_that_number_frames_apart_are_reported_not_waited_on() -> None:
    """Two workers sending connections that begin at the same frame (they never should:
    a frame is one connection's) make the parent say so and go on, not loop for ever."""
    merger = object.__new__(split.SplitAnalysis)  # no workers: their messages are given
    merger.path, merger.jobs, merger.share_ids, merger.opened = "x.etl", 2, False, True
    merger.errors, merger.results, merger.report, merger.workers = [], [], None, []
    end = (split._END, pickle.dumps((CaptureReport("x.etl"), None, None)))
    merger.streams = []
    for sent in ([(5, b"a"), (9, b"c")], [(7, b"b"), (9, b"d"), (12, b"e")]):
        stream = split._Stream(-1, memoryview(bytearray(1)))
        stream.messages = deque([*sent, end])
        merger.streams.append(stream)

    def stuck(*_args: object) -> None:
        raise TimeoutError("the parent waits for ever")

    previous = signal.signal(signal.SIGALRM, stuck)
    signal.alarm(10)
    try:
        records = list(merger.records())
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert records == [(0, 5, b"a"), (1, 7, b"b"), (2, 9, b"c"), (3, 9, b"d"), (4, 12, b"e")]
    assert len(merger.errors) == 1 and "begin at frame 9" in merger.errors[0]


@pytest.mark.parametrize("buffer_bytes", [5, 1 << 20])
@pytest.mark.parametrize("cut", [1, 5, 11, 12, 13, 100, 4097, 65536])
def test_the_parent_reads_messages_cut_anywhere(cut: int, buffer_bytes: int) -> None:
    """However the pipe hands out a worker's bytes (a read may end inside a header or inside
    a record of any size, or where the parent's read buffer is full), the parent queues the
    messages the worker sent, whole."""
    sent = [(3, b"x" * 10), (7, None), (9, b""), (12, bytes(range(256)) * 300), (split._END, b"e")]
    wire = b"".join(split._HEADER.pack(frame, split._DROPPED if data is None else len(data))
                    + (data or b"") for frame, data in sent)  # fmt: skip
    read, write = os.pipe()
    try:
        stream = split._Stream(read, memoryview(bytearray(buffer_bytes)))
        for pos in range(0, len(wire), cut):  # each piece fits in the pipe (64 KiB)
            os.write(write, wire[pos : pos + cut])
            while select.select([read], [], [], 0)[0]:
                stream.fill()
        assert list(stream.messages) == sent
        assert stream.queued == sum(len(d) for f, d in sent if d is not None)
        assert not stream.partial and stream.last_sent == 12
    finally:
        os.close(read)
        os.close(write)
