"""Which modules of the hot path are compiled, and whether this installation runs them so.

Why compile: following TCP and framing TLS records costs a few microseconds of interpreter
time per packet and a few hundred per connection (bench/stages.py), more than issue 8's
budget of a tenth of tshark's time, however the pure-Python code is arranged. mypyc compiles
these modules, written and type-checked (mypy --strict) as ordinary Python, into C
extensions; the source stays the one truth, and without a C compiler (or with
TLSLENS_COMPILE=0 at install time) the same modules run as plain Python, only slower.

TLSLENS_PURE=1 in the environment runs the core from its source even where it is compiled
(`prefer_source`): to compare the two (tests do), or to rule the compiled code out when
something looks wrong.

`setup.py` reads `CORE` from this file without importing the package, so this module
imports only the standard library at its top; and the pipeline imports it on every run, so
what only `prefer_source` needs (pathlib, importlib.util) is imported there, as is what only
`describe` needs (`tlslens.capture.source`, for how files are taken in).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from importlib.machinery import EXTENSION_SUFFIXES, ModuleSpec
from types import ModuleType

#: The modules setup.py compiles with mypyc: capture reading (pcap, pcapng and ETL), packet
#: decoding, TCP following, the TLS parsers (each strict-typed, importing only those
#: layers, the standard library and `tlslens.limits`), the pipeline's per-packet loop that
#: drives them, and the connection record it makes of each finished connection
#: (`conversation`, `tls_summary`: a quarter less time per record) with the registry's
#: names for code points (`tls.registry`).
CORE = (
    "tlslens.analysis.conversation",
    "tlslens.analysis.pipeline",
    "tlslens.analysis.tls_summary",
    "tlslens.capture.etl",
    "tlslens.capture.pcap",
    "tlslens.capture.pcapng",
    "tlslens.capture.sink",
    "tlslens.capture.source",
    "tlslens.net.packet",
    "tlslens.net.tcp",
    "tlslens.tls.detect",
    "tlslens.tls.messages",
    "tlslens.tls.record",
    "tlslens.tls.registry",
    "tlslens.tls.session",
    "tlslens.tls.value",
    "tlslens.tls.wire",
)


class _SourceFirst:
    """An import finder that loads the core modules from their .py files, ahead of the
    extension modules beside them (which the standard finder prefers)."""

    def find_spec(
        self, name: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if name not in CORE or path is None:  # every core module is in a package
            return None
        import importlib.util
        from pathlib import Path

        leaf = name.rpartition(".")[2] + ".py"
        for entry in path:
            source = Path(entry, leaf)
            if source.is_file():
                return importlib.util.spec_from_file_location(name, source)
        return None


def prefer_source() -> None:
    """Load the core modules imported from now on from source (TLSLENS_PURE=1)."""
    if not runs_from_source():
        sys.meta_path.insert(0, _SourceFirst())


def runs_from_source() -> bool:
    """Whether `prefer_source` is in force (TLSLENS_PURE=1)."""
    return any(isinstance(finder, _SourceFirst) for finder in sys.meta_path)


def is_compiled(module_name: str) -> bool:
    """Whether `module_name` was loaded from a C extension rather than from its source."""
    path = getattr(importlib.import_module(module_name), "__file__", None) or ""
    return path.endswith(tuple(EXTENSION_SUFFIXES))


def describe() -> str:
    """One line for `tlslens --version`: which of the core modules run compiled, and how
    plain capture files are taken in (`tlslens.capture.source`)."""
    return f"{_describe_core()}; {_describe_input()}"


def _describe_input() -> str:
    # Imported here: setup.py runs this module without the package's dependencies.
    import os

    from tlslens.capture.source import mapper

    if mapper() is not None:
        return "capture files mapped"
    if os.environ.get("TLSLENS_MAP") == "0":
        return "capture files read (TLSLENS_MAP=0)"
    return "capture files read (no tlslens.capture._mapped)"


def _describe_core() -> str:
    compiled = [name for name in CORE if is_compiled(name)]
    if len(compiled) == len(CORE):
        return f"compiled core ({len(CORE)} modules, mypyc)"
    if runs_from_source():
        return "pure Python (TLSLENS_PURE=1: the core runs from its source)"
    if not compiled:
        return "pure Python (no compiled core: reinstall with a C compiler to get one)"
    pure = ", ".join(name for name in CORE if name not in compiled)
    return f"partly compiled core (pure Python: {pure})"
