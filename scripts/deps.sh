#!/usr/bin/env bash
# deps.sh: install the Debian 12 packages padctl needs to build, test and run.
# Installs only what is missing; uses sudo when not root.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config
  libpq-dev libssh2-1-dev libyaml-dev libpg-query-dev postgresql-server-dev-15 libssl-dev libjansson-dev libcunit1-dev
  postgresql postgresql-client openssh-server openssh-client
  python3 iproute2            # the test harness (free ports, network namespaces)
  clang libclang-rt-14-dev    # libFuzzer for the fuzz targets under tests/fuzz
  # postgresql-server-dev-15 (above): the parse-node headers lint reads libpg_query 15's tree with
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#PACKAGES[@]} packages are installed"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
