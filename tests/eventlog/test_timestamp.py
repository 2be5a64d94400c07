"""Time texts from every export format become the same UTC nanoseconds."""

from __future__ import annotations

import pytest

from tlslens.eventlog.timestamp import ParsedTime, parse_time

T = 1_700_000_000 * 10**9  # 2023-11-14T22:13:20Z


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2023-11-14T22:13:20Z", ParsedTime(T, True)),
        ("2023-11-14T22:13:20.1234567Z", ParsedTime(T + 123_456_700, True)),
        ("2023-11-14T22:13:20.123456789012Z", ParsedTime(T + 123_456_789, True)),
        ("2023-11-14T22:13:20.1234567Z UTC", ParsedTime(T + 123_456_700, True)),
        ("2023-11-14T23:13:20+01:00", ParsedTime(T, True)),
        ("2023-11-14T17:13:20.5-0500", ParsedTime(T + 500_000_000, True)),
        ("/Date(1700000000000)/", ParsedTime(T, True)),
        ("/Date(1700000000123+0100)/", ParsedTime(T + 123_000_000, True)),
        ("2023-11-14 22:13:20", ParsedTime(T, False)),
        ("11/14/2023 10:13:20 PM", ParsedTime(T, False)),
        ("14/11/2023 22:13:20", ParsedTime(T, False)),
        ("14.11.2023 22:13:20", ParsedTime(T, False)),
        ("11/14/2023 12:00:00 AM", ParsedTime(T - 22 * 3600 * 10**9 - 800 * 10**9, False)),
    ],
)
def test_parse(text: str, expected: ParsedTime) -> None:
    assert parse_time(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "soon", "2023-13-01T00:00:00Z", "2023-02-30 00:00:00", "13:00 PM", "1/1/2023 13:00 PM"],
)
def test_unreadable(text: str) -> None:
    assert parse_time(text) is None
