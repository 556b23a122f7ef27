#!/usr/bin/env bash
# test.sh: install what is missing, build with ASan+UBSan and warnings as
# errors, and run the whole suite (unit, integration against a real
# PostgreSQL, CLI scenarios) with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
BUILD=${PADCTL_TEST_BUILD:-build-test}
cmake -S . -B "$BUILD" -DPADCTL_SANITIZE=ON -DPADCTL_WERROR=ON -DCMAKE_BUILD_TYPE=Debug
cmake --build "$BUILD" -j"$(nproc)"
scripts/check-banned.sh
ctest --test-dir "$BUILD" --output-on-failure -j2 --timeout 900
