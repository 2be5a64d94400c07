"""tlslens: explain the TLS in packet captures.

Public API:
    analyze(path) -> iterator of Conversation, one per TCP connection, in id order
    Analysis(path) -> the same, plus a CaptureReport after iteration
"""

from __future__ import annotations

__version__ = "0.1.0"

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
