"""`tlslens convert`: every capture we read becomes a pcapng that tshark reads with the same
frames (count, time stamps, lengths, bytes); process and thread ids, process names, comments
and directions survive; bad arguments are one-line errors with exit status 1."""

from __future__ import annotations

import os
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from capture.netmon_writer import NetmonFrame, NetmonProcess, write_netmon
from conftest import CAPTURES, CORPUS, needs_tshark

from tlslens.capture import open_capture
from tlslens.capture.pcapng_writer import PcapngWriter
from tlslens.cli.main import main

FIXTURES = sorted(
    p for p in CAPTURES.glob("*") if p.name.endswith((".pcap", ".pcapng", ".gz"))
)  # fmt: skip
NETMON = sorted((CORPUS / "derived" / "netmon").glob("*.cap"))
# NetMon files before format 2.3 hold local time of an unknown zone, read as UTC.
UTC_ENV = {**os.environ, "TZ": "UTC"}


def tshark_frames(path: Path) -> list[tuple[int, int, int, str]]:
    """(time in ns, captured length, wire length, md5) per frame."""
    out = subprocess.run(
        ["tshark", "-r", str(path), "-n", "-T", "fields", "-E", "separator=|",
         "-e", "frame.time_epoch", "-e", "frame.cap_len", "-e", "frame.len",
         "-e", "frame.md5_hash", "-o", "frame.generate_md5_hash:TRUE"],
        capture_output=True, text=True, check=False, env=UTC_ENV,
    ).stdout  # fmt: skip
    rows = []
    for line in out.splitlines():
        epoch, caplen, length, md5 = line.split("|")
        rows.append((int(Decimal(epoch) * 1_000_000_000), int(caplen), int(length), md5))
    return rows


def frames(path: Path) -> list[tuple[int, int, bytes, dict[str, Any] | None]]:
    return [(ts, lt, bytes(d), m) for _n, ts, lt, d, m in open_capture(str(path))]


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["convert", *args])
    out, err = capsys.readouterr()
    return code, out, err


def convert(capsys: pytest.CaptureFixture[str], source: Path, target: Path,
            *extra: str) -> str:  # fmt: skip
    code, out, err = run(capsys, str(source), "-o", str(target), *extra)
    assert code == 0, err
    assert out.startswith(f"{target}: ") and "frame(s) written" in out
    return err


@needs_tshark
@pytest.mark.parametrize("path", FIXTURES + NETMON, ids=lambda p: p.name)
def test_tshark_reads_the_same_frames(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, path: Path
) -> None:
    target = tmp_path / "out.pcapng"
    err = convert(capsys, path, target)
    assert err == ""
    want = tshark_frames(path)
    assert want and tshark_frames(target) == want
    # Our own reader agrees too, link types included.
    ours_in, ours_out = frames(path), frames(target)
    assert [f[:3] for f in ours_out] == [f[:3] for f in ours_in]


def test_process_ids_names_and_comments_survive(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = CAPTURES / "procinfo.pcapng"
    target = tmp_path / "procinfo.pcapng"
    convert(capsys, source, target)
    before, after = frames(source), frames(target)
    assert len(after) == len(before) == 300
    keys = ("pid", "tid", "process_name", "comments")
    for (_, _, _, m_in), (_, _, _, m_out) in zip(before, after, strict=True):
        assert m_in is not None and m_out is not None
        assert {k: m_in.get(k) for k in keys} == {k: m_out.get(k) for k in keys}


@needs_tshark
def test_tshark_sees_the_pid_comment(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    target = tmp_path / "procinfo.pcapng"
    convert(capsys, CAPTURES / "procinfo.pcapng", target)
    out = subprocess.run(["tshark", "-r", str(target), "-T", "fields", "-e", "frame.comment"],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    want = [f"PID={m['pid']} TID={m['tid']}" for _ts, _lt, _d, m in frames(target) if m]
    assert out.splitlines() == want and len(want) == 300


def test_interfaces_and_link_types_survive(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = CAPTURES / "multi.pcapng"
    target = tmp_path / "multi.pcapng"
    convert(capsys, source, target)
    before, after = frames(source), frames(target)
    assert [(ts, lt, d) for ts, lt, d, _m in after] == [(ts, lt, d) for ts, lt, d, _m in before]
    # Frames of different input interfaces stay on different output interfaces.
    pairs = {(m or {}).get("interface", 0): (m2 or {}).get("interface", 0)
             for (_, _, _, m), (_, _, _, m2) in zip(before, after, strict=True)}  # fmt: skip
    assert len(set(pairs.values())) == len(pairs) == 3


def test_netmon_process_table_survives(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    base = frames(CAPTURES / "basic.pcap")[:30]
    procs = [NetmonProcess(4321, r"C:\Windows\System32\svchost.exe")]
    nm = [NetmonFrame(ts - ts % 100, d, process=0 if i % 2 else 0xFFFFFFFF)
          for i, (ts, _lt, d, _m) in enumerate(base)]  # fmt: skip
    nm[4].media = 0xFFFF  # a NetMon filter frame: no pcapng link type, left out
    source = tmp_path / "procs.cap"
    source.write_bytes(write_netmon(nm, minor=3, processes=procs))
    target = tmp_path / "procs.pcapng"
    err = convert(capsys, source, target)
    assert err.count("\n") == 1 and "1 frame(s) of a kind pcapng cannot hold" in err
    after = frames(target)
    assert len(after) == 29
    for i, (ts, lt, data, meta) in enumerate(f for j, f in enumerate(frames(source)) if j != 4):
        assert after[i][:3] == (ts, lt, data)
        if meta and "pid" in meta:
            got = after[i][3]
            assert got is not None
            assert (got["pid"], got["tid"], got["process_name"]) == (4321, 0, "svchost.exe")
            assert got["comments"] == ["PID=4321 TID=0"]
        else:
            assert after[i][3] is None


def test_direction_and_truncation_survive(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    base = frames(CAPTURES / "basic.pcap")[:4]
    source = tmp_path / "dir.pcapng"
    metas: list[dict[str, Any] | None] = [
        {"direction": "inbound"},
        {"direction": "outbound", "comments": ["first", "second"]},
        {"orig_len": 9000},
        None,
    ]
    with source.open("wb") as handle:
        writer = PcapngWriter(handle)
        for (ts, lt, data, _m), meta in zip(base, metas, strict=True):
            writer.write(ts, lt, data, meta)
    target = tmp_path / "dir2.pcapng"
    convert(capsys, source, target)
    assert [m for _ts, _lt, _d, m in frames(target)] == metas


def test_dedupe_is_accepted(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    target = tmp_path / "d.pcapng"
    convert(capsys, CAPTURES / "basic.pcap", target, "--dedupe")
    assert len(frames(target)) == 300


def test_output_is_replaced_whole(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    target = tmp_path / "out.pcapng"
    target.write_bytes(b"old contents")
    convert(capsys, CAPTURES / "lossy.pcap", target)
    assert len(frames(target)) == 170
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.pcapng"]


def test_errors_are_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    basic = tmp_path / "basic.pcap"
    basic.write_bytes((CAPTURES / "basic.pcap").read_bytes())
    link = tmp_path / "link.pcap"
    link.symlink_to(basic)
    text = tmp_path / "notes.txt"
    text.write_text("not a capture\n")
    cases = [
        ((str(tmp_path / "missing.pcap"), "-o", str(tmp_path / "x.pcapng")), "cannot open file"),
        ((str(basic), "-o", str(tmp_path / "no" / "such" / "dir.pcapng")), "cannot write"),
        ((str(basic), "-o", str(tmp_path)), "is a directory"),
        ((str(basic), "-o", str(basic)), "would overwrite the input"),
        ((str(basic), "-o", str(link)), "would overwrite the input"),
        ((str(basic), "-o", f"{tmp_path}/./basic.pcap"), "would overwrite the input"),
        ((str(text), "-o", str(tmp_path / "t.pcapng")), "unknown capture format"),
    ]
    for args, expected in cases:
        code, out, err = run(capsys, *args)
        assert code == 1 and out == "", args
        assert err.count("\n") == 1 and err.startswith("tlslens: error: "), err
        assert expected in err and "Traceback" not in err, err
    # Nothing was written or damaged along the way.
    assert basic.read_bytes() == (CAPTURES / "basic.pcap").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["basic.pcap", "link.pcap", "notes.txt"]


def test_convert_is_in_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["convert", "--help"])
    out = capsys.readouterr().out
    assert "--dedupe" in out and "OUT.pcapng" in out
