"""Windows ETW trace files (`.etl`) that hold packets: `netsh trace start capture=yes`
(Microsoft-Windows-NDIS-PacketCapture) and `pktmon start --capture` (Microsoft-Windows-PktMon),
including traces relogged with compressed buffers.

Why hand-written, not a third-party ETL package: this is the per-packet hot path, as for pcap
and pcapng, and compiled with them (`tlslens.compiled`). The fields of each event header are
read straight out of the trace buffer in machine integers (`_u16`, `_u32`), and only packet,
process and trace-header events are looked at further. The
Python ETL parsers build an object per field of every event (and decode events from provider
manifests or MOF classes), which is the per-packet cost this design avoids; they would also be
one more dependency for a format this module reads completely. Nothing here calls Windows
APIs: the file is read as bytes, on any system.

Each new chunk's events are brought into the processor's cache ahead of the walk by a small
C function (`_prefetch.c`, where it is built): it finds the events much as the walk does,
but only to ask for their bytes, so the reader waits for many events at once rather than for
each in turn. It is a hint, not a second reader: nothing it reads is used, and the output is
the same without it (TLSLENS_PREFETCH=0).

Where the facts come from (read for the facts; no code or prose was copied):
  [GC-BUF] Geoff Chappell, "WMI_BUFFER_HEADER" (geoffchappell.com, studies/windows/km/
      ntoskrnl/api/etw/tracelog/wmi_buffer_header.htm) and the phnt/ntwmi.h definition
      shown on ntdoc.m417z.com: a trace buffer starts with a 0x48-byte header: BufferSize
      (u32, 0x00), SavedOffset (0x04), CurrentOffset (0x08), TimeStamp (0x10), SequenceNumber
      (0x18), ClientContext (0x28: processor number or u16 ProcessorIndex, then LoggerId),
      State (0x2C), Offset (0x30, bytes in use), BufferFlag (u16, 0x34), BufferType (u16,
      0x36); the flags are 0x01 flush marker, 0x02 events lost, 0x04 buffer lost, 0x20
      processor index, 0x40 compressed (flag names also in the OpenEtw and perfreader
      sources found by the same search). Buffers follow one another in the file, and every
      event in a buffer is aligned to 8 bytes (DEFAULT_TRACE_ALIGNMENT in ntwmi.h).
  [GC-HDR] Geoff Chappell, "EVENT_HEADER", "EVENT_TRACE_HEADER" and the SYSTEM_TRACE_HEADER
      notes in "ETW_KERNEL_HEADER_EXTENSION": every event starts with a 4-byte marker whose
      third byte is the trace header type and whose fourth has its high two bits set (0xC0);
      header types 0x01/0x02 (SYSTEM_TRACE_HEADER, 32 bytes: Version, type, flags, Size u16,
      HookId u16, ThreadId, ProcessId, SystemTime, KernelTime, UserTime), 0x03/0x04 (compact,
      24 bytes), 0x10/0x11 (PERFINFO, 16 bytes) keep their Size at offset 4; the others
      (0x0A/0x14 EVENT_TRACE_HEADER of 0x30 bytes, 0x0B/0x15 instance, 0x12/0x13 EVENT_HEADER
      of 0x50 bytes) start with Size. EVENT_HEADER: Flags (u16, 0x04; 0x0001 = extended data
      follows), ThreadId (0x08), ProcessId (0x0C), TimeStamp (0x10), ProviderId (GUID, 0x18),
      EVENT_DESCRIPTOR (0x28: Id u16, Version, Channel, Level, Opcode, Task u16, Keyword u64).
  [MS-EXT] learn.microsoft.com, EVENT_HEADER_EXTENDED_DATA_ITEM (evntcons.h): Reserved1,
      ExtType, Linkage (bit 0: another item follows), DataSize. In a buffer the items follow
      the EVENT_HEADER as 8-byte headers with their data padded to 8 bytes (our reading;
      packet traces are not known to carry extended data, so this is not confirmed by a file).
  [MS-TLH] learn.microsoft.com, TRACE_LOGFILE_HEADER (evntrace.h) and "EventTrace_Header
      class", and vergiliusproject.com's layouts of _TRACE_LOGFILE_HEADER: the first event of
      every file (HookId 0) carries BufferSize, Version, ProviderVersion, NumberOfProcessors,
      EndTime, TimerResolution, MaximumFileSize, LogFileMode, BuffersWritten, StartBuffers,
      PointerSize, EventsLost, CpuSpeedInMHz, two name pointers, a 172-byte TIME_ZONE_
      INFORMATION, then 8-aligned BootTime, PerfFreq, StartTime (FILETIMEs and Hz) and
      ReservedFlags (the clock type). [MS-WNODE] WNODE_HEADER.ClientContext: clock 1 =
      QueryPerformanceCounter, 2 = system time (FILETIME), 3 = CPU cycle counter.
  [MS-XCA] Microsoft, [MS-XCA] 2.3-2.4 "Plain LZ77 Compression/Decompression": 32-bit flag
      words read from the most significant bit (0 = literal byte, 1 = 16-bit match token:
      length in the low 3 bits, distance-1 in the high 13), lengths extended by a shared
      half-byte, a byte, a u16 and a u32. Which algorithm ETW uses: the corpus MANIFEST's note
      ("plain LZ77 (Xpress)") and our own check on the real compressed pktmon trace in
      ../shared/corpus/etl: every compressed buffer decompresses with [MS-XCA] 2.4 to exactly
      Offset - 0x48 bytes using all of its BufferSize - 0x48 input bytes. (A 2017 blog post on
      xperf's compressed traces names LZNT1; this file is not LZNT1, whose chunks start with a
      0xBxxx header.)
  [E2P] microsoft/etl2pcapng, src/main.c (MIT): NDIS-PacketCapture is provider {2ED6006E-
      4729-4609-B423-3EE7BCD678EF}, event 1001 = packet fragment with properties
      MiniportIfIndex, LowerIfIndex, FragmentSize (u32 each) then the fragment (field list
      also in OTRF/OSSEM's event-1001.md); keywords 0x200 wireless WAN (raw IP), 0x10000
      native 802.11, 0x40000000 packet start, 0x80000000 packet end, 0x100000000 send,
      0x200000000 receive; fragments accumulate until the packet-end keyword (only systems
      before Windows 8.1 split packets); the 802.11 Protected bit is cleared because ndiscap
      logs frames decrypted; the event header's TimeStamp is the packet's time; event 1003
      is a VMSwitch fragment with another layout.
  [PKT] OTRF/OSSEM data dictionaries for Microsoft-Windows-PktMon events 160 and 170, and the
      TRACE_EVENT_INFO the relogger embedded in the corpus trace itself: PktGroupId (u64),
      PktNumber, AppearanceCount, DirTag, PacketType, ComponentId, EdgeId, FilterId (u16
      each), DropReason, DropLocation (u32), OriginalPayloadSize, LoggedPayloadSize (u16),
      Payload. libyal/winevt-kb's pktmon.sys message table lists the value names (direction
      None, In, Out, Rx, Tx, Ingress, Egress; packet type Unknown, Ethernet, WiFi, MBB). In
      the corpus trace DirTag 3 is on frames addressed to the capturing host and 4 on frames
      it sends, so we read 3 = Rx (inbound) and 4 = Tx (outbound); other values give no
      direction.
  [PROC] learn.microsoft.com, "Process_TypeGroup1 class" (and the V2 variant), and
      "Event Tracing MOF Qualifiers" (the Sid extension: a u32 of 0 means no SID, otherwise a
      TOKEN_USER of two pointers and then the SID), with the Version 4 field order as in
      albertziegenhagel/snail-server's process.hpp: NT Kernel Logger process events (group
      0x0300, types 1 start, 2 end, 3 rundown start, 4 rundown end, 39 defunct; classic
      GUID {3D6FA8D0-FE05-11D0-9DDA-00C04FD7BA7C} when relogged); OTRF/OSSEM for
      Microsoft-Windows-Kernel-Process {22FB2CD6-0E7B-422B-A0C7-2FAD1FD0E716} events 1
      (ProcessStart, versions 0-3) and 15 (ProcessRundown, versions 0-1). SID layout:
      [MS-DTYP] 2.4.2.2 (8 bytes plus 4 per sub-authority).

Time: event time stamps are in the trace's clock [MS-TLH]; a packet's time is StartTime +
(stamp - the header event's stamp) / PerfFreq, as UTC nanoseconds since 1970. This gives
exactly the microseconds `pktmon etl2pcap` wrote for every packet of the corpus trace.
TimerResolution (the system clock tick) and BootTime are not needed for that; BootTime is
used only when StartTime is missing.

Order: ETW fills one buffer per processor and writes whichever fills first, so a file holds
events out of time order across buffers; Windows' consumers merge them by time stamp. We do
the same within a bounded window: packets are held (where they lie, in the file's chunk or
the decompressed buffer) and released in time order once more than `_WINDOW` wait; a packet
written to the file more than that many packets late (a nearly idle processor's buffer)
comes out late, and is counted in a problem. Memory stays bounded by the window and by
`_MAX_PENDING_BYTES` of chunks and buffers held.

Metadata: each packet's process and thread id come from its event header. A received packet
logged under PID 0 (Idle) or 4 (System) gets neither: it was logged in whatever context
received it, so those ids mean "no process known". A process name is given when a process
start or rundown event for that pid came earlier in the file (the file is read once, front to
back; a name stays until the pid starts again); none is invented otherwise.

pktmon logs a packet once per component it passes (PktGroupId and PktNumber stay the same);
by default each packet is yielded once, at its first appearance in time (a later one on the
same processor is dropped as it is read, so that it takes no place in the merge's window;
one on another processor, as the merge gives it); `dedupe=False` yields every appearance, as
`pktmon etl2pcap` does.

This module may import only `tlslens.capture` and `tlslens.limits` (and librt's field
readers and vec).
"""

from __future__ import annotations

import operator
import struct
import uuid
from collections.abc import Callable, Iterator
from typing import Any, Final, final

# librt: mypyc's runtime library, whose readers compiled code calls inline (`_u32`), and
# whose vec holds machine integers unboxed (`_walk`'s table of recent pktmon identities);
# mypy_extensions: its machine integer (an int when this module runs as Python).
from librt.strings import read_i16_be, read_i16_le, read_i32_le, read_i64_le
from librt.vecs import vec
from mypy_extensions import i64

from tlslens.capture.frame import CaptureError, CaptureProblem
from tlslens.capture.reader import ReaderBase
from tlslens.capture.sink import UNWANTED, FrameSink
from tlslens.capture.source import ChunkedInput, hand_written
from tlslens.limits import Limits

BUFFER_HEADER_BYTES: Final = 0x48
BUFFER_FLAG_PROCESSOR_INDEX: Final = 0x20
BUFFER_FLAG_COMPRESSED: Final = 0x40

# Trace header types [GC-HDR].
_SIZE_AT_4: Final = frozenset((0x01, 0x02, 0x03, 0x04, 0x10, 0x11))
_MIN_SIZE: Final = {0x01: 32, 0x02: 32, 0x03: 24, 0x04: 24, 0x10: 16, 0x11: 16, 0x0A: 48,
             0x14: 48, 0x0B: 56, 0x15: 56, 0x12: 80, 0x13: 80}  # fmt: skip
EVENT_HEADER_BYTES: Final = 80
SYSTEM_HEADER_BYTES: Final = 32
FULL_HEADER_BYTES: Final = 48
EVENT_HEADER_FLAG_EXTENDED_INFO: Final = 0x0001


_GUID_WORDS: Final = struct.Struct("<QQ")


def _prefetcher() -> Callable[[bytes, int, int], int] | None:
    """`_prefetch.etl_events`, which brings the events of a window's buffers into the cache
    before `_walk` reads them (a hint: it changes nothing read; `_prefetch.c` says why), or
    None where it was not built or is turned off (TLSLENS_PREFETCH=0, to compare)."""
    module = hand_written("_prefetch", "TLSLENS_PREFETCH")
    if module is None:
        return None
    etl_events: Callable[[bytes, int, int], int] = module.etl_events
    return etl_events


_PREFETCH: Final = _prefetcher()

#: The meta of a packet the sink did not want (`FrameSink.wants`): given to its `other`.
_OTHER: Final[dict[str, Any]] = {}
_NO_VIEW: Final = memoryview(b"")


def _guid(text: str) -> tuple[int, int]:
    """A GUID as the two little-endian u64 its 16 bytes read as in a trace."""
    lo, hi = _GUID_WORDS.unpack(uuid.UUID(text).bytes_le)
    return lo, hi


NDIS_PROVIDER: Final = _guid("2ED6006E-4729-4609-B423-3EE7BCD678EF")  # [E2P]
PKTMON_PROVIDER: Final = _guid("4D4F80D9-C8BD-4D73-BB5B-19C90402C5AC")  # [PKT]
KERNEL_PROCESS_PROVIDER: Final = _guid("22FB2CD6-0E7B-422B-A0C7-2FAD1FD0E716")  # [PROC]


def _signed(half: int) -> i64:
    """Half of a GUID (`_guid`) as `read_i64_le` reads it from an event header."""
    return half - (1 << 64) if half >= 1 << 63 else half


# The providers whose events `_walk` reads, as the two halves an event header holds.
_NDIS_LO: Final = _signed(NDIS_PROVIDER[0])
_NDIS_HI: Final = _signed(NDIS_PROVIDER[1])
_PKTMON_LO: Final = _signed(PKTMON_PROVIDER[0])
_PKTMON_HI: Final = _signed(PKTMON_PROVIDER[1])
_KERNEL_PROCESS_LO: Final = _signed(KERNEL_PROCESS_PROVIDER[0])
_KERNEL_PROCESS_HI: Final = _signed(KERNEL_PROCESS_PROVIDER[1])
# Which of them an event is from (`_walk`).
_OTHER_PROVIDER: Final = 0
_NDIS: Final = 1
_PKTMON: Final = 2
_KERNEL_PROCESS: Final = 3
PROCESS_CLASS_GUID: Final = _guid("3D6FA8D0-FE05-11D0-9DDA-00C04FD7BA7C")  # [PROC]
EVENT_TRACE_GUID: Final = _guid("68FDD900-4A3E-11D1-84F4-0000F80464E3")  # EventTrace_Header class

NDIS_PACKET_FRAGMENT: Final = 1001
NDIS_VMSWITCH_FRAGMENT: Final = 1003
PKTMON_PACKET: Final = 160
PKTMON_DROP: Final = 170
KW_MEDIA_WIRELESS_WAN: Final = 0x200
KW_MEDIA_NATIVE_802_11: Final = 0x10000
KW_PACKET_START: Final = 0x40000000
KW_PACKET_END: Final = 0x80000000
KW_SEND: Final = 0x100000000
KW_RECEIVE: Final = 0x200000000
# A whole packet in one event, not 802.11 (which needs its Protected bit cleared).
_NDIS_SIMPLE: Final = KW_PACKET_START | KW_PACKET_END | KW_MEDIA_NATIVE_802_11
_NDIS_WHOLE_PACKET: Final = KW_PACKET_START | KW_PACKET_END

_NDIS_FIELDS: Final = struct.Struct("<III")  # MiniportIfIndex, LowerIfIndex, FragmentSize [E2P]


# Little-endian fields of an event, read by librt's readers: compiled, a load of a few
# instructions (their bounds checked), where reading the bytes one by one took about 60
# for a 32-bit field and `unpack_from` made a tuple of Python ints (the 17 fields of an
# EVENT_HEADER, per event, were a third of the time of reading a trace). Machine integers,
# for the comparisons and masks of `_walk`.
def _u16(b: bytes, p: i64) -> i64:
    return i64(read_i16_le(b, p)) & 0xFFFF


def _u32(b: bytes, p: i64) -> i64:
    return i64(read_i32_le(b, p)) & 0xFFFFFFFF


def _be16(b: bytes, p: i64) -> i64:
    """A big-endian 16-bit field of a packet's headers (an EtherType, an IP length)."""
    return i64(read_i16_be(b, p)) & 0xFFFF


LINKTYPE_ETHERNET: Final = 1
LINKTYPE_RAW: Final = 101
LINKTYPE_IEEE802_11: Final = 105

# EtherTypes that make a pktmon payload an Ethernet frame without doubt: IPv4, ARP, VLAN,
# IPv6, PPPoE, LLDP, 802.1X, QinQ.
_ETHERTYPES: Final = frozenset((0x0800, 0x0806, 0x8100, 0x86DD, 0x8863, 0x8864, 0x88CC, 0x888E,
                         0x88A8, 0x9100))  # fmt: skip

# 100-ns FILETIME ticks from 1601-01-01 to 1970-01-01.
FILETIME_UNIX_EPOCH: Final = 116_444_736_000_000_000
# The latest time a packet can be given (`_Clock.ns`), in the year 2116: the most
# nanoseconds a compiled int holds unboxed (62 bits and a sign), so that comparing with it
# costs no call.
_LATEST_NS: Final = (1 << 62) - 1

# Bounds on what the reader holds.
_WINDOW: Final = 4096  # packets held back for the time-order merge (up to twice as many)
_MAX_PENDING_BYTES: Final = 64 * 1024 * 1024
_MAX_SEEN: Final = 65_536  # pktmon identities remembered, at least, for de-duplication
# The low bits of a pktmon PktGroupId kept in its identity (`_walk`).
_GROUP_BITS: Final = (1 << 46) - 1
_RECENT_SLOTS: Final = 4096  # pktmon identities looked for as they are read, a power of two
_META_SLOTS: Final = 256  # metas kept to be given again (`_Metas`), a power of two
_MAX_PARTIAL: Final = 256  # NDIS packets being reassembled at once
_MAX_PROBLEMS: Final = 50
_RESYNC_WINDOW: Final = 4 * 1024 * 1024
_MAX_PROVIDERS: Final = 1024


class XpressError(ValueError):
    """Compressed data that cannot be decompressed ([MS-XCA] plain LZ77)."""


def xpress_decompress(src: bytes, out_size: int) -> tuple[bytes, bool]:
    """Decompress [MS-XCA] 2.4 plain LZ77 into at most `out_size` bytes.

    Returns the output and whether all `out_size` bytes were produced (False when the input
    ends first: a cut buffer still gives the events it holds). Raises XpressError for a
    back-reference before the start of the output or a bad length encoding. Runs of literal
    flags are copied as one slice, and a match as one or two slices, so the cost is per
    token rather than per byte; memory is bounded by `out_size`.
    """
    out = bytearray()
    olen = 0
    n = len(src)
    i = 0
    half = -1  # position of the byte whose high half-byte the next long match uses
    while olen < out_size:
        if i + 4 > n:
            return bytes(out), False
        flags = src[i] | src[i + 1] << 8 | src[i + 2] << 16 | src[i + 3] << 24
        i += 4
        bits = 32
        while bits:
            # The flag bits are read from the top; a run of zero bits is a run of literals.
            run = bits - (flags & ((1 << bits) - 1)).bit_length()
            if run:
                run = min(run, out_size - olen)
                if i + run > n:
                    out += src[i:n]
                    return bytes(out), False
                out += src[i : i + run]
                i += run
                olen += run
                bits -= run
                if olen >= out_size:
                    return bytes(out), True
                if not bits:
                    break
            bits -= 1
            if i + 2 > n:
                return bytes(out), False
            token = src[i] | src[i + 1] << 8
            i += 2
            length = token & 7
            distance = (token >> 3) + 1
            if length == 7:
                if half < 0:
                    if i >= n:
                        return bytes(out), False
                    length = src[i] & 15
                    half = i
                    i += 1
                else:
                    length = src[half] >> 4
                    half = -1
                if length == 15:
                    if i >= n:
                        return bytes(out), False
                    length = src[i]
                    i += 1
                    if length == 255:
                        if i + 2 > n:
                            return bytes(out), False
                        length = src[i] | src[i + 1] << 8
                        i += 2
                        if length == 0:
                            if i + 4 > n:
                                return bytes(out), False
                            length = int.from_bytes(src[i : i + 4], "little")
                            i += 4
                        if length < 15 + 7:
                            raise XpressError(f"match length {length} is too short at byte {i}")
                        length -= 15 + 7
                    length += 15
                length += 7
            length += 3
            if distance > olen:
                raise XpressError(
                    f"back-reference {distance} bytes behind output byte {olen} at byte {i}"
                )
            length = min(length, out_size - olen)
            start = olen - distance
            if distance >= length:
                out += out[start : start + length]
            else:
                # An overlapping copy repeats the last `distance` bytes (LZ77).
                pattern = out[start:olen]
                whole, rest = divmod(length, distance)
                out += pattern * whole + pattern[:rest]
            olen += length
            if olen >= out_size:
                return bytes(out), True
    return bytes(out), True


def _plausible_buffer(b: bytes, pos: i64, max_block: i64) -> bool:
    """Whether a trace buffer header [GC-BUF] could start at b[pos] (needs 0x48 bytes)."""
    size = _u32(b, pos)
    state = _u32(b, pos + 0x2C)
    offset = _u32(b, pos + 0x30)
    flag = _u16(b, pos + 0x34)
    if not BUFFER_HEADER_BYTES < size <= max_block or state > 7 or flag > 0xFF:
        return False
    if _u16(b, pos + 0x36) > 0x40:  # BufferType
        return False
    if flag & BUFFER_FLAG_COMPRESSED:
        return BUFFER_HEADER_BYTES <= offset <= max_block
    return BUFFER_HEADER_BYTES <= offset <= size or offset == 0


def is_etl(head: bytes) -> bool:
    """An ETL file: a trace buffer header, then the trace header event (HookId 0) [GC-BUF]."""
    if len(head) < BUFFER_HEADER_BYTES + 8:
        return False
    if not _plausible_buffer(head, 0, 1 << 30):
        return False
    marker = BUFFER_HEADER_BYTES
    htype, flags = head[marker + 2], head[marker + 3]
    (hook,) = struct.unpack_from("<H", head, marker + 6)
    if htype in (0x01, 0x02) and flags & 0xC0 == 0xC0 and hook == 0:
        return True
    # A compressed first buffer cannot be checked this way; its header must say so.
    (flag,) = struct.unpack_from("<H", head, 0x34)
    return bool(flag & BUFFER_FLAG_COMPRESSED)


def _sid_length(b: bytes, pos: int, end: int) -> int:
    """Length of a SID at `pos` ([MS-DTYP] 2.4.2.2), or -1 when it does not fit."""
    if pos + 8 > end:
        return -1
    length = 8 + 4 * b[pos + 1]
    return length if pos + length <= end else -1


def _utf16z(b: bytes, pos: int, end: int) -> str | None:
    """A NUL-terminated UTF-16LE string at `pos`, or None when it is not terminated."""
    stop = pos
    while stop + 1 < end:
        if b[stop] == 0 and b[stop + 1] == 0:
            return bytes(b[pos:stop]).decode("utf-16-le", "replace")
        stop += 2
    return None


def _ansiz(b: bytes, pos: int, end: int) -> str | None:
    raw = bytes(b[pos:end])
    stop = raw.find(b"\0")
    if stop < 0:
        return None
    return raw[:stop].decode("latin-1")


def _base_name(image: str) -> str:
    """`\\Device\\HarddiskVolume3\\Windows\\System32\\svchost.exe` -> `svchost.exe`."""
    return image.rsplit("\\", 1)[-1].rsplit("/", 1)[-1]


def _classic_process(
    b: bytes, q: int, end: int, version: int, pointer: int
) -> tuple[int, str] | None:
    """(pid, image name) of an NT Kernel Logger process event's data at `q` [PROC]."""
    # UniqueProcessKey (a pointer), then ProcessId, ParentId, SessionId, ExitStatus.
    if version < 2 or q + pointer + 16 > end:
        return None
    (pid,) = struct.unpack_from("<I", b, q + pointer)
    pos = q + pointer + 16
    if version >= 3:
        pos += pointer  # DirectoryTableBase
    if version >= 4:
        pos += 4  # Flags
    if pos + 4 > end:
        return None
    (first,) = struct.unpack_from("<I", b, pos)
    if first == 0:
        pos += 4
    else:
        pos += 2 * pointer  # TOKEN_USER in front of the SID
        sid = _sid_length(b, pos, end)
        if sid < 0:
            return None
        pos += sid
    name = _ansiz(b, pos, end)
    return (pid, _base_name(name)) if name else None


def _kernel_process(b: bytes, q: int, end: int, eid: int, version: int) -> tuple[int, str] | None:
    """(pid, image name) of a Microsoft-Windows-Kernel-Process start or rundown event [PROC]."""
    if q + 4 > end:
        return None
    (pid,) = struct.unpack_from("<I", b, q)
    # The later layout (start v3, rundown v1) adds sequence numbers, token fields and a SID.
    if (eid == 1 and version >= 3) or (eid == 15 and version >= 1):
        pos = q + 4 + 8 + 8 + 4 + 8 + 4 + 4 + 4 + 4
        sid = _sid_length(b, pos, end)
        if sid < 0:
            return None
        pos += sid
    elif eid == 1 and version == 0:
        pos = q + 4 + 8 + 4 + 4
    else:
        pos = q + 4 + 8 + 4 + 4 + 4  # with Flags
    name = _utf16z(b, pos, end)
    return (pid, _base_name(name)) if name else None


def _pktmon_linktype(
    b: bytes, q: i64, n: i64, packet_type: i64, original: i64, ethertype: i64
) -> int:
    """Link type of the pktmon payload b[q:q+n], from its bytes, with PacketType [PKT] as
    the tie-break; `ethertype` is the payload's bytes 12-13 (-1 when it is shorter), which
    `_walk` has read already.

    pktmon logs Ethernet frames for wired and most Wi-Fi adapters and IP packets for mobile
    broadband; the payload says which: an IP header whose length field equals the packet's
    original size is raw IP, a known EtherType at bytes 12-13 is Ethernet.
    """
    # IPv4 and IPv6 first: the set's test boxes the number, ten times their cost.
    known = ethertype == 0x0800 or ethertype == 0x86DD or ethertype in _ETHERTYPES
    if packet_type == 1 and known:
        return LINKTYPE_ETHERNET
    if n >= 20:
        version = b[q] >> 4
        if version == 4 and b[q] & 15 >= 5 and _be16(b, q + 2) == original:
            return LINKTYPE_RAW
        if version == 6 and n >= 40 and 40 + _be16(b, q + 4) == original:
            return LINKTYPE_RAW
    if known:
        return LINKTYPE_ETHERNET
    if packet_type == 2:
        return LINKTYPE_IEEE802_11
    if packet_type == 3:
        return LINKTYPE_RAW
    return LINKTYPE_ETHERNET


def _ndis_direction(keyword: int) -> int:
    """An NDIS packet's direction (`_Metas`) from its event's keyword [E2P]."""
    if keyword & KW_SEND:
        return _OUTBOUND
    return _INBOUND if keyword & KW_RECEIVE else _NO_DIRECTION


def _inferred_length(b: bytes, q: i64, n: i64, linktype: int) -> int:
    """The length on the wire of the packet b[q:q+n] from its IP header (0 if unknown), as
    [E2P] infers it: ndiscap can truncate packets but does not log their original length."""
    if linktype == LINKTYPE_ETHERNET and n >= 34:
        ethertype = _be16(b, q + 12)
        if ethertype == 0x0800:
            return 14 + _be16(b, q + 16)
        if ethertype == 0x86DD and n >= 54:
            return 54 + _be16(b, q + 18)
    elif linktype == LINKTYPE_RAW and n >= 20:
        if b[q] >> 4 == 4:
            return _be16(b, q + 2)
        if b[q] >> 4 == 6 and n >= 40:
            return 40 + _be16(b, q + 4)
    return 0


class _Clock:
    """Converts raw event time stamps to UTC nanoseconds since 1970 [MS-TLH]."""

    __slots__ = ("_base_ns", "_div", "_mul", "_ref", "base_ns", "div", "known", "mul", "ref",
                 "span")  # fmt: skip

    def __init__(self) -> None:
        self.known = False
        self.ref: i64 = 0
        self.base_ns: i64 = 0
        self.mul: i64 = 1
        self.div: i64 = 1
        self.span: i64 = 0
        # Until the trace header is read, stamps are taken as FILETIMEs (clock type 2).
        self._use(FILETIME_UNIX_EPOCH, 0, 100, 1)

    def _use(self, ref: int, base_ns: int, mul: int, div: int) -> None:
        """Time = base_ns + (stamp - ref) * mul // div. Held as machine integers where they
        fit, with how far a stamp may be from `ref` for `ns` to work in them (`span`; 0:
        never); else as Python ints, `ns` then working in those."""
        self.span = 0  # the machine integers below are not read while it is 0
        self._ref = ref
        self._base_ns = base_ns
        self._mul = mul
        self._div = div
        fits = -_LATEST_NS <= ref <= _LATEST_NS and -_LATEST_NS <= base_ns <= _LATEST_NS
        if fits and div * mul <= _LATEST_NS:
            # ref and base_ns below 2**62, what `ns` multiplies by mul (the distance from
            # ref, or its quotient by div) below 2**61 once multiplied, and the remainder
            # times mul below 2**62: every sum fits 64 bits.
            self.ref, self.base_ns, self.mul, self.div = ref, base_ns, mul, div
            self.span = _LATEST_NS // (2 * mul)

    def set(self, clock: int, ref: int, start: int, boot: int, freq: int, cpu_mhz: int) -> bool:
        if clock == 2:
            self._use(FILETIME_UNIX_EPOCH, 0, 100, 1)
            self.known = True
            return True
        if clock == 3:
            freq = cpu_mhz * 1_000_000
        if freq <= 0:
            return False
        if start:
            base_ns = (start - FILETIME_UNIX_EPOCH) * 100
        else:
            # The counter runs from boot: wall time = BootTime + stamp / frequency.
            ref = 0
            base_ns = (boot - FILETIME_UNIX_EPOCH) * 100
        if 1_000_000_000 % freq == 0:
            self._use(ref, base_ns, 1_000_000_000 // freq, 1)
        else:
            self._use(ref, base_ns, 1_000_000_000, freq)
        self.known = True
        return True

    def ns(self, stamp: i64) -> i64:
        """The time of an event time stamp: in machine integers where they hold every step
        (a call that took 80 instructions takes 30), else in Python ints (a damaged stamp
        centuries off; a clock of more than 4.6 GHz that 10**9 is not a multiple of)."""
        span = self.span
        if span and -_LATEST_NS <= stamp <= _LATEST_NS:
            d = stamp - self.ref  # both below 2**62
            fast = False
            ns: i64 = 0
            if self.div == 1:  # a clock whose ticks are whole nanoseconds (10 MHz: 100)
                if -span < d < span:
                    ns = self.base_ns + d * self.mul
                    fast = True
            else:
                # d * mul // div as (d // div) * mul + (d % div) * mul // div, so that no
                # product passes 64 bits however far the stamp is from the start.
                whole = d // self.div
                if -span < whole < span:
                    ns = self.base_ns + whole * self.mul
                    ns += (d - whole * self.div) * self.mul // self.div
                    fast = True
            if fast:
                if ns > _LATEST_NS:
                    return _LATEST_NS
                if ns < -_LATEST_NS:
                    return -_LATEST_NS
                return ns
        return self._exact(int(stamp))

    def _exact(self, stamp: int) -> i64:
        ns = self._base_ns + (stamp - self._ref) * self._mul // self._div
        # Held in 64 bits (`_Waiting`): a time past 2116 is a damaged stamp, kept as the
        # nearest one that fits rather than failing the trace.
        if ns > _LATEST_NS:
            return _LATEST_NS
        if ns < -_LATEST_NS:
            return -_LATEST_NS
        return ns


@final
class _Waiting:
    """A packet waiting for the time-order merge: its time (ns), link type, the bytes that
    hold it (`chunk`: a chunk of the file, a decompressed buffer, or a packet put together),
    a view of them, its start and stop in them, meta (`_OTHER` for a packet the sink does
    not want), its pktmon identity (PktGroupId and PktNumber) when duplicates are to be
    dropped, else -1, what the sink noted of it (`FrameSink.wants`), and whether the trace
    cut it short (counted when given, for pktmon: not once per appearance). They are kept in
    time order, and packets of the same time in file order, by `_merge_into` (and a stable sort
    on the time alone, `_TIME`, for the rare buffer not in order itself).

    A compiled class, not a tuple: its numbers are held as machine integers, read by the
    merge without a conversion and set without a boxed int each (a tuple of them had cost a
    split worker of bulk.etl about 110 M instructions to build, compare and take apart).
    Once its packet is given, the object is filled again for another (`EtlReader._waiting`).
    """

    __slots__ = ("chunk", "cut", "key", "linktype", "meta", "note", "start", "stop", "ts",
                 "view")  # fmt: skip

    def __init__(self, ts: i64, linktype: i64, chunk: bytes, view: memoryview, start: i64,
                 stop: i64, meta: dict[str, Any], key: i64, note: i64,
                 cut: bool) -> None:  # fmt: skip
        self.ts = ts
        self.linktype = linktype
        self.chunk = chunk
        self.view = view
        self.start = start
        self.stop = stop
        self.meta = meta
        self.key = key
        self.note = note
        self.cut = cut


_TIME: Final = operator.attrgetter("ts")


def _in_order(entries: list[_Waiting]) -> bool:
    """Whether `entries` are in time order, as a buffer's packets nearly always are: then
    they need no sort. (A sort makes a key of each and compares the times as Python ints
    of three digits, a call each; with the merge (`_merge_into`), looking and merging cost
    a bulk.etl worker 72 M instructions where sorting each buffer and its overlap took
    121 M.)"""
    last = entries[0].ts
    for entry in entries:
        ts = entry.ts
        if ts < last:
            return False
        last = ts
    return True


def _after(entries: list[_Waiting], ts: i64) -> int:
    """Where `ts` would go among `entries` (in time order) after those of the same time:
    `bisect.bisect_right(entries, ts, key=_TIME)`, which calls the key with a boxed time
    at every step (7,800 instructions a search, where this takes a few hundred)."""
    lo = 0
    hi = len(entries)
    while lo < hi:
        mid = (lo + hi) // 2
        if ts < entries[mid].ts:
            hi = mid
        else:
            lo = mid + 1
    return lo


def _merge_into(pending: list[_Waiting], newer: list[_Waiting]) -> None:
    """Put `newer` (in time order) into `pending` (in time order), keeping it in time order;
    of two with the same time, `pending`'s first (file order, as a stable sort keeps it).

    In place, from the back: `newer` is appended, then the tail of `pending` it overlaps
    (from `_after`) and `newer` are merged backwards into the end of the list, each moved
    once. (Merging a copy of the tail into a new list, then replacing the tail with it, took
    four passes over the tail: 46 M instructions in a split worker of bulk-pktmon.etl.)
    """
    first = _after(pending, newer[0].ts)  # pending[:first] stays where it is
    i = len(pending) - 1  # the next of `pending` to move, from the back
    pending += newer
    j = len(newer) - 1  # the next of `newer` to move
    k = len(pending) - 1  # where it goes
    if i >= first:
        # Each time read once, where the next to move is taken.
        t_old = pending[i].ts
        t_new = newer[j].ts
        while True:
            if t_new < t_old:
                pending[k] = pending[i]
                k -= 1
                i -= 1
                if i < first:
                    break
                t_old = pending[i].ts
            else:  # the same time: `newer`'s comes after
                pending[k] = newer[j]
                k -= 1
                j -= 1
                if j < 0:
                    return
                t_new = newer[j].ts
    while j >= 0:
        pending[k] = newer[j]
        j -= 1
        k -= 1


#: Directions of a packet as `_Metas` takes them, and as meta names them.
_NO_DIRECTION: Final = 0
_OUTBOUND: Final = 1
_INBOUND: Final = 2
_DIRECTION_NAMES: Final = ("", "outbound", "inbound")


def _pktmon_direction(dirtag: i64) -> i64:
    """pktmon's DirTag (3 = Rx, 4 = Tx) as a direction [PKT], checked on the corpus trace."""
    if dirtag == 3:
        return _INBOUND
    return _OUTBOUND if dirtag == 4 else _NO_DIRECTION


class _Identities:
    """The pktmon identities given lately (`push`), to drop a packet's later
    appearances: a set of non-negative machine integers that forgets them a generation at
    a time. An identity is looked for among those added lately (`seen`) and those added
    before them (`older`); once `seen` holds `generation`, it becomes `older` and the ones
    before are forgotten. So each is remembered for at least `generation` identities added
    after it, and at most twice that are held.

    Hash tables of our own, in librt vecs (open addressing, probed in CPython's sequence,
    each at most half full), for the cost: Python sets of boxed ints took about 750
    instructions a packet (boxing the identity, two lookups, an insertion), a third of a
    pktmon packet's reading. (Forgetting identities one by one, rather than a generation at
    a time, had left a set's table full of deleted slots, which every lookup stepped over;
    a dict in insertion order, its oldest deleted through `next(iter(...))`, had been
    quadratic.)
    """

    __slots__ = ("count", "generation", "mask", "older", "seen")

    def __init__(self, generation: i64) -> None:
        self.generation = generation
        size: i64 = 8
        while size < 2 * generation:
            size *= 2
        self.mask = size - 1
        self.seen = vec[i64]([-1] * size)
        self.older = vec[i64]([-1] * size)
        self.count: i64 = 0

    def add(self, key: i64) -> bool:
        """Remember `key` (0 or more); False if it was remembered already."""
        mask = self.mask
        seen = self.seen
        # The first slot looked at here, the rest by `_slot_of` (nearly always it is the
        # one: each table is at most half full, its keys counting up).
        slot = key & mask
        held = seen[slot]
        if held != key and held >= 0:
            slot = _slot_of(seen, mask, key)
            held = seen[slot]
        if held == key:
            return False
        older = self.older
        held = older[key & mask]
        if held != key and held >= 0:
            held = older[_slot_of(older, mask, key)]
        if held == key:
            return False
        seen[slot] = key
        self.count += 1
        if self.count >= self.generation:
            # The oldest generation is forgotten; its table is emptied for the next one.
            for k in range(len(older)):
                older[k] = -1
            self.older = seen
            self.seen = older
            self.count = 0
        return True


def _slot_of(table: vec[i64], mask: i64, key: i64) -> i64:
    """The slot of `table` (of mask + 1 slots, some empty: -1) that holds `key`, or the
    empty one where it would go. The probe sequence is CPython's (Objects/dictobject.c):
    every slot is reached, and keys alike in their low bits part after a few steps."""
    slot = key & mask
    perturb = key
    while True:
        held = table[slot]
        if held == key or held < 0:
            return slot
        perturb >>= 5
        slot = (slot * 5 + perturb + 1) & mask


class _MetaSlot:
    """A meta last made (`_Metas`), and what it was made of."""

    __slots__ = ("direction", "interface", "meta", "pid", "tid")

    def __init__(self) -> None:
        self.interface: i64 = -1
        self.direction: i64 = -1
        self.pid: i64 = -1
        self.tid: i64 = -1
        self.meta: dict[str, Any] | None = None


class _Metas:
    """A packet's meta (`Frame.meta`) from the interface, process, thread and direction its
    event gives, and the process names of the trace so far.

    A meta is made once for each interface, process, thread and direction and given to
    every packet with the same four: one dict shared by many frames, where making each its
    own was a third of reading a packet event. The metas are kept in a direct-mapped cache
    (`slots`, placed by a mix of the four, compared in machine integers; a meta whose slot
    is taken by another is made again): connections of many processes interleave, and
    pktmon logs a packet at each component it passes, so consecutive events differ. Nothing
    after a reader changes a frame's meta; a packet that needs more in its meta
    (`orig_len`, `comments`) gets a copy.
    """

    __slots__ = ("names", "slots")

    def __init__(self) -> None:
        #: Process image names by pid, from the trace's process events [PROC].
        self.names: dict[int, str] = {}
        self.slots = [_MetaSlot() for _ in range(_META_SLOTS)]

    def name(self, pid: int, name: str) -> None:
        """Process `pid` is `name` from here on; metas made before are not given again."""
        self.names[pid] = name
        for slot in self.slots:
            slot.meta = None

    def of(self, interface: i64, pid: i64, tid: i64, direction: i64) -> dict[str, Any]:
        if direction == _INBOUND and (pid == 0 or pid == 4):
            # Inbound packets are logged in whatever context received them; PID 0 (Idle)
            # or 4 (System) there only means "no process known", so none is given [E2P].
            pid = tid = -1
        mix = interface * 3 + direction + pid * 7 + tid * 13
        slot = self.slots[mix & (_META_SLOTS - 1)]
        meta = slot.meta
        same = (
            slot.interface == interface
            and slot.direction == direction
            and slot.pid == pid
            and slot.tid == tid
        )
        if meta is not None and same:
            return meta
        meta = {"interface": interface}
        if pid >= 0:
            meta["pid"] = pid
            meta["tid"] = tid
            name = self.names.get(pid)
            if name is not None:
                meta["process_name"] = name
        if direction != _NO_DIRECTION:
            meta["direction"] = _DIRECTION_NAMES[direction]
        slot.interface, slot.direction, slot.pid, slot.tid = interface, direction, pid, tid
        slot.meta = meta
        return meta


class EtlReader(ReaderBase):
    """Iterates the packets of an ETL trace as `Frame`-ordered tuples."""

    format_name = "etl"

    def __init__(self, source: ChunkedInput, limits: Limits, dedupe: bool = True) -> None:
        super().__init__(source, limits)
        self.dedupe = dedupe
        self.linktype = -1
        #: Events read, packet events among them, and appearances dropped as duplicates.
        self.events = 0
        self.packet_events = 0
        self.duplicates = 0
        #: Events of providers that carry no packets, by provider GUID (as text).
        self.skipped_providers: dict[str, int] = {}
        #: The trace header's facts, once read: "os_build", "cpus", "clock", "pointer_size".
        self.trace_info: dict[str, int] = {}
        self._clock = _Clock()
        self._metas = _Metas()
        self._partial: dict[tuple[int, int, int], tuple[bytearray, int]] = {}
        self._skipped_raw: dict[tuple[int, int], int] = {}
        self._counts: dict[str, int] = {}
        self._suppressed = 0
        self._truncated_pktmon = 0
        self._truncated_snap = 0
        #: `truncated_frames`, counted here and set at the end (`_finish`): compiled, this
        #: class cannot add to an attribute of its interpreted base class (mypyc fails on
        #: `+=`), only set it.
        self._truncated = 0
        #: The sink `push` gives frames to, whose `wants` decides which to describe.
        self._sink: FrameSink | None = None
        #: The last chunk of the file (or decompressed buffer) counted in what the waiting
        #: packets keep (`_released`'s `pending_bytes`; no waiting packet need still lie in
        #: it), or None.
        self._held: bytes | None = None
        #: Packets given late: more than the merge's window behind (`push`, `_finish`).
        self._late = 0
        #: The last pktmon identities, and the processor each was logged on (`_walk`):
        #: librt's vec of machine integers, read and set without a boxed int (a list of
        #: ints had cost 275 instructions a lookup, a vec costs 43).
        self._recent_keys = vec[i64]([-1] * _RECENT_SLOTS)
        self._recent_cpus = vec[i64]([-1] * _RECENT_SLOTS)
        #: The objects of packets given, to be filled again (`_waiting`, `_give_back`).
        self._spare: list[_Waiting] = []
        self._check_start()

    def _check_start(self) -> None:
        """Raise CaptureError when the first buffer's trace header event is cut off: without
        it nothing in the file can be read (an ETL file is only recognised by it)."""
        source = self.source
        buf = source.buf
        (flag,) = struct.unpack_from("<H", buf, 0x34)
        if flag & BUFFER_FLAG_COMPRESSED:
            return
        (size,) = struct.unpack_from("<H", buf, BUFFER_HEADER_BYTES + 4)
        need = BUFFER_HEADER_BYTES + size
        if len(buf) < need:
            source.refill(0, need)
            if len(source.buf) < need:
                source.close()
                raise CaptureError(
                    source.path,
                    f"this Windows trace (.etl) ends inside its header event ({len(source.buf)} "
                    f"of {need} bytes); nothing can be read from it",
                )

    # -- problems ------------------------------------------------------------------------

    def _problem(self, offset: int, message: str) -> None:
        """Record a problem; past _MAX_PROBLEMS they are only counted (see _finish)."""
        if len(self.problems) >= _MAX_PROBLEMS:
            self._suppressed += 1
            return
        self.problems.append(CaptureProblem(self.source.path, offset, message))

    def _count(self, kind: str) -> None:
        self._counts[kind] = self._counts.get(kind, 0) + 1

    # -- the file ------------------------------------------------------------------------

    def push(self, sink: FrameSink) -> Iterator[None]:
        """Push every frame into `sink` (`ReaderBase.push`) where it lies: in a chunk of the
        file, as pcap frames are, or in the bytes a compressed buffer or a packet in several
        events was made into; no copy and no view of its own. (Iterating the reader pushes
        into a `FrameList`, `ReaderBase.__iter__`.)

        The lists `_released` gives are in time order; here pktmon duplicates are dropped
        (`_Identities`), the packets numbered from 1 and late ones counted, in the same pass
        as the push. (A pass of its own, which built a list of the packets kept, had cost a
        split worker of bulk-pktmon.etl 22 M instructions; here it adds 10 M to the push.)
        Stopped early, the counts (`duplicates`, late packets, truncated ones) are of the
        packets given so far.
        """
        self._sink = sink  # asked by `_walk` (`FrameSink.wants`)
        # pktmon duplicates not dropped as they were read (`_walk`): another processor's.
        identities = _Identities(_MAX_SEEN)
        number = 0
        late = 0
        last: i64 = -_LATEST_NS  # the latest time given
        try:
            for ready in self._released():
                for entry in ready:
                    key = entry.key
                    if key >= 0:
                        if not identities.add(key):
                            self.duplicates += 1
                            continue
                        if entry.cut:
                            self._truncated += 1
                    # Only a list's first packets can be older than the last one given
                    # before: counted as late (the window was too short for them).
                    ts = entry.ts
                    if ts < last:
                        late += 1
                    else:
                        last = ts
                    if number == 0:
                        self.linktype = entry.linktype
                    number += 1
                    meta = entry.meta
                    if meta is _OTHER:
                        sink.other(number, ts)
                    elif sink.frame(number, ts, entry.linktype, entry.chunk, entry.view,
                                    entry.start, entry.stop, meta, entry.note):  # fmt: skip
                        yield None
                # For `_finish`, which `_released` calls once asked for the next list.
                self._late = late
                self._give_back(ready)
        finally:
            self.frames_read = number

    def _released(self) -> Iterator[list[_Waiting]]:
        """Every packet, in time order, in the lists the time-order merge releases (a
        generator resumed per packet, two deep, had cost as much as reading the packet's
        event); `push` numbers them in that order from 1, after it drops the pktmon
        appearances still among them (another processor's).

        A packet waiting in the merge keeps the bytes it lies in: for an uncompressed buffer,
        the chunk of the file (`ChunkedInput`: immutable, about a megabyte) that holds it. So
        what waits is counted in the chunks and buffers it keeps (`pending_bytes`), not in its
        packets, and bounded by _MAX_PENDING_BYTES.
        """
        source = self.source
        max_block = self.limits.max_block_bytes
        pos = 0
        buffers = 0
        fixed_size = 0  # the buffer size, while every buffer so far had the same one
        # Time-order merge [module doc]: packets wait in `pending`, sorted by (time, file
        # order); the oldest are released once more than _WINDOW wait. Each buffer's packets
        # are almost always in order already (`_in_order`), so this is an append; a buffer
        # of another processor is merged with only the tail it overlaps (`_merge_into`).
        pending: list[_Waiting] = []
        pending_bytes = 0
        batch: list[_Waiting] = []
        ready: list[_Waiting] = []
        prefetch = _PREFETCH
        prefetched: bytes | None = None  # the chunk whose buffers were prefetched last
        try:
            while True:
                buf = source.buf
                if pos + BUFFER_HEADER_BYTES > len(buf):
                    pos = source.refill(pos, BUFFER_HEADER_BYTES)
                    buf = source.buf
                    if len(buf) == 0:
                        break
                    # (`pos` is 0 for a chunk read, the place in a page for one mapped.)
                    if len(buf) - pos < BUFFER_HEADER_BYTES:
                        if any(buf[pos:]):
                            self._problem(
                                source.base + pos,
                                f"the file ends inside a trace buffer header ({len(buf) - pos}"
                                " bytes); the packets before it were read",
                            )
                        break
                data = source.data  # the bytes `buf` views
                if not _plausible_buffer(data, pos, max_block):
                    found = self._resync(pos, fixed_size, max_block)
                    if found < 0:
                        break
                    pos = found
                    continue
                # BufferSize, ClientContext, Offset, BufferFlag [GC-BUF].
                size = _u32(data, pos)
                context = _u16(data, pos + 0x28)
                offset = _u32(data, pos + 0x30)
                flag = _u16(data, pos + 0x34)
                buffers += 1
                if buffers == 1:
                    fixed_size = size
                elif size != fixed_size:
                    fixed_size = 0
                cpu = context if flag & BUFFER_FLAG_PROCESSOR_INDEX else context & 0xFF
                file_offset = source.base + pos
                cut = False
                if pos + size > len(buf):
                    pos = source.refill(pos, size)
                    buf = source.buf
                    if pos + size > len(buf):
                        cut = True
                compressed = bool(flag & BUFFER_FLAG_COMPRESSED)
                if compressed:
                    region, start, end = self._inflate(buf, pos, size, offset, cut, file_offset)
                    view = memoryview(region)
                else:
                    region, view = source.data, buf
                    if prefetch is not None and region is not prefetched:
                        # A new chunk: the events of its buffers, from this one on, are
                        # asked for together, where `_walk` would wait for each in turn.
                        prefetched = region
                        prefetch(region, pos, len(region))
                    start = pos + BUFFER_HEADER_BYTES
                    # The bytes in use, within the buffer and the file. (Compared one by
                    # one: `min` and `max`, given boxed ints, cost 1,700 instructions.)
                    used = offset
                    if used < BUFFER_HEADER_BYTES:
                        used = BUFFER_HEADER_BYTES
                    if used > size:
                        used = size
                    end = pos + used
                    if end > len(buf):
                        end = len(buf)
                    if cut:
                        self._problem(
                            file_offset,
                            f"the file ends inside a trace buffer ({len(buf) - pos} of {size} "
                            "bytes); the events complete before the end were read",
                        )
                pending_bytes += self._walk(region, view, start, end, cpu, file_offset,
                                            compressed, batch)  # fmt: skip
                pos = len(buf) if cut else pos + size
                if not batch:
                    continue
                if not _in_order(batch):
                    batch.sort(key=_TIME)
                if not pending or batch[0].ts >= pending[-1].ts:
                    pending += batch
                else:
                    # Packets logged before some that wait already (another processor's buffer).
                    _merge_into(pending, batch)
                batch.clear()
                # `pending_bytes` is counted up as packets come to lie in chunks not counted
                # last (a chunk may be counted twice when a buffer of another kind, a
                # decompressed one, came between), and counted again exactly (`_held_bytes`,
                # a look at every packet waiting) once it passes the bound, before anything
                # is decided on it: the bound holds on the bytes really kept. (Counted again
                # after every release instead, the count could still pass the bound between
                # two releases by counting chunks twice, and release half the window early.)
                if pending_bytes > _MAX_PENDING_BYTES:
                    pending_bytes = self._held_bytes(pending)
                if len(pending) > 2 * _WINDOW or pending_bytes > _MAX_PENDING_BYTES:
                    cut_at = len(pending) - _WINDOW
                    if pending_bytes > _MAX_PENDING_BYTES:
                        cut_at = max(cut_at, len(pending) // 2)
                    ready = pending[:cut_at]
                    del pending[:cut_at]
                else:
                    continue
                yield ready
                ready = []
            # The end of the file: everything still waiting, in time order.
            yield pending
            pending = []
        finally:
            self._finish(buffers, pos)

    def _held_bytes(self, pending: list[_Waiting]) -> int:
        """The bytes the packets in `pending` keep: each chunk, buffer or packet they lie in
        once. Forgets `_held` when none of them is in it any more."""
        total = 0
        last: bytes | None = None
        counted: set[int] = set()
        for entry in pending:
            chunk = entry.chunk
            if chunk is last:  # mostly: neighbours lie in the same chunk
                continue
            last = chunk
            if id(chunk) not in counted:
                counted.add(id(chunk))
                total += len(chunk)
        if self._held is not None and id(self._held) not in counted:
            self._held = None
        return total

    def _finish(self, buffers: int, pos: int) -> None:
        """End-of-file summaries: one problem per kind of skipped event, however many."""
        late = self._late
        self.truncated_frames = self._truncated
        source = self.source
        at_end = source.base + pos
        notes: list[tuple[int, str]] = []
        source.check()  # a mapped file that shrank (source.py)
        if source.error:
            notes.append((at_end, source.error))
        if self._partial:
            waiting = sum(len(data) for data, _ts in self._partial.values())
            notes.append((at_end, f"{len(self._partial)} packet(s) split over several NDIS "
                          f"events never got their last fragment ({waiting} bytes waiting); "
                          "they were dropped"))  # fmt: skip
        counts = self._counts
        if counts.get("layout"):
            notes.append((0, f"{counts['layout']} packet event(s) had a layout tlslens does "
                          "not know (too short, or a provider version it has not seen); they "
                          "were skipped"))  # fmt: skip
        if counts.get("vmswitch"):
            notes.append((0, f"{counts['vmswitch']} Hyper-V switch packet event(s) "
                          "(NDIS-PacketCapture event 1003) were skipped; tlslens does not read "
                          "that layout yet"))  # fmt: skip
        if counts.get("oversize"):
            notes.append((0, f"{counts['oversize']} reassembled NDIS packet(s) exceeded "
                          f"{self.limits.max_packet_bytes} bytes and were dropped"))  # fmt: skip
        if late:
            notes.append((0, f"{late} packet(s) were written to the trace too late to be put "
                          "in time order (more than the reorder window behind); they come "
                          "later than their time stamps say"))  # fmt: skip
        if self._truncated_snap:
            notes.append((0, f"{self._truncated_snap} packet(s) were truncated by the trace "
                          "(netsh trace packettruncatebytes); their missing bytes are "
                          "reported as gaps"))  # fmt: skip
        for (lo, hi), count in self._skipped_raw.items():
            name = str(uuid.UUID(bytes_le=_GUID_WORDS.pack(lo, hi))).upper()
            self.skipped_providers["{" + name + "}"] = count
        if self.packet_events == 0 and buffers:
            providers = ", ".join(list(self.skipped_providers)[:3])
            if len(self.skipped_providers) > 3:
                providers += ", ..."
            of = f" of {providers}" if providers else ""
            notes.append((0, f"this Windows trace (.etl) holds no packet events "
                          f"({self.events} events{of}): it was not recorded with packet "
                          "capture; record with `netsh trace start capture=yes` or "
                          "`pktmon start --capture --pkt-size 0`"))  # fmt: skip
        if self._suppressed:
            notes.append((0, f"{self._suppressed} further problem(s) were not listed"))
        for offset, message in notes:
            self.problems.append(CaptureProblem(source.path, offset, message))

    def _window(self, pos: int, need: int) -> int:
        """Make the source's chunk hold `pos` (which may lie beyond it) with `need` bytes
        after it if the file has them; returns where `pos` is in it (`ChunkedInput.refill`),
        or -1 at the end of the file."""
        source = self.source
        target = source.base + pos
        while target > source.base + len(source.buf):
            source.refill(len(source.buf), 1)
            if not len(source.buf):
                return -1
        at = source.refill(target - source.base, need)
        return at if at < len(source.buf) else -1

    def _resync(self, pos: int, fixed_size: int, max_block: int) -> int:
        """After a damaged buffer header at `pos`: the next plausible buffer, or -1."""
        source = self.source
        self._problem(
            source.base + pos,
            "a trace buffer header is damaged here; looking for the next buffer",
        )
        if fixed_size:
            # Uncompressed traces use one buffer size for the whole file [GC-BUF], so the
            # next buffer starts at the next multiple of it.
            target = ((source.base + pos) // fixed_size + 1) * fixed_size - source.base
            at = self._window(target, BUFFER_HEADER_BYTES)
            while at >= 0:
                if len(source.buf) - at < BUFFER_HEADER_BYTES:
                    return -1
                if _plausible_buffer(source.data, at, max_block):
                    self._problem(source.base + at, "reading resumes at this trace buffer")
                    return at
                at = self._window(at + fixed_size, BUFFER_HEADER_BYTES)
            return -1
        # Variable-size (compressed) buffers: look byte by byte in a bounded window.
        scanned = 0
        target = pos + 1
        while scanned < _RESYNC_WINDOW:
            p = self._window(target, BUFFER_HEADER_BYTES + 65536)
            if p < 0:
                return -1
            buf = source.data
            limit = len(buf) - BUFFER_HEADER_BYTES
            if limit < p:
                return -1
            while p <= limit and scanned < _RESYNC_WINDOW:
                # Cheap tests first: a buffer is under 32 MiB and its type is small.
                if buf[p + 3] < 2 and buf[p + 0x37] == 0 and _plausible_buffer(buf, p, max_block):
                    self._problem(source.base + p, "reading resumes at this trace buffer")
                    return p
                p += 1
                scanned += 1
            target = p
        self._problem(
            source.base + target,
            f"no trace buffer found in the next {_RESYNC_WINDOW} bytes; reading stops",
        )
        return -1

    def _inflate(
        self, buf: memoryview, pos: int, size: int, offset: int, cut: bool, file_offset: int
    ) -> tuple[bytes, int, int]:
        """The events of a compressed buffer [MS-XCA], as (region, start, end)."""
        want = offset - BUFFER_HEADER_BYTES
        raw = bytes(buf[pos + BUFFER_HEADER_BYTES : pos + size])
        try:
            data, complete = xpress_decompress(raw, want)
        except XpressError as exc:
            self._count("corrupt")
            self._problem(
                file_offset,
                f"a compressed trace buffer ({size} bytes) is damaged ({exc}); its events were "
                "skipped",
            )
            return b"", 0, 0
        if cut:
            self._problem(
                file_offset,
                f"the file ends inside a compressed trace buffer ({len(buf) - pos} of {size} "
                f"bytes); {len(data)} of its {want} bytes of events were recovered",
            )
        elif not complete:
            self._problem(
                file_offset,
                f"a compressed trace buffer holds {len(data)} of the {want} bytes its header "
                "announces; the complete events were read",
            )
        return data, 0, len(data)

    # -- events --------------------------------------------------------------------------

    def _walk(
        self,
        b: bytes,
        view: memoryview,
        p: i64,
        end: i64,
        cpu: int,
        file_offset: int,
        compressed: bool,
        batch: list[_Waiting],
    ) -> int:
        """Read the events of one buffer, b[p:end], appending packets to `batch`; `view` is
        a memoryview of `b`.

        Returns the bytes the packets appended keep that are not yet counted in what waits
        (`pending_bytes`): `b` when a packet first lies in it, and packets made of several
        events.
        """
        size_at_4 = _SIZE_AT_4
        min_size = _MIN_SIZE
        sink = self._sink
        clock = self._clock
        metas = self._metas
        partial = self._partial
        dedupe = self.dedupe
        recent_keys = self._recent_keys
        recent_cpus = self._recent_cpus
        processor: i64 = cpu
        skipped = self._skipped_raw
        base = p
        events = 0
        packets = 0
        added = 0
        if b is self._held:
            holds = True  # a chunk of the file, already counted
        else:
            holds = False  # set, and `b` counted, with the first packet that lies in it
        while p + 8 <= end:
            # EVENT_HEADER [GC-HDR]: Size, HeaderType, MarkerFlags, Flags (0x04), ThreadId
            # (0x08), ProcessId (0x0C), TimeStamp (0x10), ProviderId (0x18), Id (0x28),
            # Version (0x2A), Keyword (0x30). The first four are taken out of one read of
            # eight bytes (each field read on its own had cost a call).
            word = read_i64_le(b, p)
            size = word & 0xFFFF
            htype = word >> 16 & 0xFF
            marker = word >> 24 & 0xFF
            if htype == 0x13 or htype == 0x12:
                if marker & 0xC0 != 0xC0 or size < EVENT_HEADER_BYTES or p + size > end:
                    self._bad_event(b, p, end, base, file_offset, compressed, size)
                    break
                eflags = word >> 32 & 0xFFFF
                head = read_i64_le(b, p + 24)
                if head == _NDIS_LO and read_i64_le(b, p + 32) == _NDIS_HI:
                    provider = _NDIS
                elif head == _PKTMON_LO and read_i64_le(b, p + 32) == _PKTMON_HI:
                    provider = _PKTMON
                elif head == _KERNEL_PROCESS_LO and read_i64_le(b, p + 32) == _KERNEL_PROCESS_HI:
                    provider = _KERNEL_PROCESS
                else:
                    provider = _OTHER_PROVIDER
                eid = read_i64_le(b, p + 40) & 0xFFFF  # (a load, where `_u16` is a call)
                events += 1
                q = p + EVENT_HEADER_BYTES
                stop = p + size
                if eflags & EVENT_HEADER_FLAG_EXTENDED_INFO:
                    q = self._skip_extended(b, q, stop)
                    if q < 0:
                        self._count("layout")
                        p += (size + 7) & ~7
                        continue
                if provider == _PKTMON:
                    if eid != PKTMON_PACKET and eid != PKTMON_DROP:
                        p += (size + 7) & ~7
                        continue
                    packets += 1
                    if q + 34 > stop:
                        self._count("layout")
                        p += (size + 7) & ~7
                        continue
                    # PktGroupId, PktNumber, AppearanceCount, DirTag, PacketType, ComponentId,
                    # EdgeId, FilterId, DropReason, DropLocation, OriginalSize, LoggedSize;
                    # those that describe the packet are read once it is known not to be a
                    # duplicate (below).
                    f = q
                    sizes = i64(read_i32_le(b, f + 30))  # OriginalSize, LoggedSize
                    original = sizes & 0xFFFF
                    logged = sizes >> 16 & 0xFFFF
                    # PktNumber, AppearanceCount, DirTag, PacketType in one read.
                    numbers = read_i64_le(b, f + 8)
                    q += 34
                    if q + logged > stop:
                        self._count("layout")
                        p += (size + 7) & ~7
                        continue
                    cut = logged < original
                    if cut:
                        self._truncated_pktmon += 1
                        if self._truncated_pktmon == 1:
                            self._problem(
                                file_offset,
                                f"pktmon kept only the first {logged} bytes of packets "
                                f"(this one had {original}); TLS handshakes are cut short. "
                                "Capture again with `pktmon start --capture --pkt-size 0`",
                            )
                    key: i64 = -1
                    if dedupe:
                        # (PktGroupId, PktNumber) as one number below 2**62, which a compiled
                        # int holds unboxed: PktNumber above the group id's low 46 bits (ids
                        # a window apart differ by far less than 2**46). The group id, which
                        # counts up, goes in the low bits, which the tables of `_walk` and
                        # `_Identities` are indexed by: with PktNumber there, nearly always 1,
                        # every key had fallen in the same few slots of a set's table, and a
                        # lookup had cost 460 instructions.
                        key = (numbers & 0xFFFF) << 46 | read_i64_le(b, f) & _GROUP_BITS
                        # Logged lately on this processor? Then this appearance is later in
                        # time too (a processor's events are in time order), and is dropped
                        # before it takes a place in the merge. pktmon logs a packet at each
                        # component it passes, one after another on the same processor, so
                        # this finds nearly every duplicate. It looks only in a direct-mapped
                        # table of the last identities (by the group id's low bits, which
                        # count up); one it misses, and one from another processor, is
                        # dropped by `push`. (Written out here: as a method it had cost 40
                        # instructions an appearance more.)
                        slot = key & (_RECENT_SLOTS - 1)
                        if recent_keys[slot] == key and recent_cpus[slot] == processor:
                            self.duplicates += 1
                            p += (size + 7) & ~7
                            continue
                        recent_keys[slot] = key
                        recent_cpus[slot] = processor
                    elif cut:
                        # Every appearance is a frame. (With duplicates dropped, a truncated
                        # packet is counted once given, by `push`.)
                        self._truncated += 1
                    packet_type = numbers >> 48 & 0xFFFF
                    # Not a conditional expression: compiled, one of an i64 and a literal is
                    # an object, boxed and unboxed (150 instructions a packet).
                    ethertype: i64 = -1
                    if logged >= 14:
                        ethertype = i64(read_i16_be(b, q + 12)) & 0xFFFF  # `_be16`, no call
                    if packet_type == 1 and (ethertype == 0x0800 or ethertype == 0x86DD):
                        # An Ethernet adapter's IPv4 or IPv6 frame, nearly every packet: what
                        # `_pktmon_linktype` answers first, without its call.
                        linktype = LINKTYPE_ETHERNET
                    else:
                        linktype = _pktmon_linktype(b, q, logged, packet_type, original,
                                                    ethertype)  # fmt: skip
                    ts = clock.ns(read_i64_le(b, p + 16))  # TimeStamp
                    note = -1 if sink is None else sink.wants(linktype, b, q, q + logged)
                    if note == UNWANTED:
                        batch.append(self._another(ts, linktype, key, cut))
                    else:
                        component = i64(read_i16_le(b, f + 16)) & 0xFFFF
                        # ThreadId (0x08) and ProcessId (0x0C) of the event header.
                        ids = read_i64_le(b, p + 8)
                        meta = metas.of(component, ids >> 32 & 0xFFFFFFFF, ids & 0xFFFFFFFF,
                                        _pktmon_direction(numbers >> 32 & 0xFFFF))  # fmt: skip
                        if cut:
                            meta = dict(meta)
                            meta["orig_len"] = original
                        if eid == PKTMON_DROP:
                            meta = dict(meta)
                            meta["comments"] = [
                                f"pktmon: dropped by component {component} (reason "
                                f"{_u32(b, f + 22)}, location 0x{_u32(b, f + 26):08x})"
                            ]
                        if not holds:
                            holds = True
                            added += self._hold(b)
                        batch.append(self._waiting(ts, linktype, b, view, q, q + logged, meta,
                                                   key, note, cut))  # fmt: skip
                elif provider == _NDIS:
                    if eid != NDIS_PACKET_FRAGMENT:
                        if eid == NDIS_VMSWITCH_FRAGMENT:
                            packets += 1
                            self._count("vmswitch")
                        p += (size + 7) & ~7
                        continue
                    packets += 1
                    # TimeStamp, a Python int: the clock's arithmetic on it can pass 64 bits.
                    raw_ts = int(read_i64_le(b, p + 16))
                    # Keyword (0x30) without its top bit, which no test below reads: the
                    # rest fits a machine integer. (Its halves: a mask of 63 bits would be
                    # a Python int, unboxed at every use.)
                    keyword = (i64(read_i32_le(b, p + 48)) & 0xFFFFFFFF) | (
                        i64(read_i32_le(b, p + 52)) & 0x7FFFFFFF
                    ) << 32
                    if (
                        keyword & _NDIS_SIMPLE == _NDIS_WHOLE_PACKET
                        and not partial
                        and q + 12 <= stop
                    ):
                        # The common case since Windows 8.1: a whole Ethernet or IP packet
                        # in one event [E2P]; the rest is in _ndis.
                        # LowerIfIndex and FragmentSize in one read.
                        fields = read_i64_le(b, q + 4)
                        lower = fields & 0xFFFFFFFF
                        length = fields >> 32 & 0xFFFFFFFF
                        q += 12
                        if q + length > stop:
                            self._count("layout")
                            p += (size + 7) & ~7
                            continue
                        linktype = (
                            LINKTYPE_RAW if keyword & KW_MEDIA_WIRELESS_WAN else LINKTYPE_ETHERNET
                        )
                        wire = _inferred_length(b, q, length, linktype)
                        if wire > length:
                            self._truncated += 1
                            self._truncated_snap += 1
                        ts = clock.ns(raw_ts)
                        note = -1 if sink is None else sink.wants(linktype, b, q, q + length)
                        if note == UNWANTED:
                            # Another share's packet (cli/split.py): numbered in its place,
                            # not described.
                            batch.append(self._another(ts, linktype, -1, False))
                            p += (size + 7) & ~7
                            continue
                        ids = read_i64_le(b, p + 8)  # ThreadId, ProcessId
                        meta = metas.of(lower, ids >> 32 & 0xFFFFFFFF, ids & 0xFFFFFFFF,
                                        _ndis_direction(keyword))  # fmt: skip
                        if wire > length:
                            meta = dict(meta)
                            meta["orig_len"] = wire
                        if not holds:
                            holds = True
                            added += self._hold(b)
                        batch.append(self._waiting(ts, linktype, b, view, q, q + length, meta,
                                                   -1, note, False))  # fmt: skip
                    else:
                        added += self._ndis(b, q, stop, cpu, _u32(b, p + 8), _u32(b, p + 12),
                                            raw_ts, keyword, batch)  # fmt: skip
                elif provider == _KERNEL_PROCESS:
                    if eid == 1 or eid == 15:
                        found = _kernel_process(b, q, stop, eid, b[p + 42])  # Version
                        if found is not None:
                            metas.name(found[0], found[1])
                else:
                    guid = _GUID_WORDS.unpack_from(b, p + 24)
                    if len(skipped) < _MAX_PROVIDERS or guid in skipped:
                        skipped[guid] = skipped.get(guid, 0) + 1
                p += (size + 7) & ~7
                continue
            if htype in size_at_4:
                size = word >> 32 & 0xFFFF
            if marker & 0xC0 != 0xC0 or size < min_size.get(htype, 8) or p + size > end:
                self._bad_event(b, p, end, base, file_offset, compressed, size)
                break
            events += 1
            if htype == 0x02 or htype == 0x01:
                hook = word >> 48 & 0xFFFF
                if hook == 0:
                    if not clock.known:
                        (stamp,) = struct.unpack_from("<q", b, p + 16)
                        self._trace_header(b, p + SYSTEM_HEADER_BYTES, p + size, stamp,
                                           8 if htype == 0x02 else 4)  # fmt: skip
                elif hook >> 8 == 0x03 and hook & 0xFF in (1, 3, 4, 39):
                    version = b[p] | b[p + 1] << 8
                    found = _classic_process(b, p + SYSTEM_HEADER_BYTES, p + size, version,
                                             8 if htype == 0x02 else 4)  # fmt: skip
                    if found is not None:
                        metas.name(found[0], found[1])
            elif htype == 0x14 or htype == 0x0A:
                (stamp, g_lo, g_hi) = struct.unpack_from("<qQQ", b, p + 16)
                kind = b[p + 4]
                pointer = 8 if htype == 0x14 else 4
                if g_lo == PROCESS_CLASS_GUID[0] and g_hi == PROCESS_CLASS_GUID[1]:
                    if kind in (1, 3, 4, 39):
                        version = b[p + 6] | b[p + 7] << 8
                        found = _classic_process(b, p + FULL_HEADER_BYTES, p + size, version,
                                                 pointer)  # fmt: skip
                        if found is not None:
                            metas.name(found[0], found[1])
                elif g_lo == EVENT_TRACE_GUID[0] and g_hi == EVENT_TRACE_GUID[1]:
                    if kind == 0 and not clock.known:
                        self._trace_header(b, p + FULL_HEADER_BYTES, p + size, stamp, pointer)
            p += (size + 7) & ~7
        self.events += events
        self.packet_events += packets
        return added

    def _bad_event(
        self, b: bytes, p: int, end: int, base: int, file_offset: int, compressed: bool,
        size: int,
    ) -> None:  # fmt: skip
        """An event header that does not fit: fill bytes after the last event, or damage."""
        rest = bytes(b[p:end])
        if not rest.strip(b"\xff") or not rest.strip(b"\0"):
            return
        marker = b[p + 3]
        if marker & 0xC0 != 0xC0:
            why = f"an event header is invalid (marker byte 0x{marker:02x})"
        else:
            why = f"an event claims {size} bytes"
        self._damaged(file_offset, p - base, compressed, why)

    def _damaged(self, file_offset: int, at: int, compressed: bool, why: str) -> None:
        self._count("damaged")
        where = f"{at} bytes into the events of the compressed buffer" if compressed else ""
        offset = file_offset if compressed else file_offset + BUFFER_HEADER_BYTES + at
        self._problem(
            offset,
            f"{why} {where}".strip()
            + "; the rest of this trace buffer was skipped, the packets before it were read",
        )

    @staticmethod
    def _skip_extended(b: bytes, q: int, stop: int) -> int:
        """Skip the extended data items after an EVENT_HEADER [MS-EXT]; -1 if damaged."""
        for _ in range(64):
            if q + 8 > stop:
                return -1
            linkage = b[q + 4] & 1
            data_size = b[q + 6] | b[q + 7] << 8
            q += 8 + ((data_size + 7) & ~7)
            if not linkage:
                return q if q <= stop else -1
        return -1

    def _trace_header(self, b: bytes, q: int, stop: int, ref: int, pointer: int) -> None:
        """Read the TRACE_LOGFILE_HEADER [MS-TLH] for the clock and the processor count."""
        if q + 0x38 > stop:
            self._once("header", 0, "the trace header event is too short; times may be wrong")
            return
        (_bufsize, version, build, cpus, _end, _timer, _maxsize, _mode, _written, _startbufs,
         pointer_size, _lost, cpu_mhz) = struct.unpack_from("<IIIIqIIIIIIII", b, q)  # fmt: skip
        if pointer_size not in (4, 8):
            pointer_size = pointer
        at = 0x38 + 2 * pointer_size + 172
        at = (at + 7) & ~7
        if q + at + 28 > stop:
            self._once("header", 0, "the trace header event is too short; times may be wrong")
            return
        boot, freq, start, clock = struct.unpack_from("<qqqI", b, q + at)
        self.trace_info = {
            "os_version": version,
            "os_build": build,
            "cpus": cpus,
            "clock": clock,
            "pointer_size": pointer_size,
        }
        if not self._clock.set(clock or 1, ref, start, boot, freq, cpu_mhz):
            self._once(
                "clock",
                0,
                f"the trace header gives no clock frequency (clock type {clock}); packet "
                "times are wrong",
            )

    def _ndis(
        self,
        b: bytes,
        q: int,
        stop: int,
        cpu: int,
        tid: int,
        pid: int,
        raw_ts: int,
        keyword: int,
        batch: list[_Waiting],
    ) -> int:
        """One NDIS-PacketCapture fragment event [E2P]: a whole packet, or part of one.

        Returns the bytes of packet data appended to `batch` (0 while a packet is incomplete).
        """
        if q + 12 > stop:
            self._count("layout")
            return 0
        _miniport, lower, fragment_size = _NDIS_FIELDS.unpack_from(b, q)
        q += 12
        if q + fragment_size > stop:
            self._count("layout")
            return 0
        fragment = b[q : q + fragment_size]
        if keyword & KW_MEDIA_NATIVE_802_11:
            linktype = LINKTYPE_IEEE802_11
        elif keyword & KW_MEDIA_WIRELESS_WAN:
            linktype = LINKTYPE_RAW
        else:
            linktype = LINKTYPE_ETHERNET
        key = (cpu, tid, lower)
        partial = self._partial
        data: bytes | bytearray
        if keyword & KW_PACKET_END:
            held = partial.pop(key, None)
            if held is None:
                data = fragment
            else:
                held[0].extend(fragment)
                data = held[0]
                if len(data) > self.limits.max_packet_bytes:
                    self._count("oversize")
                    return 0
        else:
            # A packet split over several events (systems before Windows 8.1) [E2P].
            held = partial.get(key)
            if held is None or keyword & KW_PACKET_START:
                if held is not None:
                    self._count("layout")
                if len(partial) >= _MAX_PARTIAL:
                    del partial[next(iter(partial))]
                    self._count("layout")
                partial[key] = (bytearray(fragment), raw_ts)
            else:
                held[0].extend(fragment)
                if len(held[0]) > self.limits.max_packet_bytes:
                    del partial[key]
                    self._count("oversize")
            return 0
        frame: bytes
        if linktype == LINKTYPE_IEEE802_11 and len(data) > 1 and data[1] & 0x40:
            # ndiscap logs 802.11 frames decrypted, so the Protected bit is cleared [E2P].
            copy = bytearray(data)
            copy[1] &= 0xBF
            frame = bytes(copy)
        else:
            frame = bytes(data)
        meta = self._metas.of(lower, pid, tid, _ndis_direction(keyword))
        if linktype != LINKTYPE_IEEE802_11:
            wire = _inferred_length(frame, 0, len(frame), linktype)
            if wire > len(frame):
                meta = dict(meta)
                meta["orig_len"] = wire
                self._truncated += 1
                self._truncated_snap += 1
        batch.append(self._waiting(self._clock.ns(raw_ts), linktype, frame, memoryview(frame),
                                   0, len(frame), meta, -1, -1, False))  # fmt: skip
        return len(frame)

    def _waiting(self, ts: i64, linktype: i64, chunk: bytes, view: memoryview, start: i64,
                 stop: i64, meta: dict[str, Any], key: i64, note: i64,
                 cut: bool) -> _Waiting:  # fmt: skip
        """A packet to wait for the merge: the object of a packet given before, filled again
        (making a new one and freeing it once given had cost about 400 instructions a
        packet, filling one again costs about 100), or a new one."""
        spare = self._spare
        if not spare:
            return _Waiting(ts, linktype, chunk, view, start, stop, meta, key, note, cut)
        waiting = spare.pop()
        # Its fields set here, not by a method of `_Waiting`: a call of ten arguments costs
        # 60 instructions.
        waiting.ts = ts
        waiting.linktype = linktype
        waiting.chunk = chunk
        waiting.view = view
        waiting.start = start
        waiting.stop = stop
        waiting.meta = meta
        waiting.key = key
        waiting.note = note
        waiting.cut = cut
        return waiting

    def _another(self, ts: i64, linktype: i64, key: i64, cut: bool) -> _Waiting:
        """Another share's packet (`FrameSink.wants`), waiting in its place: it is numbered
        and its time given to `other`, so its time, link type, identity and whether it was
        cut are all that is read of it. An object given back (`_give_back`) holds no bytes
        and `_OTHER` already, so only those four are set (filling all ten cost 100
        instructions more a packet)."""
        spare = self._spare
        if not spare:
            return _Waiting(ts, linktype, b"", _NO_VIEW, 0, 0, _OTHER, key, -1, cut)
        waiting = spare.pop()
        waiting.ts = ts
        waiting.linktype = linktype
        waiting.key = key
        waiting.cut = cut
        return waiting

    def _give_back(self, entries: list[_Waiting]) -> None:
        """Keep the objects of the packets just given for `_waiting` and `_another` (as
        many as the merge holds at most), and empty `entries`: their chunks are not kept
        while the next packets wait. Every object kept holds no bytes and `_OTHER`, which
        `_another` relies on."""
        spare = self._spare
        if len(spare) < 3 * _WINDOW:
            for entry in entries:
                if entry.meta is not _OTHER:
                    entry.chunk = b""
                    entry.view = _NO_VIEW
                    entry.meta = _OTHER
            spare += entries
        entries.clear()

    def _hold(self, chunk: bytes) -> int:
        """Count `chunk` as kept by waiting packets (`_released`): its size."""
        self._held = chunk
        return len(chunk)
