"""Build synthetic Windows ETL traces for the ETL reader's tests.

Our own code, written from the public facts the reader cites (see the docstring of
`tlslens.capture.etl`); no bytes are copied from any real trace. It writes what `netsh trace`
and `pktmon` write as far as the reader cares: a first buffer holding the trace header event,
then per-processor buffers of NDIS-PacketCapture or PktMon packet events, process events of
the NT Kernel Logger and of Microsoft-Windows-Kernel-Process, events of other providers, and
optionally buffers compressed with [MS-XCA] plain LZ77 (the compressor is here too).
"""

from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass, field

BUFFER_HEADER = struct.Struct("<IIIiqqQHHIIHH")  # 0x38 bytes, then 16 bytes of padding
EVENT_HEADER = struct.Struct("<HBBHHIIqQQHBBBBHQ")  # 56 bytes, then ProcessorTime, ActivityId
FILETIME_UNIX_EPOCH = 116_444_736_000_000_000

NDIS = "2ED6006E-4729-4609-B423-3EE7BCD678EF"
PKTMON = "4D4F80D9-C8BD-4D73-BB5B-19C90402C5AC"
KERNEL_PROCESS = "22FB2CD6-0E7B-422B-A0C7-2FAD1FD0E716"
PROCESS_CLASS = "3D6FA8D0-FE05-11D0-9DDA-00C04FD7BA7C"

KW_MEDIA_WIRELESS_WAN = 0x200
KW_MEDIA_NATIVE_802_11 = 0x10000
KW_PACKET_START = 0x40000000
KW_PACKET_END = 0x80000000
KW_SEND = 0x100000000
KW_RECEIVE = 0x200000000


def guid_words(text: str) -> tuple[int, int]:
    lo, hi = struct.unpack("<QQ", uuid.UUID(text).bytes_le)
    return lo, hi


def pad8(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 8)


def sid(*sub: int) -> bytes:
    """A SID S-1-5-sub...: revision, count, 6-byte authority, sub-authorities."""
    return (
        bytes([1, len(sub)]) + (5).to_bytes(6, "big") + b"".join(struct.pack("<I", s) for s in sub)
    )


def xpress_compress(data: bytes) -> bytes:
    """[MS-XCA] 2.3 plain LZ77, greedy with a 3-byte hash: enough to exercise every length
    encoding of the decompressor (short, half-byte, byte, u16 and u32 lengths)."""
    out = bytearray()
    flags = 0
    count = 0
    flag_pos = len(out)
    out += b"\0\0\0\0"
    half_pos = -1
    table: dict[bytes, int] = {}
    i = 0
    n = len(data)

    def flag(bit: int) -> None:
        nonlocal flags, count, flag_pos
        if count == 32:
            struct.pack_into("<I", out, flag_pos, flags)
            flag_pos = len(out)
            out.extend(b"\0\0\0\0")
            flags = 0
            count = 0
        flags = (flags << 1) | bit
        count += 1

    while i < n:
        key = data[i : i + 3]
        cand = table.get(key, -1) if len(key) == 3 else -1
        table[key] = i
        length = 0
        if cand >= 0 and i - cand <= 8192:
            limit = n - i
            while length < limit and data[cand + length] == data[i + length]:
                length += 1
        if length < 3:
            flag(0)
            out.append(data[i])
            i += 1
            continue
        # Reserve the flag bit before writing the token: a new flag word may start here.
        flag(1)
        distance = i - cand
        extra = length - 3
        token = (distance - 1) << 3
        if extra < 7:
            out += struct.pack("<H", token | extra)
        else:
            out += struct.pack("<H", token | 7)
            more = extra - 7
            nibble = min(more, 15)
            if half_pos < 0:
                half_pos = len(out)
                out.append(nibble)
            else:
                out[half_pos] |= nibble << 4
                half_pos = -1
            if more >= 15:
                if extra - 22 < 255:
                    out.append(extra - 22)
                else:
                    out.append(255)
                    if extra < 0x10000:
                        out += struct.pack("<H", extra)
                    else:
                        out += struct.pack("<HI", 0, extra)
        for k in range(i + 1, min(i + length, n - 2)):
            table[data[k : k + 3]] = k
        i += length
    # The unused flag bits are set, as the specification's compressor leaves them.
    flags = (flags << (32 - count)) | ((1 << (32 - count)) - 1)
    struct.pack_into("<I", out, flag_pos, flags & 0xFFFFFFFF)
    return bytes(out)


@dataclass
class _Pending:
    events: list[bytes] = field(default_factory=list)
    used: int = 0


@dataclass
class EtlWriter:
    """Collects events per processor and lays them out in trace buffers.

    Times are given in UTC nanoseconds since 1970 and stored in the trace's clock: QPC ticks
    at `frequency` Hz counted from `start_ns` (clock 1), or FILETIMEs (clock 2).
    """

    buffer_size: int = 0x4000
    compress: bool = False
    pointer_size: int = 8
    clock: int = 1
    frequency: int = 10_000_000
    start_ns: int = 1_700_000_000 * 10**9
    start_ticks: int = 123_456_789_000
    cpus: int = 4
    build: int = 19041
    #: Offset of the processor field: False writes ProcessorNumber as a byte (no 0x20 flag).
    processor_index: bool = True
    buffers: list[bytes] = field(default_factory=list)
    _pending: dict[int, _Pending] = field(default_factory=dict)
    _sequence: int = 0

    def __post_init__(self) -> None:
        self.buffers.append(self._header_buffer())

    # -- time ---------------------------------------------------------------------------

    def ticks(self, ts_ns: int) -> int:
        if self.clock == 2:
            return ts_ns // 100 + FILETIME_UNIX_EPOCH
        return self.start_ticks + (ts_ns - self.start_ns) * self.frequency // 10**9

    # -- buffers ------------------------------------------------------------------------

    def _buffer(self, body: bytes, cpu: int, buffer_type: int = 0, flag: int = 0) -> bytes:
        self._sequence += 1
        offset = 0x48 + len(body)
        flag |= 0x20 if self.processor_index else 0
        context = cpu if self.processor_index else cpu & 0xFF
        if self.compress and buffer_type != 4:
            packed = xpress_compress(body)
            size = 0x48 + len(packed)
            head = BUFFER_HEADER.pack(size, offset, offset, 0, 0, self._sequence, 0, context,
                                      2, 3, offset, flag | 0x40, buffer_type)  # fmt: skip
            return head + b"\0" * 16 + packed
        size = self.buffer_size
        assert offset <= size, "event too big for the buffer"
        head = BUFFER_HEADER.pack(size, offset, offset, 0, 0, self._sequence, 0, context, 2, 3,
                                  offset, flag, buffer_type)  # fmt: skip
        return head + b"\0" * 16 + body + b"\xff" * (size - offset)

    def _header_buffer(self) -> bytes:
        ptr = self.pointer_size
        start_filetime = self.start_ns // 100 + FILETIME_UNIX_EPOCH
        fixed = struct.pack(
            "<IIIIqIIIIIIII",
            self.buffer_size,
            0x0002000A,  # Windows 10.0
            self.build,
            self.cpus,
            0,
            156_250,  # TimerResolution: 15.625 ms in 100-ns units
            512,
            0x00010001,
            len(self.buffers) + 1,
            1,
            ptr,
            0,
            2_600,
        )
        names = b"\0" * (2 * ptr)
        timezone = b"\0" * 172
        body = fixed + names + timezone
        body += b"\0" * (-len(body) % 8)
        boot = start_filetime - 36_000_000_000  # booted an hour before the trace
        body += struct.pack("<qqqII", boot, self.frequency, start_filetime, self.clock, 0)
        body += "Synthetic\0".encode("utf-16-le") + "C:\\trace.etl\0".encode("utf-16-le")
        event = self.system_event(2, 0x0000, body, self.start_ticks, pid=4, tid=8)
        return self._buffer(pad8(event), 0, buffer_type=4, flag=1)

    def _add(self, cpu: int, event: bytes) -> None:
        event = pad8(event)
        pending = self._pending.setdefault(cpu, _Pending())
        if pending.used + len(event) > self.buffer_size - 0x48:
            self.flush(cpu)
            pending = self._pending.setdefault(cpu, _Pending())
        pending.events.append(event)
        pending.used += len(event)

    def flush(self, cpu: int) -> None:
        pending = self._pending.pop(cpu, None)
        if pending and pending.events:
            self.buffers.append(self._buffer(b"".join(pending.events), cpu))

    def to_bytes(self) -> bytes:
        for cpu in sorted(self._pending):
            self.flush(cpu)
        return b"".join(self.buffers)

    # -- events -------------------------------------------------------------------------

    def system_event(
        self, version: int, hook: int, body: bytes, ticks: int, *, pid: int = 0, tid: int = 0
    ) -> bytes:
        htype = 2 if self.pointer_size == 8 else 1
        size = 32 + len(body)
        return struct.pack("<HBBHHIIqII", version, htype, 0xC0, size, hook, tid, pid, ticks, 0,
                           0) + body  # fmt: skip

    def event(
        self,
        provider: str,
        event_id: int,
        payload: bytes,
        ts_ns: int,
        *,
        pid: int = 0,
        tid: int = 0,
        version: int = 0,
        keyword: int = 0,
        extended: list[tuple[int, bytes]] | None = None,
        cpu: int = 0,
    ) -> None:
        """An EVENT_HEADER event; `extended` items follow the header when given."""
        lo, hi = guid_words(provider)
        ext = b""
        flags = 0x0040  # 64-bit header
        if extended:
            flags |= 0x0001
            for k, (ext_type, data) in enumerate(extended):
                linkage = 1 if k + 1 < len(extended) else 0
                ext += struct.pack("<HHHH", 8 + len(data), ext_type, linkage, len(data))
                ext += pad8(data)
        size = 80 + len(ext) + len(payload)
        header = EVENT_HEADER.pack(size, 0x13, 0xC0, flags, 0, tid, pid, self.ticks(ts_ns), lo,
                                   hi, event_id, version, 0, 4, 0, 0, keyword)  # fmt: skip
        self._add(cpu, header + b"\0" * 24 + ext + payload)

    def ndis(
        self,
        data: bytes,
        ts_ns: int,
        *,
        pid: int = 0,
        tid: int = 0,
        media: str = "ethernet",
        send: bool = True,
        fragments: int = 1,
        ifindex: int = 7,
        cpu: int = 0,
        gft: bool = False,
    ) -> None:
        """One packet as NDIS-PacketCapture event(s) 1001, split into `fragments` events."""
        keyword = KW_SEND if send else KW_RECEIVE
        keyword |= {"ethernet": 1, "raw": KW_MEDIA_WIRELESS_WAN, "wifi": KW_MEDIA_NATIVE_802_11}[
            media
        ]
        step = max(1, -(-len(data) // fragments))
        pieces = [data[k : k + step] for k in range(0, len(data), step)] or [b""]
        for k, piece in enumerate(pieces):
            kw = keyword
            if k == 0:
                kw |= KW_PACKET_START
            if k == len(pieces) - 1:
                kw |= KW_PACKET_END
            payload = struct.pack("<III", ifindex, ifindex, len(piece)) + piece
            if gft:
                payload += struct.pack("<QQ", 0, 0)  # GftFlowEntryId, GftOffloadInformation
            self.event(NDIS, 1001, payload, ts_ns, pid=pid, tid=tid, keyword=kw, cpu=cpu)

    def pktmon(
        self,
        data: bytes,
        ts_ns: int,
        *,
        group: int,
        number: int = 1,
        appearance: int = 1,
        direction: int = 4,
        component: int = 10,
        packet_type: int = 1,
        original: int | None = None,
        drop: bool = False,
        pid: int = 0,
        tid: int = 0,
        cpu: int = 0,
    ) -> None:
        """One appearance of a packet as a PktMon event 160 (or 170 for a drop)."""
        original = len(data) if original is None else original
        fields = struct.pack("<QHHHHHHHIIHH", group, number, appearance, direction,
                             packet_type, component, 1, 0, 7 if drop else 0,
                             0xE0003 if drop else 0, original, len(data))  # fmt: skip
        self.event(PKTMON, 170 if drop else 160, fields + data, ts_ns, pid=pid, tid=tid,
                   keyword=0x10, cpu=cpu)  # fmt: skip

    def classic_process(
        self,
        pid: int,
        image: str,
        ts_ns: int,
        *,
        kind: int = 3,
        with_sid: bool = True,
        cpu: int = 0,
    ) -> None:
        """An NT Kernel Logger process event, version 4 (kind 1 start, 3 rundown start)."""
        ptr = self.pointer_size
        pointer = "<Q" if ptr == 8 else "<I"
        body = struct.pack(pointer, 0xFFFF_8000_1234_0000 & (2 ** (8 * ptr) - 1))
        body += struct.pack("<IIIi", pid, 4, 1, 0)
        body += struct.pack(pointer, 0x1AB000)
        body += struct.pack("<I", 0)  # Flags
        if with_sid:
            body += struct.pack(pointer, 0x1234) + struct.pack(pointer, 0) + sid(21, 1, 2, 3, 1001)
        else:
            body += struct.pack("<I", 0)
        body += image.encode("latin-1") + b"\0"
        body += f"{image} --serve\0".encode("utf-16-le") + "\0".encode("utf-16-le") * 2
        hook = 0x0300 | kind
        self._add(cpu, self.system_event(4, hook, body, self.ticks(ts_ns), pid=pid, tid=1))

    def kernel_process(
        self, pid: int, image_path: str, ts_ns: int, *, event_id: int = 15, version: int = 1,
        cpu: int = 0
    ) -> None:  # fmt: skip
        """A Microsoft-Windows-Kernel-Process ProcessStart (1) or ProcessRundown (15)."""
        later = (event_id == 1 and version >= 3) or (event_id == 15 and version >= 1)
        create = ts_ns // 100 + FILETIME_UNIX_EPOCH - 10_000_000
        if later:
            body = struct.pack("<IQQIQIIII", pid, 77, create, 4, 1, 1, 0, 1, 0) + sid(16, 12288)
        elif event_id == 1 and version == 0:
            body = struct.pack("<IQII", pid, create, 4, 1)
        else:
            body = struct.pack("<IQIII", pid, create, 4, 1, 0)
        body += (image_path + "\0").encode("utf-16-le") + struct.pack("<II", 0, 0)
        body += "\0".encode("utf-16-le") * 2
        self.event(KERNEL_PROCESS, event_id, body, ts_ns, pid=pid, tid=1, version=version,
                   keyword=0x10, cpu=cpu)  # fmt: skip

    def other(self, ts_ns: int, *, cpu: int = 0, size: int = 40) -> None:
        """An event of a provider that carries no packets."""
        self.event("11111111-2222-3333-4444-555555555555", 7, bytes(range(size)), ts_ns, cpu=cpu)
