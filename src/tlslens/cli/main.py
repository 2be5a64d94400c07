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
import gc
import importlib
import io
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
    live objects found nothing while costing about a tenth of a busy capture's run. What
    the imports made is frozen out of its passes (so the command's module is imported
    first); it runs after 50,000 new objects instead of 700, and a full pass comes after 10
    of the middle ones, as by default."""
    gc.freeze()
    gc.set_threshold(50_000, 20, 10)


def _utf8_for_machines(args: argparse.Namespace) -> None:
    """JSON and CSV go out as UTF-8 whatever the locale (RFC 8259 8.1 asks it of JSON): the
    records keep non-ASCII names as they are (`tlslens.cli.json_text`), and a Windows
    console's code page, when the output is redirected, could not write them."""
    stream = sys.stdout
    if getattr(args, "format", "text") in ("json", "jsonl", "csv") and isinstance(
        stream, io.TextIOWrapper
    ):
        if stream.encoding.lower().replace("-", "") != "utf8":
            stream.reconfigure(encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command not in COMMANDS:
        return 2
    run = command(args.command)
    _collect_rarely()
    _utf8_for_machines(args)
    try:
        return run(args, sys.stdout, sys.stderr)
    except BrokenPipeError:
        # The reader of our output went away (e.g. `| head`); that is not an error.
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
