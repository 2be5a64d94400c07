"""Open a capture file, undo gzip, and feed readers large chunks of bytes.

Readers parse headers with `struct.Struct.unpack_from` straight out of a memoryview over a
chunk of about a megabyte, so no Python object is made per header field and memory does not
grow with the file's length. The same code path serves plain and gzip-compressed files, which
is why this is a chunked reader rather than an mmap. This module imports nothing from tlslens
outside `capture`.
"""

from __future__ import annotations

import gzip
import zlib
from typing import BinaryIO

from tlslens.capture.frame import CaptureError

CHUNK_BYTES = 1 << 20

GZIP_MAGIC = b"\x1f\x8b"


class ChunkedInput:
    """A window onto a byte stream: `buf` holds the bytes from file offset `base` on.

    `refill(pos, need)` keeps the bytes from `pos` on and reads more until `need` bytes are
    available (or the stream ends); it returns the new position of those bytes (always 0).
    Views handed out of an older `buf` stay valid: a refill makes a new buffer.
    """

    __slots__ = ("_file", "base", "buf", "eof", "error", "path")

    def __init__(self, file: BinaryIO, path: str) -> None:
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
        parts = [leftover.tobytes()]
        have = len(leftover)
        while have < need and not self.eof:
            try:
                data = self._file.read(max(CHUNK_BYTES, need - have))
            except (EOFError, OSError, zlib.error) as exc:
                # A cut-off or corrupt gzip stream: keep what was decompressed so far.
                self.error = f"compressed data ends early or is damaged ({exc})"
                data = b""
            if not data:
                self.eof = True
                break
            parts.append(data)
            have += len(data)
        self.buf = memoryview(b"".join(parts))
        return 0

    def close(self) -> None:
        self._file.close()


def open_input(path: str) -> tuple[ChunkedInput, bool]:
    """Open `path`, transparently decompressing gzip. Returns the input and whether it was gzip.

    Raises CaptureError when the file cannot be opened or is empty.
    """
    try:
        raw: BinaryIO = open(path, "rb")  # noqa: SIM115 - closed by ChunkedInput.close
    except OSError as exc:
        raise CaptureError(path, f"cannot open file: {exc.strerror or exc}") from exc
    head = raw.read(2)
    raw.seek(0)
    compressed = head == GZIP_MAGIC
    stream: BinaryIO = raw
    if compressed:
        stream = gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[assignment]
    source = ChunkedInput(stream, path)
    source.refill(0, 64)
    if len(source.buf) == 0:
        source.close()
        what = "the compressed file holds no data" if compressed else "the file is empty"
        raise CaptureError(path, f"not a capture: {what}")
    return source, compressed
