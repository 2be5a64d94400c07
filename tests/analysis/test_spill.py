"""Connections that wait for an earlier one wait on disk past a bound, and come back whole.

A connection open for the whole capture makes every later one wait for it (they are handed
out in id order). `Limits.max_waiting_connections` bounds how many wait in memory; the rest
are pickled to a temporary file (`analysis.spill`). What comes out must not change.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from conftest import CAPTURES, corpus_captures

from tlslens import Analysis
from tlslens.analysis.spill import SpillFile
from tlslens.limits import Limits


def _records(path: Path, limits: Limits | None = None) -> list[dict[str, object]]:
    analysis = Analysis(str(path), limits)
    records = [conv.to_record() for conv in analysis.conversations()]
    return [*records, analysis.report.to_record()]


def _long_lived(tmp_path: Path) -> Path:
    """failures.pcap with one more connection (mid-stream, so no handshake is needed) that
    sends a packet before the first frame and one after the last: it is connection 0 and
    every other connection finishes while it is open."""
    data = (CAPTURES / "failures.pcap").read_bytes()
    magic, linktype = struct.unpack_from("<I", data)[0], struct.unpack_from("<I", data, 20)[0]
    assert (magic, linktype) == (0xA1B2C3D4, 1)  # little-endian microsecond pcap, Ethernet
    stamps = []
    pos = 24
    while pos < len(data):
        sec, usec, incl, _ = struct.unpack_from("<IIII", data, pos)
        stamps.append(sec * 1_000_000 + usec)
        pos += 16 + incl

    def record(stamp: int, seq: int) -> bytes:
        tcp = struct.pack("!HHIIBBHHH", 3389, 50000, seq, 1, 5 << 4, 0x18, 512, 0, 0) + b"x" * 10
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0x4000, 64, 6, 0,
                         bytes([127, 0, 0, 9]), bytes([127, 0, 0, 10])) + tcp  # fmt: skip
        frame = b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + ip
        sec, usec = divmod(stamp, 1_000_000)
        return struct.pack("<IIII", sec, usec, len(frame), len(frame)) + frame

    path = tmp_path / "long-lived.pcap"
    path.write_bytes(data[:24] + record(min(stamps) - 1, 1000) + data[24:]
                     + record(max(stamps) + 1, 1010))  # fmt: skip
    return path


def test_connections_waiting_for_a_long_one_wait_on_disk_and_come_back_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _long_lived(tmp_path)
    in_memory = _records(path)
    spilled: list[int] = []
    put = SpillFile.put

    def counting_put(self: SpillFile, key: int, obj: object) -> None:
        spilled.append(key)
        put(self, key, obj)

    monkeypatch.setattr(SpillFile, "put", counting_put)
    on_disk = _records(path, Limits(max_waiting_connections=2))
    assert on_disk == in_memory
    connections = len(in_memory) - 1
    assert in_memory[0]["server"] == {"ip": "127.0.0.9", "port": 3389}
    # Connection 0 is open until the end; of the others, two wait in memory, the rest on disk.
    assert sorted(spilled) == list(range(3, connections))


@pytest.mark.parametrize(
    "path",
    sorted(p for p in CAPTURES.iterdir() if p.suffix in (".pcap", ".pcapng", ".gz"))
    + corpus_captures(),
    ids=lambda p: p.name,
)
def test_every_capture_gives_the_same_records_when_all_waiting_is_on_disk(path: Path) -> None:
    assert _records(path, Limits(max_waiting_connections=0)) == _records(path)


def test_prepared_connections_wait_as_what_was_made_of_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _long_lived(tmp_path)
    expected = [f"{conv.id} {conv.server}" for conv in Analysis(str(path)).conversations()]
    waiting: list[object] = []
    put = SpillFile.put

    def recording_put(self: SpillFile, key: int, obj: object) -> None:
        waiting.append(obj)
        put(self, key, obj)

    monkeypatch.setattr(SpillFile, "put", recording_put)
    analysis = Analysis(str(path), Limits(max_waiting_connections=2))
    made = list(analysis.prepared(lambda conv: f"{conv.id} {conv.server}"))
    assert made == expected
    # What waited on disk was the text made of each connection, not the connection.
    assert waiting and all(isinstance(item, str) for item in waiting)
