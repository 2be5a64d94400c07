"""A finding: one thing tlslens concluded about a connection, with its evidence.

Imports nothing from tlslens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

SEVERITIES: Final = ("error", "warning", "info")


@dataclass(frozen=True, slots=True)
class Evidence:
    """A fact that supports a finding: where it is (a frame, when there is one) and what."""

    frame: int | None
    text: str

    def to_record(self) -> dict[str, Any]:
        return {"frame": self.frame, "text": self.text}


@dataclass(frozen=True, slots=True)
class Finding:
    code: str
    severity: str
    summary: str
    evidence: tuple[Evidence, ...]
    remedy: str

    def to_record(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity,
            "summary": self.summary,
            "evidence": [e.to_record() for e in self.evidence],
            "remedy": self.remedy,
        }
