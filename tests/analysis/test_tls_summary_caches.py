"""What the connection records remember between connections (JA3 fields, their MD5s) is
the same as what they compute, and stays bounded on hostile input."""

from __future__ import annotations

import hashlib

from tlslens.analysis import tls_summary as ts


def test_ja3_fields_leave_out_grease_and_are_remembered() -> None:
    values = (0x0A0A, 4865, 4866, 0x1A1A, 49195)
    assert ts._dashed(values) == "4865-4866-49195"
    assert ts._dashed(tuple(values)) == "4865-4866-49195"
    assert ts._dashed(()) == ""


def test_md5_is_the_md5_of_the_string() -> None:
    text = "771,4865-4866,0-23,29,0"
    assert ts._md5(text) == hashlib.md5(text.encode()).hexdigest()
    assert ts._md5(text) == hashlib.md5(text.encode()).hexdigest()


def test_long_inputs_are_not_kept_and_the_caches_are_bounded() -> None:
    long_list = tuple(range(1000, 1000 + ts._LIST_KEPT + 1))
    assert ts._dashed(long_list) == "-".join(str(v) for v in long_list)
    assert long_list not in ts._DASHED
    long_text = "7" * (ts._TEXT_KEPT + 1)
    assert ts._md5(long_text) == hashlib.md5(long_text.encode()).hexdigest()
    assert long_text not in ts._MD5
    for i in range(ts._KEPT + 5):
        ts._dashed((i,))
        ts._md5(str(i))
    assert 0 < len(ts._DASHED) <= ts._KEPT and 0 < len(ts._MD5) <= ts._KEPT
