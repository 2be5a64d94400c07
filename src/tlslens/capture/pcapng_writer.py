"""Write frames as a pcapng file: one section, one interface per (interface, link type) the
frames come from, nanosecond time stamps, and the per-packet metadata readers found.

Format: draft-ietf-opsawg-pcapng (section 3.1 block layout; 4.1 SHB; 4.2 IDB with
`if_tsresol` = 9, so time stamps count nanoseconds; 4.3 EPB and its options). Per-packet
metadata is kept as:
  - `opt_comment` (1) for every comment the frame had;
  - `epb_flags` (2) bits 0-1 for the direction (01 inbound, 10 outbound);
  - `epb_processid_threadid` (8): process id then thread id as u32; the draft says 0 stands
    for an unknown thread (its example is "process 1234 and an unknown thread");
  - an `opt_comment` "PID=<pid> TID=<tid>" as Microsoft's etl2pcapng writes it, unless the
    frame already has one, so tools that only show comments (Wireshark's packet list, older
    readers) see the process too;
  - a Darwin Process Information Block (type 0x80000001: u32 process id, option 2 = name)
    per (pid, name), referenced by EPB option 0x8001, when the process name is known: the
    same convention `pcapng.py` reads.
Stdlib only. This module may import only `tlslens.capture`.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any, BinaryIO

from tlslens.capture.pcapng import (
    BYTE_ORDER_MAGIC,
    DPIB,
    DPIB_NAME,
    EPB,
    EPB_DARWIN_PIB_ID,
    EPB_FLAGS,
    EPB_PROCESSID_THREADID,
    ETL2PCAPNG_COMMENT,
    IDB,
    IF_TSRESOL,
    OPT_COMMENT,
    SHB,
)

SHB_USERAPPL = 4
_DIRECTION_FLAGS = {"inbound": 1, "outbound": 2}
_EPB_FIXED = struct.Struct("<IIIIIII")  # type, length, interface, ts high, ts low, caplen, len


def storable(linktype: int) -> bool:
    """Whether a frame's link type fits a pcapng Interface Description Block (16 bits)."""
    return 0 <= linktype <= 0xFFFF


def _option(code: int, value: bytes) -> bytes:
    pad = -len(value) % 4
    return struct.pack("<HH", code, len(value)) + value + b"\0" * pad


def _block(block_type: int, body: bytes) -> bytes:
    total = 12 + len(body)
    return struct.pack("<II", block_type, total) + body + struct.pack("<I", total)


def _end(options: Sequence[bytes]) -> bytes:
    """Options followed by opt_endofopt, or nothing when there are none (pcapng 3.5)."""
    return b"".join(options) + b"\0\0\0\0" if options else b""


class PcapngWriter:
    """Writes one pcapng section to a binary file object; call `write` per frame."""

    def __init__(self, out: BinaryIO, application: str = "tlslens") -> None:
        self._out = out
        self._interfaces: dict[tuple[int, int], int] = {}
        self._processes: dict[tuple[int, str], int] = {}
        self.frames_written = 0
        #: Frames whose time stamp was before 1970, written as 1970-01-01 (pcapng time
        #: stamps are unsigned).
        self.clamped_timestamps = 0
        # Byte-order magic, version 1.0, section length unknown (-1) (pcapng 4.1).
        body = struct.pack("<IHHq", BYTE_ORDER_MAGIC, 1, 0, -1)
        body += _end([_option(SHB_USERAPPL, application.encode())])
        out.write(_block(SHB, body))

    def _interface(self, number: int, linktype: int) -> int:
        key = (number, linktype)
        found = self._interfaces.get(key)
        if found is None:
            if not storable(linktype):
                raise ValueError(f"link type {linktype} cannot be stored in a pcapng file")
            found = self._interfaces[key] = len(self._interfaces)
            # Snap length 0 means "no limit"; if_tsresol 9 means 10^-9 s units (pcapng 4.2).
            body = struct.pack("<HHI", linktype, 0, 0)
            body += _end([_option(IF_TSRESOL, bytes([9]))])
            self._out.write(_block(IDB, body))
        return found

    def _process(self, pid: int, name: str) -> int:
        key = (pid, name)
        found = self._processes.get(key)
        if found is None:
            found = self._processes[key] = len(self._processes)
            body = struct.pack("<I", pid) + _end([_option(DPIB_NAME, name.encode())])
            self._out.write(_block(DPIB, body))
        return found

    def write(
        self,
        ts_ns: int,
        linktype: int,
        data: bytes | memoryview,
        meta: dict[str, Any] | None = None,
    ) -> None:
        """One frame, as an Enhanced Packet Block. Raises ValueError for a link type pcapng
        cannot hold (see `storable`)."""
        interface = self._interface(meta.get("interface", 0) if meta else 0, linktype)
        if ts_ns < 0:
            self.clamped_timestamps += 1
            ts_ns = 0
        caplen = len(data)
        orig = caplen
        options: list[bytes] = []
        if meta:
            orig = max(meta.get("orig_len", caplen), caplen)
            options = self._options(meta)
        pad = -caplen % 4
        total = 32 + caplen + pad + sum(map(len, options)) + (4 if options else 0)
        self._out.write(
            b"".join((
                _EPB_FIXED.pack(EPB, total, interface, ts_ns >> 32, ts_ns & 0xFFFFFFFF,
                                caplen, orig),
                data, b"\0" * pad, _end(options), struct.pack("<I", total),
            ))
        )  # fmt: skip
        self.frames_written += 1

    def _options(self, meta: dict[str, Any]) -> list[bytes]:
        options: list[bytes] = []
        comments: list[str] = list(meta.get("comments") or ())
        pid = meta.get("pid")
        tid = meta.get("tid")
        if pid is not None and not any(ETL2PCAPNG_COMMENT.search(c) for c in comments):
            comments.append(f"PID={pid} TID={tid if tid is not None else 0}")
        for comment in comments:
            options.append(_option(OPT_COMMENT, comment.encode("utf-8")))
        flags = _DIRECTION_FLAGS.get(meta.get("direction", ""), 0)
        if flags:
            options.append(_option(EPB_FLAGS, struct.pack("<I", flags)))
        if pid is not None:
            value = struct.pack("<II", pid & 0xFFFFFFFF, (tid or 0) & 0xFFFFFFFF)
            options.append(_option(EPB_PROCESSID_THREADID, value))
            name = meta.get("process_name")
            if name:
                value = struct.pack("<I", self._process(pid & 0xFFFFFFFF, name))
                options.append(_option(EPB_DARWIN_PIB_ID, value))
        return options
