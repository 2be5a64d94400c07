"""A reader of DER (ITU-T X.690), for the few parts of a certificate tlslens shows.

Why not `cryptography`, the library made for X.509: importing `cryptography.x509` cost
every run about 26 ms (its Python side imports `email.utils` and `dataclasses` and
compiles a regular expression), a third of `tlslens analyze` on a small capture and 9%
on the 50 MB handshake benchmark, where it ran before the work could be split between
cores; what tlslens shows of a certificate is a dozen fields. `cryptography` still checks
chains and signatures (`certs.chain`, for `diagnose` and `certs`), and the tests hold
every summary read here to what `cryptography` reads from the same certificate
(tests/certs/test_x509.py).

The reader is strict where DER is (X.690 section 10): definite lengths in their shortest
form and single-byte tags. It only walks the elements; what they mean is `certs.x509`'s.
"""

from __future__ import annotations

from typing import Final

# Universal tags (X.680 section 8.4) and the encodings of the constructed ones.
BOOLEAN: Final = 0x01
INTEGER: Final = 0x02
BIT_STRING: Final = 0x03
OCTET_STRING: Final = 0x04
NULL: Final = 0x05
OID: Final = 0x06
UTF8_STRING: Final = 0x0C
NUMERIC_STRING: Final = 0x12
PRINTABLE_STRING: Final = 0x13
TELETEX_STRING: Final = 0x14
IA5_STRING: Final = 0x16
UTC_TIME: Final = 0x17
GENERALIZED_TIME: Final = 0x18
VISIBLE_STRING: Final = 0x1A
UNIVERSAL_STRING: Final = 0x1C
BMP_STRING: Final = 0x1E
SEQUENCE: Final = 0x30
SET: Final = 0x31


class DERError(ValueError):
    """The bytes are not the DER element expected."""


def context(number: int, constructed: bool = True) -> int:
    """The tag byte of context-specific tag [number] (X.690 section 8.1.2)."""
    return 0x80 | (0x20 if constructed else 0) | number


class Reader:
    """The elements of one constructed element's contents, read in order."""

    __slots__ = ("data", "end", "pos")

    def __init__(self, data: bytes, start: int = 0, end: int | None = None) -> None:
        self.data = data
        self.pos = start
        self.end = len(data) if end is None else end

    def at_end(self) -> bool:
        return self.pos >= self.end

    def peek(self) -> int | None:
        """The tag of the next element, or None at the end."""
        return self.data[self.pos] if self.pos < self.end else None

    def next(self, tag: int | None = None) -> tuple[int, int, int]:
        """The next element as (tag, start, stop) of its contents; with `tag`, it must be
        that one."""
        data, pos, end = self.data, self.pos, self.end
        if pos + 2 > end:
            raise DERError(f"an element is cut short at byte {pos}")
        found = data[pos]
        if found & 0x1F == 0x1F:
            raise DERError(f"a multi-byte tag at byte {pos}")  # none in the parts we read
        if tag is not None and found != tag:
            raise DERError(f"tag {found:#04x} at byte {pos} where {tag:#04x} belongs")
        length = data[pos + 1]
        pos += 2
        if length & 0x80:
            # Long form (X.690 8.1.3.5): 0x80 alone is BER's indefinite length, and DER
            # wants the fewest length bytes (10.1), so no leading zero and no long form
            # for what the short form holds.
            count = length & 0x7F
            if pos + count > end:
                raise DERError(f"the length at byte {self.pos} is cut short")
            if count == 0 or count > 4 or data[pos] == 0:
                raise DERError(f"a bad length at byte {self.pos}")
            length = int.from_bytes(data[pos : pos + count], "big")
            if length < 0x80:
                raise DERError(f"the long form of a short length at byte {self.pos}")
            pos += count
        if pos + length > end:
            raise DERError(
                f"the element at byte {self.pos} claims {length} bytes; {end - pos} follow"
            )
        self.pos = pos + length
        return found, pos, pos + length

    def inner(self, tag: int) -> Reader:
        """A reader of the next element's contents (a SEQUENCE, SET or explicit tag)."""
        _, start, stop = self.next(tag)
        return Reader(self.data, start, stop)

    def bytes_of(self, tag: int) -> bytes:
        _, start, stop = self.next(tag)
        return self.data[start:stop]

    def integer(self) -> int:
        """An INTEGER (X.690 8.3): two's complement, big-endian."""
        content = self.bytes_of(INTEGER)
        if not content:
            raise DERError("empty INTEGER")
        return int.from_bytes(content, "big", signed=True)

    def oid(self) -> str:
        return oid_text(self.bytes_of(OID))

    def bit_string(self) -> bytes:
        """A BIT STRING's bytes (X.690 8.6), its first byte (the unused bits) dropped."""
        content = self.bytes_of(BIT_STRING)
        if not content or content[0] > 7 or (content[0] and len(content) == 1):
            raise DERError("bad BIT STRING")
        return content[1:]

    def expect_end(self) -> None:
        if self.pos != self.end:
            raise DERError(f"{self.end - self.pos} unexpected bytes at byte {self.pos}")


def oid_text(content: bytes) -> str:
    """An OBJECT IDENTIFIER's contents in dotted form (X.690 8.19)."""
    if not content or content[-1] & 0x80:
        raise DERError("bad OBJECT IDENTIFIER")
    arcs: list[int] = []
    value = 0
    fresh = True
    for byte in content:
        if fresh and byte == 0x80:
            raise DERError("OBJECT IDENTIFIER arc with a leading zero")
        value = (value << 7) | (byte & 0x7F)
        fresh = not byte & 0x80
        if fresh:
            arcs.append(value)
            value = 0
    # The first subidentifier holds two arcs (8.19.4): 40 * X + Y, X at most 2.
    first = arcs[0]
    head = [first // 40, first % 40] if first < 80 else [2, first - 80]
    return ".".join(map(str, head + arcs[1:]))
