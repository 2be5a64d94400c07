"""tshark as a peer for TLS: per connection the same SNI, negotiated version, cipher,
readable handshake messages and plaintext alerts, on every fixture and corpus capture.

Where tshark and tlslens disagree for a reason we understand, the reason is written in
KNOWN below; every other difference fails.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import CAPTURES, corpus_captures, needs_tshark
from oracle import tshark_tls

from tlslens import Analysis
from tlslens.tls.session import HandshakeMessage

FILES = corpus_captures() + sorted(
    p for p in CAPTURES.glob("*") if p.name.endswith((".pcap", ".pcapng", ".gz"))
)

#: (file name, connection id) -> why tshark lists other handshake messages than we do.
KNOWN_TYPES: dict[tuple[str, int], str] = {
    ("tls12-dsb.pcapng", 0): "the file embeds its TLS keys (pcapng DSB) and tshark decrypts "
    "them, so it also lists the encrypted Finished messages; we do not decrypt (yet)",
    ("tls12-dsb.pcapng", 1): "as connection 0",
    ("hrr.pcap", 0): "tshark 4.0 does not dissect the ServerHello that follows a "
    "HelloRetryRequest; Zeek's baseline history for this trace (CjiICs) has it, as we do",
    ("tls-fragmented-handshake.pcap.gz", 0): "tshark 4.0 does not reassemble the "
    "Certificate fragmented over many records; we find it (CN=Bro, Zeek's fragment test)",
}
#: Files where tshark's alert list is not to be trusted, and why.
KNOWN_ALERTS: dict[str, str] = {
    "tls12-dsb.pcapng": "tshark decrypts with the keys embedded in the file and reads the "
    "encrypted close_notify alerts; we report them as encrypted, likely close_notify",
    "basic.snap128.pcap": "with a 128-byte snap length tshark dissects the bytes of records "
    "the capture cut off as alerts; they are encrypted or missing, we report none",
}


@needs_tshark
@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_tls_facts_match_tshark(path: Path) -> None:
    convs = list(Analysis(str(path)).conversations())
    ports = sorted({c.server.port for c in convs if c.tls and c.tls.is_tls
                    and not c.tls.session.starttls})  # fmt: skip
    theirs = tshark_tls(str(path), ports)
    for conv in convs:
        t = theirs.get(conv.id)
        tls = conv.tls
        ours_tls = tls is not None and tls.is_tls
        if t is None:
            assert not ours_tls or not tls.handshake_types(), f"conn {conv.id}: tshark saw no TLS"
            continue
        assert tls is not None
        label = f"conn {conv.id}"
        assert tls.sni == t.sni, label
        if tls.session.version == 0x0002:
            # SSL 2.0: tshark names no version or cipher; ours come from the SERVER-HELLO
            # and CLIENT-MASTER-KEY.
            assert (t.version, t.cipher) == (None, None), label
        else:
            assert tls.session.version == t.version, label
            assert tls.session.cipher == t.cipher, label
        ours_types = [
            e.msg_type
            for e in tls.session.events
            if isinstance(e, HandshakeMessage) and e.msg_type is not None
        ]
        if (path.name, conv.id) in KNOWN_TYPES:
            assert ours_types != t.handshake_types, "no longer differs: drop it from KNOWN"
        else:
            assert ours_types == t.handshake_types, label
        plaintext = [(a.frame, a.description) for a in tls.alerts if not a.encrypted]
        if path.name not in KNOWN_ALERTS:
            # The same alerts, cited by the same frames.
            assert plaintext == t.alert_frames, label
