"""Readable terminal output for `tlslens analyze` (a `tlslens.cli.table` table), and CSV
rows. The chosen fields of --columns are `tlslens.cli.columns`' job."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.console import Console
from rich.text import Text

from tlslens.analysis.conversation import Conversation, format_time
from tlslens.analysis.correlate import LogProcess, process_record
from tlslens.analysis.pipeline import CaptureReport
from tlslens.cli.table import Cell, Column, Table

OUTCOME_STYLES = {
    "established": "green",
    "failed": "bold red",
    "aborted": "yellow",
    "incomplete": "dim",
    "not-tls": "dim",
}

COLUMNS = (
    ("id", "right"), ("start (UTC)", "left"), ("client", "left"), ("server", "left"),
    ("SNI", "left"), ("version", "left"), ("cipher", "left"), ("outcome", "left"),
    ("last alert", "left"), ("ended", "left"), ("notes", "left"),
)  # fmt: skip
#: Columns shown only when the terminal is at least WIDE_COLUMNS wide.
WIDE_ONLY = frozenset({"start (UTC)", "ended", "notes"})
WIDE_COLUMNS = 160

CSV_COLUMNS = (
    "file", "id", "start", "client_ip", "client_port", "server_ip", "server_port", "sni",
    "version", "cipher", "outcome", "established", "resumed", "last_alert", "history",
    "first_frame", "last_frame", "packets", "client_bytes", "server_bytes", "end_first",
    "end_how", "end_frame", "process_pid", "process_name", "client_alias", "server_alias",
)  # fmt: skip


def csv_row(path: str, conv: Conversation, process_of: LogProcess | None = None
            ) -> dict[str, Any]:  # fmt: skip
    tls = conv.tls
    process = process_record(conv, process_of)
    return {
        "file": path,
        "id": conv.id,
        "start": format_time(conv.start_ns),
        "client_ip": conv.client.ip,
        "client_port": conv.client.port,
        "server_ip": conv.server.ip,
        "server_port": conv.server.port,
        "sni": tls.sni if tls else None,
        "version": tls.version if tls else None,
        "cipher": tls.cipher if tls else None,
        "outcome": conv.outcome,
        "established": tls.session.established if tls else False,
        "resumed": tls.session.resumed if tls else False,
        "last_alert": tls.last_alert if tls else None,
        "history": tls.history if tls else "",
        "first_frame": conv.first_frame,
        "last_frame": conv.last_frame,
        "packets": conv.packets,
        "client_bytes": conv.to_server.bytes,
        "server_bytes": conv.to_client.bytes,
        "end_first": conv.end_first,
        "end_how": conv.end_how,
        "end_frame": conv.end_frame,
        "client_alias": conv.client.alias,
        "server_alias": conv.server.alias,
        "process_pid": process["pid"] if process else None,
        "process_name": process["name"] if process else None,
    }


def _end(conv: Conversation) -> Cell:
    if conv.end_first is None:
        return ("open", "dim")
    text = f"{conv.end_first} {conv.end_how.upper()} @{conv.end_frame}"
    return (text, "red") if conv.end_how == "rst" else text


def _notes(conv: Conversation) -> str:
    notes = []
    if not conv.complete_handshake:
        notes.append("started mid-connection" if conv.roles_from != "syn-ack" else "no SYN")
    if conv.tls is not None and conv.tls.session.starttls:
        notes.append("STARTTLS")
    if conv.tls is not None and conv.tls.session.resumed:
        notes.append("resumed")
    retrans = conv.to_server.retransmissions + conv.to_client.retransmissions
    if retrans:
        notes.append(f"{retrans} retrans")
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
    if conv.tls is not None and conv.tls.session.anomalies:
        notes.append(f"{len(conv.tls.session.anomalies)} anomaly")
    return ", ".join(notes)


def _process_text(process: dict[str, Any] | None) -> str:
    if process is None:
        return ""
    text = f"{process['name'] or ''} ({process['pid']})".lstrip()
    return text + (" ?" if process.get("conflicts") else "")


#: The cells of a connection's row (`conversation_row`), in order; the table shows a subset.
ROW_NAMES = ("id", "start (UTC)", "client", "server", "process", "SNI", "version", "cipher",
             "outcome", "last alert", "ended", "notes")  # fmt: skip
_PROCESS = ROW_NAMES.index("process")


def conversation_row(conv: Conversation, process_of: LogProcess | None = None
                     ) -> tuple[Cell, ...]:  # fmt: skip
    """A connection's cells, one per name of ROW_NAMES."""
    tls = conv.tls if conv.tls is not None and conv.tls.is_tls else None
    return (
        str(conv.id),
        format_time(conv.start_ns)[11:-1],
        str(conv.client),
        str(conv.server),
        _process_text(process_record(conv, process_of)),
        (tls.sni if tls else None) or "",
        (tls.version if tls else None) or "",
        (tls.cipher if tls else None) or "",
        (conv.outcome, OUTCOME_STYLES.get(conv.outcome, "")),
        (tls.last_alert if tls else None) or "",
        _end(conv),
        _notes(conv),
    )


def conversation_table(
    console: Console,
    conversations: Iterable[Conversation],
    process_of: LogProcess | None = None,
) -> Table:
    """The connection table. Each connection becomes its row's strings as it comes, so
    memory holds strings, not connections."""
    rows = [conversation_row(conv, process_of) for conv in conversations]
    return table_of_rows(console, rows, process_of is not None)


def table_of_rows(console: Console, rows: list[tuple[Cell, ...]], processes: bool) -> Table:
    """The table of `conversation_row` rows for this console; with `processes` (process
    names were asked for) or process ids in the capture, a process column after the server."""
    # On a narrow terminal keep the columns a troubleshooter scans first and let them fold;
    # on a wide one show everything and never cut an address or a name.
    wide = console.width >= WIDE_COLUMNS
    processes = processes or any(row[_PROCESS] for row in rows)
    shown = [i for i, name in enumerate(ROW_NAMES)
             if (wide or name not in WIDE_ONLY) and (processes or name != "process")]  # fmt: skip
    justify = dict(COLUMNS)
    folding = {"notes", "SNI", "cipher", "last alert"} if not wide else {"notes"}
    table = Table([Column(ROW_NAMES[i], justify.get(ROW_NAMES[i], "left"), ROW_NAMES[i] in folding)
                   for i in shown])  # fmt: skip
    for row in rows:
        table.add_row(row[i] for i in shown)
    return table


def print_conversations(console: Console, report: CaptureReport, table: Table) -> None:
    """A capture's heading, its connection table and its notes."""
    skipped = sum(s.count for s in report.skipped.values())
    console.print(
        Text.assemble(
            (report.path, "bold"),
            f"  {report.format}, {report.frames:,} frames, "
            f"{report.connections:,} TCP connection{'' if report.connections == 1 else 's'}",
            (f"  ({skipped:,} frames not TCP: not analysed)" if skipped else "", "dim"),
        )
    )
    if report.connections:
        table.print(console)
    for note in report.notes():
        console.print(Text(f"note: {note}", style="yellow"))
    console.print()


# Every column of the table has its cell in a row, and the process column is the one extra.
assert set(ROW_NAMES) == {name for name, _ in COLUMNS} | {"process"}
