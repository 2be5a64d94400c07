"""Capture readers: turn a capture file into a stream of frames.

`open_capture(path)` detects the format from the file's first bytes (never its name),
undoes gzip, and returns a reader to iterate. Readers stream: memory does not grow with the
file's length. A damaged file yields the frames before the damage and records a
`CaptureProblem`; only a file that cannot be read at all raises `CaptureError`.

The Network Monitor and ETL readers are imported only when a file is neither pcap nor pcapng
(`_windows_reader`), so that reading a pcap does not pay for loading them.

This package must not import `net`, `tls`, `certs`, `eventlog` or `analysis`.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol

from tlslens.capture import allocator
from tlslens.capture.frame import CaptureError, CaptureProblem, Frame
from tlslens.capture.pcap import PcapReader, is_pcap
from tlslens.capture.pcapng import PcapngReader, is_pcapng
from tlslens.capture.sink import FrameSink
from tlslens.capture.source import ChunkedInput, open_input
from tlslens.limits import Limits

if TYPE_CHECKING:
    from tlslens.capture.etl import EtlReader
    from tlslens.capture.netmon import NetmonReader

__all__ = ["CaptureError", "CaptureProblem", "CaptureReader", "Frame", "open_capture"]

# Formats we recognise but cannot read yet, so the user hears what the file is.
_KNOWN_UNSUPPORTED: list[tuple[bytes, str]] = [
    (b"ElfFile\x00", "a Windows event log (EVTX), not a packet capture"),
    (b"\x28\xb5\x2f\xfd", "zstd-compressed; decompress it first (zstd -d)"),
    (b"\x04\x22\x4d\x18", "lz4-compressed; decompress it first (lz4 -d)"),
    (b"BZh", "bzip2-compressed; decompress it first (bunzip2)"),
    (b"\xfd7zXZ\x00", "xz-compressed; decompress it first (unxz)"),
    (b"XCP\x00", "a NetXray/Sniffer capture, which tlslens cannot read"),
]


class CaptureReader(Protocol):
    """What every reader offers. Iterate it once for `Frame`-ordered tuples, or have it
    `push` its frames into a `FrameSink` (`tlslens.capture.sink`)."""

    format_name: str
    linktype: int
    problems: list[CaptureProblem]
    frames_read: int
    truncated_frames: int

    def __iter__(self) -> Iterator[tuple[int, int, int, memoryview, dict[str, Any] | None]]: ...

    def push(self, sink: FrameSink) -> Iterator[None]: ...


class OpenCapture:
    """A reader plus the file it reads; iterate it, then read `problems` and counters."""

    def __init__(
        self,
        path: str,
        reader: PcapReader | PcapngReader | NetmonReader | EtlReader,
        compressed: bool,
    ) -> None:
        self.path = path
        self.reader = reader
        self.compressed = compressed

    @property
    def format_name(self) -> str:
        name = self.reader.format_name
        return name + "+gzip" if self.compressed else name

    @property
    def problems(self) -> list[CaptureProblem]:
        return self.reader.problems

    @property
    def frames_read(self) -> int:
        return self.reader.frames_read

    @property
    def truncated_frames(self) -> int:
        return self.reader.truncated_frames

    @property
    def size(self) -> int:
        """Size of the file on disk."""
        try:
            return os.path.getsize(self.path)
        except OSError:
            return 0

    def position(self) -> int:
        """Bytes of the file on disk read so far, for progress bars."""
        return self.reader.source.raw_position()

    def __iter__(self) -> Iterator[tuple[int, int, int, memoryview, dict[str, Any] | None]]:
        try:
            yield from self.reader
        finally:
            self.reader.source.close()


def _describe_unknown(head: bytes) -> str:
    for magic, what in _KNOWN_UNSUPPORTED:
        if head.startswith(magic):
            return f"this file is {what}"
    if len(head) >= 4:
        # An ETW trace (.etl from netsh trace or pktmon) starts with its buffer size; one
        # that got here has no readable trace header in its first buffer.
        (first,) = struct.unpack_from("<I", head)
        if first in (0x2000, 0x4000, 0x8000, 0x10000, 0x20000, 0x40000, 0x100000):
            return (
                "this looks like a Windows ETL trace, but its first trace buffer is damaged "
                "(no trace header); convert it on Windows with `pktmon etl2pcap` or etl2pcapng"
            )
    shown = " ".join(f"{b:02x}" for b in head[:8])
    return (
        f"unknown capture format (first bytes: {shown}); "
        "expected pcap, pcapng, Network Monitor (.cap) or a Windows ETL trace"
    )


def _windows_reader(
    source: ChunkedInput, head: bytes, limits: Limits, dedupe: bool
) -> NetmonReader | EtlReader | None:
    """A reader for a Network Monitor or ETL file, or None when the file is neither."""
    # Lazy: pcap and pcapng files, the usual input, never need this reader (start-up time).
    from tlslens.capture.netmon import NetmonReader, is_netmon

    if is_netmon(head):
        return NetmonReader(source, limits)
    # Lazy: only a file of no other format needs the ETL reader (start-up time).
    from tlslens.capture.etl import EtlReader, is_etl

    if is_etl(source.buf[:0x50].tobytes()):
        # Its packets keep their chunks while they wait for the time-order merge; mapped
        # windows are not the allocator's (allocator.py).
        if not source.mapped:
            allocator.for_file(source.path)
        return EtlReader(source, limits, dedupe=dedupe)
    return None


def open_capture(path: str, limits: Limits | None = None, *, dedupe: bool = True) -> OpenCapture:
    """Open a capture file of any supported format. Raises CaptureError if it cannot be read.

    `dedupe` matters only for pktmon ETL traces, which log a packet once per network
    component it passes: True gives each packet once, False every logged appearance (as
    `pktmon etl2pcap` does).
    """
    limits = limits or Limits()
    source, compressed = open_input(path)
    head = source.buf[:16].tobytes()
    reader: PcapReader | PcapngReader | NetmonReader | EtlReader | None
    if is_pcap(head):
        reader = PcapReader(source, limits)
    elif is_pcapng(head):
        reader = PcapngReader(source, limits)
    else:
        reader = _windows_reader(source, head, limits, dedupe)
    if reader is None:
        source.close()
        raise CaptureError(path, _describe_unknown(head))
    return OpenCapture(path, reader, compressed)
