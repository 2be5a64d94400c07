"""Build step beyond pyproject.toml: compile the hot path with mypyc (`tlslens.compiled`).

Set TLSLENS_COMPILE=0 to install pure Python. Without mypyc or a C compiler the build
stops with the compiler's message; TLSLENS_COMPILE=0 is then the way to install anyway.
"""

from __future__ import annotations

import os
import runpy
from pathlib import Path

from setuptools import setup

HERE = Path(__file__).parent


def core_sources() -> list[str]:
    """The source files of the modules `tlslens.compiled.CORE` names."""
    core = runpy.run_path(str(HERE / "src" / "tlslens" / "compiled.py"))["CORE"]
    return [str(Path("src", *name.split(".")).with_suffix(".py")) for name in core]


def ext_modules() -> list[object]:
    if os.environ.get("TLSLENS_COMPILE", "1") == "0":
        return []
    from mypyc.build import mypycify

    # The core's own type errors stop the build; the modules it imports are followed for
    # their types only (the build environment does not have the package's dependencies,
    # and `scripts/test` type-checks everything). The group name names the one shared
    # library that holds the compiled modules.
    options = ["--follow-imports=silent", "--ignore-missing-imports"]
    return list(mypycify([*options, *core_sources()], opt_level="3", group_name="tlslens"))


setup(ext_modules=ext_modules())
