"""The layering rules of DESIGN.md hold: the lower packages never import one another, and
third-party libraries stay behind their one package."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src" / "tlslens"
LOWER = ("capture", "net", "tls", "certs", "eventlog")
#: Library -> the only package allowed to import it.
BEHIND = {"cryptography": "certs", "evtx": "eventlog", "duckdb": "store"}


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_lower_layers_do_not_import_each_other() -> None:
    for package in LOWER:
        for path in (SRC / package).rglob("*.py") if (SRC / package).is_dir() else []:
            for name in imports(path):
                parts = name.split(".")
                if parts[0] == "tlslens" and len(parts) > 1 and parts[1] in LOWER:
                    assert parts[1] == package, f"{path.relative_to(SRC)} imports {name}"
                assert not (parts[0] == "tlslens" and len(parts) > 1
                            and parts[1] in ("analysis", "diagnose", "cli")), name  # fmt: skip


def test_libraries_stay_behind_their_package() -> None:
    for path in SRC.rglob("*.py"):
        package = path.relative_to(SRC).parts[0]
        for name in imports(path):
            owner = BEHIND.get(name.split(".")[0])
            assert owner is None or owner == package, f"{path.relative_to(SRC)} imports {name}"
