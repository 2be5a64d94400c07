"""Every fixture capture gives the connections its manifest describes, and every variant of
the same traffic (other formats, link types, compression) gives the same connections.

The manifest (tests/fixtures/manifest.json) is written by tests/fixtures/make.py from what the
real clients and servers did: ports, who closed first and how, exact byte counts and hashes
where the script drove the sockets itself, and what each connection shows.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from conftest import CAPTURES, load_manifest
from recorder import record_capture

from tlslens import Analysis, Conversation
from tlslens.capture import open_capture

MANIFEST = load_manifest()
pytestmark = pytest.mark.skipif(not MANIFEST, reason="tests/fixtures/manifest.json missing")


def conversations(name: str) -> list[Conversation]:
    return list(Analysis(str(CAPTURES / name)).conversations())


def facts(conv: Conversation) -> tuple[Any, ...]:
    return (str(conv.client), str(conv.server), conv.end_first, conv.end_how,
            conv.to_server.bytes, conv.to_client.bytes)  # fmt: skip


@pytest.mark.parametrize("name", sorted(MANIFEST), ids=str)
def test_connections_are_the_manifests(name: str) -> None:
    expected = MANIFEST[name]["connections"]
    ours = conversations(name)
    assert len(ours) == len(expected)
    for conv, exp in zip(ours, expected, strict=True):
        label = f"{name}: {exp['scenario']}"
        assert (conv.client.ip, conv.client.port) == (exp["client"]["ip"], exp["client"]["port"])
        assert (conv.server.ip, conv.server.port) == (exp["server"]["ip"], exp["server"]["port"])
        assert (conv.end_first, conv.end_how) == (exp["end_first"], exp["end_how"]), label
        assert (conv.first_frame, conv.packets) == (exp["first_frame"], exp["packets"]), label
        if exp["client_bytes"] is not None:
            assert conv.to_server.bytes == exp["client_bytes"], label
        if exp["server_bytes"] is not None:
            assert conv.to_client.bytes == exp["server_bytes"], label
        flags = set(exp["expect"])
        both = (conv.to_server, conv.to_client)
        gap_bytes = sum(d.gap_bytes for d in both)
        truncated = sum(d.truncated_bytes for d in both)
        assert (gap_bytes > 0) == ("gap" in flags), label
        assert (truncated > 0) == ("truncated" in flags), label
        assert (sum(d.keepalives for d in both) > 0) == ("keepalive" in flags), label
        assert (sum(d.zero_window_probes for d in both) > 0) == ("zero_window_probe" in flags)
        if flags & {"retransmissions", "duplicates"}:
            assert sum(d.retransmissions for d in both) > 0, label
        if "out_of_order" in flags:
            assert sum(d.out_of_order for d in both) > 0, label
        if "mid_stream" in flags:
            assert not conv.complete_handshake and conv.roles_from == "client-hello", label
        elif "refused" in flags:
            assert not conv.complete_handshake and conv.roles_from == "syn", label
        else:
            assert conv.complete_handshake and conv.roles_from == "syn", label


@pytest.mark.parametrize("name", sorted(MANIFEST), ids=str)
def test_reassembled_bytes_hash_to_what_was_sent(name: str) -> None:
    recorder = record_capture(str(CAPTURES / name))
    checked = 0
    for cid, exp in enumerate(MANIFEST[name]["connections"]):
        rec, conn = recorder.conns[cid], recorder.objects[cid]
        if rec.gaps:
            continue
        for role, key in (("client", "client_sha256"), ("server", "server_sha256")):
            if exp[key]:
                stream = bytes(rec.data[conn.side_of(role)])
                assert hashlib.sha256(stream).hexdigest() == exp[key], f"{exp['scenario']} {role}"
                checked += 1
    if not checked:
        pytest.skip("no connection with known hashes and no gaps")


def _variants_of_basic() -> list[str]:
    scenarios = [c["scenario"] for c in MANIFEST.get("basic.pcap", {}).get("connections", [])]
    return sorted(
        name for name, cap in MANIFEST.items()
        if name != "basic.pcap" and [c["scenario"] for c in cap["connections"]] == scenarios
        and not any(set(c["expect"]) & {"gap", "mid_stream"} for c in cap["connections"])
    )  # fmt: skip


@pytest.mark.parametrize("name", _variants_of_basic(), ids=str)
def test_every_variant_gives_the_same_connections(name: str) -> None:
    base = conversations("basic.pcap")
    ours = conversations(name)
    assert [facts(c) for c in ours] == [facts(c) for c in base]
    if MANIFEST[name]["derived_from"] in ("basic.pcap", "basic.pcapng"):
        # Same frames in the same order: the evidence must cite the same frame numbers.
        assert [(c.first_frame, c.last_frame, c.end_frame) for c in ours] == [
            (c.first_frame, c.last_frame, c.end_frame) for c in base
        ]
        assert [c.start_ns // 1000 for c in ours] == [c.start_ns // 1000 for c in base]


def test_capture_that_lost_a_segment_reports_the_gap_and_goes_on() -> None:
    exp = next(c for c in MANIFEST["gap.pcap"]["connections"] if "gap" in c["expect"])
    missing = exp["missing"]
    conv = next(c for c in conversations("gap.pcap") if c.client.port == exp["client"]["port"])
    assert [(g.side, g.offset, g.size) for g in conv.gaps] == [
        (missing["direction"], missing["seq_offset"], missing["length"])
    ]
    assert conv.gaps[0].reason == "not captured (acknowledged by the peer)"
    # The bytes after the gap are still delivered: the stream length is what was sent.
    assert conv.to_server.bytes == exp["client_bytes"]


def test_process_ids_from_pcapng_options() -> None:
    info = MANIFEST["procinfo.pcapng"]["process_info"]
    want: dict[int, tuple[int, int]] = {}
    for entry in info["frames_by_process"]:
        for part in entry["frames"].split(","):
            lo, _, hi = part.partition("-")
            for frame in range(int(lo), int(hi or lo) + 1):
                want[frame] = (entry["pid"], entry["tid"])
    names = {d["index"]: d["name"] for d in info["dpib"]}
    darwin_pids = {d["pid"] for d in info["dpib"]}
    got: dict[int, tuple[int, int]] = {}
    darwin_seen = 0
    for number, _ts, _lt, _data, meta in open_capture(str(CAPTURES / "procinfo.pcapng")):
        assert meta is not None and meta["comments"] == [f"PID={meta['pid']} TID={meta['tid']}"]
        got[number] = (meta["pid"], meta["tid"])
        if "process_name" in meta:
            darwin_seen += 1
            assert meta["process_name"] in names.values()
    assert got == want
    assert darwin_seen > 0 and darwin_pids


def test_several_sections_and_interfaces() -> None:
    expected = MANIFEST["multi.pcapng"]["connections"]
    capture = open_capture(str(CAPTURES / "multi.pcapng"))
    linktypes = {lt for _n, _ts, lt, _d, _m in capture}
    assert linktypes == set(MANIFEST["multi.pcapng"]["linktypes"])
    assert capture.reader.sections == 2  # type: ignore[union-attr]
    ours = conversations("multi.pcapng")
    assert [(c.client.port, c.server.port) for c in ours] == [
        (e["client"]["port"], e["server"]["port"]) for e in expected
    ]


def test_snaplen_truncation_is_counted_and_explained() -> None:
    analysis = Analysis(str(CAPTURES / "basic.snap128.pcap"))
    convs = list(analysis.conversations())
    assert analysis.report.truncated_frames > 0
    assert any("snap length" in note for note in analysis.report.notes())
    bulk = next(c for c in convs if c.server.port == 9000)
    assert bulk.to_server.truncated_bytes > 60_000


def test_example_capture_is_real_and_readable() -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "tls-loopback.pcapng"
    convs = list(Analysis(str(example)).conversations())
    assert len(convs) >= 5 and all(c.complete_handshake for c in convs)


def test_ip_fragments_are_counted_and_reported() -> None:
    expected = MANIFEST["fragments.pcap"]["fragments"]
    analysis = Analysis(str(CAPTURES / "fragments.pcap"))
    convs = list(analysis.conversations())
    skip = analysis.report.skipped.get(3)  # net.packet.FRAGMENT
    assert skip is not None
    assert skip.count == expected["ipv4_frames"] + expected["ipv6_frames"]
    assert any("fragment" in note and str(skip.count) in note for note in analysis.report.notes())
    assert [(c.client.port, c.server.port) for c in convs] == [
        (e["client"]["port"], e["server"]["port"])
        for e in MANIFEST["fragments.pcap"]["connections"]
    ]
