"""Open the text exports (XML, JSON, CSV) with the right encoding.

Windows tools write UTF-8 with or without a BOM, and PowerShell 5.1 redirection writes
UTF-16 LE with a BOM; this module tells them apart from the first bytes. Standard library
only; must not import capture, net, tls, certs or analysis.
"""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import TextIO


def detect_encoding(head: bytes) -> str:
    """Return the codec name for a text file whose first bytes are `head`."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    # UTF-16 without a BOM: ASCII text interleaved with NUL bytes.
    if len(head) >= 4 and head[0] != 0 and head[1] == 0 and head[3] == 0:
        return "utf-16-le"
    if len(head) >= 4 and head[0] == 0 and head[1] != 0 and head[2] == 0:
        return "utf-16-be"
    return "utf-8"


def open_text(path: Path) -> TextIO:
    """Open `path` for reading as text; undecodable bytes become U+FFFD, never an error."""
    with path.open("rb") as f:
        head = f.read(4)
    return path.open(encoding=detect_encoding(head), errors="replace", newline="")
