#!/usr/bin/env bash
# setup.sh: install what is missing, build padctl, and deploy the reference
# project to the `local` env (a private PostgreSQL under .padctl/): the
# migrations, then the seed sets common and uat (a second run applies nothing).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j"$(nproc)"
./build/padctl deploy local
./build/padctl history local
echo
echo "padctl is built: ./build/padctl (try: ./build/padctl status local)"
