"""Resource limits shared by every layer.

A hostile or simply huge capture must not exhaust memory, so every buffer that can grow with
the input is capped here. The object is passed down from the pipeline; the layers never read
globals. This module imports nothing from tlslens.
"""

from __future__ import annotations

from typing import NamedTuple


class Limits(NamedTuple):
    """Caps on what tlslens buffers. The defaults suit captures of busy servers.

    Immutable; `Limits(max_live_connections=1000)` changes one. A NamedTuple, not a frozen
    dataclass: a dataclass writes and compiles its methods as source when its module is
    imported, about a millisecond on every run; and compiled code reads a field of a
    NamedTuple by its index."""

    #: Largest captured packet accepted from a capture file. Wireshark uses 256 KiB for
    #: ordinary link types; a bigger value in a record header means the file is damaged.
    max_packet_bytes: int = 262_144
    #: Largest pcapng block read into memory (decryption secrets blocks can be large).
    max_block_bytes: int = 16 * 1024 * 1024
    #: Out-of-order bytes held per direction while waiting for a missing segment. When it
    #: overflows, the missing range is reported as a gap and parsing resumes after it.
    max_out_of_order_bytes: int = 2 * 1024 * 1024
    #: Out-of-order segments held per direction.
    max_out_of_order_segments: int = 2048
    #: Largest handshake message reassembled (a certificate chain is the usual big one).
    max_handshake_message_bytes: int = 1024 * 1024
    #: Plaintext bytes a direction may carry before TLS starts (STARTTLS) before we stop
    #: looking for a ClientHello in it.
    max_plaintext_before_tls: int = 64 * 1024
    #: Events (handshake messages, alerts, anomalies) kept per connection.
    max_events_per_connection: int = 512
    #: Connections tracked at once; the least recently created is finished early beyond it.
    max_live_connections: int = 500_000
    #: A connection closed by FIN/FIN or RST is finished (its record produced, its TLS state
    #: freed) this long after its last packet (capture time): the last ACKs come within it.
    #: Memory then follows the connections open at once, not all those of a busy minute.
    closed_finish_ns: int = 2 * 1_000_000_000
    #: After that, its addresses and ports stay reserved this long, so that a late
    #: retransmission is counted as late instead of starting a bogus connection.
    closed_linger_ns: int = 120 * 1_000_000_000
    #: A connection with no packets for this long (capture time) is finished.
    idle_timeout_ns: int = 3600 * 1_000_000_000
    #: Finished connections kept in memory while they wait for an earlier one to finish
    #: (they are handed out in id order); more wait on disk (`analysis.spill`).
    max_waiting_connections: int = 2_000
