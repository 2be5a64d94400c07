"""`tlslens` command line: argument parsing, output formats, exit codes.

Exit status: 0 when every file was read (possibly with warnings about damage), 1 when a
file could not be read at all, 2 for a usage error.

Start-up time: the parser comes from `tlslens.cli.arguments`, which imports nothing heavy, and
only the module of the command being run is imported (see `COMMANDS`), so that e.g.
`tlslens analyze --format jsonl` does not load the event-log readers, the filter language or
the diagnosis rules.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib
import io
import os
import sys
from collections.abc import Callable, Sequence
from typing import TextIO

from tlslens.cli.arguments import build_parser

#: What runs a command: (arguments, stdout, stderr) -> exit status.
Command = Callable[[argparse.Namespace, TextIO, TextIO], int]

#: Where each command's run function lives, as (module, function). A module is imported only
#: when its command runs (start-up time).
COMMANDS = {
    "analyze": ("tlslens.cli.analyze_cmd", "run_analyze"),
    "audit": ("tlslens.cli.audit_cmd", "run_audit"),
    "certs": ("tlslens.cli.certs_cmd", "run_certs"),
    "convert": ("tlslens.cli.convert_cmd", "run_convert"),
    "diagnose": ("tlslens.cli.diagnose_cmd", "run_diagnose"),
    "explain": ("tlslens.cli.explain_cmd", "run_explain"),
    "fields": ("tlslens.cli.fields_cmd", "run_fields"),
    "ladder": ("tlslens.cli.views_cmd", "run_ladder"),
    "messages": ("tlslens.cli.views_cmd", "run_messages"),
    "show": ("tlslens.cli.views_cmd", "run_show"),
    "timeline": ("tlslens.cli.timeline_cmd", "run_timeline"),
}


def command(name: str) -> Command:
    """The run function of a command, its module imported now."""
    module, function = COMMANDS[name]
    run: Command = getattr(importlib.import_module(module), function)
    return run


def _collect_rarely() -> None:
    """Let Python's cyclic garbage collector run rarely. An analysis makes millions of small
    objects and no reference cycles (tests/analysis/test_garbage.py): reference counting
    frees each connection as it is written, and the collector's frequent passes over the
    live objects found nothing while costing about a tenth of a busy capture's run. It runs
    after 200,000 new objects instead of 700 (perf on the handshake-heavy benchmark: 8% of
    the run at 50,000, 1% here), and a full pass after 5,000 of those. Set before the
    command's module is imported: the imports make some 100,000 objects, and their passes
    over them were 4% of a split run's work before its fork (18 M instructions).
    Should a hostile capture make cycles after all, what waits for a pass stays bounded:
    200,000 objects, some tens of megabytes."""
    gc.set_threshold(200_000, 50, 100)


def _stdout_for_machines(args: argparse.Namespace) -> None:
    """JSON and CSV go out as UTF-8 whatever the locale (RFC 8259 8.1 asks it of JSON): the
    records keep non-ASCII names as they are (`tlslens.cli.json_text`), and a Windows
    console's code page, when the output is redirected, could not write them.

    And they go out buffered even where Python was told not to buffer (PYTHONUNBUFFERED, as
    many container images set it, or `python -u`): there each record was a write(2) call of
    its own, 8,000 of them for the handshake-heavy benchmark (464 through the buffer). A
    record is written whole and the stream is flushed when the command ends (`main`)."""
    stream = sys.stdout
    if getattr(args, "format", "text") not in ("json", "jsonl", "csv"):
        return
    if not isinstance(stream, io.TextIOWrapper):
        return  # a test's StringIO, or a caller's own stream
    utf8 = stream.encoding.lower().replace("-", "") == "utf8"
    unbuffered = stream.write_through or isinstance(stream.buffer, io.RawIOBase)
    try:
        fd = stream.fileno()
    except (OSError, ValueError):  # not a file (pytest's capture, say)
        unbuffered = False
    if not unbuffered:
        if not utf8:
            stream.reconfigure(encoding="utf-8")
        return
    stream.flush()
    # A stream of our own over the same descriptor, which it does not close.
    buffered = open(fd, "wb", buffering=1 << 16, closefd=False)  # noqa: SIM115
    sys.stdout = io.TextIOWrapper(buffered, encoding="utf-8", errors=stream.errors)


def main(argv: Sequence[str] | None = None) -> int:
    _collect_rarely()
    args = build_parser().parse_args(argv)
    if args.command not in COMMANDS:
        return 2
    run = command(args.command)
    # What the imports made stays for the whole run: out of the collector's passes.
    gc.freeze()
    _stdout_for_machines(args)
    try:
        status = run(args, sys.stdout, sys.stderr)
        sys.stdout.flush()
        return status
    except BrokenPipeError:
        # The reader of our output went away (e.g. `| head`); that is not an error.
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        return 130


def entry() -> None:
    """The `tlslens` command (and `python -m tlslens`): `main`, then an exit that skips the
    interpreter's teardown, which frees every object and module one by one (37 M
    instructions, about 6 ms, at the end of every run, and on a split run's critical path).
    Nothing is lost by it: the standard streams are flushed here, every file tlslens
    writes is closed by a `with` before `main` returns, and no command registers an atexit
    handler. (An exception out of `main`, or argparse's own exit, leaves the usual way.)"""
    status = main()
    for stream in (sys.stdout, sys.stderr):
        # OSError: the reader went away (`| head`); ValueError: the stream was closed.
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(status)


if __name__ == "__main__":
    entry()
