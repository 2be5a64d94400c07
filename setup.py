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


def remove_stale_extensions(sources: list[str]) -> None:
    """An editable install compiles into src/. An extension module left there by an earlier
    build, of a module the core no longer names, would still be imported before its
    source and fail against the new shared library: remove it."""
    keep = {HERE / Path(source).with_suffix("") for source in sources}
    for built in (HERE / "src" / "tlslens").rglob("*.so"):
        if built.parent / built.name.split(".")[0] not in keep:
            built.unlink()


def ext_modules() -> list[object]:
    if os.environ.get("TLSLENS_COMPILE", "1") == "0":
        return []
    from mypyc.build import mypycify

    sources = core_sources()
    remove_stale_extensions(sources)
    # The core's own type errors stop the build; the modules it imports are followed for
    # their types only (the build environment does not have the package's dependencies,
    # and `scripts/test` type-checks everything). The group name names the one shared
    # library that holds the compiled modules.
    options = ["--follow-imports=silent", "--ignore-missing-imports"]
    return list(mypycify([*options, *sources], opt_level="3", group_name="tlslens"))


setup(ext_modules=ext_modules())
