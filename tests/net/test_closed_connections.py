"""Closed connections are reported soon after they close (memory follows the connections
open at once), and their 4-tuple stays reserved for a while: a late packet is counted as
late instead of starting a bogus connection, while a new SYN starts a new one."""

from __future__ import annotations

from recorder import Recorder

from tlslens.limits import Limits
from tlslens.net.tcp import ACK, FIN, SYN, FlowTable, ForwardingSink

CLIENT, SERVER, OTHER = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]), bytes([10, 0, 0, 9])
S = 1_000_000_000
EMPTY = memoryview(b"")


class Link:
    def __init__(self, limits: Limits | None = None) -> None:
        self.rec = Recorder()
        self.table = FlowTable(ForwardingSink(self.rec), limits)
        self.frame = 0

    def send(self, t: float, from_client: bool, seq: int, ack: int, flags: int) -> object:
        self.frame += 1
        ends = (CLIENT, SERVER, 40000, 443) if from_client else (SERVER, CLIENT, 443, 40000)
        src, dst, sport, dport = ends
        return self.table.add(self.frame, int(t * S), src, dst, sport, dport, seq, ack, flags,
                              65535, EMPTY, 0)  # fmt: skip

    def tick(self, t: float) -> None:
        """A packet of an unrelated flow, to move the capture's clock on."""
        self.frame += 1
        self.table.add(self.frame, int(t * S), OTHER, SERVER, 50000 + self.frame, 80, 0, 0, SYN,
                       0, EMPTY, 0)  # fmt: skip

    def open_and_close(self, t: float, cisn: int = 1000, sisn: int = 5000) -> None:
        self.send(t, True, cisn, 0, SYN)
        self.send(t + 0.001, False, sisn, cisn + 1, SYN | ACK)
        self.send(t + 0.002, True, cisn + 1, sisn + 1, ACK)
        self.send(t + 0.003, True, cisn + 1, sisn + 1, FIN | ACK)
        self.send(t + 0.004, False, sisn + 1, cisn + 2, FIN | ACK)
        self.send(t + 0.005, True, cisn + 2, sisn + 2, ACK)


def test_reported_soon_after_close() -> None:
    link = Link()
    link.open_and_close(0)
    link.tick(1.0)
    assert not link.rec.conns[0].finished
    link.tick(2.5)
    assert link.rec.conns[0].finished  # more than closed_finish_ns after its last packet


def test_new_syn_on_reserved_ports_is_a_new_connection() -> None:
    link = Link()
    link.open_and_close(0)
    link.tick(3.0)
    assert link.rec.conns[0].finished
    opened = link.table.opened
    assert link.send(4.0, True, 777, 0, SYN) is not None
    assert link.table.opened == opened + 1 and link.table.late_packets == 0


def test_late_packets_after_the_report() -> None:
    link = Link()
    link.open_and_close(0)
    link.tick(3.0)
    opened = link.table.opened
    # The server's FIN again, and a retransmitted SYN of the old connection (same ISN).
    assert link.send(10.0, False, 5001, 1002, FIN | ACK) is None
    assert link.send(11.0, True, 1000, 0, SYN) is None
    assert link.table.late_packets == 2 and link.table.late_frames == [8, 9]
    assert link.table.opened == opened  # no bogus connection


def test_reservation_expires() -> None:
    link = Link(Limits(closed_linger_ns=60 * S))
    link.open_and_close(0)
    link.tick(3.0)
    link.tick(70.0)
    opened = link.table.opened
    # After the reservation, a stray packet on the old ports is a (midstream) connection.
    assert link.send(71.0, False, 5001, 1002, ACK) is not None
    assert link.table.late_packets == 0 and link.table.opened == opened + 1


def test_without_close_nothing_is_reported_early() -> None:
    link = Link()
    link.send(0, True, 1000, 0, SYN)
    link.send(0.001, False, 5000, 1001, SYN | ACK)
    link.tick(30.0)
    assert 0 not in link.rec.conns or not link.rec.conns[0].finished
