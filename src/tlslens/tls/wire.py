"""Reading the TLS presentation language (RFC 8446 3): integers and length-prefixed vectors.

Every read is bounds-checked and raises `DecodeError` with the absolute stream offset, so a
truncated or lying length field becomes an anomaly with a precise location.
This module imports only `tlslens.tls.errors`.
"""

from __future__ import annotations

import struct

from tlslens.tls.errors import DecodeError


class Reader:
    """A cursor over `data`; `base` is the stream offset of data[0] for error messages."""

    __slots__ = ("base", "data", "end", "layer", "pos")

    def __init__(self, data: bytes, layer: str, base: int = 0, start: int = 0,
                 end: int | None = None) -> None:  # fmt: skip
        self.data = data
        self.layer = layer
        self.base = base
        self.pos = start
        self.end = len(data) if end is None else end

    def fail(self, reason: str) -> DecodeError:
        return DecodeError(self.layer, self.base + self.pos, reason)

    @property
    def remaining(self) -> int:
        return self.end - self.pos

    def _need(self, n: int, what: str) -> None:
        if self.pos + n > self.end:
            raise self.fail(f"{what}: needs {n} bytes, {self.end - self.pos} left")

    def u8(self, what: str = "uint8") -> int:
        self._need(1, what)
        value = self.data[self.pos]
        self.pos += 1
        return value

    def u16(self, what: str = "uint16") -> int:
        self._need(2, what)
        d, p = self.data, self.pos
        self.pos += 2
        return d[p] << 8 | d[p + 1]

    def u24(self, what: str = "uint24") -> int:
        self._need(3, what)
        d, p = self.data, self.pos
        self.pos += 3
        return d[p] << 16 | d[p + 1] << 8 | d[p + 2]

    def u32(self, what: str = "uint32") -> int:
        self._need(4, what)
        value = int.from_bytes(self.data[self.pos : self.pos + 4], "big")
        self.pos += 4
        return value

    def take(self, n: int, what: str = "bytes") -> bytes:
        self._need(n, what)
        value = bytes(self.data[self.pos : self.pos + n])
        self.pos += n
        return value

    def vector(self, length_bytes: int, what: str) -> bytes:
        """A vector with a 1-, 2- or 3-byte length prefix (RFC 8446 3.4)."""
        if length_bytes == 1:
            n = self.u8(what + " length")
        elif length_bytes == 2:
            n = self.u16(what + " length")
        else:
            n = self.u24(what + " length")
        return self.take(n, what)

    def sub(self, length_bytes: int, what: str) -> Reader:
        """A reader over the body of a length-prefixed vector, without copying."""
        n = {1: self.u8, 2: self.u16, 3: self.u24}[length_bytes](what + " length")
        self._need(n, what)
        inner = Reader(self.data, self.layer, self.base, self.pos, self.pos + n)
        self.pos += n
        return inner

    def u16_list(self, length_bytes: int, what: str) -> tuple[int, ...]:
        inner = self.sub(length_bytes, what)
        if inner.remaining % 2:
            raise inner.fail(f"{what}: odd length {inner.remaining} for a list of uint16")
        # One unpack for the whole list: cipher suite lists run to a hundred entries.
        return struct.unpack_from(f">{inner.remaining // 2}H", self.data, inner.pos)

    def u8_list(self, length_bytes: int, what: str) -> tuple[int, ...]:
        return tuple(self.vector(length_bytes, what))
