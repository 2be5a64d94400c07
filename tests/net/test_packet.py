"""Link, IP and TCP decoding on headers built byte by byte from the RFC layouts, and
robustness on random bytes (only reason codes, never an exception)."""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from tlslens.net import packet
from tlslens.net.packet import parse
from tlslens.net.tcp import flow_key

SRC4, DST4 = bytes([192, 0, 2, 1]), bytes([198, 51, 100, 7])
SRC6 = bytes.fromhex("20010db8000000000000000000000001")
DST6 = bytes.fromhex("20010db8000000000000000000000002")


def tcp(payload: bytes = b"hi", flags: int = 0x18, options: bytes = b"") -> bytes:
    offset = (20 + len(options)) // 4
    header = struct.pack("!HHIIBBHHH", 40000, 443, 1000, 2000, offset << 4, flags, 512, 0, 0)
    return header + options + payload


def ipv4(
    segment: bytes,
    options: bytes = b"",
    frag: int = 0x4000,
    proto: int = 6,
    total: int | None = None,
) -> bytes:
    ihl = (20 + len(options)) // 4
    length = 20 + len(options) + len(segment) if total is None else total
    return struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, length, 1, frag, 64, proto, 0,
                       SRC4, DST4) + options + segment  # fmt: skip


def ipv6(segment: bytes, next_header: int = 6, ext: bytes = b"") -> bytes:
    return struct.pack("!IHBB16s16s", 6 << 28, len(ext) + len(segment), next_header, 64,
                       SRC6, DST6) + ext + segment  # fmt: skip


def ether(body: bytes, ethertype: int = 0x0800, tags: bytes = b"") -> bytes:
    return b"\x02" * 6 + b"\x04" * 6 + tags + struct.pack("!H", ethertype) + body


def check(result: object, payload: bytes = b"hi", src: bytes = SRC4) -> None:
    assert isinstance(result, tuple), result
    s, d, sport, dport, seq, ack, flags, window, data, missing = result
    dst = DST4 if src == SRC4 else DST6
    assert (s, d, sport, dport, seq, ack, flags, window) == (
        src,
        dst,
        40000,
        443,
        1000,
        2000,
        0x18,
        512,
    )
    assert bytes(data) == payload and missing == 0


def test_ethernet_ipv4_trims_padding_to_the_ip_length() -> None:
    frame = ether(ipv4(tcp(b"")) + b"\0" * 6)  # padded to the 60-byte Ethernet minimum
    check(parse(1, memoryview(frame)), b"")


def test_ipv4_options_and_tcp_options() -> None:
    options = b"\x01\x01\x01\x00"  # NOP NOP NOP EOL
    mss = b"\x02\x04\x05\xb4"
    result = parse(1, memoryview(ether(ipv4(tcp(b"data", options=mss), options=options))))
    check(result, b"data")


def test_vlan_qinq_and_pppoe() -> None:
    body = ipv4(tcp())
    one = ether(body, tags=b"\x81\x00\x00\x64")
    two = ether(body, tags=b"\x88\xa8\x00\x0a\x81\x00\x00\x64")
    pppoe = ether(b"\x11\x00\x00\x01" + struct.pack("!H", len(body) + 2) + b"\x00\x21" + body,
                  ethertype=0x8864)  # fmt: skip
    for frame in (one, two, pppoe):
        check(parse(1, memoryview(frame)))


def test_cooked_raw_null_and_loop_link_types() -> None:
    body = ipv4(tcp())
    sll = b"\x00\x00\x03\x04\x00\x06" + b"\x00" * 8 + b"\x08\x00" + body
    sll2 = b"\x08\x00\x00\x00" + b"\x00\x00\x00\x01\x03\x04\x00\x06" + b"\x00" * 8 + body
    check(parse(113, memoryview(sll)))
    check(parse(276, memoryview(sll2)))
    for linktype in (101, 12, 14, 228):
        check(parse(linktype, memoryview(body)))
    check(parse(0, memoryview(struct.pack("<I", 2) + body)))
    check(parse(108, memoryview(struct.pack(">I", 2) + body)))
    check(parse(229, memoryview(ipv6(tcp()))), src=SRC6)


def test_ipv6_extension_headers_are_walked() -> None:
    hop_by_hop = bytes([60, 0]) + b"\x01\x04\x00\x00\x00\x00"  # next: destination options
    dest_opts = bytes([43, 0]) + b"\x01\x04\x00\x00\x00\x00"  # next: routing
    routing = bytes([44, 0, 0, 0]) + b"\0" * 4  # next: fragment
    atomic_fragment = bytes([6, 0, 0, 0]) + b"\0\0\0\x01"  # offset 0, M=0 (RFC 6946)
    ext = hop_by_hop + dest_opts + routing + atomic_fragment
    check(parse(1, memoryview(ether(ipv6(tcp(), 0, ext), 0x86DD))), src=SRC6)


def test_fragments_are_recognised_not_decoded() -> None:
    assert parse(1, memoryview(ether(ipv4(tcp(), frag=0x2000)))) == packet.FRAGMENT  # MF
    assert parse(1, memoryview(ether(ipv4(b"x" * 16, frag=0x0010)))) == packet.FRAGMENT
    fragment = bytes([6, 0, 0, 1]) + b"\0\0\0\x07"  # M=1
    assert parse(229, memoryview(ipv6(tcp(), 44, fragment))) == packet.FRAGMENT


def test_reasons_for_what_is_not_tcp() -> None:
    assert parse(1, memoryview(ether(b"\0" * 28, ethertype=0x0806))) == packet.NOT_IP
    assert parse(1, memoryview(ether(ipv4(b"\0" * 8, proto=17)))) == packet.NOT_TCP
    assert parse(1, memoryview(ether(ipv4(tcp())[:30]))) == packet.TRUNCATED
    assert parse(1, memoryview(ether(ipv4(tcp(), total=10)))) == packet.MALFORMED
    assert parse(147, memoryview(b"\0" * 60)) == packet.UNSUPPORTED_LINK
    assert parse(229, memoryview(ipv6(b"\0" * 8, 50))) == packet.NOT_TCP  # ESP


def test_snaplen_cut_payload_reports_the_missing_bytes() -> None:
    frame = ether(ipv4(tcp(b"x" * 1000)))[:100]
    result = parse(1, memoryview(frame))
    assert isinstance(result, tuple)
    assert len(result[8]) == 100 - 14 - 40 and result[9] == 1000 - (100 - 14 - 40)


def test_tso_zero_ip_length_uses_the_captured_length() -> None:
    result = parse(1, memoryview(ether(ipv4(tcp(b"y" * 3000), total=0))))
    assert isinstance(result, tuple) and len(result[8]) == 3000


@settings(max_examples=400, deadline=None)
@given(linktype=st.sampled_from(sorted(packet.SUPPORTED_LINKTYPES)), data=st.binary(max_size=120))
def test_random_bytes_give_a_segment_or_a_reason(linktype: int, data: bytes) -> None:
    result = parse(linktype, memoryview(data))
    if isinstance(result, int):
        assert result in packet.REASONS
    else:
        assert len(result) == 10 and result[9] >= 0


@settings(max_examples=300, deadline=None)
@given(prefix_len=st.integers(min_value=0, max_value=80), noise=st.binary(max_size=80))
def test_mangled_real_headers_never_raise(prefix_len: int, noise: bytes) -> None:
    real = ether(ipv6(tcp(), 0, bytes([6, 0]) + b"\0" * 6), 0x86DD)
    mangled = real[:prefix_len] + noise + real[prefix_len + len(noise) :]
    result = parse(1, memoryview(mangled))
    assert isinstance(result, (int, tuple))


@settings(max_examples=500, deadline=None)
@given(
    vihl=st.sampled_from([0x45, 0x46, 0x44, 0x55]),
    total_delta=st.sampled_from([0, 0, 0, -1, 1, -20, -41, 7]),
    fragment=st.sampled_from([0, 0x4000, 0x2000, 0x0001, 0x6001]),
    proto=st.sampled_from([6, 17]),
    data_offset=st.sampled_from([5, 5, 8, 15, 4, 0]),
    flags=st.integers(min_value=0, max_value=0xFF),
    offset_low=st.integers(min_value=0, max_value=1),
    payload=st.binary(max_size=60),
    cut=st.sampled_from([0, 0, 0, 1, 30, 39, 40, 41, 70]),
    tso=st.sampled_from([False, False, False, True]),
)
def test_the_ethernet_ipv4_fast_path_agrees_with_the_general_path(
    vihl: int,
    total_delta: int,
    fragment: int,
    proto: int,
    data_offset: int,
    flags: int,
    offset_low: int,
    payload: bytes,
    cut: int,
    tso: bool,
) -> None:
    """`parse` and `decode` read common frames field by field; on every frame, valid or odd,
    their answer must be the general decoder's."""
    header = struct.pack("!HHIIBBHHH", 40000, 443, 1000, 2000, data_offset << 4 | offset_low,
                         flags, 512, 0, 0)  # fmt: skip
    segment = header + b"\x01" * 40 + payload  # room for options the offset may claim
    total = 0 if tso else max(0, 20 + len(segment) + total_delta)
    body = struct.pack("!BBHHHBBH4s4s", vihl, 0, total, 1, fragment, 64, proto, 0, SRC4, DST4)
    _fast_paths_agree(memoryview(ether(body + segment)[: 14 + 20 + len(segment) - cut]))


def _fast_paths_agree(frame: memoryview) -> None:
    """`parse`, `decode` and `share_of_frame` on the Ethernet `frame`, and on the same packet
    behind a Linux cooked (SLL) header, say what the general decoder says."""
    _fast_paths_agree_on(1, frame)
    if len(frame) >= 14:
        # SLL (tcpdump -i any): packet type, ARPHRD, address length and 8 address bytes,
        # then the protocol, Ethernet's EtherType.
        sll = struct.pack("!HHH8s", 4, 1, 6, bytes(frame[6:12]) + b"\0\0") + bytes(frame[12:])
        _fast_paths_agree_on(packet.LINKTYPE_LINUX_SLL, memoryview(sll))


def _fast_paths_agree_on(linktype: int, frame: memoryview) -> None:
    general = packet.parse_general(linktype, frame)
    # As the pipeline calls it: the frame somewhere inside a reader's chunk.
    chunk = b"\xee" * 37 + bytes(frame) + b"\xdd" * 29
    start, stop = 37, 37 + len(frame)
    decoded = packet.decode(linktype, chunk, memoryview(chunk), start, stop)
    for fast in (parse(linktype, frame), decoded):
        if isinstance(fast, tuple) and isinstance(general, tuple):
            assert fast[:8] == general[:8] and fast[9] == general[9]
            assert bytes(fast[8]) == bytes(general[8])
        else:
            assert fast == general
    # A process following one share skips other shares' frames by their bytes alone: what
    # it reads must be what the decoded segment says, for the frames it reads at all.
    for count in (2, 3, 7):
        share = packet.share_of_frame(linktype, chunk, start, stop, count, False)
        hosts = packet.share_of_frame(linktype, chunk, start, stop, count, True)
        assert (share >= 0) == (hosts >= 0)
        if share >= 0:
            assert isinstance(general, tuple)
            # A worker decodes a frame it read so without checking it again: the same.
            read = packet.Decoded()
            packet.decode_read_into(chunk, packet.ethernet_at(linktype, start), stop, read)
            assert read.segment()[:8] == general[:8] and read.missing == general[9]
            assert bytes(read.segment()[8]) == bytes(general[8])
            src, dst, sport, dport = general[:4]
            assert share == packet.flow_share(src[-1], dst[-1], sport, dport, count)
            words = int.from_bytes(src[-4:], "big"), int.from_bytes(dst[-4:], "big")
            assert hosts == packet.hosts_share(*words, count)


@settings(max_examples=500, deadline=None)
@given(
    version=st.sampled_from([0x60, 0x60, 0x6F, 0x40, 0x70]),
    next_header=st.sampled_from([6, 6, 17, 0]),
    length_delta=st.sampled_from([0, 0, 0, -1, 1, -20, -41, 7]),
    data_offset=st.sampled_from([5, 5, 8, 15, 4, 0]),
    flags=st.integers(min_value=0, max_value=0xFF),
    payload=st.binary(max_size=60),
    cut=st.sampled_from([0, 0, 0, 1, 30, 39, 40, 41, 70]),
    tso=st.sampled_from([False, False, False, True]),
    src=st.binary(min_size=16, max_size=16),
)
def test_the_ethernet_ipv6_fast_path_agrees_with_the_general_path(
    version: int,
    next_header: int,
    length_delta: int,
    data_offset: int,
    flags: int,
    payload: bytes,
    cut: int,
    tso: bool,
    src: bytes,
) -> None:
    """The same for IPv6 frames, which `decode` and `share_of_frame` also read field by field
    when TCP follows the fixed header."""
    header = struct.pack("!HHIIBBHHH", 40000, 443, 1000, 2000, data_offset << 4, flags, 512,
                         0, 0)  # fmt: skip
    segment = header + b"\x01" * 40 + payload
    length = 0 if tso else max(0, len(segment) + length_delta)
    body = struct.pack("!BBHHBB16s16s", version, 0, 0, length, next_header, 64, src, DST6)
    _fast_paths_agree(memoryview(ether(body + segment, 0x86DD)[: 14 + 40 + len(segment) - cut]))


@settings(max_examples=300, deadline=None)
@given(src=st.binary(min_size=4, max_size=4), dst=st.binary(min_size=4, max_size=4),
       sport=st.integers(0, 0xFFFF), dport=st.integers(0, 0xFFFF))  # fmt: skip
def test_decode_into_makes_the_flow_tables_key(src: bytes, dst: bytes, sport: int,
                                               dport: int) -> None:  # fmt: skip
    """The frame loop hands the flow table the key `decode_into` made out of the frame's
    bytes; the table makes the other direction's with `tcp.flow_key`. They must agree, and
    tell every 4-tuple and direction apart."""
    tcp = struct.pack("!HHIIBBHHH", sport, dport, 1, 2, 5 << 4, 0x18, 512, 0, 0) + b"hi"
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0, 64, 6, 0, src, dst)
    chunk = b"\xee" * 5 + ether(ip + tcp)
    out = packet.Decoded()
    assert packet.decode_into(1, chunk, memoryview(chunk), 5, len(chunk), out) == 0
    assert out.key == flow_key(src, sport, dst, dport)
    assert (out.src, out.dst, out.sport, out.dport) == (src, dst, sport, dport)
    if (src, sport) != (dst, dport):
        assert flow_key(dst, dport, src, sport) != out.key
    # The same bytes as IPv6 addresses make another key; an IPv6 frame's is read as one
    # slice too, and its share without decoding it.
    src6, dst6 = bytes(12) + src, bytes(12) + dst
    assert flow_key(src6, sport, dst6, dport) != out.key
    ip6 = struct.pack("!IHBB16s16s", 6 << 28, len(tcp), 6, 64, src6, dst6)
    chunk = b"\xee" * 5 + ether(ip6 + tcp, 0x86DD)
    assert packet.decode_into(1, chunk, memoryview(chunk), 5, len(chunk), out) == 0
    assert out.key == flow_key(src6, sport, dst6, dport)
    assert out.data[out.start : out.stop] == b"hi"
    assert packet.share_of_frame(1, chunk, 5, len(chunk), 3, False) == packet.flow_share(
        src[-1], dst[-1], sport, dport, 3
    )


def test_linux_cooked_frames_take_the_fast_path() -> None:
    """A Linux cooked (SLL) frame of a plain TCP/IPv4 segment, as `tcpdump -i any` writes
    it, is read on the fast path (`share_of_frame` reads it; the general path is 2.5 times
    the work), and decodes to what the general decoder says."""
    tcp = struct.pack("!HHIIBBHHH", 40000, 443, 1000, 2000, 5 << 4, 0x18, 512, 0, 0)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp) + 5, 1, 0, 64, 6, 0, SRC4, DST4)
    frame = struct.pack("!HHH8sH", 0, 1, 6, b"\x02" * 6 + b"\0\0", 0x0800) + ip + tcp + b"hello"
    assert packet.share_of_frame(packet.LINKTYPE_LINUX_SLL, frame, 0, len(frame), 2, False) >= 0
    out = packet.Decoded()
    assert packet.decode_into(packet.LINKTYPE_LINUX_SLL, frame, memoryview(frame), 0,
                              len(frame), out) == 0  # fmt: skip
    general = packet.parse_general(packet.LINKTYPE_LINUX_SLL, memoryview(frame))
    assert isinstance(general, tuple)
    assert out.segment()[:8] == general[:8] and bytes(out.segment()[8]) == b"hello"
    assert out.data is frame  # the fast path: the payload left in the frame's bytes
