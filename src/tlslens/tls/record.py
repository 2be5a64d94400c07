"""The TLS record layer of one direction: find record boundaries in a byte stream.

Fed stream bytes in order (`feed`) and told about missing bytes (`gap`), it calls its sink's
`record(content_type, version, length, fragment, offset, first_frame, last_frame)` once per
complete record (`RecordSink`: compiled, a call through the method table, where a callback
was a generic call through a `functools.partial`). Application-data records are never
copied: their bodies are skipped by arithmetic, so an encrypted bulk transfer costs one call
per segment and no allocation (DESIGN.md, "speed is a design property"); `fragment` is None
for them. Every other record's fragment is handed over as bytes, together with the frames
that carried its first and last byte (the evidence later layers cite). A segment that holds
a record header is copied once to bytes, which compiled code indexes directly.

Record header: RFC 8446 5.1 / RFC 5246 6.2.1 (type, legacy version, 16-bit length). The SSL
2.0 record header (RFC 6101 appendix E, 2 bytes with the high bit set) is accepted for the
first record of a direction only, where old clients put their SSL 2.0-format hello.
This module imports only `tlslens.tls`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from mypy_extensions import i64  # a machine integer when compiled (see tls.wire)

CHANGE_CIPHER_SPEC: Final = 20
ALERT: Final = 21
HANDSHAKE: Final = 22
APPLICATION_DATA: Final = 23
HEARTBEAT: Final = 24
TLS12_CID: Final = 25
#: Pseudo content type for an SSL 2.0-format record (not a TLS code point).
SSL2_RECORD: Final = 0x100

#: What `feed` returns for a direction that is no longer parsed: skip everything.
SKIP_ALL: Final = 1 << 62

#: TLSPlaintext.length must not exceed 2^14 (RFC 8446 5.1); TLSCiphertext may add 2048
#: (RFC 5246 6.2.3; TLS 1.3 allows 256, RFC 8446 5.2).
MAX_PLAINTEXT: Final = 1 << 14
MAX_CIPHERTEXT: Final = (1 << 14) + 2048


class RecordSink:
    """Receives what a `RecordLayer` finds. Subclasses define both methods."""

    def record(self, content_type: int, version: int, length: int, fragment: bytes | None,
               offset: int, first_frame: int, last_frame: int) -> None:  # fmt: skip
        """A complete record at stream `offset`; `fragment` is its body, or None for
        application data (never copied)."""
        raise NotImplementedError

    def anomaly(self, offset: int, frame: int, message: str) -> None:
        """Something about the framing worth telling, in one sentence."""
        raise NotImplementedError


def plausible_header(data: bytes | memoryview, pos: int = 0) -> bool:
    """True if a TLS record header could start at `pos`: known type, version 3.x, length
    within the ciphertext limit."""
    if len(data) - pos < 5:
        return False
    content_type = data[pos]
    length = data[pos + 3] << 8 | data[pos + 4]
    return (
        CHANGE_CIPHER_SPEC <= content_type <= TLS12_CID
        and data[pos + 1] == 3
        and data[pos + 2] <= 4
        and 0 < length <= MAX_CIPHERTEXT
    )


class RecordLayer:
    """Record boundaries of one direction's stream."""

    __slots__ = (
        "allow_sslv2",
        "body",
        "cur_first_frame",
        "cur_length",
        "cur_offset",
        "cur_type",
        "cur_version",
        "dead",
        "header",
        "header_offset",
        "in_body",
        "offset",
        "records",
        "resync",
        "sink",
        "skip",
        "sslv2_mode",
    )

    def __init__(self, sink: RecordSink, offset: int = 0) -> None:
        self.sink = sink
        #: Stream offset of data[0] during `feed`, of the next byte expected otherwise.
        self.offset = offset
        #: A record header that spans segments, and where it started.
        self.header = bytearray()
        self.header_offset = 0
        #: The body of a kept record that spans segments.
        self.body = bytearray()
        self.in_body = False
        #: Bytes of an application-data body still to skip.
        self.skip = 0
        self.cur_type = 0
        self.cur_version = 0
        self.cur_length = 0
        self.cur_offset = 0
        self.cur_first_frame = 0
        self.records = 0
        self.allow_sslv2 = True
        #: Every record uses SSL 2.0 framing (the server answered in SSL 2.0).
        self.sslv2_mode = False
        #: True once the stream stopped looking like TLS; nothing more is parsed.
        self.dead = False
        #: True after a gap broke record framing: look for a record start at each segment.
        self.resync = False

    def feed(self, offset: int, data: memoryview | bytes, frame: int) -> int:
        """Take the stream bytes at `offset`. Returns how many bytes after them this layer
        only skips (the rest of an application-data body, or everything once the direction
        stopped parsing): the caller may leave out segments that lie wholly inside that
        stretch, as long as it still feeds the one holding its last byte. A later `feed` at
        a higher offset than expected counts the bytes left out as skipped."""
        if self.dead:
            return SKIP_ALL
        if offset > self.offset and self.skip:
            self._skipped(offset)
        n = len(data)
        if self.resync:
            if not plausible_header(data):
                self.offset = offset + n
                return 0
            self.resync = False
            self.sink.anomaly(offset, frame, "record framing picked up again after the gap")
        self.offset = offset
        pos = 0
        # What is read is read from bytes, which compiled code indexes directly (a
        # memoryview's items are a generic call each); a segment only stepped over is not
        # copied.
        b = data if isinstance(data, bytes) else None
        while pos < n:
            if self.skip:
                take = self.skip if self.skip <= n - pos else n - pos
                self.skip -= take
                pos += take
                if not self.skip:
                    self._emit(None, frame)
                continue
            if b is None:
                b = bytes(data)
            if (
                self.header
                or self.in_body
                or n - pos < 5
                or self.sslv2_mode
                or (self.allow_sslv2 and b[pos] & 0x80)
            ):
                pos = self._slow(b, pos, frame)
                if self.dead:
                    return SKIP_ALL
                continue
            # At a record boundary with a whole header in this segment: the common case.
            content_type = b[pos]
            high: i64 = b[pos + 1]
            low: i64 = b[pos + 2]
            version = high << 8 | low
            high = b[pos + 3]
            low = b[pos + 4]
            length = high << 8 | low
            if not self._start(content_type, version, length, offset + pos, frame):
                return SKIP_ALL
            body_start = pos + 5
            end = body_start + length
            if content_type == APPLICATION_DATA:
                if end <= n:
                    self._emit(None, frame)
                    pos = end
                else:
                    self.skip = end - n
                    pos = n
            elif end <= n:
                self._emit(b[body_start:end], frame)
                pos = end
            else:
                self.body += b[body_start:]
                self.in_body = True
                pos = n
        self.offset = offset + n
        return self.skip

    def _skipped(self, offset: int) -> None:
        """The bytes between the expected offset and `offset` were left out by the caller
        because they lay inside an application-data body being skipped."""
        self.skip -= offset - self.offset
        self.offset = offset

    def _slow(self, data: bytes, pos: int, frame: int) -> int:
        """A header or kept body that spans segments, or an SSL 2.0 header; returns the new
        position in `data`."""
        n = len(data)
        if self.in_body:
            chunk = data[pos : pos + self.cur_length - len(self.body)]
            self.body += chunk
            pos += len(chunk)
            if len(self.body) == self.cur_length:
                fragment = bytes(self.body)
                self.body.clear()
                self.in_body = False
                self._emit(fragment, frame)
            return pos
        if not self.header:
            self.header_offset = self.offset + pos
            self.cur_first_frame = frame
        first_byte = self.header[0] if self.header else data[pos]
        sslv2 = self.sslv2_mode or (self.allow_sslv2 and bool(first_byte & 0x80))
        # SSL 2.0 headers are 2 bytes with the high bit set, else 3 (with a padding count).
        header_len = (2 if first_byte & 0x80 else 3) if sslv2 else 5
        chunk = data[pos : pos + header_len - len(self.header)]
        self.header += chunk
        pos += len(chunk)
        if len(self.header) < header_len:
            return pos
        h = self.header
        first = self.cur_first_frame
        if sslv2:
            self.allow_sslv2 = False
            self.cur_type, self.cur_version = SSL2_RECORD, 0x0002
            mask = 0x7F if header_len == 2 else 0x3F
            self.cur_length = (h[0] & mask) << 8 | h[1]
            self.cur_offset = self.header_offset
            self.cur_first_frame = first
        elif not self._start(h[0], h[1] << 8 | h[2], h[3] << 8 | h[4], self.header_offset,
                             first):  # fmt: skip
            return n
        self.header.clear()
        if self.cur_type == APPLICATION_DATA:
            self.skip = self.cur_length
            if not self.skip:
                self._emit(None, frame)
        elif not self.cur_length:
            self._emit(b"", frame)
        else:
            self.in_body = True
        return pos

    def _start(self, content_type: int, version: int, length: int, offset: int, frame: int
               ) -> bool:  # fmt: skip
        """Check a record header; on garbage, stop parsing this direction."""
        self.allow_sslv2 = False
        if not (CHANGE_CIPHER_SPEC <= content_type <= TLS12_CID) or version >> 8 != 3:
            self.dead = True
            self.header.clear()
            self.body.clear()
            self.in_body = False
            self.sink.anomaly(
                offset, frame,
                f"bytes at offset {offset} are not a TLS record (type {content_type}, "
                f"version 0x{version:04x}); this direction is not parsed further",
            )  # fmt: skip
            return False
        if length > MAX_CIPHERTEXT:
            self.sink.anomaly(
                offset, frame,
                f"record of {length} bytes exceeds the {MAX_CIPHERTEXT}-byte limit "
                "(RFC 5246 6.2.3)",
            )  # fmt: skip
        self.cur_type = content_type
        self.cur_version = version
        self.cur_length = length
        self.cur_offset = offset
        self.cur_first_frame = frame
        return True

    def _emit(self, fragment: bytes | None, frame: int) -> None:
        self.records += 1
        self.sink.record(self.cur_type, self.cur_version, self.cur_length, fragment,
                         self.cur_offset, self.cur_first_frame, frame)  # fmt: skip

    def gap(self, offset: int, size: int, frame: int) -> bool:
        """Bytes at [offset, offset+size) are missing. Returns True if record framing
        survived (the gap fell inside an application-data body we were skipping anyway)."""
        if self.dead:
            return False
        if offset > self.offset and self.skip:
            self._skipped(offset)
        if self.skip >= size and not self.resync:
            self.skip -= size
            self.offset = offset + size
            if not self.skip:
                self._emit(None, frame)
            return True
        self.header.clear()
        self.body.clear()
        self.in_body = False
        self.skip = 0
        self.resync = True
        self.offset = offset + size
        return False
