"""The presentation-language reader's lists: equal short lists are read as one object, and
what it keeps for that stays bounded."""

from __future__ import annotations

import pytest

from tlslens.tls import wire
from tlslens.tls.errors import DecodeError
from tlslens.tls.wire import Reader


def _list(values: list[int]) -> bytes:
    body = b"".join(v.to_bytes(2, "big") for v in values)
    return len(body).to_bytes(2, "big") + body


def test_equal_lists_are_one_object() -> None:
    data = _list([0x1301, 0x1302, 0xC02F])
    first = Reader(data, "test").u16_list(2, "suites")
    again = Reader(bytes(data), "test").u16_list(2, "suites")
    assert first == (0x1301, 0x1302, 0xC02F)
    assert again is first
    assert Reader(_list([0x1301]), "test").u16_list(2, "suites") == (0x1301,)


def test_long_lists_are_read_but_not_kept() -> None:
    values = list(range(wire.LIST_BYTES_KEPT // 2 + 1))
    data = _list(values)
    first = Reader(data, "test").u16_list(2, "suites")
    assert first == tuple(values)
    assert Reader(data, "test").u16_list(2, "suites") is not first


def test_kept_lists_are_bounded() -> None:
    for i in range(wire.LISTS_KEPT + 10):
        Reader(_list([i, i + 1]), "test").u16_list(2, "groups")
    assert 0 < len(wire._U16_LISTS) <= wire.LISTS_KEPT


def test_a_list_is_still_bounds_checked() -> None:
    with pytest.raises(DecodeError, match="odd length"):
        Reader(b"\x00\x03\x00\x01\x02", "test").u16_list(2, "suites")
    with pytest.raises(DecodeError):
        Reader(b"\x00\x04\x00\x01", "test").u16_list(2, "suites")


def test_uint8_lists_are_kept_apart_from_uint16_lists() -> None:
    """The same bytes are one list as uint8 and another as uint16, each kept as itself;
    equal short uint8 lists are one object, long ones are not kept, and what is kept stays
    bounded."""
    data = b"\x02\x00\x17"
    as_u8 = Reader(data, "test").u8_list(1, "formats")
    as_u16 = Reader(data, "test").u16_list(1, "versions")
    assert as_u8 == (0x00, 0x17) and as_u16 == (0x0017,)
    assert Reader(bytes(data), "test").u8_list(1, "formats") is as_u8
    assert Reader(bytes(data), "test").u16_list(1, "versions") is as_u16
    body = bytes(range(256)) * 2  # longer than LIST_BYTES_KEPT
    long_list = len(body).to_bytes(2, "big") + body
    first = Reader(long_list, "test").u8_list(2, "types")
    assert first == tuple(body)
    assert Reader(long_list, "test").u8_list(2, "types") is not first
    for i in range(wire.LISTS_KEPT + 10):
        Reader(bytes([2, i % 256, i // 256]), "test").u8_list(1, "modes")
    assert 0 < len(wire._U8_LISTS) <= wire.LISTS_KEPT
