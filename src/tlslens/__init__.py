"""tlslens: explain the TLS in packet captures.

Public API:
    analyze(path) -> iterator of Conversation, one per TCP connection, in id order
    Analysis(path) -> the same, plus a CaptureReport after iteration

The public names are imported on first use (PEP 562), not here: Python runs this module
before any of the package's modules, and the command line must not pay for the whole
pipeline before it knows which command it runs.
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING

__version__ = "0.1.0"

if os.environ.get("TLSLENS_PURE", "0") not in ("", "0"):
    # Run the compiled core from its source (tlslens.compiled); must come before any of it
    # is imported, which nothing here does.
    from tlslens.compiled import prefer_source

    prefer_source()

if TYPE_CHECKING:
    from tlslens.analysis.conversation import Conversation
    from tlslens.analysis.pipeline import Analysis, CaptureReport, analyze
    from tlslens.capture import CaptureError, CaptureProblem
    from tlslens.limits import Limits

__all__ = [
    "Analysis",
    "CaptureError",
    "CaptureProblem",
    "CaptureReport",
    "Conversation",
    "Limits",
    "__version__",
    "analyze",
]

#: The module each public name comes from.
_HOMES = {
    "Analysis": "tlslens.analysis.pipeline",
    "CaptureError": "tlslens.capture",
    "CaptureProblem": "tlslens.capture",
    "CaptureReport": "tlslens.analysis.pipeline",
    "Conversation": "tlslens.analysis.conversation",
    "Limits": "tlslens.limits",
    "analyze": "tlslens.analysis.pipeline",
}


def __getattr__(name: str) -> object:
    """A public name, imported from its module on first use (start-up time)."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # Later uses find it without calling this function.
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
