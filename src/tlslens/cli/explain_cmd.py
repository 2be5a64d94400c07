"""`tlslens explain CODE...`: what a TLS alert, Schannel event or error state, HRESULT, cipher
suite, version or signature OID means."""

from __future__ import annotations

import argparse
from typing import TextIO

from tlslens.explain import explain


def run_explain(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    status = 0
    for code in args.codes:
        found = explain(code)
        if not found:
            print(
                f"tlslens: error: {code}: not a TLS alert, Schannel event or state, HRESULT, "
                "cipher suite, version or signature OID that tlslens knows",
                file=err,
            )
            status = 1
            continue
        for item in found:
            out.write(f"{code}: {item.kind}: {item.name}\n")
            for line in item.lines:
                out.write(f"    {line}\n")
            if item.source:
                out.write(f"    source: {item.source}\n")
    return status
