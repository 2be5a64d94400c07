"""The command line's grammar: every command, its options and their help texts.

Why the parser lives apart from the commands: argparse needs every command's options on every
run (to pick the command, to check the options and to print help), but a run executes one
command. Keeping the definitions here, importing nothing but argparse, lets `tlslens.cli.main`
build the parser cheaply and import only the module of the command it runs; the command
modules keep their imports at the top, where they are easy to read. Start-up time matters
because `tlslens` is run over and over on small captures, often from scripts.

This module must not import the analysis, the filter language, the event-log readers or rich.
Option types that need such code import it when they are called, which argparse does only
for an option that was given (or for a string default, see `skew_argument`).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from tlslens import __version__

#: Output formats of `tlslens analyze`.
FORMATS = ("text", "json", "jsonl", "csv")
#: Columns of `tlslens messages`, in their default order.
FRAME_COLUMNS = ("frame", "ts", "source", "destination", "protocol", "summary", "conn")
#: The default of --skew: no offset.
NO_SKEW = "0"


def skew_argument(text: str) -> str:
    """argparse type for --skew: checks the text, keeps it (auto is resolved later).

    argparse passes the default through here on every run of a command that has --skew; the
    default is known to be valid, so it is kept without loading the correlation code."""
    if text == NO_SKEW:
        return text
    # Lazy: the correlation code is needed only when an offset is given (start-up time).
    from tlslens.analysis.correlate import parse_skew

    try:
        parse_skew(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def version_argument(text: str) -> int:
    """argparse type for --min-version: a version name or code point as its code point."""
    # Lazy: the filter language is needed only when a version is given (start-up time).
    from tlslens.query.kinds import version_code

    try:
        return version_code(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_jobs_option(parser: argparse.ArgumentParser, what: str) -> None:
    """-j N: how many processes (see `tlslens.cli.split` and `tlslens.cli.parallel`)."""
    parser.add_argument("--jobs", "-j", type=int, default=0, metavar="N",
                        help=f"processes (default: one per core): {what}")  # fmt: skip


def add_event_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--events", action="append", default=[], metavar="LOG",
        help="a Windows event log (EVTX, wevtutil/Event Viewer XML, Get-WinEvent JSON, "
        "Export-Csv); events are joined to connections (repeat for several logs)",
    )  # fmt: skip
    parser.add_argument(
        "--skew", type=skew_argument, default=NO_SKEW, metavar="OFFSET",
        help="add OFFSET to event times to reach the capture's clock (+2.5s, -300ms, 1h), "
        "or `auto` to estimate it from events that match connections (default 0)",
    )  # fmt: skip


def add_trust_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--trust", metavar="PEM",
                        help="trusted roots: a PEM bundle, `system` or `certifi`")  # fmt: skip


def add_alias_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--aliases", metavar="FILE",
        help="nicknames for addresses and networks: TOML (\"10.0.0.5\" = \"web01\") or "
        "hosts-file lines (10.0.0.5 web01); CIDRs allowed",
    )  # fmt: skip


def add_filter_option(parser: argparse.ArgumentParser, frames: bool = False) -> None:
    what = ("only frames that match, each tested on its own as Wireshark does, e.g. "
            "'tls.handshake.type == client_hello' or 'conn.sni == \"x\"' (all frames of "
            "those connections)") if frames else \
        "only connections that match, e.g. 'conn.version < TLS1.2 and tcp.port == 443'"  # fmt: skip
    parser.add_argument("--filter", "-Y", metavar="EXPR",
                        help=what + " (`tlslens fields` lists the fields)")  # fmt: skip


class _Version(argparse.Action):
    """`--version`: the version and how the core runs. Looked up only when asked for, since
    it imports the core modules."""

    def __call__(self, parser: argparse.ArgumentParser, *_args: Any, **_kwargs: Any) -> None:
        from tlslens.compiled import describe

        sys.stdout.write(f"tlslens {__version__}, {describe()}\n")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tlslens",
        description="Explain the TLS in packet captures: connections, versions, ciphers, "
        "certificates, and why handshakes failed.",
    )
    parser.add_argument(
        "--version", action=_Version, nargs=0, help="show the version, and whether the core "
        "runs compiled, and exit"
    )  # fmt: skip
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # The order here is the order of `tlslens --help`.
    _add_analyze(commands)
    _add_diagnose(commands)
    _add_certs(commands)
    _add_timeline(commands)
    _add_fields(commands)
    _add_views(commands)
    _add_audit(commands)
    _add_convert(commands)
    _add_explain(commands)
    return parser


def _add_analyze(commands: Any) -> None:
    analyze = commands.add_parser(
        "analyze",
        help="list every TCP connection in captures (pcap, pcapng, Network Monitor, ETL, gzip)",
        description="Read captures and print one record per TCP connection.",
    )
    analyze.add_argument("files", nargs="+", metavar="FILE", help="capture file(s)")
    analyze.add_argument(
        "--format",
        choices=FORMATS,
        default="text",
        help="text (default), json (one document), jsonl (one connection per line) or csv",
    )
    add_event_options(analyze)
    add_alias_option(analyze)
    add_filter_option(analyze)
    add_jobs_option(
        analyze, "files analysed at once, or one large capture's connections shared between them"
    )
    analyze.add_argument(
        "--columns", metavar="FIELDS",
        help="show these fields instead of the usual record, e.g. "
        "'ip.src,conn.sni,conn.version,process.name' (see `tlslens fields`)",
    )  # fmt: skip


def _add_diagnose(commands: Any) -> None:
    diagnose = commands.add_parser(
        "diagnose",
        help="say why handshakes failed, and what is weak, with evidence frames",
        description="Findings per connection (failed ones first): code, severity, summary, "
        "evidence frames and a remedy.",
    )
    diagnose.add_argument("files", nargs="+", metavar="FILE", help="capture file(s)")
    diagnose.add_argument("--format", choices=("text", "json", "jsonl"), default="text")
    add_trust_option(diagnose)
    diagnose.add_argument("--all", action="store_true",
                          help="also list connections without findings")  # fmt: skip
    add_jobs_option(diagnose, "one large capture's connections shared between them, by host pair")
    add_event_options(diagnose)
    add_alias_option(diagnose)
    add_filter_option(diagnose)


def _add_certs(commands: Any) -> None:
    certs = commands.add_parser(
        "certs",
        help="list the certificate chains sent in each connection",
        description="Certificate chains per connection, with the chain checks at the "
        "capture's time; --export writes them as PEM files.",
    )
    certs.add_argument("files", nargs="+", metavar="FILE", help="capture file(s)")
    certs.add_argument("--export", metavar="DIR", help="write each certificate as PEM here")
    add_trust_option(certs)
    certs.add_argument("--format", choices=("text", "json", "jsonl"), default="text")
    add_alias_option(certs)
    add_filter_option(certs)


def _add_timeline(commands: Any) -> None:
    timeline = commands.add_parser(
        "timeline",
        help="one time-ordered list of TCP, TLS and event-log events",
        description="TCP opens and closes, TLS messages and alerts per connection, and event "
        "log events, in time order; each log event joined to the connection it most likely "
        "belongs to, with the reason.",
    )
    timeline.add_argument("capture", metavar="CAPTURE", help="capture file")
    add_event_options(timeline)
    add_alias_option(timeline)
    add_filter_option(timeline)
    timeline.add_argument("--all-events", action="store_true",
                          help="also show log events far (over 60 s) from the capture's time "
                          "span")  # fmt: skip
    timeline.add_argument("--format", choices=("text", "json", "jsonl", "csv"), default="text")


def _add_fields(commands: Any) -> None:
    fields = commands.add_parser(
        "fields",
        help="list the fields --filter can use, with kinds and examples",
        description="Every field of the filter language: name, kind, meaning and an example. "
        "A field holds a list of values per connection; a comparison is true when any value "
        "satisfies it.",
    )
    fields.add_argument("--format", choices=("text", "json", "csv"), default="text")


def _add_views(commands: Any) -> None:
    """`messages`, `show` and `ladder` (tlslens.cli.views_cmd)."""
    messages = commands.add_parser(
        "messages",
        help="the frame list: every frame with source, destination and what it carried",
        description="One row per frame, as Network Monitor's frame list: number, time, "
        "source, destination, protocol, summary and connection id.",
    )
    messages.add_argument("capture", metavar="CAPTURE")
    messages.add_argument("--format", choices=("text", "json", "jsonl", "csv"), default="text")
    messages.add_argument(
        "--columns",
        metavar="NAMES",
        help="choose and order columns among " + ",".join(FRAME_COLUMNS),
    )
    add_filter_option(messages, frames=True)
    add_alias_option(messages)
    show = commands.add_parser(
        "show",
        help="the details of every TLS message of a connection (or of one frame)",
        description="The details pane: each TLS message of the connection as a tree of its "
        "fields, extensions and certificates, with frames and stream offsets.",
    )
    show.add_argument("capture", metavar="CAPTURE")
    which = show.add_mutually_exclusive_group(required=True)
    which.add_argument("--conn", type=int, metavar="N", help="connection id (tcp.stream)")
    which.add_argument("--frame", type=int, metavar="N", help="frame number")
    show.add_argument("--format", choices=("text", "json"), default="text")
    add_alias_option(show)
    ladder = commands.add_parser(
        "ladder",
        help="a sequence diagram of one connection",
        description="Client and server columns with the TCP and TLS messages between them, "
        "alerts, FIN and RST, with frame numbers and times since the first packet.",
    )
    ladder.add_argument("capture", metavar="CAPTURE")
    ladder.add_argument("--conn", type=int, metavar="N", required=True,
                        help="connection id (tcp.stream)")  # fmt: skip
    ladder.add_argument("--format", choices=("text", "json"), default="text")
    add_alias_option(ladder)


def _add_audit(commands: Any) -> None:
    parser = commands.add_parser(
        "audit",
        help="compliance view: versions, ciphers and certificates per client/server pair",
        description="For every client/server pair (aliases and processes applied): the "
        "highest version the client offered, the versions and ciphers negotiated, the "
        "certificate signature algorithms and counts, worst first; --min-version decides "
        "what is a violation.",
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="capture file(s)")
    parser.add_argument("--min-version", type=version_argument, default=0x0303,
                        metavar="VERSION",
                        help="the lowest acceptable version (default TLS1.2)")  # fmt: skip
    parser.add_argument("--format", choices=("text", "json", "csv"), default="text")
    add_filter_option(parser)
    add_alias_option(parser)
    add_event_options(parser)
    add_jobs_option(parser, "one large capture's connections shared between them, by host pair")


def _add_convert(commands: Any) -> None:
    convert = commands.add_parser(
        "convert",
        help="write a capture (pcap, pcapng, Network Monitor .cap, ETL, gzip) as pcapng, keeping "
        "process ids, comments and directions",
        description="Convert any capture tlslens reads to pcapng. Per-packet process and "
        "thread ids become pcapng option 8 (epb_processid_threadid) plus a `PID=... TID=...` "
        "comment as Microsoft's etl2pcapng writes; comments and direction flags are kept.",
    )
    convert.add_argument("input", metavar="IN", help="capture file to read")
    convert.add_argument("-o", "--output", metavar="OUT.pcapng", required=True,
                         help="pcapng file to write (replaced if it exists)")  # fmt: skip
    convert.add_argument(
        "--dedupe",
        action="store_true",
        help="drop the extra copies of a packet that pktmon logs once per network "
        "component (pktmon ETL input only; other formats have no such copies)",
    )


def _add_explain(commands: Any) -> None:
    explain = commands.add_parser(
        "explain",
        help="what a TLS alert, Schannel event or error state, HRESULT, cipher suite, "
        "version or OID means",
        description="Err.exe for TLS: every reading of each code given.",
    )
    explain.add_argument("codes", nargs="+", metavar="CODE",
                         help="e.g. 48, 36888, 252, 0x80090325, 0xc030, 0x0301, "
                         "1.2.840.113549.1.1.5, SEC_E_UNTRUSTED_ROOT")  # fmt: skip
