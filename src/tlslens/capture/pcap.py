"""Classic libpcap files: both byte orders, microsecond and nanosecond stamps, and the
"modified" (Kuznetzov) variant with 24-byte record headers.

Format: https://datatracker.ietf.org/doc/draft-ietf-opsawg-pcap/ (global header 24 bytes,
record header 16 bytes). Hand-written rather than using a library because this is the hot
path: each record header is read byte by byte out of the chunk (compiled, that is quicker
than an `unpack_from` and its tuple), and each frame is pushed to the pipeline as its place
in the chunk (`capture.sink`), with no object made for it.
This module may import only `tlslens.capture` and `tlslens.limits`.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import TYPE_CHECKING, Final

from tlslens.capture.frame import CaptureError
from tlslens.capture.reader import ReaderBase
from tlslens.capture.sink import FrameSink
from tlslens.capture.source import ChunkedInput, u32
from tlslens.limits import Limits

if TYPE_CHECKING:
    from mypy_extensions import i64

# Magic number as read little-endian -> (byte order, nanosecond stamps, record header size).
MAGICS: Final[dict[int, tuple[str, bool, int]]] = {
    0xA1B2C3D4: ("<", False, 16),
    0xD4C3B2A1: (">", False, 16),
    0xA1B23C4D: ("<", True, 16),
    0x4D3CB2A1: (">", True, 16),
    0xA1B2CD34: ("<", False, 24),  # modified pcap (Alexey Kuznetzov's patches)
    0x34CDB2A1: (">", False, 24),
}

GLOBAL_HEADER_BYTES: Final = 24


def is_pcap(head: bytes) -> bool:
    return len(head) >= 4 and struct.unpack_from("<I", head)[0] in MAGICS


class PcapReader(ReaderBase):
    """Reads the frames of a classic pcap file (`push`, or iterate for `Frame` tuples)."""

    format_name = "pcap"

    def __init__(self, source: ChunkedInput, limits: Limits) -> None:
        super().__init__(source, limits)
        buf = source.buf
        if len(buf) < GLOBAL_HEADER_BYTES:
            source.refill(0, GLOBAL_HEADER_BYTES)
            buf = source.buf
        (magic,) = struct.unpack_from("<I", buf, 0)
        self.byte_order, self.nanoseconds, self.record_header_bytes = MAGICS[magic]
        self.format_name = "pcap-ns" if self.nanoseconds else "pcap"
        if self.record_header_bytes == 24:
            self.format_name = "pcap-modified"
        if len(buf) < GLOBAL_HEADER_BYTES:
            source.close()
            raise CaptureError(
                source.path,
                f"file ends inside the 24-byte pcap file header ({len(buf)} bytes)",
            )
        _, major, minor, _, _, snaplen, network = struct.unpack_from(
            self.byte_order + "IHHiIII", buf, 0
        )
        self.version: tuple[int, int] = (major, minor)
        self.snaplen: int = snaplen
        # Bits 16-31 of the link-type field carry FCS information (pcap draft, 4).
        self.linktype: int = network & 0xFFFF

    def push(self, sink: FrameSink) -> Iterator[None]:
        source = self.source
        little = self.byte_order == "<"
        hdr_len = self.record_header_bytes
        scale = 1 if self.nanoseconds else 1000
        linktype = self.linktype
        # A record longer than this means the header is damaged (as Wireshark judges it).
        max_len = max(self.limits.max_packet_bytes, min(self.snaplen, 64 * 1024 * 1024))
        data, view = source.data, source.buf
        # Machine integers (`i64`, see capture.source): compiled, each sum and comparison
        # of the loop is one instruction, not a check for Python's big ints.
        end: i64 = len(data)
        pos: i64 = GLOBAL_HEADER_BYTES
        index: i64 = 0
        truncated = 0
        # The time of the second `second`, in ns. Compiled, a product whose factors pass 30
        # bits goes through Python's long multiplication (400 instructions, twice a frame
        # where a pair of multiplications was a twentieth of bulk.pcap's run); packets come
        # many to a second, so it is made once per second.
        second: i64 = -1
        second_ns: i64 = 0
        try:
            while True:
                if pos + hdr_len > end:
                    pos = source.refill(pos, hdr_len)
                    data, view = source.data, source.buf
                    end = len(data)
                    if end == 0:
                        break
                    # (`pos` is 0 for a chunk read, the place in a page for one mapped.)
                    if end - pos < hdr_len:
                        self._problem(
                            source.base + pos,
                            f"file ends inside a packet record header ({end - pos} of "
                            f"{hdr_len} bytes) after {index} packets",
                        )
                        break
                ts_sec = u32(data, pos, little)
                ts_frac = u32(data, pos + 4, little)
                incl = u32(data, pos + 8, little)
                orig = u32(data, pos + 12, little)
                if incl == 0 and source.check():
                    break  # zeros where a mapped file was cut: said at the end
                if incl > max_len:
                    self._problem(
                        source.base + pos,
                        f"packet record {index + 1} claims {incl} bytes, more than the "
                        f"{max_len}-byte limit: the file is damaged here; "
                        f"{index} packets before it were read",
                    )
                    break
                start = pos + hdr_len
                stop = start + incl
                if stop > end:
                    pos = source.refill(pos, hdr_len + incl)
                    data, view = source.data, source.buf
                    end = len(data)
                    start = pos + hdr_len
                    stop = start + incl
                    if stop > end:
                        self._problem(
                            source.base + pos,
                            f"file ends inside packet {index + 1}: its header says {incl} "
                            f"bytes, only {max(end - start, 0)} remain; "
                            f"{index} complete packets were read",
                        )
                        break
                index += 1
                meta = None
                if incl < orig:
                    truncated += 1
                    meta = {"orig_len": orig}
                if ts_sec != second:
                    second = ts_sec
                    second_ns = ts_sec * 1_000_000_000
                if sink.frame(index, second_ns + ts_frac * scale, linktype, data, view, start,
                              stop, meta):  # fmt: skip
                    yield None
                pos = stop
        finally:
            self.frames_read = index
            self.truncated_frames = truncated
            source.check()  # a mapped file that shrank (source.py)
            if source.error:
                self._problem(source.base + pos, source.error)
