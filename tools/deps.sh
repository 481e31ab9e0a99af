#!/bin/sh
# deps.sh: installs the Debian packages handoff needs, when missing.
# As root it runs apt-get; otherwise it prints the command to run.
# Set HANDOFF_DEPS_EXTRA to add packages (the bench target adds its peers).
set -eu

need="libev-dev node-llhttp curl python3 $(echo "${HANDOFF_DEPS_EXTRA:-}")"
missing=""
for pkg in $need; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed"; then
        missing="$missing $pkg"
    fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "handoff: missing Debian packages:$missing" >&2
    echo "handoff: run as root: apt-get update && apt-get install -y$missing" >&2
    exit 1
fi
echo "handoff: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
