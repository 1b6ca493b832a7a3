#!/usr/bin/env bash
# The test command: everything the tests need, then every test (extra arguments go to pytest).
#
# Works on a fresh Debian or Ubuntu machine, as root or as a user with sudo:
#   - Python >= 3.11 (Streamlit 1.67 needs it): the active virtual environment's, else
#     $PYTHON (default python3), checked before anything is installed;
#   - a virtual environment: the active one, else ./.venv (made here; Debian's python3-venv
#     is installed with apt-get when the venv module is missing);
#   - requirements-dev.txt installed into it with pip;
#   - a chromium binary for the browser tests (Debian's chromium package, installed with
#     apt-get when missing);
#   - apt-get runs as root, or through sudo for anyone else (DEBIAN_FRONTEND=noninteractive
#     is passed through sudo, which would drop it).
# SHALLOWRES_SETUP_ONLY=1: stop after the setup (CI runs ruff in between).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'scripts/test.sh: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

apt_install() {   # apt_install PACKAGE...: as root, or with sudo; says what it needs if neither works
  local sudo=()
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 \
      || die "need $* from apt-get, but this user is not root and sudo is missing: install $* (as root) and run again"
    sudo=(sudo)
  fi
  command -v apt-get >/dev/null 2>&1 \
    || die "need $*, and apt-get is missing (not Debian or Ubuntu?): install them with your package manager"
  say "installing $* with apt-get${sudo[*]:+ (via sudo)}"
  ${sudo[@]+"${sudo[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  ${sudo[@]+"${sudo[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

python_ok() {   # python_ok PYTHON: is it Python >= 3.11?
  "$1" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null
}

need_311() {
  python_ok "$1" || die "Python >= 3.11 is needed (Streamlit 1.67 requires it); $1 is $("$1" --version 2>&1 || echo missing). \
Install Python 3.11 or newer and run again with PYTHON=/path/to/python3.11, or activate a virtual environment made with it."
}

if [ -n "${VIRTUAL_ENV:-}" ] && [ -x "$VIRTUAL_ENV/bin/python" ]; then
  PY="$VIRTUAL_ENV/bin/python"
  need_311 "$PY"
else
  BASE="${PYTHON:-python3}"
  if ! command -v "$BASE" >/dev/null 2>&1; then
    [ "$BASE" = python3 ] || die "PYTHON=$BASE not found"
    apt_install python3 python3-venv
  fi
  need_311 "$BASE"
  if [ ! -x .venv/bin/python ] || ! python_ok .venv/bin/python; then
    rm -rf .venv
    if ! "$BASE" -m venv .venv >/dev/null 2>&1; then   # Debian: no ensurepip without python3-venv
      rm -rf .venv
      apt_install python3-venv "python3.$("$BASE" -c 'import sys; print(sys.version_info[1])')-venv"
      "$BASE" -m venv .venv || die "could not make a virtual environment with $BASE -m venv"
    fi
    say "made a virtual environment in .venv ($("$BASE" --version))"
  fi
  PY="$PWD/.venv/bin/python"
  export VIRTUAL_ENV="$PWD/.venv" PATH="$PWD/.venv/bin:$PATH"
fi

"$PY" -m pip install -q --disable-pip-version-check -r requirements-dev.txt

if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
  apt_install chromium
fi
chrome="$(command -v chromium || command -v chromium-browser)"
"$chrome" --headless=new --no-sandbox --version >/dev/null 2>&1 \
  || die "$chrome does not run (on Ubuntu the chromium package is a snap, which containers lack): the browser \
tests need a chromium binary on PATH named chromium, e.g. from Debian's chromium package"

[ "${SHALLOWRES_SETUP_ONLY:-}" = 1 ] && exit 0
exec "$PY" -m pytest "$@"
