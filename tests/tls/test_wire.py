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
