"""A small Network Monitor (.cap) writer for tests, written for tlslens from the format facts
cited in `tlslens/capture/netmon.py`.

No public Network Monitor capture with a process table, comments or the 2.1-2.3 per-frame
trailers exists that we could find, and editcap writes only 1.1 and 2.0 files, so the tests
build such files with this writer. tshark reads what it writes, which checks the writer
against an independent reader for the parts tshark shows (frames, times, bytes).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

HEADER_BYTES = 128
FILETIME_1970 = 116_444_736_000_000_000
NO_PROCESS = 0xFFFFFFFF


@dataclass
class NetmonFrame:
    ts_ns: int
    data: bytes
    #: NetMon media type for this frame (2.1+ trailers): 1 Ethernet, 9 raw IP, 0xE000|LINKTYPE.
    media: int = 1
    orig_len: int | None = None
    #: Index into the process table, or NO_PROCESS.
    process: int = NO_PROCESS
    #: (title, RTF description) of a frame comment, written to the comment table (2.2+).
    comment: tuple[str, str] | None = None


@dataclass
class NetmonProcess:
    pid: int
    path: str
    icon: bytes = b""
    local_port: int = 0
    remote_port: int = 0


def _systemtime(ns: int) -> bytes:
    when = datetime.fromtimestamp(ns // 1_000_000_000, UTC)
    msec = ns % 1_000_000_000 // 1_000_000
    weekday = (when.weekday() + 1) % 7  # SYSTEMTIME counts from Sunday = 0
    return struct.pack("<8H", when.year, when.month, weekday, when.day, when.hour,
                       when.minute, when.second, msec)  # fmt: skip


def _process_table(processes: Sequence[NetmonProcess]) -> bytes:
    out = bytearray(struct.pack("<H", 1))  # table version
    for p in processes:
        path = p.path.encode("utf-16-le") + b"\0\0"
        out += struct.pack("<I", len(path)) + path
        out += struct.pack("<I", len(p.icon)) + p.icon
        out += struct.pack("<IHHHHI", p.pid, p.local_port, 0, p.remote_port, 0, 0)
        out += bytes(32)  # local and remote address (IPv4 in the first 4 bytes of each)
    return bytes(out)


def _comment_table(entries: Sequence[tuple[int, str, str]]) -> bytes:
    out = bytearray()
    for offset, title, description in entries:
        raw_title = title.encode("utf-16-le")
        raw_desc = description.encode("ascii")
        out += struct.pack("<III", 1, offset, len(raw_title)) + raw_title
        out += struct.pack("<I", len(raw_desc)) + raw_desc
    return bytes(out)


def write_netmon(
    frames: Sequence[NetmonFrame],
    *,
    major: int = 2,
    minor: int = 3,
    media: int = 1,
    processes: Sequence[NetmonProcess] = (),
    physical_order: Sequence[int] | None = None,
    start_ns: int | None = None,
) -> bytes:
    """A complete capture file. `physical_order` lists frame indices in the order they are
    stored; the frame table always lists them in the given order. `media` is the header's
    media type (the only one before 2.1)."""
    if start_ns is None:
        first = min((f.ts_ns for f in frames), default=0)
        start_ns = first - first % 1_000_000  # the header holds milliseconds
    order = list(physical_order) if physical_order is not None else list(range(len(frames)))
    body = bytearray()
    offsets = [0] * len(frames)
    for i in order:
        f = frames[i]
        offsets[i] = HEADER_BYTES + len(body)
        orig = f.orig_len if f.orig_len is not None else len(f.data)
        if major == 1:
            body += struct.pack("<IHH", (f.ts_ns - start_ns) // 1_000_000, orig, len(f.data))
        else:
            body += struct.pack("<QII", (f.ts_ns - start_ns) // 1000, orig, len(f.data))
        body += f.data
        if major == 2 and minor >= 1:
            body += struct.pack("<H", f.media)
        if major == 2 and minor >= 2:
            body += struct.pack("<I", f.process)
        if major == 2 and minor >= 3:
            body += struct.pack("<QB", f.ts_ns // 100 + FILETIME_1970, 0)
    comment_offset = comment_length = process_offset = process_count = 0
    if major == 2 and minor >= 2:
        comments = [(offsets[i], *f.comment) for i, f in enumerate(frames) if f.comment]
        if comments:
            table = _comment_table(comments)
            comment_offset, comment_length = HEADER_BYTES + len(body), len(table)
            body += table
        if processes:
            table = _process_table(processes)
            process_offset, process_count = HEADER_BYTES + len(body), len(processes)
            body += table
    table_offset = HEADER_BYTES + len(body)
    body += struct.pack(f"<{len(offsets)}I", *offsets)
    magic = b"RTSS" if major == 1 else b"GMBU"
    header = magic + struct.pack("<BBH", minor, major, media) + _systemtime(start_ns)
    header += struct.pack("<10I", table_offset, 4 * len(offsets), 0, 0, comment_offset,
                          comment_length, process_offset, process_count, 0, 0)  # fmt: skip
    return header.ljust(HEADER_BYTES, b"\0") + bytes(body)
