"""The TLS session is an incremental parser: however the streams are cut into pieces
(whole, byte by byte, random splits), the same events and facts come out; trailing garbage
only adds anomalies; random bytes only ever give anomalies."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import pytest
from conftest import CAPTURES, CORPUS
from hypothesis import given, settings
from hypothesis import strategies as st
from recorder import Recorder, record_capture

from tlslens.tls.session import CLIENT, SERVER, TLSSession

SAMPLES = [
    CAPTURES / "basic.pcap",
    CAPTURES / "lossy.pcap",
    CORPUS / "zeek/testing/btest/Traces/tls/client-certificate.pcap",
    CORPUS / "zeek/testing/btest/Traces/tls/hrr.pcap",
    CORPUS / "zeek/testing/btest/Traces/tls/ssl.v3.pcap",
    CORPUS / "zeek/testing/btest/Traces/tls/smtp-starttls.pcap",
    CORPUS / "wireshark/test/captures/tls-fragmented-handshakes.pcap.gz",
]

Chunk = tuple[int, int, bytes, int]  # role, offset, data, frame


def chunks_of(recorder: Recorder, cid: int) -> list[Chunk]:
    """Every delivered chunk of one connection, in capture order, by TLS role."""
    rec = recorder.conns[cid]
    conn = recorder.objects[cid]
    out = []
    for side, offset, size, frame in rec.chunks:
        role = CLIENT if side == conn.client_side else SERVER
        out.append((role, offset, bytes(rec.data[side][offset : offset + size]), frame))
    return out


def run(chunks: list[Chunk], splitter: random.Random | None = None, bytewise: bool = False,
        left_out: list[int] | None = None) -> TLSSession:  # fmt: skip
    """Feed the chunks, cut as asked. With `left_out`, leave out every piece that lies
    wholly inside the stretch the session said it only skips (as the flow table does), and
    count those pieces there."""
    session = TLSSession()
    skip = [0, 0]
    for role, offset, data, frame in chunks:
        if bytewise:
            pieces = [(i, data[i : i + 1]) for i in range(len(data))]
        elif splitter is not None:
            cuts = sorted({0, len(data), *(splitter.randrange(len(data) + 1) for _ in range(3))})
            pieces = [(a, data[a:b]) for a, b in itertools.pairwise(cuts) if b > a]
        else:
            pieces = [(0, data)]
        for start, piece in pieces:
            if left_out is not None and skip[role] > len(piece):
                skip[role] -= len(piece)
                left_out.append(len(piece))
                continue
            skip[role] = session.data(role, offset + start, piece, frame)
    return session


def facts(session: TLSSession) -> tuple:
    return (
        session.events, session.history, session.version, session.cipher,
        [a for a in session.final_alerts()], session.outcome(), session.certificates,
    )  # fmt: skip


def connections(path: Path) -> list[list[Chunk]]:
    recorder = record_capture(str(path))
    return [chunks_of(recorder, cid) for cid in sorted(recorder.conns)][:12]


@pytest.mark.parametrize("path", [p for p in SAMPLES if p.exists()], ids=lambda p: p.name)
def test_any_split_gives_the_same_events(path: Path) -> None:
    for chunks in connections(path):
        whole = facts(run(chunks))
        assert facts(run(chunks, bytewise=True)) == whole
        for seed in range(3):
            assert facts(run(chunks, splitter=random.Random(seed))) == whole


@pytest.mark.parametrize("path", [p for p in SAMPLES if p.exists()], ids=lambda p: p.name)
def test_leaving_out_skipped_bytes_gives_the_same_events(path: Path) -> None:
    """What the session says it only skips can be left out without changing anything."""
    left_out: list[int] = []
    for chunks in connections(path):
        whole = facts(run(chunks))
        assert facts(run(chunks, left_out=left_out)) == whole
        assert facts(run(chunks, bytewise=True, left_out=left_out)) == whole
        for seed in range(3):
            assert facts(run(chunks, splitter=random.Random(seed), left_out=left_out)) == whole
    if path.name == "basic.pcap":
        # Its application data spans segments: some pieces really were left out.
        assert len(left_out) > 100


def test_trailing_garbage_only_adds_anomalies() -> None:
    chunks = connections(CAPTURES / "basic.pcap")[0]
    clean = run(chunks)
    last_role, last_offset, last_data, last_frame = chunks[-1]
    garbage = (last_role, last_offset + len(last_data), b"\x00GARBAGE\xff" * 3, last_frame)
    dirty = run([*chunks, garbage])
    assert dirty.history == clean.history and dirty.version == clean.version
    assert dirty.certificates == clean.certificates


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.binary(max_size=200)), max_size=12),
       st.booleans())  # fmt: skip
def test_random_bytes_only_ever_give_anomalies(pieces: list[tuple[int, bytes]],
                                               midstream: bool) -> None:  # fmt: skip
    session = TLSSession(midstream=midstream)
    offsets = [0, 0]
    for frame, (role, data) in enumerate(pieces, start=1):
        session.data(role, offsets[role], data, frame)
        offsets[role] += len(data)
    session.outcome()
    session.final_alerts()


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=1, max_size=300), st.integers(0, 400))
def test_mangled_client_hello_never_raises(noise: bytes, at: int) -> None:
    chunks = connections(CAPTURES / "basic.pcap")[1]
    role, offset, data, frame = chunks[0]
    at = min(at, len(data))
    mangled = data[:at] + noise + data[at + len(noise) :]
    session = run([(role, offset, mangled, frame), *chunks[1:]])
    session.outcome()
