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
    # Reinstall only when pyproject.toml changed since the last install.
    local stamp=".venv/.installed$extras"
    if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
        .venv/bin/python -m pip install -q --disable-pip-version-check -e ".$extras" 2>&1 \
            | grep -v "^WARNING: Location" >&2 || true
        .venv/bin/python -c 'import tlslens' && touch "$stamp"
    fi
}
