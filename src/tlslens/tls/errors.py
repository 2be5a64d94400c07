"""The one exception the TLS parsers raise. The session turns it into an `Anomaly` on the
connection and goes on; it never reaches the user as a traceback.
This module imports nothing from tlslens."""

from __future__ import annotations


class DecodeError(Exception):
    """Bytes that do not parse: which layer, at which stream offset, and why."""

    def __init__(self, layer: str, offset: int, reason: str) -> None:
        super().__init__(f"{layer} at offset {offset}: {reason}")
        self.layer = layer
        self.offset = offset
        self.reason = reason
