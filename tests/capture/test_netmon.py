"""Network Monitor (.cap) files: every frame equals tshark's reading of the same file and the
packets of the pcap it was made from; the 2.1-2.3 trailers, per-frame link types, the comment
and process tables; damaged files keep every readable frame with one clear problem.

The corpus has only editcap's 1.1 and 2.0 files. No public capture with a process table or
2.1-2.3 trailers exists that we could find, so those files are built here with our own
writer (`netmon_writer.py`); tshark reads them too, which checks the writer independently.
Times: before 2.3 the header time is local time of an unrecorded zone; tlslens reads it as
UTC, so tshark and editcap run with TZ=UTC here.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from capture.netmon_writer import NO_PROCESS, NetmonFrame, NetmonProcess, write_netmon
from conftest import CAPTURES, CORPUS, needs_corpus, needs_tshark
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tlslens.capture import CaptureError, open_capture
from tlslens.capture.netmon import NETMON_LINKTYPE_BASE

# Every test here runs with plain files mapped and read (ChunkedInput; tests/capture/conftest).
pytestmark = pytest.mark.usefixtures("each_input_mode")

NETMON = CORPUS / "derived" / "netmon"
ZEEK_TLS = CORPUS / "zeek" / "testing" / "btest" / "Traces" / "tls"
# The pcaps the corpus files were made from, as ../shared/corpus/MANIFEST.md names them, and
# the time precision editcap kept (1.x stores milliseconds, 2.0 microseconds).
ORIGINALS = {
    "zeek-client-certificate.netmon1.cap": (ZEEK_TLS / "client-certificate.pcap", 500_000),
    "zeek-tls1.2.netmon2.cap": (ZEEK_TLS / "tls1.2.pcap", 500),
}
BASIC = CAPTURES / "basic.pcap"
UTC_ENV = {**os.environ, "TZ": "UTC"}
PROCESSES = [
    NetmonProcess(4321, r"C:\Windows\System32\svchost.exe", icon=b"\x89PNG" + bytes(60)),
    NetmonProcess(77, "\\Device\\HarddiskVolume3\\Program Files\\OpenSSL\\openssl.exe"),
]

Row = tuple[int, int, str]


def tshark_frames(path: Path) -> list[Row]:
    """(time in ns, captured length, md5) per frame, as tshark reads the file in UTC."""
    out = subprocess.run(
        ["tshark", "-r", str(path), "-n", "-T", "fields", "-E", "separator=|",
         "-e", "frame.time_epoch", "-e", "frame.cap_len", "-e", "frame.md5_hash",
         "-o", "frame.generate_md5_hash:TRUE"],
        capture_output=True, text=True, check=False, env=UTC_ENV,
    ).stdout  # fmt: skip
    rows = []
    for line in out.splitlines():
        epoch, caplen, md5 = line.split("|")
        rows.append((int(Decimal(epoch) * 1_000_000_000), int(caplen), md5))
    return rows


def ours(path: Path) -> list[Row]:
    capture = open_capture(str(path))
    return [(ts, len(d), hashlib.md5(d).hexdigest()) for _n, ts, _lt, d, _m in capture]


def read(path: Path) -> tuple[list[tuple[int, int, bytes, dict | None]], list[str]]:
    capture = open_capture(str(path))
    frames = [(ts, lt, bytes(d), m) for _n, ts, lt, d, m in capture]
    return frames, [str(p) for p in capture.problems]


def basic_frames() -> list[tuple[int, bytes]]:
    # 100-ns steps: the finest time a 2.3 trailer holds.
    return [(ts - ts % 100, bytes(d)) for _n, ts, _lt, d, _m in open_capture(str(BASIC))]


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def assert_close(got: list[tuple[int, int, bytes, dict | None]],
                 want: list[tuple[int, bytes]], precision: int) -> None:  # fmt: skip
    assert len(got) == len(want)
    for i, ((ts, _lt, data, _m), (want_ts, want_data)) in enumerate(zip(got, want, strict=True)):
        assert data == want_data, f"frame {i + 1}"
        assert abs(ts - want_ts) <= precision, f"frame {i + 1}: {ts} vs {want_ts}"


# -- real files (editcap's), against tshark and against the pcap they came from ------------


@needs_corpus
@needs_tshark
@pytest.mark.parametrize("name", sorted(ORIGINALS))
def test_corpus_files_match_tshark(name: str) -> None:
    path = NETMON / name
    got = ours(path)
    assert got == tshark_frames(path) and len(got) in (22, 31)


@needs_corpus
@pytest.mark.parametrize("name", sorted(ORIGINALS))
def test_corpus_files_match_their_original_pcap(name: str) -> None:
    original, precision = ORIGINALS[name]
    got, problems = read(NETMON / name)
    want = [(ts, d) for ts, _lt, d, _m in read(original)[0]]
    assert problems == []
    assert_close(got, want, precision)
    assert {lt for _ts, lt, _d, _m in got} == {1}
    assert open_capture(str(NETMON / name)).format_name == name.split(".")[-2]


@needs_tshark
@pytest.mark.parametrize("fmt", ["netmon1", "netmon2"])
def test_editcap_variants_of_basic(tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"basic.{fmt}.cap"
    subprocess.run(["editcap", "-F", fmt, str(BASIC), str(out)], check=True, env=UTC_ENV,
                   capture_output=True)  # fmt: skip
    assert ours(out) == tshark_frames(out)
    got, problems = read(out)
    want = [(ts, d) for ts, _lt, d, _m in read(BASIC)[0]]
    assert problems == [] and len(got) == 300
    assert_close(got, want, 500_000 if fmt == "netmon1" else 500)


def test_editcap_empty_capture_is_empty(tmp_path: Path) -> None:
    # editcap writes only the 64 bytes of header fields, and garbage for the time, when
    # there are no frames; that is an empty capture, not a damaged one.
    header = b"GMBU\x00\x02\x01\x00" + struct.pack("<8H", 62259, 1, 5, 1, 23, 10, 8, 0)
    header += struct.pack("<10I", 128, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    assert read(write(tmp_path, "empty.cap", header)) == ([], [])
    assert read(write(tmp_path, "empty128.cap", header.ljust(128, b"\0"))) == ([], [])


# -- trailers, link types, processes, comments (files from our writer) ---------------------


def mixed_frames() -> list[NetmonFrame]:
    """basic.pcap's frames with per-frame media types: Ethernet, raw IP (the Ethernet header
    cut off) and "converted from pcap" Ethernet (0xE000 | LINKTYPE_ETHERNET); processes and a
    comment on some."""
    frames = []
    for i, (ts, data) in enumerate(basic_frames()):
        if i % 5 == 1:
            frame = NetmonFrame(ts, data[14:], media=9)
        elif i % 5 == 2:
            frame = NetmonFrame(ts, data, media=0xE001)
        else:
            frame = NetmonFrame(ts, data)
        frame.process = i % 3 if i % 3 < 2 else NO_PROCESS
        if i == 7:
            frame.comment = ("handshake starts", r"{\rtf1\ansi see frame 8}")
        frames.append(frame)
    return frames


@needs_tshark
@pytest.mark.parametrize("minor", [1, 2, 3])
def test_trailer_versions_match_tshark(tmp_path: Path, minor: int) -> None:
    path = write(tmp_path, f"v2{minor}.cap", write_netmon(mixed_frames(), minor=minor,
                                                         processes=PROCESSES))  # fmt: skip
    assert ours(path) == tshark_frames(path)
    got, problems = read(path)
    assert problems == [] and len(got) == 300
    for i, (_ts, linktype, _data, meta) in enumerate(got):
        assert linktype == (101 if i % 5 == 1 else 1), i
        if minor >= 2 and i % 3 < 2:
            assert meta is not None
            pid, path_ = (PROCESSES[i % 3].pid, PROCESSES[i % 3].path)
            assert meta["pid"] == pid and meta["process_path"] == path_
            assert meta["process_name"] == ("svchost.exe", "openssl.exe")[i % 3]
            assert "tid" not in meta
        elif i != 7:
            assert meta is None or "pid" not in meta, i
    if minor >= 2:
        assert got[7][3] is not None
        assert got[7][3]["comments"] == ["handshake starts", r"{\rtf1\ansi see frame 8}"]


def test_version_2_3_uses_the_utc_time_of_each_frame(tmp_path: Path) -> None:
    frames = [NetmonFrame(ts, data) for ts, data in basic_frames()]
    # A header time far from the frames: only the per-frame FILETIMEs can give these times.
    data = write_netmon(frames, minor=3, start_ns=1_000_000_000_000_000_000)
    got, problems = read(write(tmp_path, "v23.cap", data))
    assert problems == []
    assert [ts for ts, _lt, _d, _m in got] == [f.ts_ns for f in frames]


def test_netmon_1x_and_2x_from_our_writer_match_basic(tmp_path: Path) -> None:
    want = basic_frames()
    frames = [NetmonFrame(ts, data) for ts, data in want]
    for major, minor, precision in ((1, 1, 1_000_000), (2, 0, 1000)):
        got, problems = read(write(tmp_path, f"{major}{minor}.cap",
                                   write_netmon(frames, major=major, minor=minor)))  # fmt: skip
        assert problems == []
        assert_close(got, want, precision)


@needs_tshark
def test_metadata_frames_are_numbered_like_wireshark(tmp_path: Path) -> None:
    frames = [NetmonFrame(ts, data) for ts, data in basic_frames()[:6]]
    frames[1].media = 0xFFFD  # network info: Wireshark does not show it as a frame
    frames[3].media = 0xFFFF  # a NetMon filter: a frame with no pcap link type
    path = write(tmp_path, "meta.cap", write_netmon(frames, minor=3))
    assert ours(path) == tshark_frames(path)
    got, problems = read(path)
    assert problems == []
    assert [lt for _ts, lt, _d, _m in got] == [1, 1, NETMON_LINKTYPE_BASE | 0xFFFF, 1, 1]


def test_unsupported_media_type_is_one_problem(tmp_path: Path) -> None:
    frames = [NetmonFrame(ts, data) for ts, data in basic_frames()[:10]]
    frames[2].media = frames[5].media = 4  # ATM / NDIS WAN
    got, problems = read(write(tmp_path, "atm.cap", write_netmon(frames, minor=1)))
    assert len(got) == 8 and len(problems) == 1
    assert "2 frame(s) hold ATM / NDIS WAN data" in problems[0]
    header_atm = write_netmon(frames[:1], minor=0, media=4)
    with pytest.raises(CaptureError, match="ATM / NDIS WAN frames"):
        open_capture(str(write(tmp_path, "atm20.cap", header_atm)))


@needs_tshark
def test_frame_table_order_wins_over_file_order(tmp_path: Path) -> None:
    frames = [NetmonFrame(ts, data) for ts, data in basic_frames()]
    n = len(frames)
    # Stored last frame first, then the rest: the table still lists them in order.
    data = write_netmon(frames, minor=2, physical_order=[n - 1, *range(n - 1)])
    path = write(tmp_path, "reordered.cap", data)
    assert ours(path) == tshark_frames(path)
    got, problems = read(path)
    assert problems == [] and [d for _ts, _lt, d, _m in got] == [f.data for f in frames]
    packed = write(tmp_path, "reordered.cap.gz", gzip.compress(data))
    assert read(packed) == (got, [])
    assert open_capture(str(packed)).format_name == "netmon2+gzip"


# -- damaged files ------------------------------------------------------------------------


def whole_and_raw(tmp_path: Path) -> list[tuple[bytes, list[bytes]]]:
    cases = [write_netmon([NetmonFrame(ts, d) for ts, d in basic_frames()[:40]], minor=3,
                          processes=PROCESSES)]  # fmt: skip
    if NETMON.is_dir():
        cases += [(NETMON / name).read_bytes() for name in sorted(ORIGINALS)]
    out = []
    for i, raw in enumerate(cases):
        frames, problems = read(write(tmp_path, f"whole{i}.cap", raw))
        assert problems == []
        out.append((raw, [d for _ts, _lt, d, _m in frames]))
    return out


def first_frame_end(raw: bytes) -> int:
    incl_at, size = (14, 2) if raw[:4] == b"RTSS" else (12, 4)
    (incl,) = struct.unpack_from("<H" if size == 2 else "<I", raw, 128 + incl_at - 2 * (size == 2))
    header = 8 if raw[:4] == b"RTSS" else 16
    trailer = {0: 0, 1: 2, 2: 6}.get(raw[4], 15) if raw[:4] == b"GMBU" else 0
    return 128 + header + incl + trailer


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(cut=st.floats(min_value=0, max_value=1, exclude_max=True), which=st.integers(0, 2))
def test_cut_anywhere_keeps_every_whole_frame(tmp_path: Path, cut: float, which: int) -> None:
    cases = whole_and_raw(tmp_path)
    raw, whole = cases[which % len(cases)]
    at = int(cut * len(raw))
    path = write(tmp_path, "cut.cap", raw[:at])
    try:
        got, problems = read(path)
    except CaptureError as exc:
        # Only when not even the first frame is whole.
        assert at < first_frame_end(raw), exc
        assert str(path) in str(exc)
        return
    assert got and [d for _ts, _lt, d, _m in got] == whole[: len(got)]
    assert len(problems) == 1 and "frame table" in problems[0], problems
    assert problems[0].startswith(f"{path}: byte offset ")


def test_absurd_frame_table_offset_and_length(tmp_path: Path) -> None:
    for raw, whole in whole_and_raw(tmp_path):
        for field, value in ((24, 0xFFFFFFF0), (24, 3), (28, 0xFFFFFFF0), (28, 7)):
            bad = bytearray(raw)
            struct.pack_into("<I", bad, field, value)
            got, problems = read(write(tmp_path, "bad.cap", bytes(bad)))
            assert [d for _ts, _lt, d, _m in got] == whole, (field, value)
            assert len(problems) == 1 and "no usable frame table" in problems[0]


def test_absurd_frame_table_entries(tmp_path: Path) -> None:
    for raw, whole in whole_and_raw(tmp_path):
        (table,) = struct.unpack_from("<I", raw, 24)
        near_end = len(raw) - 4  # in the file, but no whole record fits after it
        for value, says in ((0x7FFFFFF0, "outside"), (5, "outside"), (near_end, "run past")):
            bad = bytearray(raw)
            struct.pack_into("<I", bad, table + 8, value)  # the third frame's entry
            got, problems = read(write(tmp_path, "entry.cap", bytes(bad)))
            assert [d for _ts, _lt, d, _m in got] == whole[:2] + whole[3:], value
            assert len(problems) == 1 and says in problems[0], problems
            assert f"byte offset {table + 8}:" in problems[0] and f"offset {value}" in problems[0]


def test_damaged_process_and_comment_tables_keep_the_frames(tmp_path: Path) -> None:
    frames = [NetmonFrame(ts, d, process=i % 2) for i, (ts, d) in enumerate(basic_frames()[:20])]
    frames[3].comment = ("title", "")
    raw = write_netmon(frames, minor=2, processes=PROCESSES)
    for field, value, says in ((52, 10**6, "process table claims"),
                               (52, 3, "process table"),
                               (44, 10**8, "comment table claims"),
                               (44, 20, "comment 1 in the comment table is damaged")):  # fmt: skip
        bad = bytearray(raw)
        struct.pack_into("<I", bad, field, value)
        got, problems = read(write(tmp_path, "tables.cap", bytes(bad)))
        assert [d for _ts, _lt, d, _m in got] == [f.data for f in frames], says
        assert len(problems) == 1 and says in problems[0], problems


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(garbage=st.binary(min_size=1, max_size=600), where=st.sampled_from(["end", "body", "table"]))
def test_garbage_never_raises_but_capture_error(tmp_path: Path, garbage: bytes, where: str) -> None:
    for raw, whole in whole_and_raw(tmp_path)[:2]:
        (table,) = struct.unpack_from("<I", raw, 24)
        if where == "end":
            data = raw + garbage
        elif where == "body":
            data = raw[:128] + garbage + raw[128 + len(garbage) :]
        else:
            data = raw[:table] + garbage[: len(raw) - table] + raw[table + len(garbage) :]
        try:
            got, _problems = read(write(tmp_path, "garbage.cap", data))
        except CaptureError:
            assert where != "end"
            continue
        if where == "end":
            assert [d for _ts, _lt, d, _m in got] == whole and _problems == []


def test_header_damage_is_a_capture_error(tmp_path: Path) -> None:
    raw = write_netmon([NetmonFrame(ts, d) for ts, d in basic_frames()[:3]], minor=3)
    cases = {
        "short.cap": (raw[:50], "Network Monitor file header"),
        "v3.cap": (raw[:5] + b"\x03" + raw[6:], "format 3.3"),
        "zeros.cap": (raw[:8] + bytes(len(raw) - 8), "no complete frame"),
    }
    for name, (data, expected) in cases.items():
        path = write(tmp_path, name, data)
        with pytest.raises(CaptureError) as info:
            open_capture(str(path))
        assert str(path) in str(info.value) and expected in str(info.value), name


def test_a_one_frame_file_with_a_lost_table_offset(tmp_path: Path) -> None:
    ts, data = basic_frames()[0]
    for major, minor in ((1, 1), (2, 0), (2, 3)):
        bad = bytearray(write_netmon([NetmonFrame(ts, data)], major=major, minor=minor))
        struct.pack_into("<I", bad, 24, 0xFFFFFFF0)
        got, problems = read(write(tmp_path, "one.cap", bytes(bad)))
        assert [d for _ts, _lt, d, _m in got] == [data], (major, minor)
        assert len(problems) == 1 and "1 frame(s), up to the frame table" in problems[0]
