"""Build step beyond pyproject.toml: compile the hot path with mypyc (`tlslens.compiled`), and
on POSIX systems the hand-written C modules (`tlslens.capture._mapped`, `_prefetch`).

Where that cannot be done (no C compiler, as on many Windows machines, or no mypyc), the
same modules install as pure Python, which works, only slower: `tlslens --version` tells
which. TLSLENS_COMPILE=0 asks for pure Python.
"""

from __future__ import annotations

import os
import runpy
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.errors import CCompilerError, CompileError, ExecError, LinkError, PlatformError

HERE = Path(__file__).parent
#: Endings of extension modules (Windows: .pyd).
EXTENSIONS = ("*.so", "*.pyd")


def core_sources() -> list[str]:
    """The source files of the modules `tlslens.compiled.CORE` names."""
    core = runpy.run_path(str(HERE / "src" / "tlslens" / "compiled.py"))["CORE"]
    return [str(Path("src", *name.split(".")).with_suffix(".py")) for name in core]


def remove_extensions(keep: list[str]) -> None:
    """An editable install compiles into src/, where an extension module is imported before
    its source. Remove those of modules not in `keep` (source files), and with `keep` empty
    the shared library too: left from an earlier build, they would be imported and be out
    of date, or fail against a new shared library."""
    kept = {HERE / Path(source).with_suffix("") for source in keep}
    for pattern in EXTENSIONS:
        for built in (HERE / "src").rglob(pattern):
            if built.parent / built.name.split(".")[0] in kept:
                continue
            if keep and built.parent.name == "src":
                continue  # the shared library, built again now
            built.unlink()


class BuildCoreOrFallBack(build_ext):
    """Compiles the core; if the compiler fails, installs pure Python, saying so, and
    leaves no extension module behind: in an editable install (built in src/) a
    half-built or older core would be imported before the source."""

    def run(self) -> None:
        # setuptools clears `inplace` while it builds, and does not set it back on failure.
        inplace = self.inplace
        try:
            super().run()
        except (CCompilerError, CompileError, ExecError, LinkError, PlatformError, OSError) as exc:
            if inplace:  # an editable install: older builds are in src/ too
                remove_extensions(keep=[])
            for output in self.get_outputs():
                Path(output).unlink(missing_ok=True)
            print(
                f"tlslens: the core could not be compiled ({exc}); it installs as pure "
                "Python, which is slower",
                file=sys.stderr,
            )


#: The hand-written C modules (each one's own comment says why), POSIX only:
#: - windows of a capture file as bytes over its mapped pages (elsewhere files are read in
#:   chunks);
#: - ETL events brought into the cache ahead of the reader (elsewhere it waits for them).
HAND_WRITTEN = {
    "tlslens.capture._mapped": "src/tlslens/capture/_mapped.c",
    "tlslens.capture._prefetch": "src/tlslens/capture/_prefetch.c",
}


def hand_written_modules() -> list[Extension]:
    if os.name != "posix":
        return []
    # Optional: where one does not compile, it is left out and the core still compiles.
    return [
        Extension(name, [source], extra_compile_args=["-O2"], optional=True)
        for name, source in HAND_WRITTEN.items()
    ]


def ext_modules() -> list[object]:
    if os.environ.get("TLSLENS_COMPILE", "1") == "0":
        remove_extensions(keep=[])
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:
        print("tlslens: mypyc is not installed: the core installs as pure Python", file=sys.stderr)
        remove_extensions(keep=[])
        return []

    sources = core_sources()
    # The C modules are built again too (and left out, not left stale, if they fail to).
    remove_extensions(keep=sources)
    # The core's own type errors stop the build; the modules it imports are followed for
    # their types only (the build environment does not have the package's dependencies,
    # and `scripts/test` type-checks everything). The group name names the one shared
    # library that holds the compiled modules.
    options = ["--follow-imports=silent", "--ignore-missing-imports"]
    core = mypycify([*options, *sources], opt_level="3", group_name="tlslens")
    return [*core, *hand_written_modules()]


setup(ext_modules=ext_modules(), cmdclass={"build_ext": BuildCoreOrFallBack})
