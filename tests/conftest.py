"""Shared test fixtures: where the committed captures and the third-party corpus live."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CAPTURES = ROOT / "tests" / "fixtures" / "captures"
MANIFEST = ROOT / "tests" / "fixtures" / "manifest.json"
CORPUS = ROOT.parent / "shared" / "corpus"

sys.path.insert(0, str(Path(__file__).resolve().parent))


def corpus_captures() -> list[Path]:
    """Every pcap/pcapng file (plain or gzip) in ../shared/corpus."""
    if not CORPUS.is_dir():
        return []
    names = ("*.pcap", "*.pcapng", "*.pcap.gz", "*.pcapng.gz")
    return sorted({p for pattern in names for p in CORPUS.rglob(pattern)})


def load_manifest() -> dict:
    return json.loads(MANIFEST.read_text())["captures"] if MANIFEST.exists() else {}


needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus not present")
