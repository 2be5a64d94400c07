"""`tlslens certs`: the certificate chains of every connection, checked at capture time."""

from __future__ import annotations

import argparse
import base64
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, TextIO

from rich.console import Console

from tlslens.certs.chain import check_chain
from tlslens.cli.diagnose_cmd import SEVERITY_STYLE, trust_store
from tlslens.cli.files import Captures, matching, no_match_note, read_inputs
from tlslens.cli.json_text import to_json
from tlslens.cli.table import Lines


def pem(der: bytes) -> str:
    body = base64.b64encode(der).decode()
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n"


def run_certs(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    ok, trust = trust_store(args.trust, err)
    if not ok:
        return 1
    console = Console(file=out, highlight=False, width=None if out.isatty() else 160)
    # Line by line (`Lines`): rich's print takes about 150 µs a line to lay it out.
    lines = Lines(console)
    export = Path(args.export) if args.export else None
    if export is not None:
        export.mkdir(parents=True, exist_ok=True)
    inputs = read_inputs(args, err)
    if inputs is None:
        return 1
    aliases, predicate = inputs
    captures = Captures(args.files, err, aliases=aliases)
    for analysis in captures:
        path = analysis.report.path
        if args.format == "text":
            lines.line((path, "bold"))
        for conv in matching(analysis.conversations(), predicate, args.filter,
                             on_empty=partial(no_match_note, path, err)):  # fmt: skip
            tls = conv.tls
            if tls is None or not (tls.certificates or tls.client_certificates):
                continue
            at = datetime.fromtimestamp(conv.start_ns / 1e9, UTC)
            record: dict[str, Any] = {
                "file": path, "id": conv.id, "client": conv.client.to_record(),
                "server": conv.server.to_record(), "sni": tls.sni, "chains": {},
            }  # fmt: skip
            for role, seen, ders in (
                ("server", tls.certificates, [d for d, _ in tls.session.certificates]),
                ("client", tls.client_certificates,
                 [d for d, _ in tls.session.client_certificates]),
            ):  # fmt: skip
                if not seen:
                    continue
                issues = check_chain(ders, at, tls.sni if role == "server" else None, role,
                                     trust)  # fmt: skip
                record["chains"][role] = {
                    "certificates": [c.to_record() for c in seen],
                    "issues": [{"code": i.code, "severity": i.severity, "index": i.index,
                                "message": i.message} for i in issues],
                }  # fmt: skip
                if export is not None:
                    for index, der in enumerate(ders):
                        name = f"{Path(path).name}-conn{conv.id}-{role}-{index}.pem"
                        (export / name).write_text(pem(der))
                if args.format == "text":
                    lines.line(f"conn {conv.id}  {conv.client} → {conv.server}  "
                               f"{role} chain  (SNI {tls.sni or '-'})")  # fmt: skip
                    for index, c in enumerate(seen):
                        s = c.summary
                        if s.error:
                            lines.line(f"  [{index}] {s.error}")
                            continue
                        validity = "validity unreadable"
                        if s.not_before and s.not_after:
                            validity = f"valid {s.not_before:%Y-%m-%d} to {s.not_after:%Y-%m-%d}"
                        lines.line(f"  [{index}] {s.subject}")
                        lines.line(f"      issuer {s.issuer}")
                        lines.line(f"      {s.sig_alg}, {s.key or 'unknown key'}, {validity}, "
                                   f"sha256 {s.sha256[:16]}…, frame {c.frame}")  # fmt: skip
                    for issue in issues:
                        text = f"  {issue.severity.upper():7} {issue.code}: {issue.message}"
                        lines.line((text, SEVERITY_STYLE[issue.severity]))
                    lines.line()
            if args.format != "text":
                out.write(to_json(record) + "\n")
    return captures.status
