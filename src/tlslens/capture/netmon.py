"""Microsoft Network Monitor capture files (`.cap`): format 1.x ("RTSS") and 2.x ("GMBU"),
with the per-frame trailers of 2.1, 2.2 and 2.3, per-frame link types, the comment table and
the process table.

Where the facts come from (read for the facts; no code or prose was copied):
  [MS-HDR] Microsoft, "CAPTUREFILE_HEADER_VALUES structure (Netmon.h)",
      https://learn.microsoft.com/windows/win32/netmon2/capturefile-header-values: the header
      fields in order (signature, BCD minor and major version, MAC type, SYSTEMTIME, then
      offset/length pairs starting with the frame table).
  [MS-CFF] Microsoft, "Network Monitor Capture File Format" (shipped with Network Monitor 3.x;
      field notes as quoted by public readers such as BUT Brno's MIT-licensed Ndx
      `PcapNetmonStream.cs`): a 2.x frame is TimeOffsetLocal (u64, microseconds after the
      header's time), FrameLengthWire (u32), FrameLength (u32), the data, then MediaType (u16),
      ProcessInfoIndex (u32, 0xFFFFFFFF when no process is known), TimeStamp (FILETIME, UTC)
      and TimeZoneIndex (u8); the process table is a u16 version then entries of PathSize
      (u32), the UTF-16 path, IconSize (u32), the icon, PID (u32), local and remote port (u16
      each, each padded to 4 bytes), IsIPv6 (u32) and two 16-byte addresses; the comment
      table holds (frames per comment, frame offset, title length, UTF-16 title, description
      length, ASCII RTF description) records keyed by the frame's file offset.
  [WS] Wireshark, wiretap/netmon.c (GPL-2.0-or-later; read, not copied): the 1.x record
      header (u32 milliseconds, u16 wire length, u16 captured length); header fields 48/52
      are the process table's offset and count from format 2.2 on; which minor version
      carries which trailer (2.1: media type; 2.2: + process index; 2.3: + UTC time stamp
      and time-zone index); the media-type to link-type table, 0xE000 | LINKTYPE for frames
      converted from pcap, Message Analyzer's 0xE080-0xE08A, and NetMon's own metadata
      frames (0xFFE0 events, 0xFFFB network info, 0xFFFC-0xFFFE skipped, 0xFFFF filter);
      the 2.x time offset read as "u64 times 10, then signed"; a frame table that can list
      frames out of file order.
  [WS-10190] Wireshark bug 10190, comment 11 (Guy Harris): the 2.x document is ambiguous
      about when the UTC time stamp is present; like Wireshark we use it in every 2.3 file.

Frames are read in frame-table order (the table is the format's list of frames; it can skip
holes and reorder). The table sits at the end of the file, so it is read in chunks through a
second handle while the frames stream through the `source` window; memory does not grow with
the file. A file whose table is missing or damaged (typically one cut short while copying)
is read frame after frame from the end of the header instead, and that is reported.

Time: before format 2.3 the only absolute time is the header's SYSTEMTIME, written in the
capturing machine's local time zone, which the file does not record. Wireshark reads it in
the zone of the machine *reading* the file; we read it as UTC, so a file gives the same times
wherever tlslens runs, and the same as tshark run with TZ=UTC. 2.3 files carry a UTC FILETIME
per frame, which is used instead.

This module may import only `tlslens.capture` and `tlslens.limits`.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, BinaryIO

from tlslens.capture.frame import CaptureError
from tlslens.capture.reader import ReaderBase
from tlslens.capture.source import CHUNK_BYTES, GZIP_MAGIC, ChunkedInput, GzipStream
from tlslens.limits import Limits

MAGIC_1X = b"RTSS"
MAGIC_2X = b"GMBU"
#: The file header, magic included, is padded to 128 bytes [WS]; frames follow it.
HEADER_BYTES = 128

#: Frames NetMon can hold that have no pcap link type (802.11 with NetMon's own radio header,
#: Message Analyzer's WFP captures, NetMon events, network info, filters) get this plus their
#: NetMon media type as `linktype`: above 0xFFFF, so it can never be mistaken for a LINKTYPE_*
#: value, and the frame still counts (frame numbers stay the same as Wireshark's).
NETMON_LINKTYPE_BASE = 0x10000

# Header [MS-HDR]/[WS]: magic, minor, major, MAC type, SYSTEMTIME (8 x u16), then ten u32:
# frame table offset/length, user data offset/length, comment table offset/length, process
# table offset/count (2.2+), network/extended info offset/length.
_HEADER = struct.Struct("<4sBBH8H10I")
_RECORD_1X = struct.Struct("<IHH")  # ms since the header time, wire length, captured length
_RECORD_2X = struct.Struct("<QII")  # us since the header time, wire length, captured length
_TRAILER = struct.Struct("<HIQ")  # media type, process index, UTC FILETIME (2.3)
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_COMMENT_HEAD = struct.Struct("<III")  # frames per comment, frame offset, title length

# 100-ns intervals from 1601-01-01 (FILETIME's epoch) to 1970-01-01.
_FILETIME_1970 = 116_444_736_000_000_000
_NO_PROCESS = 0xFFFFFFFF

# Limits on tables read whole, so a damaged header cannot make us allocate without bound.
_MAX_PROCESSES = 512 * 1024
_MAX_PATH_BYTES = 65536
_MAX_COMMENT_TABLE = 16 * 1024 * 1024
_MAX_TABLE_ENTRIES = 512 * 1024 * 1024  # 32-bit offsets and 8-byte records at least [WS]
_TABLE_CHUNK = 65536  # frame-table entries read at once

# What `_media_linktype` returns for frames that are not yielded.
_SKIP = -1  # NetMon bookkeeping that Wireshark does not show as a frame either
_UNSUPPORTED = -2  # a known media type we cannot hand on (ATM/WAN, IP over 1394, ...)
_INVALID = -3  # not a media type NetMon writes: the record is probably damaged

_MEDIA_NAMES = {
    4: "ATM / NDIS WAN",
    5: "IP over IEEE 1394",
    10: "NDIS wireless WAN",
    11: "NDIS IrDA",
    0xE081: "Message Analyzer NDIS ETW Wi-Fi channel",
    0xE082: "Message Analyzer Fiddler",
    0xE089: "Message Analyzer PEF NDIS",
    0xE08A: "Message Analyzer PEF NDIS Wi-Fi metadata",
}


def is_netmon(head: bytes) -> bool:
    return head[:4] in (MAGIC_1X, MAGIC_2X)


def _media_linktype(media: int) -> int:
    """The link type of a NetMon media type [WS], or _SKIP / _UNSUPPORTED / _INVALID."""
    if media <= 1:
        # 0 is not documented, but NetMon 3.4 VPN captures use it for Ethernet [WS].
        return 1  # LINKTYPE_ETHERNET
    if media == 2:
        return 6  # LINKTYPE_IEEE802_5 (Token Ring)
    if media == 3:
        return 10  # LINKTYPE_FDDI
    if media == 6:
        return NETMON_LINKTYPE_BASE | media  # 802.11 behind NetMon's radio metadata header
    if media in (7, 8, 9):
        # Format 2.x reuses these NDIS codes for tunnels, wireless WAN and raw IP frames [WS].
        return 101  # LINKTYPE_RAW
    if 0xE080 <= media <= 0xE08A:
        # Message Analyzer's exported media types [WS]: 0xE080 is plain 802.11, 0xE083-0xE088
        # are its WFP captures, the rest cannot be handed on.
        if media == 0xE080:
            return 105  # LINKTYPE_IEEE802_11
        if 0xE083 <= media <= 0xE088:
            return NETMON_LINKTYPE_BASE | media
        return _UNSUPPORTED
    if media & 0xF000 == 0xE000:
        # A frame converted from pcap: the low 12 bits are its LINKTYPE_* value [WS].
        return media & 0x0FFF
    if media in (0xFFE0, 0xFFFB, 0xFFFF):
        return NETMON_LINKTYPE_BASE | media  # ETW event, network info, NetMon filter [WS]
    if media in (0xFFFC, 0xFFFD, 0xFFFE):
        return _SKIP  # reassembly payload header, network info, DNS cache [WS]
    if media in _MEDIA_NAMES:
        return _UNSUPPORTED
    return _INVALID


def _utf16(raw: bytes) -> str:
    """A counted UTF-16LE string from the file, cut at its first NUL."""
    return raw.decode("utf-16-le", "replace").split("\0", 1)[0]


class _RandomAccess:
    """Reads byte ranges by file offset: the tables NetMon keeps after the frames, and frames
    the frame table lists before ones already passed. Plain files seek; a gzip-compressed file
    is decompressed from its start again when asked to go backwards (rare)."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._raw: BinaryIO = open(path, "rb")  # noqa: SIM115 - closed by close()
        self.compressed = self._raw.read(2) == GZIP_MAGIC
        self._raw.seek(0)
        self._gzip = GzipStream(self._raw) if self.compressed else None
        self._pos = 0

    def size(self) -> int | None:
        """Size of the file when it is not compressed (None when unknown)."""
        if self.compressed:
            return None
        try:
            return os.fstat(self._raw.fileno()).st_size
        except OSError:
            return None

    def read(self, offset: int, size: int) -> bytes:
        """Up to `size` bytes from `offset` (fewer where the file ends)."""
        try:
            if self._gzip is None:
                self._raw.seek(offset)
                return self._raw.read(size)
            if offset < self._pos:
                self._gzip.close()
                self._raw = open(self._path, "rb")  # noqa: SIM115 - closed by close()
                self._gzip = GzipStream(self._raw)
                self._pos = 0
            while self._pos < offset:
                skipped = self._gzip.read(min(CHUNK_BYTES, offset - self._pos))
                if not skipped:
                    return b""
                self._pos += len(skipped)
            data = self._gzip.read(size)
            self._pos += len(data)
            return data
        except (OSError, ValueError):
            return b""

    def close(self) -> None:
        if self._gzip is not None:
            self._gzip.close()
        else:
            self._raw.close()


class NetmonReader(ReaderBase):
    """Iterates the frames of a Network Monitor capture as `Frame`-ordered tuples."""

    format_name = "netmon2"

    def __init__(self, source: ChunkedInput, limits: Limits) -> None:
        super().__init__(source, limits)
        self._random: _RandomAccess | None = None
        self._tables: _RandomAccess | None = None
        try:
            self._open()
        except BaseException:
            source.close()
            raise
        finally:
            # Handles are opened again when iteration starts, so a reader that is never
            # iterated holds no file but `source` open.
            self._close_handles()

    # -- opening -------------------------------------------------------------------------

    def _open(self) -> None:
        source = self.source
        path = source.path
        if len(source.buf) < HEADER_BYTES:
            source.refill(0, HEADER_BYTES)
        buf = source.buf
        cut = CaptureError(
            path,
            f"file ends inside the {HEADER_BYTES}-byte Network Monitor file header "
            f"({len(buf)} bytes); the file was cut short or is not a capture",
        )
        if len(buf) < _HEADER.size:
            raise cut
        fields = _HEADER.unpack_from(buf)
        # editcap writes a capture without frames as the header's fields alone (64 bytes):
        # an empty capture, not a damaged one. Anything else needs the whole header.
        if len(buf) < HEADER_BYTES and fields[13] != 0:
            raise cut
        _magic, minor, major, network = fields[:4]
        year, month, _dow, day, hour, minute, second, msec = fields[4:12]
        (table_offset, table_length, user_offset, _user_length, comment_offset, comment_length,
         process_offset, process_count, info_offset, _info_length) = fields[12:]  # fmt: skip
        if major not in (1, 2):
            raise CaptureError(
                path,
                f"this Network Monitor capture says it is format {major}.{minor}; tlslens reads "
                "formats 1.x and 2.x (open it in Network Monitor or Wireshark and save it as "
                "pcapng)",
            )
        self.version = (major, minor)
        self.format_name = f"netmon{major}"
        self._major = major
        self._record = _RECORD_1X if major == 1 else _RECORD_2X
        self._header_len = self._record.size
        # Trailer after each frame's data [WS]/[WS-10190]: 2.1 media type; 2.2 + process
        # index; 2.3 and later + UTC FILETIME and time-zone index.
        if major == 1 or minor == 0:
            self._trailer_len = 0
        elif minor == 1:
            self._trailer_len = 2
        elif minor == 2:
            self._trailer_len = 6
        else:
            self._trailer_len = 15
        self._max_len = self.limits.max_packet_bytes
        # From 2.1 on the link type is per frame and the header's is a placeholder (NetMon 3
        # writes 1) [WS]; before, the header's applies to every frame.
        self.linktype = _media_linktype(network)
        if self._trailer_len == 0 and not 0 <= self.linktype < NETMON_LINKTYPE_BASE:
            what = _MEDIA_NAMES.get(network, f"media type {network}")
            raise CaptureError(
                path,
                f"this Network Monitor capture holds {what} frames, which tlslens cannot "
                "decode; open it in Network Monitor or Wireshark and save it as pcapng",
            )
        self._start_ns = 0
        #: Said once frames are read that needed the header's time (none in an empty file).
        self._bad_start: str | None = None
        if self._trailer_len < 15:
            try:
                start = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
                self._start_ns = int(start.timestamp()) * 1_000_000_000 + msec * 1_000_000
            except (ValueError, OverflowError):
                self._bad_start = (
                    f"the capture start time in the file header ({year}-{month}-{day} "
                    f"{hour}:{minute}:{second}) is not a date; times are counted from 1970"
                )
        self._tables = _RandomAccess(path)
        size = self._tables.size()
        self._comments: dict[int, list[str]] = {}
        self._processes: list[tuple[int, str]] = []
        # Tables the end of the file cuts into: (offset, name, what is lost). When the frame
        # table is gone too, the file was cut short and one problem says all of it.
        self._cut_tables: list[tuple[int, str, str]] = []
        if major == 2 and minor >= 2:
            # Earlier versions leave these fields uninitialised [WS].
            if comment_length:
                self._read_comments(comment_offset, comment_length)
            if process_offset and process_count:
                self._read_processes(process_offset, process_count)
        self._stops = {
            o for o in (table_offset, user_offset, comment_offset, process_offset, info_offset)
            if o >= HEADER_BYTES
        }  # fmt: skip
        self._table_offset = table_offset
        self._entries = table_length // 4
        self._size = size
        why = self._table_trouble(table_offset, table_length, size)
        self._walk_reason = why
        if why is None:
            for where, name, lost in self._cut_tables:
                self._problem(where, f"the {name} runs past the end of the file; {lost}")
            return
        # No usable frame table: frames will be read in file order. Unless the first one is
        # there, nothing can be read.
        first = self._fetch_record(HEADER_BYTES, walking=True)
        if why == "" and first == "end":
            self._walk_reason = None  # an empty capture: no frames, no table, nothing wrong
            return
        if isinstance(first, str) or not self._plausible(first[0], first[1], first[3], first[4]):
            detail = why or "its frame table is empty"
            raise CaptureError(
                path,
                f"this Network Monitor capture cannot be read: {detail}, and no complete frame "
                f"follows the {HEADER_BYTES}-byte header; the file is damaged or was cut short",
            )
        self._walk_reason = why or "the header lists no frames, yet frames follow it"
        if self._cut_tables:
            names = " and the ".join(name for _where, name, _lost in self._cut_tables)
            self._walk_reason += f" (the {names} {'is' if len(self._cut_tables) == 1 else 'are'}"
            self._walk_reason += " cut off too)"

    def _table_trouble(self, offset: int, length: int, size: int | None) -> str | None:
        """None when the frame table can be used; else why not ("" for an empty table)."""
        if length == 0:
            return ""
        entries = length // 4
        if length % 4:
            return f"its frame table length {length} is not a multiple of 4"
        if offset < HEADER_BYTES:
            return f"its frame table offset {offset} lies inside the file header"
        if entries > _MAX_TABLE_ENTRIES or (size is not None and length > size):
            return f"its frame table claims {entries} frames, more than the file can hold"
        assert self._tables is not None
        if len(self._tables.read(offset + length - 4, 4)) < 4:
            where = f" ({size} bytes)" if size is not None else ""
            return (
                f"its frame table (offset {offset}, {entries} entries) lies beyond the end of "
                f"the file{where}: the file was cut short or its header is damaged"
            )
        return None

    def _read_comments(self, offset: int, length: int) -> None:
        """Frame comments [MS-CFF]/[WS], keyed by the frame's file offset."""
        assert self._tables is not None
        if length > _MAX_COMMENT_TABLE:
            self._problem(40, f"the comment table claims {length} bytes; comments are ignored")
            return
        data = self._tables.read(offset, length)
        pos, count = 0, 0
        while len(data) - pos > 16:
            _frames, frame_offset, title_len = _COMMENT_HEAD.unpack_from(data, pos)
            end = pos + 12 + title_len
            desc_len = _U32.unpack_from(data, end)[0] if end + 4 <= len(data) else 0
            if title_len == 0 or end + 4 + desc_len > len(data):
                break
            title = _utf16(data[pos + 12 : end])
            # The description is RTF, as ASCII bytes [MS-CFF]; it is kept as written.
            desc = data[end + 4 : end + 4 + desc_len].decode("ascii", "replace").rstrip("\0")
            texts = [t for t in (title, desc) if t]
            if texts:
                self._comments.setdefault(frame_offset, []).extend(texts)
            pos = end + 4 + desc_len
            count += 1
        if len(data) < length:
            lost = f"comments after the first {count} are ignored"
            self._cut_tables.append((offset, "comment table", lost))
        elif len(data) - pos > 16:
            self._problem(
                offset + pos,
                f"comment {count + 1} in the comment table is damaged; it and later comments "
                "are ignored",
            )

    def _read_processes(self, offset: int, count: int) -> None:
        """The process table [MS-CFF]/[WS]: a u16 version, then `count` entries."""
        assert self._tables is not None
        if count > _MAX_PROCESSES:
            self._problem(52, f"the process table claims {count} entries; it is ignored")
            return
        read = self._tables.read
        pos = offset + 2
        lost = "frames of entry {n} and later processes have no process information"
        for n in range(1, count + 1):
            head = read(pos, 4)
            (path_size,) = _U32.unpack_from(head) if len(head) == 4 else (0,)
            if path_size > _MAX_PATH_BYTES:
                self._problem(
                    pos,
                    f"the process table is damaged at entry {n} (a {path_size}-byte path); "
                    + lost.format(n=n),
                )
                return
            raw_path = read(pos + 4, path_size)
            icon = read(pos + 4 + path_size, 4)
            (icon_size,) = _U32.unpack_from(icon) if len(icon) == 4 else (0,)
            # The icon is skipped unread; PID, ports, IsIPv6 and two addresses follow it.
            tail = read(pos + 8 + path_size + icon_size, 48)
            if len(head) < 4 or len(raw_path) < path_size or len(icon) < 4 or len(tail) < 48:
                self._cut_tables.append((pos, "process table", lost.format(n=n)))
                return
            pos += 8 + path_size + icon_size
            (pid,) = _U32.unpack_from(tail)
            self._processes.append((pid, _utf16(raw_path)))
            pos += 48

    # -- reading -------------------------------------------------------------------------

    def _random_access(self) -> _RandomAccess:
        if self._random is None:
            self._random = _RandomAccess(self.source.path)
        return self._random

    def _close_handles(self) -> None:
        for handle in (self._random, self._tables):
            if handle is not None:
                handle.close()
        self._random = self._tables = None

    def _fetch(self, offset: int, need: int) -> tuple[memoryview, int]:
        """(buffer, position) holding the file's bytes from `offset`, `need` of them unless the
        file ends first. Moves the streaming window forward; earlier bytes are read again
        through a second handle."""
        source = self.source
        if offset < source.base:
            return memoryview(self._random_access().read(offset, need)), 0
        buf = source.buf
        while offset >= source.base + len(buf) and not source.eof:
            source.refill(len(buf), 1)
            buf = source.buf
        pos = offset - source.base
        if pos + need > len(buf) and not source.eof:
            pos = source.refill(pos, need)
            buf = source.buf
        return buf, pos

    def _fetch_record(
        self, offset: int, walking: bool = False
    ) -> tuple[memoryview, int, int, int, int] | str:
        """(buffer, position, time offset, wire length, captured length) of the whole record
        at `offset`, or "end" (no bytes there), "cut" (the file ends inside it), "absurd" (a
        captured length over the limit) or, when `walking`, "odd" (lengths no frame has:
        nothing on the wire, or more captured than that)."""
        header_len = self._header_len
        buf, pos = self._fetch(offset, header_len)
        if len(buf) - pos < header_len:
            return "cut" if len(buf) > pos else "end"
        delta, orig, incl = self._record.unpack_from(buf, pos)
        if walking and (orig == 0 or incl > orig):
            return "odd"
        if incl > self._max_len:
            return "absurd"
        total = header_len + incl + self._trailer_len
        if len(buf) - pos < total:
            buf, pos = self._fetch(offset, total)
            if len(buf) - pos < total:
                return "cut"
        return buf, pos, delta, orig, incl

    def _plausible(self, buf: memoryview, pos: int, orig: int, incl: int) -> bool:
        """Whether a whole record met while walking the file looks like a frame: something on
        the wire, no more captured than that, and (2.1+) a media type NetMon writes."""
        if orig == 0 or incl > orig:
            return False
        if self._trailer_len:
            (media,) = _U16.unpack_from(buf, pos + self._header_len + incl)
            return _media_linktype(media) != _INVALID
        return True

    def __iter__(self) -> Iterator[tuple[int, int, int, memoryview, dict[str, Any] | None]]:
        # Per-kind counts of skipped frames: kind -> [count, (offset, entry, value) of the
        # first], reported as one problem per kind when reading ends.
        skipped: dict[str, list[Any]] = {}
        self._index = 0
        self._truncated = 0
        try:
            if self._walk_reason is None:
                yield from self._by_table(skipped)
            else:
                yield from self._by_walk()
        finally:
            self.frames_read = self._index
            self.truncated_frames = self._truncated
            if self._bad_start and self._index:
                self._problem(8, self._bad_start)
            self._report_skipped(skipped)
            self._close_handles()
            self.source.check()  # a mapped file that shrank (source.py)
            if self.source.error:
                self._problem(self.source.base, self.source.error)

    def _table_entries(self) -> Iterator[int]:
        self._tables = _RandomAccess(self.source.path)
        offset = self._table_offset
        left = self._entries
        while left:
            n = min(left, _TABLE_CHUNK)
            data = self._tables.read(offset, 4 * n)
            n = len(data) // 4
            if n == 0:
                return
            yield from struct.unpack_from(f"<{n}I", data)
            offset += 4 * n
            left -= n

    def _by_table(
        self, skipped: dict[str, list[Any]]
    ) -> Iterator[tuple[int, int, int, memoryview, dict[str, Any] | None]]:
        size = self._size
        for entry, offset in enumerate(self._table_entries(), start=1):
            # Problems name the entry's own place in the file and the offset it gives.
            where = (self._table_offset + 4 * (entry - 1), entry, offset)
            if offset < HEADER_BYTES or (size is not None and offset >= size):
                _count(skipped, "outside", where)
                continue
            rec = self._fetch_record(offset)
            if isinstance(rec, str):
                _count(skipped, "outside" if rec == "end" else rec, where)
                continue
            frame = self._frame(offset, *rec, skipped)
            if frame is not None:
                yield frame

    def _at_frame_table(self, offset: int, walked: list[int]) -> bool:
        """Whether the bytes at `offset` start the frame table: the offsets of the records
        walked so far, in order. A record cannot begin that way by chance (its first bytes
        would be a time offset equal to 128 and lengths equal to the second frame's offset),
        so this finds a table the header's offset no longer points at. After one frame, only
        a table of exactly one entry at the very end of the file counts."""
        buf, pos = self._fetch(offset, 8)
        have = len(buf) - pos
        if len(walked) == 1:
            return have == 4 and _U32.unpack_from(buf, pos)[0] == walked[0]
        return have >= 8 and list(struct.unpack_from("<2I", buf, pos)) == walked

    def _by_walk(self) -> Iterator[tuple[int, int, int, memoryview, dict[str, Any] | None]]:
        offset = HEADER_BYTES
        ending = "then the file ends"
        seen: dict[str, list[Any]] = {}
        walked: list[int] = []  # offsets of the first two records
        try:
            while offset not in self._stops or offset == HEADER_BYTES:
                if walked and self._at_frame_table(offset, walked):
                    ending = "up to the frame table"
                    break
                rec = self._fetch_record(offset, walking=True)
                if rec == "end":
                    break
                if rec == "cut":
                    ending = f"then the file ends inside frame {self._index + 1}"
                    break
                if isinstance(rec, str) or not self._plausible(rec[0], rec[1], rec[3], rec[4]):
                    ending = f"then bytes at offset {offset} that are not a frame; reading stopped"
                    break
                frame = self._frame(offset, *rec, seen)
                if frame is not None:
                    yield frame
                if len(walked) < 2:
                    walked.append(offset)
                offset += self._header_len + rec[4] + self._trailer_len
            else:
                ending = "up to the next table in the file"
        finally:
            self._problem(
                HEADER_BYTES,
                f"this Network Monitor capture has no usable frame table: {self._walk_reason}; "
                f"frames were read in file order instead: {self._index} frame(s), {ending}",
            )
            self._report_skipped(seen)

    def _frame(
        self,
        offset: int,
        buf: memoryview,
        pos: int,
        delta: int,
        orig: int,
        incl: int,
        skipped: dict[str, list[Any]],
    ) -> tuple[int, int, int, memoryview, dict[str, Any] | None] | None:
        start = pos + self._header_len
        stop = start + incl
        linktype = self.linktype
        meta: dict[str, Any] | None = None
        if self._major == 1:
            ts_ns = self._start_ns + delta * 1_000_000
        else:
            # Microsoft calls the offset unsigned microseconds, yet it can be negative: read it
            # as u64, multiply by 10 and take the result as signed 100-ns units [WS].
            ticks = (delta * 10) & 0xFFFF_FFFF_FFFF_FFFF
            if ticks >= 1 << 63:
                ticks -= 1 << 64
            ts_ns = self._start_ns + ticks * 100
        trailer_len = self._trailer_len
        if trailer_len:
            if trailer_len == 15:
                media, process, filetime = _TRAILER.unpack_from(buf, stop)
                ts_ns = (filetime - _FILETIME_1970) * 100
            elif trailer_len == 6:
                media, process = struct.unpack_from("<HI", buf, stop)
            else:
                (media,) = _U16.unpack_from(buf, stop)
                process = _NO_PROCESS
            linktype = _media_linktype(media)
            if linktype < 0:
                if linktype != _SKIP:
                    _count(skipped, "media", (offset, 0, media))
                return None
            if process != _NO_PROCESS and process < len(self._processes):
                pid, path = self._processes[process]
                name = path.replace("/", "\\").rsplit("\\", 1)[-1]
                meta = {"pid": pid, "process_name": name, "process_path": path,
                        "pid_source": "netmon_process_table"}  # fmt: skip
        comments = self._comments.get(offset) if self._comments else None
        if comments:
            meta = meta or {}
            meta["comments"] = list(comments)
        if incl < orig:
            self._truncated += 1
            meta = meta or {}
            meta["orig_len"] = orig
        self._index += 1
        return (self._index, ts_ns, linktype, buf[start:stop], meta)

    def _report_skipped(self, skipped: dict[str, list[Any]]) -> None:
        for kind, (count, (offset, entry, value)) in skipped.items():
            first = f"first: entry {entry}, which gives offset {value}"
            if kind == "media":
                what = _MEDIA_NAMES.get(value, f"media type 0x{value:04x}")
                message = (
                    f"{count} frame(s) hold {what} data, which tlslens cannot decode; "
                    "they were skipped"
                )
            elif kind == "outside":
                message = (
                    f"{count} frame-table {'entry points' if count == 1 else 'entries point'} "
                    f"outside the file's frames ({first}); those frames were skipped"
                )
            elif kind == "cut":
                message = (
                    f"{count} frame(s) the frame table lists run past the end of the file "
                    f"({first}); they were skipped"
                )
            else:
                message = (
                    f"{count} frame(s) the frame table lists claim more than {self._max_len} "
                    f"bytes ({first}): the file is damaged there; they were skipped"
                )
            self._problem(offset, message)
        skipped.clear()


def _count(skipped: dict[str, list[Any]], kind: str, where: tuple[int, int, int]) -> None:
    """Count a skipped frame of one kind, remembering (problem offset, entry, value) of the
    first."""
    seen = skipped.get(kind)
    if seen is None:
        skipped[kind] = [1, where]
    else:
        seen[0] += 1
