#!/bin/sh
# deps.sh: installs the Debian packages handoff needs, when missing.
# As root it runs apt-get; otherwise it prints the command to run.
# Set HANDOFF_DEPS_EXTRA to add packages (the bench target adds its peers),
# and HANDOFF_DEPS_CMDS to "command=package ..." pairs for programs that
# may come from elsewhere (Node.js and npm from NodeSource, say): the
# package is installed only when the command is missing.
set -u

need="libev-dev node-llhttp libssl-dev openssl curl python3 $(echo "${HANDOFF_DEPS_EXTRA:-}")"
missing=""
for pkg in $need; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed"; then
        missing="$missing $pkg"
    fi
done
for pair in ${HANDOFF_DEPS_CMDS:-}; do
    cmd=${pair%%=*}
    pkg=${pair#*=}
    if ! command -v "$cmd" >/dev/null 2>&1; then
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
# Packages such as nginx and haproxy start a daemon when installed; we
# only want their binaries, started by the tests and benchmarks on
# 127.0.0.1. policy-rc.d (Debian's hook for this) says no while we install.
policy=/usr/sbin/policy-rc.d
made_policy=""
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && made_policy=1
fi
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
rc=$?
[ -n "$made_policy" ] && rm -f "$policy"
exit $rc
