"""Decode one captured frame down to its TCP segment: link layer, IPv4/IPv6, TCP.

This is the hottest code in tlslens (every frame of the capture passes through it), so it is
hand-written, with no object per layer. The pipeline calls `decode()` with the frame's place
in the reader's chunk (`capture.sink`): the common frame (Ethernet II, IPv4 without
options, TCP) is read byte by byte out of the chunk, which compiled code indexes directly,
about twice as quick as one `unpack_from` of the headers over a view of the frame; the rest
take the general path over a view. `parse()` does the same for a frame on its own. Both
return either a tuple

    (src, dst, sport, dport, seq, ack, flags, window, payload, missing)

with `src`/`dst` as 4- or 16-byte `bytes`, `payload` a memoryview of the captured payload and
`missing` the payload bytes the IP header promises but the capture cut off (snaplen), or a
small int saying why the frame carries no usable TCP segment (`NOT_IP`, `FRAGMENT`, ...).

Link types: https://www.tcpdump.org/linktypes.html. IPv4: RFC 791. IPv6 and extension
headers: RFC 8200. TCP: RFC 9293. This module imports only `tlslens.net.tcp` (for the flow
key it makes of each segment), and librt's field readers.
"""

from __future__ import annotations

import struct
from typing import Final

# librt: mypyc's runtime library, whose readers compiled code calls inline (`_u32`);
# mypy_extensions: its machine integer (compiled, arithmetic on a local so typed is C
# arithmetic, where a shift of a Python int is a call; run as Python, an int).
from librt.strings import read_i32_be
from mypy_extensions import i64

from tlslens.net.tcp import NO_VIEW, flow_key, key_addresses

# Why a frame yields no TCP segment.
NOT_IP: Final = 1
NOT_TCP: Final = 2
FRAGMENT: Final = 3
MALFORMED: Final = 4
UNSUPPORTED_LINK: Final = 5
TRUNCATED: Final = 6

REASONS: Final = {
    NOT_IP: "not IP",
    NOT_TCP: "IP but not TCP",
    FRAGMENT: "IP fragment (fragments are not reassembled)",
    MALFORMED: "malformed IP or TCP header",
    UNSUPPORTED_LINK: "unsupported link type",
    TRUNCATED: "cut off by the capture before the end of its TCP header",
}

# Link-layer header types (LINKTYPE_* values as stored in pcap and pcapng files).
LINKTYPE_NULL: Final = 0
LINKTYPE_ETHERNET: Final = 1
LINKTYPE_PPP: Final = 9
LINKTYPE_RAW_12: Final = 12  # DLT_RAW as some BSDs number it
LINKTYPE_RAW_14: Final = 14  # DLT_RAW on OpenBSD
LINKTYPE_PPP_HDLC: Final = 50
LINKTYPE_RAW: Final = 101
LINKTYPE_LOOP: Final = 108
LINKTYPE_LINUX_SLL: Final = 113
LINKTYPE_IPV4: Final = 228
LINKTYPE_IPV6: Final = 229
LINKTYPE_LINUX_SLL2: Final = 276

LINKTYPE_NAMES: Final = {
    LINKTYPE_NULL: "BSD loopback",
    LINKTYPE_ETHERNET: "Ethernet",
    LINKTYPE_PPP: "PPP",
    LINKTYPE_RAW_12: "raw IP",
    LINKTYPE_RAW_14: "raw IP",
    LINKTYPE_PPP_HDLC: "PPP in HDLC framing",
    LINKTYPE_RAW: "raw IP",
    LINKTYPE_LOOP: "OpenBSD loopback",
    LINKTYPE_LINUX_SLL: "Linux cooked (SLL)",
    LINKTYPE_IPV4: "raw IPv4",
    LINKTYPE_IPV6: "raw IPv6",
    LINKTYPE_LINUX_SLL2: "Linux cooked v2 (SLL2)",
    105: "IEEE 802.11",
    127: "802.11 with radiotap",
    147: "user-defined",
}

SUPPORTED_LINKTYPES: Final = frozenset(
    {
        LINKTYPE_NULL,
        LINKTYPE_ETHERNET,
        LINKTYPE_PPP,
        LINKTYPE_RAW_12,
        LINKTYPE_RAW_14,
        LINKTYPE_PPP_HDLC,
        LINKTYPE_RAW,
        LINKTYPE_LOOP,
        LINKTYPE_LINUX_SLL,
        LINKTYPE_IPV4,
        LINKTYPE_IPV6,
        LINKTYPE_LINUX_SLL2,
    }
)

ETHERTYPE_IPV4: Final = 0x0800
ETHERTYPE_IPV6: Final = 0x86DD
ETHERTYPE_PPPOE_SESSION: Final = 0x8864
# 802.1Q, 802.1ad (QinQ outer tag) and the pre-standard QinQ tags some switches still use.
VLAN_ETHERTYPES: Final = frozenset({0x8100, 0x88A8, 0x9100, 0x9200})

# IPv6 extension headers whose length is (hdr_ext_len + 1) * 8 (RFC 8200 4.3-4.6, RFC 6275
# Mobility, RFC 7401 HIP, RFC 5533 Shim6).
_IPV6_EXT_8: Final = frozenset({0, 43, 60, 135, 139, 140})
_IPV6_FRAGMENT: Final = 44
_IPV6_AH: Final = 51  # length is (payload_len + 2) * 4, RFC 4302 2.2

# Shapes returned by parse(): a segment tuple or a reason code.
Segment = tuple[bytes, bytes, int, int, int, int, int, int, memoryview, int]

_tcp_header = struct.Struct("!HHIIBBH").unpack_from
# version/IHL, total length, flags/fragment offset, protocol, source, destination (RFC 791)
_ipv4_header = struct.Struct("!BxH2xHxB2x4s4s").unpack_from
# version (high nibble), payload length, next header, source, destination (RFC 8200 3)
_ipv6_header = struct.Struct("!B3xHBx16s16s").unpack_from


def linktype_name(linktype: int) -> str:
    return LINKTYPE_NAMES.get(linktype, f"link type {linktype}")


def parse(linktype: int, data: bytes | memoryview) -> Segment | int:
    """Decode one frame of the given link type into a TCP segment tuple, or a reason code.

    For a frame on its own (tests, tools); the payload is a view of a copy of it."""
    frame = bytes(data)
    return decode(linktype, frame, memoryview(frame), 0, len(frame))


def _u32(chunk: bytes, p: i64) -> int:
    """The big-endian (network order) 32-bit number at chunk[p:p+4] (a Python int, as
    `capture.source.u32` gives)."""
    return i64(read_i32_be(chunk, p)) & 0xFFFFFFFF


def _common(chunk: bytes, s: i64, n: i64) -> bool:
    """Whether the Ethernet frame chunk[s:s+n] is the common kind: Ethernet II, IPv4
    without options (version/IHL 0x45), TCP, not a fragment (neither the more-fragments
    flag nor an offset, RFC 791 3.1), an IP total length of at least the two headers and a
    TCP data offset from 5 to within that length. Nearly every frame of a wire capture is;
    `decode` and `share_of_frame` read those field by field, with no call. Anything
    unusual (a VLAN tag, IP options, a length to distrust) takes the general path, which
    gives the same answer for the frames this accepts (tests/net/test_packet.py)."""
    if not (n >= 54 and chunk[s + 12] == 0x08 and chunk[s + 13] == 0x00
            and chunk[s + 14] == 0x45 and chunk[s + 23] == 6
            and not (chunk[s + 20] & 0x3F or chunk[s + 21])):  # fmt: skip
        return False
    high: i64 = chunk[s + 16]
    low: i64 = chunk[s + 17]
    total = high << 8 | low
    offset: i64 = chunk[s + 46]
    payload_start = 34 + (offset >> 4) * 4
    return total >= 40 and 54 <= payload_start <= 14 + total


def _common6(chunk: bytes, s: i64, n: i64) -> bool:
    """`_common` for IPv6: Ethernet II, IPv6 whose next header is TCP (no extension header,
    RFC 8200 4), a payload length (not 0, which a jumbogram or an offloaded segment gives)
    of at least the TCP header, and a TCP data offset from 5 to within that length."""
    if not (n >= 74 and chunk[s + 12] == 0x86 and chunk[s + 13] == 0xDD
            and chunk[s + 14] >> 4 == 6 and chunk[s + 20] == 6):  # fmt: skip
        return False
    high: i64 = chunk[s + 18]
    low: i64 = chunk[s + 19]
    payload_length = high << 8 | low
    offset: i64 = chunk[s + 66]
    header_len = (offset >> 4) * 4
    return header_len >= 20 and payload_length >= header_len


#: 2**30 divided by the golden ratio, odd: a multiplicative hash (Knuth, TAOCP 6.4) that
#: spreads neighbouring ports and addresses over the shares. Compiled, a product stays
#: machine arithmetic only while both factors are under 2**30; past that it goes through
#: Python's long multiplication, which a split worker paid for every frame.
_GOLDEN30: Final = 0x278DDE6D


def flow_share(src_last: i64, dst_last: i64, sport: i64, dport: i64, count: i64) -> i64:
    """Which of `count` shares a TCP connection belongs to, from the last byte of each
    address and the two ports: the same for both directions, and the same in every process
    (Python's own hash of bytes is not). Port parity is no use alone: Linux hands out even
    ephemeral ports to connect(). (The product is under 2**54: machine arithmetic.)"""
    mixed = (sport ^ dport ^ (src_last ^ dst_last) << 16) * _GOLDEN30
    return (mixed >> 16) % count


def hosts_share(src_word: i64, dst_word: i64, count: i64) -> i64:
    """Like `flow_share`, from the two addresses alone (their last four bytes, as numbers):
    every connection between the same two hosts falls in the same share."""
    return (((src_word ^ dst_word) & 0x3FFFFFFF) * _GOLDEN30 >> 16) % count


def ethernet_at(linktype: int, start: i64) -> i64:
    """Where a frame of `linktype` that starts at `start` has Ethernet's layout from, for
    the fast path (`_common`, `_common6`), or -1 for a link type it does not read. A Linux
    cooked (SLL) header is 16 bytes with the protocol in its last two: from 2 bytes in, the
    protocol sits where Ethernet's EtherType does (12) and the IP header follows at 14, and
    the fast path reads nothing before the EtherType. `tcpdump -i any` writes SLL; through
    the general path its frames cost 2.5 times the instructions of Ethernet's."""
    if linktype == LINKTYPE_ETHERNET:
        return start
    if linktype == LINKTYPE_LINUX_SLL:
        return start + 2
    return -1


def share_of_frame(linktype: int, chunk: bytes, start: i64, stop: i64, count: i64,
                   by_hosts: bool) -> i64:  # fmt: skip
    """`flow_share` (or with `by_hosts`, `hosts_share`) of the frame chunk[start:stop], read
    straight from the chunk, for a frame `decode` reads on its fast path; -1 for any other
    (decode it first). A process that follows one share of a capture skips the others'
    frames this way without decoding them."""
    s = ethernet_at(linktype, start)
    if s < 0:
        return -1
    # Where the destination address starts and the ports (the TCP header) start: each
    # address ends where the next field begins.
    if _common(chunk, s, stop - s):
        dst, ports = s + 30, s + 34
    elif _common6(chunk, s, stop - s):
        dst, ports = s + 38, s + 54
    else:
        return -1
    if by_hosts:
        return hosts_share(_u32(chunk, dst - 4), _u32(chunk, ports - 4), count)
    src_last: i64 = chunk[dst - 1]
    dst_last: i64 = chunk[ports - 1]
    sport_high: i64 = chunk[ports]
    sport_low: i64 = chunk[ports + 1]
    dport_high: i64 = chunk[ports + 2]
    dport_low: i64 = chunk[ports + 3]
    return flow_share(src_last, dst_last, sport_high << 8 | sport_low, dport_high << 8 | dport_low,
                      count)  # fmt: skip


class Decoded:
    """The fields of one TCP segment, filled in place by `decode_into`: the frame loop
    keeps one and reads it after each frame. Compiled, the numbers stay machine integers
    from the frame's bytes to the flow table, where a `Segment` tuple boxed each and was
    made and freed once per frame; and the payload is given as its place in the frame's
    bytes (data[start:stop]), or for a frame decoded the general way as a view (`view`,
    `data` then empty), so that it is copied out only where it is needed
    (`FlowTable.add_from`). The addresses are kept only inside `key`, one slice of the
    frame; `src` and `dst` read them out of it when asked."""

    def __init__(self) -> None:
        self.sport = 0
        self.dport = 0
        self.seq = 0
        self.ack = 0
        self.flags = 0
        self.window = 0
        #: `tcp.flow_key(src, sport, dst, dport)`: the addresses, then the ports.
        self.key = b""
        #: The bytes the payload is in (the reader's chunk), or empty and the payload is
        #: `view` (a frame `parse` decoded).
        self.data = NO_PAYLOAD
        self.view = NO_VIEW
        self.start = 0
        self.stop = 0
        self.missing = 0

    @property
    def src(self) -> bytes:
        return key_addresses(self.key)[0]

    @property
    def dst(self) -> bytes:
        return key_addresses(self.key)[1]

    def fill(self, seg: Segment) -> None:
        payload: memoryview
        src: bytes
        dst: bytes
        (src, dst, self.sport, self.dport, self.seq, self.ack, self.flags, self.window,
         payload, self.missing) = seg  # fmt: skip
        self.key = flow_key(src, self.sport, dst, self.dport)
        self.data = NO_PAYLOAD
        self.view = payload
        self.start = 0
        self.stop = len(payload)

    def segment(self) -> Segment:
        return (self.src, self.dst, self.sport, self.dport, self.seq, self.ack, self.flags,
                self.window, memoryview(self.data)[self.start : self.stop] if self.data
                else self.view[self.start : self.stop], self.missing)  # fmt: skip


#: The payload of a segment that carries none.
NO_PAYLOAD: Final = b""


def decode_into(linktype: int, chunk: bytes, view: memoryview, start: int, stop: int,
                out: Decoded) -> int:  # fmt: skip
    """`parse` of the frame chunk[start:stop], `view` being a memoryview of `chunk`, into
    `out`: 0 with `out` filled in, or the reason code. The payload is left in the chunk
    (out.data is `chunk`), and nothing else of the frame is copied."""
    s = ethernet_at(linktype, start)
    if s >= 0:
        n = stop - s
        if _common(chunk, s, n) or _common6(chunk, s, n):
            decode_read_into(chunk, s, stop, out)
            return 0
    seg = parse_general(linktype, view[start:stop])
    if isinstance(seg, int):
        return seg
    out.fill(seg)
    return 0


def decode_read_into(chunk: bytes, start: i64, stop: i64, out: Decoded) -> None:
    """`decode_into` for a frame that `share_of_frame` has read (it returned a share), whose
    headers it has checked already: a split worker decodes its own frames without checking
    them twice. `start` is where its Ethernet layout starts (`ethernet_at`)."""
    s, n = start, stop - start
    if chunk[s + 12] == 0x08:
        # IPv4 (`_common`): the addresses at 26; the IP length counts the IP header.
        high: i64 = chunk[s + 16]
        low: i64 = chunk[s + 17]
        _fields_into(chunk, s, n, 26, 4, 14 + (high << 8 | low), out)
    else:
        # IPv6 (`_common6`): at 22; the payload length counts what follows the 40 bytes.
        high = chunk[s + 18]
        low = chunk[s + 19]
        _fields_into(chunk, s, n, 22, 16, 54 + (high << 8 | low), out)


def _fields_into(chunk: bytes, s: i64, n: i64, addr: i64, size: i64, ip_end: i64,
                 out: Decoded) -> None:  # fmt: skip
    """The addresses (`size` bytes each, from chunk[s + addr:]) and the TCP header (RFC
    9293 3.1, right after them) of a frame that `_common` or `_common6` accepted, into
    `out`; the IP packet ends at ip_end (from the frame's start)."""
    a = s + addr
    # `tcp.flow_key`: the addresses, and right after them (no IP options) the ports.
    out.key = chunk[a : a + 2 * size + 4]
    tcp = addr + 2 * size
    t = s + tcp
    offset_byte: i64 = chunk[t + 12]
    payload_start = tcp + (offset_byte >> 4) * 4
    b0: i64 = chunk[t]
    b1: i64 = chunk[t + 1]
    out.sport = b0 << 8 | b1
    b0 = chunk[t + 2]
    b1 = chunk[t + 3]
    out.dport = b0 << 8 | b1
    out.seq = _u32(chunk, t + 4)
    out.ack = _u32(chunk, t + 8)
    # The NS/AE bit sits in the low bit of the data-offset byte (RFC 3540).
    b0 = chunk[t + 13]
    out.flags = b0 | (offset_byte & 1) << 8
    b0 = chunk[t + 14]
    b1 = chunk[t + 15]
    out.window = b0 << 8 | b1
    captured_end = ip_end if ip_end <= n else n
    out.data = chunk
    out.start = s + payload_start
    if payload_start >= captured_end:
        out.stop = out.start
        out.missing = ip_end - payload_start
    else:
        out.stop = s + captured_end
        out.missing = ip_end - captured_end


def decode(linktype: int, chunk: bytes, view: memoryview, start: int, stop: int
           ) -> Segment | int:  # fmt: skip
    """`decode_into`, as a `Segment` tuple or the reason code."""
    out = Decoded()
    reason = decode_into(linktype, chunk, view, start, stop, out)
    return reason if reason else out.segment()


def parse_general(linktype: int, data: memoryview) -> Segment | int:
    """`parse` for every link type and header shape (the fast path's fallback)."""
    n = len(data)
    if linktype == LINKTYPE_ETHERNET:
        if n < 14:
            return TRUNCATED
        ethertype = data[12] << 8 | data[13]
        off = 14
    elif linktype == LINKTYPE_LINUX_SLL2:
        # SLL2: protocol type first, then reserved, ifindex, ARPHRD, packet type, address.
        if n < 20:
            return TRUNCATED
        ethertype = data[0] << 8 | data[1]
        off = 20
    elif linktype == LINKTYPE_LINUX_SLL:
        if n < 16:
            return TRUNCATED
        ethertype = data[14] << 8 | data[15]
        off = 16
    elif linktype in (LINKTYPE_RAW, LINKTYPE_RAW_12, LINKTYPE_RAW_14, LINKTYPE_IPV4, LINKTYPE_IPV6):
        return _by_version(data, 0, n)
    elif linktype in (LINKTYPE_NULL, LINKTYPE_LOOP):
        # A 4-byte address family in the writer's byte order (NULL) or network order
        # (LOOP); its values differ across systems, so the IP version nibble decides.
        return _by_version(data, 4, n)
    elif linktype in (LINKTYPE_PPP, LINKTYPE_PPP_HDLC):
        off = 2 if n >= 2 and data[0] == 0xFF and data[1] == 0x03 else 0
        return _ppp(data, off, n)
    else:
        return UNSUPPORTED_LINK
    while ethertype in VLAN_ETHERTYPES:
        if n < off + 4:
            return TRUNCATED
        ethertype = data[off + 2] << 8 | data[off + 3]
        off += 4
    if ethertype == ETHERTYPE_IPV4:
        return _ipv4(data, off, n)
    if ethertype == ETHERTYPE_IPV6:
        return _ipv6(data, off, n)
    if ethertype == ETHERTYPE_PPPOE_SESSION:
        # PPPoE session header (RFC 2516): 6 bytes, then the PPP protocol field.
        return _ppp(data, off + 6, n)
    return NOT_IP


def _ppp(data: memoryview, off: int, n: int) -> Segment | int:
    if n < off + 2:
        return TRUNCATED
    protocol = data[off] << 8 | data[off + 1]
    if protocol == 0x0021:
        return _ipv4(data, off + 2, n)
    if protocol == 0x0057:
        return _ipv6(data, off + 2, n)
    return NOT_IP


def _by_version(data: memoryview, off: int, n: int) -> Segment | int:
    if n <= off:
        return TRUNCATED
    version = data[off] >> 4
    if version == 4:
        return _ipv4(data, off, n)
    if version == 6:
        return _ipv6(data, off, n)
    return NOT_IP


def _ipv4(data: memoryview, off: int, n: int) -> Segment | int:
    if n < off + 20:
        return TRUNCATED
    vihl, total, fragment, protocol, src, dst = _ipv4_header(data, off)
    ihl = (vihl & 0x0F) * 4
    if vihl >> 4 != 4 or ihl < 20:
        return MALFORMED
    # More-fragments flag or a non-zero fragment offset (RFC 791 3.1); DF is excluded.
    if fragment & 0x3FFF:
        return FRAGMENT
    if protocol != 6:
        return NOT_TCP
    if total == 0:
        # Segmentation offload on the capturing host can leave the length zero.
        ip_end = n
    elif total < ihl:
        return MALFORMED
    else:
        ip_end = off + total
    return _tcp(data, off + ihl, ip_end, n, src, dst)


def _ipv6(data: memoryview, off: int, n: int) -> Segment | int:
    if n < off + 40:
        return TRUNCATED
    version, payload_length, next_header, src, dst = _ipv6_header(data, off)
    if version >> 4 != 6:
        return MALFORMED
    p = off + 40
    # Zero means a jumbogram or an offloaded segment: trust the captured length.
    ip_end = p + payload_length if payload_length else n
    while next_header != 6:
        if n < p + 8:
            return TRUNCATED if next_header in _IPV6_EXT_8 or next_header in (44, 51) else NOT_TCP
        if next_header in _IPV6_EXT_8:
            next_header, p = data[p], p + (data[p + 1] + 1) * 8
        elif next_header == _IPV6_FRAGMENT:
            # Fragment offset (13 bits) and the M flag; an "atomic fragment" has neither
            # and carries the whole packet (RFC 6946).
            if (data[p + 2] << 8 | data[p + 3]) & 0xFFF9:
                return FRAGMENT
            next_header, p = data[p], p + 8
        elif next_header == _IPV6_AH:
            next_header, p = data[p], p + (data[p + 1] + 2) * 4
        else:
            return NOT_TCP
    return _tcp(data, p, ip_end, n, src, dst)


def _tcp(data: memoryview, t: int, ip_end: int, n: int, src: bytes, dst: bytes) -> Segment | int:
    if ip_end < t + 20:
        return MALFORMED
    if n < t + 20:
        return TRUNCATED
    sport, dport, seq, ack, offset_byte, flags, window = _tcp_header(data, t)
    header_len = (offset_byte >> 4) * 4
    if header_len < 20:
        return MALFORMED
    # The NS/AE bit sits in the low bit of the data-offset byte (RFC 3540, RFC 9293 3.1).
    flags |= (offset_byte & 1) << 8
    start = t + header_len
    if start > ip_end:
        return MALFORMED
    captured_end = ip_end if ip_end <= n else n
    if start >= captured_end:
        return (src, dst, sport, dport, seq, ack, flags, window, data[0:0], ip_end - start)
    return (
        src,
        dst,
        sport,
        dport,
        seq,
        ack,
        flags,
        window,
        data[start:captured_end],
        ip_end - captured_end,
    )
