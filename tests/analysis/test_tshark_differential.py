"""tshark as a peer: the same connections, endpoints, frames and endings as tcp.stream.

Our connection id is documented to equal Wireshark's `tcp.stream`, so these compare one to
one on every fixture and every corpus capture.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import CAPTURES, corpus_captures, needs_tshark
from oracle import tshark_streams

from tlslens import Analysis

FILES = corpus_captures() + sorted(
    p for p in CAPTURES.glob("*") if p.name.endswith((".pcap", ".pcapng", ".gz"))
)


def _ours(path: Path) -> dict[int, dict]:
    analysis = Analysis(str(path))
    return {c.id: c.to_record() for c in analysis.conversations()}


@needs_tshark
@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_connections_match_tshark(path: Path) -> None:
    theirs = tshark_streams(str(path))
    ours = _ours(path)
    assert sorted(ours) == sorted(theirs), "connection ids differ from tshark's tcp.stream"
    for cid, t in theirs.items():
        o = ours[cid]
        endpoints = {
            (o["client"]["ip"], o["client"]["port"]),
            (o["server"]["ip"], o["server"]["port"]),
        }
        # tshark names only the endpoints that sent something; ours has both ends.
        assert set(t.endpoints) <= endpoints and len(endpoints) == 2, f"conn {cid}"
        assert (o["first_frame"], o["last_frame"], o["packets"]) == (
            t.first_frame,
            t.last_frame,
            t.packets,
        ), f"conn {cid}"
        if t.syn_from is not None:
            assert (o["client"]["ip"], o["client"]["port"]) == t.syn_from, f"conn {cid}"
        if t.end is None:
            assert o["end"]["how"] == "none", f"conn {cid}"
        else:
            sender, how, frame = t.end
            first = "client" if sender == (o["client"]["ip"], o["client"]["port"]) else "server"
            assert (o["end"]["first"], o["end"]["how"], o["end"]["frame"]) == (first, how, frame), (
                f"conn {cid}"
            )
