"""Damaged and hostile files: the frames before the damage are kept, the problem is named
with its byte offset, and nothing raises but CaptureError for an unreadable file."""

from __future__ import annotations

import gzip
import struct
import subprocess
from pathlib import Path

import pytest
from conftest import CORPUS, needs_corpus
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tlslens.capture import CaptureError, open_capture

# Every test here runs with plain files mapped and read (ChunkedInput; tests/capture/conftest).
pytestmark = pytest.mark.usefixtures("each_input_mode")

PCAP = CORPUS / "zeek/testing/btest/Traces/tls/tls1.2.pcap"
PCAPNG = CORPUS / "wireshark/test/captures/dmgr.pcapng"


def frames(path: Path) -> tuple[list[bytes], list[str]]:
    capture = open_capture(str(path))
    got = [bytes(data) for _n, _ts, _lt, data, _m in capture]
    return got, [str(p) for p in capture.problems]


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@needs_corpus
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(cut=st.integers(min_value=25, max_value=8792))
def test_cut_pcap_keeps_every_whole_packet(tmp_path: Path, cut: int) -> None:
    whole, _ = frames(PCAP)
    raw = PCAP.read_bytes()
    cut = min(cut, len(raw))
    path = write(tmp_path, "cut.pcap", raw[:cut])
    got, problems = frames(path)
    assert got == whole[: len(got)]
    # Exactly the packets that fit entirely before the cut survive.
    offset, complete = 24, 0
    while offset + 16 <= cut:
        (incl,) = struct.unpack_from("<I", raw, offset + 8)
        if offset + 16 + incl > cut:
            break
        offset += 16 + incl
        complete += 1
    assert len(got) == complete
    assert bool(problems) == (offset != cut)
    for problem in problems:
        assert problem.startswith(f"{path}: byte offset ")


@needs_corpus
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(cut=st.integers(min_value=29, max_value=20000))
def test_cut_pcapng_keeps_every_whole_packet(tmp_path: Path, cut: int) -> None:
    whole, _ = frames(PCAPNG)
    got, _problems = frames(write(tmp_path, "cut.pcapng", PCAPNG.read_bytes()[:cut]))
    assert got == whole[: len(got)]


@needs_corpus
@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(garbage=st.binary(min_size=1, max_size=400))
def test_garbage_after_packets_never_raises(tmp_path: Path, garbage: bytes) -> None:
    whole, _ = frames(PCAP)
    for base in (PCAP, PCAPNG):
        data = base.read_bytes() + garbage
        got, _ = frames(write(tmp_path, "g" + base.suffix, data))
        if base is PCAP:
            assert got[: len(whole)] == whole


@needs_corpus
def test_absurd_record_length_is_named(tmp_path: Path) -> None:
    raw = bytearray(PCAP.read_bytes())
    struct.pack_into("<I", raw, 24 + 8, 0x7FFFFFFF)  # first record's captured length
    got, problems = frames(write(tmp_path, "absurd.pcap", bytes(raw)))
    assert got == []
    assert len(problems) == 1
    assert "byte offset 24:" in problems[0] and "2147483647 bytes" in problems[0]


@needs_corpus
def test_zero_length_packets_are_frames(tmp_path: Path) -> None:
    raw = PCAP.read_bytes()
    zero = struct.pack("<IIII", 1, 2, 0, 0)
    got, problems = frames(write(tmp_path, "zero.pcap", raw[:24] + zero + raw[24:]))
    assert got[0] == b"" and len(got) == 23 and problems == []


@needs_corpus
def test_pcapng_length_mismatch_is_named(tmp_path: Path) -> None:
    raw = bytearray(PCAPNG.read_bytes())
    (shb_len,) = struct.unpack_from("<I", raw, 4)
    # Corrupt the trailing length of the block after the section header.
    (next_len,) = struct.unpack_from("<I", raw, shb_len + 4)
    struct.pack_into("<I", raw, shb_len + next_len - 4, next_len + 4)
    got, problems = frames(write(tmp_path, "bad.pcapng", bytes(raw)))
    assert got == []
    assert f"byte offset {shb_len}:" in problems[0] and "damaged" in problems[0]


def test_unknown_format_empty_and_short_files(tmp_path: Path) -> None:
    cases = {
        "empty.pcap": (b"", "the file is empty"),
        "text.pcap": (b"hello world, not a capture", "unknown capture format"),
        "short.pcap": (b"\xd4\xc3\xb2\xa1\x02\x00", "24-byte pcap file header"),
        "netmon.cap": (b"GMBU\x00\x02" + bytes(200), "Network Monitor"),
        "evtx.evtx": (b"ElfFile\x00" + bytes(100), "event log"),
        "x.gz": (gzip.compress(b""), "compressed file holds no data"),
    }
    for name, (data, expected) in cases.items():
        path = write(tmp_path, name, data)
        with pytest.raises(CaptureError) as info:
            open_capture(str(path))
        assert str(path) in str(info.value) and expected in str(info.value), name
    with pytest.raises(CaptureError, match="cannot open file"):
        open_capture(str(tmp_path / "missing.pcap"))


@needs_corpus
def test_gzip_cut_off_keeps_packets_and_says_so(tmp_path: Path) -> None:
    packed = gzip.compress(PCAP.read_bytes())
    got, problems = frames(write(tmp_path, "cut.pcap.gz", packed[: len(packed) * 2 // 3]))
    whole, _ = frames(PCAP)
    assert 0 < len(got) < len(whole) and got == whole[: len(got)]
    assert any("compressed data ends early" in p for p in problems)


@needs_corpus
def test_two_sections_and_byte_orders(tmp_path: Path) -> None:
    """pcapng allows sections back to back; a big-endian pcap reads like a little one."""
    whole, _ = frames(PCAPNG)
    got, problems = frames(write(tmp_path, "two.pcapng", PCAPNG.read_bytes() * 2))
    assert got == whole * 2 and problems == []
    raw = PCAP.read_bytes()
    swapped = bytearray(struct.pack(">IHHiIII", *struct.unpack_from("<IHHiIII", raw)))
    pos = 24
    while pos < len(raw):
        fields = struct.unpack_from("<IIII", raw, pos)
        swapped += struct.pack(">IIII", *fields) + raw[pos + 16 : pos + 16 + fields[2]]
        pos += 16 + fields[2]
    got, problems = frames(write(tmp_path, "be.pcap", bytes(swapped)))
    assert got == frames(PCAP)[0] and problems == []


@needs_corpus
def test_editcap_variants_give_the_same_frames(tmp_path: Path) -> None:
    whole, _ = frames(PCAP)
    for fmt in ("pcapng", "nsecpcap", "modpcap"):
        out = tmp_path / f"v.{fmt}"
        subprocess.run(["editcap", "-F", fmt, str(PCAP), str(out)], check=True)
        got, problems = frames(out)
        assert got == whole and problems == [], fmt


@pytest.mark.parametrize("ts_hi", [0, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF])
def test_timestamps_past_63_bits_are_not_wrapped(tmp_path: Path, ts_hi: int) -> None:
    """A pcapng time stamp is 64 bits of microseconds here, more than the ns of a signed
    64-bit machine integer holds: the compiled readers (which read header fields into
    machine integers) must still give Python's exact number, not one wrapped around."""
    frame = bytes(60)
    shb = struct.pack("<IIIHHqI", 0x0A0D0D0A, 28, 0x1A2B3C4D, 1, 0, -1, 28)
    idb = struct.pack("<IIHHII", 1, 20, 1, 0, 0, 20)
    epb = struct.pack("<IIIIIII", 6, 32 + len(frame), 0, ts_hi, 5, len(frame), len(frame))
    epb += frame + struct.pack("<I", 32 + len(frame))
    capture = open_capture(str(write(tmp_path, "late.pcapng", shb + idb + epb)))
    assert [ts for _n, ts, _lt, _data, _m in capture] == [(ts_hi << 32 | 5) * 1000]
    # Classic pcap: 32-bit seconds and microseconds, the largest of both.
    header = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    record = struct.pack("<IIII", 0xFFFFFFFF, 999_999, len(frame), len(frame)) + frame
    capture = open_capture(str(write(tmp_path, "late.pcap", header + record)))
    assert [ts for _n, ts, _lt, _data, _m in capture] == [0xFFFFFFFF * 10**9 + 999_999_000]
