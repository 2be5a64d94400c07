"""Reading the TLS presentation language (RFC 8446 3): integers and length-prefixed vectors.

Every read is bounds-checked and raises `DecodeError` with the absolute stream offset, so a
truncated or lying length field becomes an anomaly with a precise location.
This module imports only `tlslens.tls.errors`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from tlslens.tls.errors import DecodeError

if TYPE_CHECKING:
    # mypyc's machine integer: compiled, shifts and ors of locals so typed are C arithmetic
    # (a shift of a Python int is a call); run as Python it is only an annotation.
    from mypy_extensions import i64

#: Lists of uint16 read so far (cipher suites, groups, signature algorithms...), by their
#: bytes: a capture's hellos repeat the lists of a few client builds, so each is made once,
#: and equal lists are then one object, which a dict keyed by lists (`tls.registry.names_of`)
#: compares by identity instead of item by item (its hash still reads every item). Only
#: short lists are kept, and at most LISTS_KEPT of them (emptied when full): a hostile
#: capture of ever-different lists cannot grow it past about 6 MB (a kept list of 128 values
#: is 5.4 KB with its numbers).
_U16_LISTS: Final[dict[bytes, tuple[int, ...]]] = {}
#: The same for lists of uint8 (compression methods, EC point formats, PSK modes), apart:
#: the same bytes read as uint16 are another list. A kept list of 256 values is 2.1 KB.
_U8_LISTS: Final[dict[bytes, tuple[int, ...]]] = {}
LISTS_KEPT: Final = 1024
#: The longest list kept, in bytes (a browser offers about 16 suites, 32 bytes).
LIST_BYTES_KEPT: Final = 256


class Reader:
    """A cursor over `data`; `base` is the stream offset of data[0] for error messages.

    Hello parsing calls these methods about two hundred times per ClientHello, so each one
    checks its bounds and reads inline rather than through the helpers (a call costs as
    much as the read itself)."""

    __slots__ = ("base", "data", "end", "layer", "pos")

    def __init__(self, data: bytes, layer: str, base: int = 0, start: int = 0,
                 end: int = -1) -> None:  # fmt: skip
        """Read data[start:end]; `end` -1 means to the end of `data`. (-1, not None: an
        optional int is a boxed object in compiled code, and hellos make a dozen readers.)"""
        # Slices of bytes are bytes: what `take` and `vector` return is then never a view
        # that keeps a larger buffer alive.
        self.data = data if isinstance(data, bytes) else bytes(data)
        self.layer = layer
        self.base = base
        self.pos = start
        self.end = len(data) if end < 0 else end

    def fail(self, reason: str) -> DecodeError:
        return DecodeError(self.layer, self.base + self.pos, reason)

    def _short(self, n: int, what: str) -> DecodeError:
        return self.fail(f"{what}: needs {n} bytes, {self.end - self.pos} left")

    @property
    def remaining(self) -> int:
        return self.end - self.pos

    def u8(self, what: str = "uint8") -> int:
        p = self.pos
        if p >= self.end:
            raise self._short(1, what)
        self.pos = p + 1
        return self.data[p]

    def u16(self, what: str = "uint16") -> int:
        p = self.pos
        if p + 2 > self.end:
            raise self._short(2, what)
        d = self.data
        self.pos = p + 2
        high: i64 = d[p]
        low: i64 = d[p + 1]
        return high << 8 | low

    def u24(self, what: str = "uint24") -> int:
        p = self.pos
        if p + 3 > self.end:
            raise self._short(3, what)
        d = self.data
        self.pos = p + 3
        high: i64 = d[p]
        mid: i64 = d[p + 1]
        low: i64 = d[p + 2]
        return high << 16 | mid << 8 | low

    def u32(self, what: str = "uint32") -> int:
        p = self.pos
        if p + 4 > self.end:
            raise self._short(4, what)
        self.pos = p + 4
        return int.from_bytes(self.data[p : p + 4], "big")

    def take(self, n: int, what: str = "bytes") -> bytes:
        p = self.pos
        if p + n > self.end:
            raise self._short(n, what)
        self.pos = p + n
        return self.data[p : p + n]

    def _length(self, length_bytes: int, what: str) -> int:
        """Read a vector's 1-, 2- or 3-byte length prefix (RFC 8446 3.4)."""
        p = self.pos
        if p + length_bytes > self.end:
            raise self._short(length_bytes, what + " length")
        d = self.data
        self.pos = p + length_bytes
        first: i64 = d[p]
        if length_bytes == 1:
            return first
        second: i64 = d[p + 1]
        if length_bytes == 2:
            return first << 8 | second
        third: i64 = d[p + 2]
        return first << 16 | second << 8 | third

    def vector(self, length_bytes: int, what: str) -> bytes:
        """A vector with a 1-, 2- or 3-byte length prefix (RFC 8446 3.4)."""
        n = self._length(length_bytes, what)
        p = self.pos
        if p + n > self.end:
            raise self._short(n, what)
        self.pos = p + n
        return self.data[p : p + n]

    def sub(self, length_bytes: int, what: str) -> Reader:
        """A reader over the body of a length-prefixed vector, without copying."""
        n = self._length(length_bytes, what)
        p = self.pos
        if p + n > self.end:
            raise self._short(n, what)
        self.pos = p + n
        return Reader(self.data, self.layer, self.base, p, p + n)

    def u16_list(self, length_bytes: int, what: str) -> tuple[int, ...]:
        n = self._length(length_bytes, what)
        p = self.pos
        if p + n > self.end:
            raise self._short(n, what)
        if n % 2:
            raise self.fail(f"{what}: odd length {n} for a list of uint16")
        self.pos = p + n
        d = self.data
        if n > LIST_BYTES_KEPT:
            return _u16s(d, p, n)
        return _kept(_U16_LISTS, d[p : p + n], True)

    def u8_list(self, length_bytes: int, what: str) -> tuple[int, ...]:
        raw = self.vector(length_bytes, what)
        if len(raw) > LIST_BYTES_KEPT:
            return tuple(raw)
        # Kept as u16_list keeps its lists: compiled, tuple(bytes) is a generic iteration
        # of about 550 instructions, and three such lists come with nearly every hello.
        return _kept(_U8_LISTS, raw, False)


def _kept(lists: dict[bytes, tuple[int, ...]], raw: bytes, wide: bool) -> tuple[int, ...]:
    """The list of uint16 (`wide`) or uint8 whose bytes are `raw` (at most LIST_BYTES_KEPT),
    from `lists` (`_U16_LISTS` or `_U8_LISTS`), made and kept there the first time."""
    values = lists.get(raw)
    if values is None:
        if len(lists) >= LISTS_KEPT:
            lists.clear()
        values = lists[raw] = _u16s(raw, 0, len(raw)) if wide else tuple(raw)
    return values


def _u16s(data: bytes, pos: int, n: int) -> tuple[int, ...]:
    """The uint16s in data[pos:pos+n]. Compiled, a loop over the bytes: a third of what one
    `unpack_from` cost with its format string made for each list."""
    return tuple([data[i] << 8 | data[i + 1] for i in range(pos, pos + n, 2)])
