"""Readable terminal output for `tlslens analyze` (rich tables)."""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console
from rich.table import Table
from rich.text import Text

from tlslens.analysis.conversation import Conversation, format_time
from tlslens.analysis.pipeline import CaptureReport


def _end(conv: Conversation) -> Text:
    if conv.end_first is None:
        return Text("open (no FIN/RST)", style="dim")
    style = "red" if conv.end_how == "rst" else ""
    return Text(f"{conv.end_first} {conv.end_how.upper()} @{conv.end_frame}", style=style)


def _notes(conv: Conversation) -> str:
    notes = []
    if not conv.complete_handshake:
        notes.append("no TCP handshake seen" if conv.roles_from != "syn-ack" else "SYN not seen")
        if conv.roles_from != "syn-ack":
            notes.append(f"roles by {conv.roles_from}")
    retrans = conv.to_server.retransmissions + conv.to_client.retransmissions
    if retrans:
        notes.append(f"{retrans} retrans")
    ooo = conv.to_server.out_of_order + conv.to_client.out_of_order
    if ooo:
        notes.append(f"{ooo} out-of-order")
    gap_bytes = conv.to_server.gap_bytes + conv.to_client.gap_bytes
    if gap_bytes:
        notes.append(f"{gap_bytes} B missing")
    truncated = conv.to_server.truncated_bytes + conv.to_client.truncated_bytes
    if truncated:
        notes.append(f"{truncated} B cut by snaplen")
    keepalives = conv.to_server.keepalives + conv.to_client.keepalives
    if keepalives:
        notes.append(f"{keepalives} keep-alive")
    zwp = conv.to_server.zero_window_probes + conv.to_client.zero_window_probes
    if zwp:
        notes.append(f"{zwp} zero-window probe")
    return ", ".join(notes)


def print_conversations(
    console: Console, report: CaptureReport, conversations: Iterable[Conversation]
) -> None:
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("id", justify="right")
    table.add_column("client")
    table.add_column("server")
    table.add_column("start (UTC)")
    table.add_column("frames", justify="right")
    table.add_column("pkts", justify="right")
    table.add_column("bytes c→s", justify="right")
    table.add_column("bytes s→c", justify="right")
    table.add_column("ended")
    table.add_column("notes", overflow="fold")
    for conv in conversations:
        table.add_row(
            str(conv.id),
            str(conv.client),
            str(conv.server),
            format_time(conv.start_ns)[11:-1],
            f"{conv.first_frame}-{conv.last_frame}",
            str(conv.packets),
            f"{conv.to_server.bytes:,}",
            f"{conv.to_client.bytes:,}",
            _end(conv),
            _notes(conv),
        )
    console.print(
        Text.assemble(
            (report.path, "bold"),
            f"  {report.format}, {report.frames:,} frames, {report.connections:,} TCP connections",
        )
    )
    if report.connections:
        console.print(table)
    for note in report.notes():
        console.print(Text(f"note: {note}", style="yellow"))
    console.print()
