"""Open a capture file, undo gzip, and feed readers large chunks of bytes.

Readers parse headers straight out of a chunk of about a megabyte, so no Python object is
made per header field and memory does not grow with the file's length. The same interface
serves plain and gzip-compressed files, pipes and mapped files.

A chunk is an immutable `bytes` object: compiled code (tlslens.compiled) indexes `bytes` with
a direct C access, about ten times quicker than indexing a memoryview or a bytearray, which is
what lets the pcap reader and `net.packet.decode_into` read header fields byte by byte.

A plain file on a POSIX system is mapped, a window of about a megabyte at a time: each chunk
is a `bytes` object whose contents are the file's pages (`_mapped.c`, which says how, and why
a file that shrinks while it is read no longer kills the process). Reading a chunk had cost
a copy of the file by the kernel, a quarter of a split run's time on a pktmon trace, where
every worker reads the whole file (bench/RESULTS.md, eighteenth session). A window starts at
a page boundary, so `refill` returns where the bytes asked for start in it. Elsewhere, and
for compressed or unseekable input, chunks are read; the bytes a refill keeps (the start of a
record cut by the chunk's end) are then read again from a plain file, which the page cache
answers, and only a compressed or unseekable stream joins them to the new bytes.
TLSLENS_MAP=0 in the environment reads every file (to compare the two; tests do).

This module imports nothing from tlslens outside `capture`.
"""

from __future__ import annotations

import importlib
import os
import stat
import sys
import zlib
from types import ModuleType
from typing import BinaryIO, Final

# librt: mypyc's runtime library, whose readers compiled code calls inline (`u32`);
# mypy_extensions: its machine integer (compiled, a local so typed is a C int64_t; run as
# Python, an int).
from librt.strings import read_i32_be, read_i32_le
from mypy_extensions import i64

from tlslens.capture.frame import CaptureError

CHUNK_BYTES: Final = 1 << 20

GZIP_MAGIC: Final = b"\x1f\x8b"


def hand_written(name: str, switch: str) -> ModuleType | None:
    """The hand-written C module `tlslens.capture.<name>`, where it was built (setup.py: an
    optional extension, POSIX only) and not turned off with `<switch>=0` in the environment
    (to compare with and without it); else None."""
    if os.environ.get(switch) == "0":
        return None
    try:
        return importlib.import_module(f"tlslens.capture.{name}")
    except ImportError:
        return None


def mapper() -> ModuleType | None:
    """The module that maps windows of a file (`_mapped.c`), where it was built and not
    turned off (TLSLENS_MAP=0); None: files are read (`tlslens --version` says which)."""
    return hand_written("_mapped", "TLSLENS_MAP")


def u32(data: bytes, pos: i64, little: bool) -> int:
    """The unsigned 32-bit number at data[pos:pos+4], little- or big-endian: how the
    readers take header fields out of a chunk. librt's readers (mypyc's runtime library):
    compiled, a load of a few instructions, its bounds checked, where reading the bytes
    one by one in machine integers took about 60 and Python ints, unpack_from and its
    tuple more. It returns a Python int, not an `i64`: a caller's own arithmetic on it
    (pcapng's `ts_hi << 32`) must not wrap around at 64 bits, as machine integers do,
    silently."""
    if little:
        return i64(read_i32_le(data, pos)) & 0xFFFFFFFF
    return i64(read_i32_be(data, pos)) & 0xFFFFFFFF


class GzipStream:
    """Streaming gzip decompression that keeps every byte decompressed before damage.

    `gzip.GzipFile.read` raises on a cut-off stream and drops what it decompressed in that
    call; captures are often copied half-way, so we decompress with zlib ourselves and
    report the damage in `error` instead. Output per call is bounded (no decompression bomb
    can make us hold more than `size` bytes), and concatenated gzip members are followed.
    """

    def __init__(self, file: BinaryIO, head: bytes = b"") -> None:
        self._file = file
        self._inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
        #: `head`: the stream's first bytes, already read from `file` (a pipe cannot seek).
        self._pending = head
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

    def close(self) -> None:
        self._file.close()


class ChunkedInput:
    """A window onto a byte stream: `data` holds the bytes from file offset `base` on, and
    `buf` is a memoryview of it (for `struct` and for views handed to later layers).

    `refill(pos, need)` keeps the bytes from `pos` on and reads more until `need` bytes are
    available (or the stream ends); it returns the new position of those bytes: 0 for a
    chunk read, their place in the page a mapped window starts with.
    Views handed out of an older chunk stay valid: a refill makes a new one.
    """

    __slots__ = ("_faults", "_fd", "_file", "_mapper", "_plain", "base", "buf", "data", "eof",
                 "error", "path")  # fmt: skip

    def __init__(self, file: BinaryIO | GzipStream, path: str, head: bytes = b"") -> None:
        self._file = file
        #: A plain file, whose bytes a refill keeps are read again rather than copied.
        self._plain = None if isinstance(file, GzipStream) or not file.seekable() else file
        self.base = 0
        #: `head`: the stream's first bytes, already read from `file` (a pipe cannot seek).
        self.data = head
        self.buf = memoryview(self.data)
        self.eof = False
        #: Why the stream ended early (a damaged gzip member), or None.
        self.error: str | None = None
        self.path = path
        #: The descriptor of a plain file that is mapped (`_map`), or -1.
        self._fd = -1
        self._faults = 0
        self._mapper = None if self._plain is None else mapper()
        if self._mapper is not None and self._plain is not None:
            try:
                fd = self._plain.fileno()
                if stat.S_ISREG(os.fstat(fd).st_mode):
                    self._fd = fd
                    self._faults = self._mapper.shrink_faults()
            except (OSError, ValueError):
                pass

    @property
    def mapped(self) -> bool:
        """Whether the file is mapped (`_map`), not read into chunks."""
        return self._fd >= 0

    def refill(self, pos: int, need: int) -> int:
        if self._fd >= 0:
            return self._map(pos, need)
        old, kept = self.data, max(len(self.data) - pos, 0)
        self.base += pos
        # The chunk keeps `kept` bytes and grows to a chunk's worth (at least a quarter of
        # one more than it keeps), or to `need`. One size for nearly every chunk: glibc then
        # gives each new chunk the memory of the one freed before it, where chunks of
        # varying sizes were fresh pages from the system for up to a third of the reads
        # (4,000 and 2,600 page faults in the two processes of a split run of the handshake
        # benchmark, 1,650 and 1,600 now, nearly all in the first few chunks).
        size = max(CHUNK_BYTES, need, kept + CHUNK_BYTES // 4)
        # A plain file reads the kept bytes again with the rest; other streams copy them.
        read_again = kept > 0 and self._read_again()
        parts = [old[pos:]] if kept and not read_again else []
        have = 0 if read_again else kept
        while have < need and not self.eof:
            try:
                got = self._file.read(size - have)
            except OSError as exc:
                self.error = f"read error ({exc.strerror or exc})"
                got = b""
            if isinstance(self._file, GzipStream) and self._file.error:
                self.error = self._file.error
            if not got:
                self.eof = True
                break
            parts.append(got)
            have += len(got)
        if have < kept:  # the file shrank under us: keep what was read before
            parts, have = [old[pos:]], kept
        self.data = parts[0] if len(parts) == 1 else b"".join(parts)
        self.buf = memoryview(self.data)
        return 0

    def _map(self, pos: int, need: int) -> int:
        """`refill` for a mapped file: a window from the page that holds `pos` on, as long as
        a chunk read would be (to the end of the file at most)."""
        mapper = self._mapper
        assert mapper is not None
        start = self.base + pos
        kept = max(len(self.data) - pos, 0)
        size = self._size_now()
        if size < start + kept:  # the file shrank under us: keep what was read before
            self.data = self.data[pos:]
            self.buf = memoryview(self.data)
            self.base = start
            self.eof = True
            return 0
        page: int = mapper.PAGE_SIZE
        skip = start % page
        length = max(CHUNK_BYTES, need, kept + CHUNK_BYTES // 4) + skip
        if start - skip + length >= size:
            length = size - (start - skip)
            self.eof = True
        window: bytes | None = None
        if length > skip:
            try:
                window = mapper.window(self._fd, start - skip, length)
            except OSError:
                window = None  # a file system that cannot map: read it
            if window is None:
                return self._stop_mapping(pos, need)
        if window is None or len(window) <= skip:  # nothing from `start` on
            self.data = b""
            self.buf = memoryview(self.data)
            self.base = start
            self.eof = True
            return 0
        self.data = window
        self.buf = memoryview(window)
        self.base = start - skip
        return skip

    def _size_now(self) -> int:
        """The mapped file's size now, and `error` set if it shrank under the windows or
        a page of them could not be read (`_mapped.c` made those read as zeros)."""
        mapper = self._mapper
        assert mapper is not None
        try:
            size: int = os.fstat(self._fd).st_size
        except OSError as exc:
            self.error = f"read error ({exc.strerror or exc})"
            return 0
        if self.error is not None:
            return size
        if size < self.base + len(self.data):
            self.error = (
                f"the file shrank while it was read (to {size} bytes): what lay past its new "
                "end read as zeros, so packets there may be wrong"
            )
        elif mapper.shrink_faults() != self._faults:
            self.error = (
                "part of the file could not be read (it shrank, or the disk failed to give a "
                "page): those bytes read as zeros, so packets there may be wrong"
            )
        return size

    def check(self) -> bool:
        """For a reader that stops: whether a mapped file shrank under it or could not be
        read (then `error` says so). Always False for a file read in chunks, whose errors
        are found as it is read."""
        if self._fd < 0:
            return False
        self._size_now()
        return self.error is not None

    def _stop_mapping(self, pos: int, need: int) -> int:
        """Read from here on, as for a file that is not mapped."""
        self._fd = -1
        self.eof = False
        assert self._plain is not None
        try:
            self._plain.seek(self.base + len(self.data))  # where reading would have got to
        except OSError as exc:
            self.error = f"read error ({exc.strerror or exc})"
            self.eof = True  # keep what the window held, read nothing more
        return self.refill(pos, need)

    def _read_again(self) -> bool:
        """Move a plain file back to `base`, so that the kept bytes are read again."""
        if self._plain is None or self.eof:
            return False
        try:
            self._plain.seek(self.base)
        except OSError:
            self._plain = None
            return False
        return True

    def raw_position(self) -> int:
        """Bytes of the file on disk read so far (compressed bytes for gzip)."""
        if self._fd >= 0:
            return self.base + len(self.data)
        raw = self._file._file if isinstance(self._file, GzipStream) else self._file
        try:
            return raw.tell()
        except (OSError, ValueError):
            return 0

    def close(self) -> None:
        self._fd = -1  # its number may be another file's once closed
        self._file.close()


def open_input(path: str) -> tuple[ChunkedInput, bool]:
    """Open `path` ("-": standard input), transparently decompressing gzip. Returns the input
    and whether it was gzip.

    Raises CaptureError when the file cannot be opened or is empty.
    """
    # Unbuffered: chunks are a megabyte, and a buffer in between would copy each twice.
    # "-" is standard input, as for tshark -r - (`tcpdump -w - | tlslens analyze -`).
    # ChunkedInput.close closes the file (standard input's descriptor stays open).
    try:
        if path == "-":
            raw = open(sys.stdin.fileno(), "rb", buffering=0, closefd=False)  # noqa: SIM115
        else:
            raw = open(path, "rb", buffering=0)  # noqa: SIM115
    except OSError as exc:
        raise CaptureError(path, f"cannot open file: {exc.strerror or exc}") from exc
    except (ValueError, AttributeError) as exc:  # standard input closed, or none at all
        raise CaptureError(path, f"cannot open file: {exc}") from exc
    # A pipe (`tcpdump -w - | tlslens analyze /dev/stdin`, a FIFO, `<(zcat ...)`) cannot
    # seek back over the bytes read to tell gzip: they are handed on instead.
    seekable = raw.seekable()
    head = b""
    try:
        while len(head) < 2:
            got = raw.read(2 - len(head))
            if not got:
                break
            head += got
        if seekable:
            raw.seek(0)
    except OSError as exc:
        raw.close()
        raise CaptureError(path, f"cannot read file: {exc.strerror or exc}") from exc
    compressed = head == GZIP_MAGIC
    stream: BinaryIO | GzipStream = (
        GzipStream(raw, b"" if seekable else head) if compressed else raw
    )
    source = ChunkedInput(stream, path, b"" if seekable or compressed else head)
    source.refill(0, 64)
    if len(source.buf) == 0:
        source.close()
        if source.error:
            raise CaptureError(path, f"not a capture: {source.error}")
        what = "the compressed file holds no data" if compressed else "the file is empty"
        raise CaptureError(path, f"not a capture: {what}")
    return source, compressed
