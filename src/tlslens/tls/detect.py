"""Recognise the first bytes of a TLS or SSL client hello, whatever the port.

Used to tell which side is the client when a capture missed the TCP handshake, and (later)
to decide that a stream is TLS at all. Detection is by content, never by port: TLS runs on
5443, on ephemeral ports and on ports registered to other protocols.
This module imports nothing from tlslens.
"""

from __future__ import annotations

from typing import Final

CONTENT_HANDSHAKE: Final = 22
HANDSHAKE_CLIENT_HELLO: Final = 1
SSL2_CLIENT_HELLO: Final = 1


def looks_like_client_hello(head: bytes | memoryview) -> bool:
    """True if `head` (the first bytes of a stream) starts a ClientHello.

    TLS record (RFC 8446 5.1, RFC 5246 6.2.1): type 22, version 3.x, 16-bit length, then a
    handshake header whose type is 1 (client_hello). SSL 2.0-format hello (RFC 6101 E.1,
    RFC 5246 E.2): a 2-byte header with the high bit set, message type 1, version 2 or 3.x.
    """
    if len(head) < 6:
        return False
    first = head[0]
    if first == CONTENT_HANDSHAKE:
        length = head[3] << 8 | head[4]
        return (
            head[1] == 3
            and head[2] <= 4
            and 4 <= length <= 18432 + 2048
            and (head[5] == HANDSHAKE_CLIENT_HELLO)
        )
    if first & 0x80:
        length = (first & 0x7F) << 8 | head[1]
        return (
            length >= 9
            and head[2] == SSL2_CLIENT_HELLO
            and ((head[3] == 0 and head[4] == 2) or (head[3] == 3 and head[4] <= 4))
        )
    return False
