"""How tlslens writes a JSON value: compact, on one line, as UTF-8 text (RFC 8259 8.1).

Writing the records is on the hot path of `analyze`, `diagnose`, `certs` and `messages`
(one record per connection or frame), so they are encoded with orjson, a library made for
exactly this: on the 8,000 connection records of the handshake benchmark it took 0.03 s
where the standard library's `json.dumps` took 0.28 s, about a tenth of the whole run.
orjson writes no space after `,` and `:` and leaves non-ASCII characters as they are (the
standard library's defaults are `", "`, `": "` and \\u escapes); both are valid JSON, and
`tlslens.cli.main` makes sure the output stream is UTF-8 for the machine formats.

The few values orjson refuses (an integer beyond 64 bits, a key that is not a string) are
written by the standard library in the same compact style, so no record is ever lost to
the encoder.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any, BinaryIO, TextIO

import orjson


def json_bytes(value: Any, line: bool = False) -> bytes:
    """`value` (dicts, lists, tuples, strings, numbers, booleans, None) as compact JSON on
    one line, UTF-8 encoded: what orjson makes, with no trip through `str`. With `line`,
    the line ends with "\n"."""
    try:
        return orjson.dumps(value, option=orjson.OPT_APPEND_NEWLINE if line else None)
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        # A lone surrogate (which orjson refuses) is written as its JSON escape, \udcxx.
        return (text + "\n" if line else text).encode("utf-8", "backslashreplace")


def to_json(value: Any) -> str:
    """`value` as one line of compact JSON (`json_bytes`), as text."""
    return json_bytes(value).decode()


def byte_writer(out: TextIO) -> Callable[[bytes], object]:
    """A function that writes UTF-8 bytes to `out`. Records are made as bytes (orjson's);
    where `out` is a UTF-8 text stream over a binary one, as standard output is for the
    machine formats (`tlslens.cli.main`), they go to the binary one: decoding each to `str`
    only for the text layer to encode it again cost about 4,000 instructions per record
    of the handshake benchmark (a record is about 3.6 KB). `out` is flushed first; after
    that, everything must go through this function, as text written to `out` waits in its
    own buffer and would come out behind bytes written later."""
    if isinstance(out, io.TextIOWrapper) and out.encoding.lower().replace("-", "") == "utf8":
        out.flush()
        binary: BinaryIO = out.buffer
        return binary.write
    return lambda data: out.write(data.decode())
