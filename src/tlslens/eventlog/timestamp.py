"""Turn the time texts found in Windows event exports into UTC nanoseconds.

Handles ISO 8601 with up to nine fraction digits ("2010-11-21T03:55:59.6264271Z"), the
.NET JSON form "/Date(1700000000000)/", and the culture-formatted local times that
`Export-Csv` writes ("11/14/2023 10:13:20 PM", "14.11.2023 22:13:20"). Pure functions; must
not import anything outside the standard library.
"""

from __future__ import annotations

import calendar
import re
from datetime import datetime
from typing import NamedTuple

_ISO = re.compile(
    r"\s*(\d{4})-(\d{1,2})-(\d{1,2})[T ](\d{1,2}):(\d{2}):(\d{2})(?:[.,](\d+))?"
    r"\s*(Z(?:\s*UTC)?|UTC|GMT|[+-]\d{2}:?\d{2})?\s*$",
    re.IGNORECASE,
)
_DOTNET = re.compile(r"\s*/?Date\((-?\d+)([+-]\d{4})?\)/?\s*$")
_CULTURE = re.compile(
    r"\s*(\d{1,2})([/.])(\d{1,2})\2(\d{4})[ T]+(\d{1,2}):(\d{2})(?::(\d{2}))?(?:[.,](\d+))?"
    r"\s*(AM|PM)?\s*$",
    re.IGNORECASE,
)


class ParsedTime(NamedTuple):
    """A parsed time: UTC nanoseconds, and whether the text said which zone it was in."""

    ts_ns: int
    zoned: bool


def _fraction_ns(digits: str | None) -> int:
    # Windows writes 7 digits (100 ns ticks), wevtutil sometimes 9; anything past 9 is dropped.
    return int((digits or "")[:9].ljust(9, "0"))


def _to_ns(parts: tuple[int, int, int, int, int, int], frac: str | None) -> int | None:
    try:
        datetime(*parts)
    except ValueError:
        return None
    return calendar.timegm((*parts, 0, 0, 0)) * 1_000_000_000 + _fraction_ns(frac)


def _offset_seconds(zone: str) -> int:
    if zone[0] not in "+-":
        return 0
    digits = zone[1:].replace(":", "")
    seconds = int(digits[:2]) * 3600 + int(digits[2:]) * 60
    return seconds if zone[0] == "+" else -seconds


def parse_time(text: str) -> ParsedTime | None:
    """Parse one time text; return None when it is not a time we recognise.

    A time without a zone is taken as UTC and reported with `zoned=False`, so the caller can
    tell the user that the result may be off by the exporting machine's UTC offset.
    """
    if not text:
        return None
    m = _DOTNET.match(text)
    if m:
        # The milliseconds are UTC; the optional +hhmm only says where it was rendered.
        return ParsedTime(int(m.group(1)) * 1_000_000, True)
    m = _ISO.match(text)
    if m:
        y, mo, d, h, mi, s = (int(g) for g in m.groups()[:6])
        ns = _to_ns((y, mo, d, h, mi, s), m.group(7))
        if ns is None:
            return None
        zone = m.group(8)
        if zone is None:
            return ParsedTime(ns, False)
        return ParsedTime(ns - _offset_seconds(zone) * 1_000_000_000, True)
    m = _CULTURE.match(text)
    if m:
        a, sep, b, y = int(m.group(1)), m.group(2), int(m.group(3)), int(m.group(4))
        # "/" is month first (en-US) unless the first number cannot be a month; "." is
        # day first (de-DE and similar cultures).
        if sep == "." or a > 12:
            d, mo = a, b
        else:
            mo, d = a, b
        h, mi, s = int(m.group(5)), int(m.group(6)), int(m.group(7) or 0)
        ampm = (m.group(9) or "").upper()
        if ampm:
            if not 1 <= h <= 12:
                return None
            h = h % 12 + (12 if ampm == "PM" else 0)
        ns = _to_ns((y, mo, d, h, mi, s), m.group(8))
        return None if ns is None else ParsedTime(ns, False)
    return None
