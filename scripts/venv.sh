# Sourced by scripts/demo and scripts/test: make .venv (Python 3.11+) and install tlslens.
# Usage: ensure_venv [pip extras, e.g. "[dev]"]

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        echo "tlslens: need root to run: $*" >&2; return 1; fi
}

apt_install() {
    # Install Debian packages that are missing; quiet unless something goes wrong.
    command -v apt-get >/dev/null || { echo "tlslens: please install: $*" >&2; return 1; }
    echo "tlslens: installing $* with apt-get" >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

ensure_venv() {
    local extras="${1:-}"
    local python="${PYTHON:-python3}"
    if ! command -v "$python" >/dev/null; then apt_install python3 python3-venv; fi
    if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
        echo "tlslens: needs Python 3.11 or newer; $python is $("$python" --version 2>&1)" >&2
        exit 1
    fi
    if [ ! -x .venv/bin/python ]; then
        if ! "$python" -m venv .venv >/dev/null 2>&1; then
            rm -rf .venv
            apt_install python3-venv
            "$python" -m venv .venv
        fi
    fi
    # Reinstall when the packaging changed since the last install, or the source of a
    # compiled module did (the extension module beside it would be stale). One stamp per
    # set of extras: .venv/.installed (scripts/demo) and .venv/.installed[dev] (scripts/test).
    local stamp=".venv/.installed$extras"
    if fresh ".venv/.installed[dev]" || fresh "$stamp"; then
        return 0  # the [dev] install holds the plain one
    fi
    if [ "$extras" = "[dev]" ] && fresh ".venv/.installed"; then
        # tlslens is installed and compiled (scripts/demo did it): add only the tools the
        # tests need instead of compiling the core a second time.
        # shellcheck disable=SC2046  # one word per requirement
        .venv/bin/python -m pip install -q --disable-pip-version-check $(.venv/bin/python -c \
            'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))
                ["project"]["optional-dependencies"]["dev"])') 2>&1 \
            | { grep -v "^WARNING: Location" >&2 || true; }
        touch "$stamp"
        return 0
    fi
    ensure_compiler
    echo "tlslens: installing into .venv, compiling the core with mypyc (about a minute)" >&2
    # pip's failure stops the script (pipefail); grep only filters its noise.
    .venv/bin/python -m pip install -q --disable-pip-version-check -e ".$extras" 2>&1 \
        | { grep -v "^WARNING: Location" >&2 || true; }
    # A core that should have compiled and did not is tried again next time.
    local version
    version=$(TLSLENS_PURE=0 .venv/bin/tlslens --version)
    if [ "${TLSLENS_COMPILE:-1}" = 0 ] || [[ "$version" == *"compiled core"* ]]; then
        touch "$stamp"
    else
        echo "tlslens: the core did not compile and runs as pure Python (slower)" >&2
    fi
}

fresh() {
    # Whether the install stamp $1 exists and nothing it depends on changed since: the
    # packaging, and the source of every compiled module and of the C modules.
    [ -f "$1" ] || return 1
    local core
    core=$(.venv/bin/python -c 'import runpy; print(*("src/" + n.replace(".", "/") + ".py"
        for n in runpy.run_path("src/tlslens/compiled.py")["CORE"]))')
    # shellcheck disable=SC2086  # one word per file
    [ -z "$(find pyproject.toml setup.py src/tlslens/compiled.py src/tlslens/capture/*.c \
        $core -newer "$1")" ]
}

ensure_compiler() {
    # The core is compiled to C (tlslens.compiled): that needs a C compiler and Python's
    # headers. Without them, and no apt-get to fetch them, install pure Python (slower);
    # TLSLENS_COMPILE=0 asks for that anyway.
    [ "${TLSLENS_COMPILE:-1}" = 0 ] && return 0
    local include
    include=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
    local missing=()
    command -v cc >/dev/null || missing+=(gcc)
    [ -f "$include/Python.h" ] || missing+=(python3-dev)
    if [ ${#missing[@]} -gt 0 ] && ! apt_install "${missing[@]}"; then
        echo "tlslens: no C compiler: installing the slower pure-Python core" >&2
        export TLSLENS_COMPILE=0
    fi
}
