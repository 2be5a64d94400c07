"""Open a capture file, undo gzip, and feed readers large chunks of bytes.

Readers parse headers with `struct.Struct.unpack_from` straight out of a memoryview over a
chunk of about a megabyte, so no Python object is made per header field and memory does not
grow with the file's length. The same code path serves plain and gzip-compressed files, which
is why this is a chunked reader rather than an mmap. This module imports nothing from tlslens
outside `capture`.
"""

from __future__ import annotations

import io
import zlib
from typing import BinaryIO

from tlslens.capture.frame import CaptureError

CHUNK_BYTES = 1 << 20

GZIP_MAGIC = b"\x1f\x8b"


class GzipStream:
    """Streaming gzip decompression that keeps every byte decompressed before damage.

    `gzip.GzipFile.read` raises on a cut-off stream and drops what it decompressed in that
    call; captures are often copied half-way, so we decompress with zlib ourselves and
    report the damage in `error` instead. Output per call is bounded (no decompression bomb
    can make us hold more than `size` bytes), and concatenated gzip members are followed.
    """

    def __init__(self, file: BinaryIO) -> None:
        self._file = file
        self._inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._pending = b""
        self._done = False
        self.error: str | None = None

    def read(self, size: int) -> bytes:
        out: list[bytes] = []
        want = size
        while want > 0 and not self._done:
            if not self._pending:
                self._pending = self._inflate.unconsumed_tail or self._file.read(1 << 18)
                if not self._pending:
                    if not self._inflate.eof:
                        self.error = "compressed data ends early (the gzip stream is cut off)"
                    self._done = True
                    break
            try:
                chunk = self._inflate.decompress(self._pending, want)
            except zlib.error as exc:
                self.error = f"compressed data is damaged ({exc})"
                self._done = True
                break
            self._pending = self._inflate.unconsumed_tail
            out.append(chunk)
            want -= len(chunk)
            if self._inflate.eof:
                rest = self._inflate.unused_data
                self._inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
                self._pending = rest
                if not rest:
                    # Another gzip member may follow in the file (RFC 1952 2.2).
                    self._pending = self._file.read(1 << 18)
                    if not self._pending:
                        self._done = True
        return b"".join(out)

    def readinto(self, view: memoryview) -> int:
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._file.close()


class ChunkedInput:
    """A window onto a byte stream: `buf` holds the bytes from file offset `base` on.

    `refill(pos, need)` keeps the bytes from `pos` on and reads more until `need` bytes are
    available (or the stream ends); it returns the new position of those bytes (always 0).
    Views handed out of an older `buf` stay valid: a refill makes a new buffer.
    """

    __slots__ = ("_file", "base", "buf", "eof", "error", "path")

    def __init__(self, file: io.BufferedIOBase | GzipStream, path: str) -> None:
        self._file = file
        self.base = 0
        self.buf = memoryview(b"")
        self.eof = False
        #: Why the stream ended early (a damaged gzip member), or None.
        self.error: str | None = None
        self.path = path

    def refill(self, pos: int, need: int) -> int:
        leftover = self.buf[pos:]
        self.base += pos
        have = len(leftover)
        # Read straight into the new buffer, after the leftover: one copy of each byte.
        buf = bytearray(have + max(CHUNK_BYTES, need - have))
        buf[:have] = leftover
        view = memoryview(buf)
        while have < need and not self.eof:
            try:
                got = self._file.readinto(view[have:])
            except OSError as exc:
                self.error = f"read error ({exc.strerror or exc})"
                got = 0
            if isinstance(self._file, GzipStream) and self._file.error:
                self.error = self._file.error
            if not got:
                self.eof = True
                break
            have += got
        self.buf = view[:have]
        return 0

    def raw_position(self) -> int:
        """Bytes of the file on disk read so far (compressed bytes for gzip)."""
        raw = self._file._file if isinstance(self._file, GzipStream) else self._file
        try:
            return raw.tell()
        except (OSError, ValueError):
            return 0

    def close(self) -> None:
        self._file.close()


def open_input(path: str) -> tuple[ChunkedInput, bool]:
    """Open `path`, transparently decompressing gzip. Returns the input and whether it was gzip.

    Raises CaptureError when the file cannot be opened or is empty.
    """
    try:
        raw = open(path, "rb")  # noqa: SIM115 - closed by ChunkedInput.close
    except OSError as exc:
        raise CaptureError(path, f"cannot open file: {exc.strerror or exc}") from exc
    head = raw.read(2)
    raw.seek(0)
    compressed = head == GZIP_MAGIC
    stream: io.BufferedIOBase | GzipStream = GzipStream(raw) if compressed else raw
    source = ChunkedInput(stream, path)
    source.refill(0, 64)
    if len(source.buf) == 0:
        source.close()
        if source.error:
            raise CaptureError(path, f"not a capture: {source.error}")
        what = "the compressed file holds no data" if compressed else "the file is empty"
        raise CaptureError(path, f"not a capture: {what}")
    return source, compressed
