#!/usr/bin/env bash
# The README's test command as a new user would run it: a non-root user with sudo, no
# virtual environment active, a clean environment. Run as root on a throwaway Debian or
# Ubuntu machine or container, from a checkout, e.g.
#
#   docker run --rm -v "$PWD":/src:ro debian:12 bash /src/scripts/fresh_machine.sh
#   sudo bash scripts/fresh_machine.sh tests/test_byo.py      # arguments go to pytest
#
# It installs sudo and git if missing, makes the user shallowres-fresh with passwordless
# sudo, clones the checkout's current commit into that user's home, runs
# `bash scripts/test.sh "$@"` there under `env -i` (HOME, USER, PATH and LANG only), and
# then removes the user, its home, its sudoers entry and the sudo/git packages it added.
# Packages the test command itself installs (python3-venv, chromium) stay.
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "fresh_machine.sh: run as root (it creates and removes a user)" >&2; exit 1; }
SRC="$(cd "$(dirname "$0")/.." && pwd)"
USERNAME=shallowres-fresh
HOME_DIR="/home/$USERNAME"
SUDOERS="/etc/sudoers.d/$USERNAME"
added=()

cleanup() {
  rm -f "$SUDOERS"
  id "$USERNAME" >/dev/null 2>&1 && userdel -r "$USERNAME" >/dev/null 2>&1 || true
  rm -rf "$HOME_DIR"
  if [ ${#added[@]} -gt 0 ]; then
    SUDO_FORCE_REMOVE=yes DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq "${added[@]}" >/dev/null || true
  fi
}
trap cleanup EXIT

need=()
command -v sudo >/dev/null 2>&1 || need+=(sudo)
command -v git >/dev/null 2>&1 || need+=(git)
if [ ${#need[@]} -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  added=("${need[@]}")
fi

id "$USERNAME" >/dev/null 2>&1 && { echo "fresh_machine.sh: user $USERNAME exists already" >&2; exit 1; }
useradd --create-home --shell /bin/bash "$USERNAME"
echo "$USERNAME ALL=(ALL) NOPASSWD: ALL" > "$SUDOERS"
chmod 0440 "$SUDOERS"

commit="$(git -c safe.directory='*' -C "$SRC" rev-parse HEAD)"
git -c safe.directory='*' clone -q --no-checkout "$SRC" "$HOME_DIR/shallowres"
git -C "$HOME_DIR/shallowres" checkout -q "$commit"
chown -R "$USERNAME:$USERNAME" "$HOME_DIR/shallowres"
echo "fresh_machine.sh: commit $commit as $USERNAME (non-root, sudo, no virtual environment)" >&2

status=0
sudo -u "$USERNAME" env -i HOME="$HOME_DIR" USER="$USERNAME" LANG=C.UTF-8 \
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  bash -c 'cd ~/shallowres && bash scripts/test.sh "$@"' test.sh "$@" || status=$?
echo "fresh_machine.sh: the test command exited with status $status" >&2
exit "$status"
