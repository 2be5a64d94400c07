"""pcapng files: several sections and interfaces, EPB/SPB/OPB packets, per-interface time
resolution and offset, and per-packet metadata (comments, process and thread id, Apple's
process information).

Format: draft-ietf-opsawg-pcapng (block = type, total length, body, total length; options are
code/length/value padded to 32 bits). Process metadata, from public specifications:
  - EPB option 8 `epb_processid_threadid`: two 32-bit integers, process id then thread id;
  - Microsoft's etl2pcapng writes an `opt_comment` "PID=<pid> TID=<tid>" (older versions);
  - Apple's Darwin Process Information Block (type 0x80000001: uint32 process id, option 2 =
    process name, option 4 = UUID), pointed at by EPB option 0x8001 (its index in the
    section) and 0x8002 (the effective process).
Hand-written for speed: this is the per-packet hot path. Options are parsed only for
blocks that carry them. This module may import only `tlslens.capture` and `tlslens.limits`.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Final

from tlslens.capture.reader import ReaderBase
from tlslens.capture.sink import FrameSink
from tlslens.capture.source import ChunkedInput, u32
from tlslens.limits import Limits

if TYPE_CHECKING:
    from mypy_extensions import i64

SHB: Final = 0x0A0D0D0A
IDB: Final = 0x00000001
OPB: Final = 0x00000002  # obsolete Packet Block
SPB: Final = 0x00000003
EPB: Final = 0x00000006
DPIB: Final = 0x80000001
BYTE_ORDER_MAGIC: Final = 0x1A2B3C4D

OPT_END: Final = 0
OPT_COMMENT: Final = 1
EPB_FLAGS: Final = 2
EPB_PROCESSID_THREADID: Final = 8
EPB_DARWIN_PIB_ID: Final = 0x8001
EPB_DARWIN_EFFECTIVE_PIB_ID: Final = 0x8002
IF_NAME: Final = 2
IF_TSRESOL: Final = 9
IF_TSOFFSET: Final = 14
DPIB_NAME: Final = 2

ETL2PCAPNG_COMMENT: Final = re.compile(r"PID=(\d+)\s+TID=(-?\d+)")


def is_pcapng(head: bytes) -> bool:
    return len(head) >= 4 and struct.unpack_from("<I", head)[0] == SHB


class _Interface:
    __slots__ = ("div", "linktype", "mul", "name", "number", "offset_ns", "snaplen", "units")

    def __init__(self, number: int, linktype: int, snaplen: int) -> None:
        self.number = number
        self.linktype = linktype
        self.snaplen = snaplen
        self.name: str | None = None
        # Time stamps count units of 10^-6 s unless if_tsresol says otherwise: `units` to
        # the second, and a fraction of a second in ns is fraction * mul // div.
        self.units = 1_000_000
        self.mul = 1000
        self.div = 1
        self.offset_ns = 0

    def set_resolution(self, code: int) -> None:
        # if_tsresol: high bit clear -> 10^-v seconds, set -> 2^-v seconds (pcapng 4.2).
        value = code & 0x7F
        if code & 0x80:
            self.units = 1 << value
            self.mul, self.div = 1_000_000_000, 1 << value
        elif value <= 9:
            self.units = 10**value
            self.mul, self.div = 10 ** (9 - value), 1
        else:
            self.units = 10**value
            self.mul, self.div = 1, 10 ** (value - 9)


def _options(buf: memoryview, pos: int, end: int, order: str) -> Iterator[tuple[int, memoryview]]:
    """Yields (code, value) for each option between pos and end, stopping at opt_endofopt."""
    header = struct.Struct(order + "HH")
    while pos + 4 <= end:
        code, length = header.unpack_from(buf, pos)
        if code == OPT_END:
            return
        value = buf[pos + 4 : pos + 4 + length]
        if pos + 4 + length > end:
            return
        yield code, value
        pos += 4 + ((length + 3) & ~3)


class PcapngReader(ReaderBase):
    """Iterates the packets of a pcapng file as `Frame`-ordered tuples."""

    format_name = "pcapng"

    def __init__(self, source: ChunkedInput, limits: Limits) -> None:
        super().__init__(source, limits)
        self.sections = 0
        #: Every interface of every section, numbered across the file.
        self.interfaces: list[_Interface] = []
        self.linktype = -1

    def push(self, sink: FrameSink) -> Iterator[None]:
        source = self.source
        max_block = self.limits.max_block_bytes
        buf, data = source.buf, source.data
        # Places in the chunk, lengths and counts as machine integers (`i64`, see
        # capture.source), as in `tlslens.capture.pcap`; time stamps stay Python ints, as
        # a 64-bit stamp times a resolution can pass 64 bits.
        end: i64 = len(data)
        pos: i64 = 0
        index: i64 = 0
        truncated = 0
        order = "<"
        little = True
        section: list[_Interface] = []
        processes: list[tuple[int, str | None]] = []
        # The time of the second `second`, in ns: compiled, a product whose factors pass
        # 30 bits goes through Python's long multiplication; packets come many to a
        # second, so it is made once per second (as in `tlslens.capture.pcap`).
        second = -1
        second_ns = 0
        try:
            while True:
                if pos + 12 > end:
                    pos = source.refill(pos, 12)
                    buf, data = source.buf, source.data
                    end = len(data)
                    if end == 0:
                        break
                    # (`pos` is 0 for a chunk read, the place in a page for one mapped.)
                    if end - pos < 12:
                        self._problem(
                            source.base + pos,
                            f"file ends inside a block header after {index} packets",
                        )
                        break
                block_type = u32(data, pos, little)
                if block_type == SHB:
                    # The byte-order magic decides how to read this and every later block
                    # of the section, including this block's own length (pcapng 4.1).
                    bom = u32(data, pos + 8, True)
                    if bom == BYTE_ORDER_MAGIC:
                        order, little = "<", True
                    elif bom == 0x4D3C2B1A:
                        order, little = ">", False
                    else:
                        self._problem(
                            source.base + pos,
                            "section header block has an unknown byte-order magic "
                            f"0x{bom:08x}; stopping here after {index} packets",
                        )
                        break
                total: i64 = u32(data, pos + 4, little)
                if total < 12 or total % 4 or total > max_block:
                    self._problem(
                        source.base + pos,
                        f"block of type 0x{block_type:08x} has an impossible length {total}; "
                        f"the file is damaged here; {index} packets before it were read",
                    )
                    break
                if pos + total > end:
                    pos = source.refill(pos, total)
                    buf, data = source.buf, source.data
                    end = len(data)
                    if pos + total > end:
                        self._problem(
                            source.base + pos,
                            f"file ends inside a block of type 0x{block_type:08x} "
                            f"({total} bytes, {end - pos} remain); {index} complete packets "
                            "were read",
                        )
                        break
                trailer = u32(data, pos + total - 4, little)
                if trailer != total:
                    self._problem(
                        source.base + pos,
                        f"block of type 0x{block_type:08x} says {total} bytes at its start "
                        f"and {trailer} at its end; the file is damaged here; "
                        f"{index} packets before it were read",
                    )
                    break
                body_end = pos + total - 4
                if block_type in (EPB, OPB):
                    if block_type == EPB:
                        iface_id = u32(data, pos + 8, little)
                    else:  # the obsolete packet block: a 16-bit interface id, drops
                        iface_id = (data[pos + 8] | data[pos + 9] << 8 if little
                                    else data[pos + 8] << 8 | data[pos + 9])  # fmt: skip
                    ts_hi = u32(data, pos + 12, little)
                    ts_lo = u32(data, pos + 16, little)
                    caplen: i64 = u32(data, pos + 20, little)
                    origlen: i64 = u32(data, pos + 24, little)
                    start = pos + 28
                    stop = start + caplen
                    if block_type == OPB and (stop > body_end or iface_id >= len(section)):
                        self._problem(source.base + pos, "damaged packet block; skipped")
                        pos += total
                        continue
                    if stop > body_end:
                        self._problem(
                            source.base + pos,
                            f"packet block {index + 1} claims {caplen} bytes but its block "
                            f"holds {body_end - start}; packet skipped",
                        )
                        pos += total
                        continue
                    if iface_id >= len(section):
                        self._once(
                            f"if{iface_id}",
                            source.base + pos,
                            f"packet refers to interface {iface_id}, which this section "
                            "does not describe; such packets are skipped",
                        )
                        pos += total
                        continue
                    iface = section[iface_id]
                    opt_start = start + ((caplen + 3) & ~3)
                    meta = self._meta(buf, opt_start, body_end, order, processes, iface,
                                      caplen, origlen)  # fmt: skip
                    truncated += caplen < origlen
                    index += 1
                    units = iface.units
                    ts = ts_hi << 32 | ts_lo
                    if ts // units != second:
                        second = ts // units
                        second_ns = second * 1_000_000_000
                    ts_ns = second_ns + ts % units * iface.mul // iface.div + iface.offset_ns
                    if sink.frame(index, ts_ns, iface.linktype, data, buf, start, stop, meta):
                        yield None
                elif block_type == SPB:
                    if not section:
                        self._once(
                            "spb",
                            source.base + pos,
                            "simple packet block before any interface; skipped",
                        )
                        pos += total
                        continue
                    iface = section[0]
                    origlen = u32(data, pos + 8, little)
                    # An SPB holds min(original length, interface snaplen) bytes (pcapng 4.4).
                    caplen = min(origlen, body_end - (pos + 12))
                    if iface.snaplen:
                        caplen = min(caplen, iface.snaplen)
                    meta = self._meta(buf, body_end, body_end, order, processes, iface,
                                      caplen, origlen)  # fmt: skip
                    truncated += caplen < origlen
                    index += 1
                    # SPBs carry no time stamp; 0 tells later layers that time is unknown.
                    if sink.frame(index, 0, iface.linktype, data, buf, pos + 12,
                                  pos + 12 + caplen, meta):  # fmt: skip
                        yield None
                elif block_type == IDB:
                    linktype, _reserved, snaplen = struct.unpack_from(order + "HHI", buf, pos + 8)
                    iface = _Interface(len(self.interfaces), linktype, snaplen)
                    for code, value in _options(buf, pos + 16, body_end, order):
                        if code == IF_TSRESOL and len(value) >= 1:
                            iface.set_resolution(value[0])
                        elif code == IF_TSOFFSET and len(value) >= 8:
                            iface.offset_ns = struct.unpack_from(order + "q", value)[0] * 10**9
                        elif code == IF_NAME:
                            iface.name = bytes(value).decode("utf-8", "replace")
                    section.append(iface)
                    self.interfaces.append(iface)
                    if self.linktype == -1:
                        self.linktype = linktype
                elif block_type == SHB:
                    self.sections += 1
                    section = []
                    processes = []
                elif block_type == DPIB:
                    (pid,) = struct.unpack_from(order + "I", buf, pos + 8)
                    name = None
                    for code, value in _options(buf, pos + 12, body_end, order):
                        if code == DPIB_NAME:
                            name = bytes(value).decode("utf-8", "replace").rstrip("\0")
                    processes.append((pid, name))
                # Name resolution, statistics, decryption secrets and custom blocks carry no
                # packets; they are skipped here (pcapng allows readers to skip any block).
                pos += total
        finally:
            self.frames_read = index
            self.truncated_frames = truncated
            source.check()  # a mapped file that shrank (source.py)
            if source.error:
                self._problem(source.base + pos, source.error)

    def _meta(
        self,
        buf: memoryview,
        opt_start: int,
        body_end: int,
        order: str,
        processes: list[tuple[int, str | None]],
        iface: _Interface,
        caplen: int,
        origlen: int,
    ) -> dict[str, Any] | None:
        """A packet's metadata: its options, plus interface number and original length when
        they say something (None in the common case of neither, to keep frames cheap)."""
        meta = None
        if opt_start + 4 <= body_end:
            meta = self._packet_options(buf, opt_start, body_end, order, processes)
        if iface.number:
            meta = meta or {}
            meta["interface"] = iface.number
        if caplen < origlen:
            meta = meta or {}
            meta["orig_len"] = origlen
        return meta

    def _packet_options(
        self,
        buf: memoryview,
        pos: int,
        end: int,
        order: str,
        processes: list[tuple[int, str | None]],
    ) -> dict[str, Any] | None:
        meta: dict[str, Any] = {}
        for code, value in _options(buf, pos, end, order):
            if code == OPT_COMMENT:
                text = bytes(value).decode("utf-8", "replace").rstrip("\0")
                meta.setdefault("comments", []).append(text)
                match = ETL2PCAPNG_COMMENT.search(text)
                if match and "pid" not in meta:
                    meta["pid"] = int(match.group(1))
                    meta["tid"] = int(match.group(2))
                    meta["pid_source"] = "comment"
            elif code == EPB_PROCESSID_THREADID and len(value) >= 8:
                pid, tid = struct.unpack_from(order + "II", value)
                meta["pid"] = pid
                meta["tid"] = tid
                meta["pid_source"] = "epb_option"
            elif code == EPB_FLAGS and len(value) >= 4:
                (flags,) = struct.unpack_from(order + "I", value)
                direction = flags & 3
                if direction:
                    meta["direction"] = "inbound" if direction == 1 else "outbound"
            elif code in (EPB_DARWIN_PIB_ID, EPB_DARWIN_EFFECTIVE_PIB_ID) and len(value) >= 4:
                (pib,) = struct.unpack_from(order + "I", value)
                if pib < len(processes):
                    pid, name = processes[pib]
                    key = "" if code == EPB_DARWIN_PIB_ID else "effective_"
                    meta[key + "pid"] = pid
                    if name is not None:
                        meta[key + "process_name"] = name
                    if not key:
                        meta["pid_source"] = "darwin_process_block"
        return meta or None
