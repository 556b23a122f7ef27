#!/usr/bin/env bash
# check-banned.sh: no unbounded string functions in padctl's C code (use core/base/buf.h, snprintf, strtol).
set -euo pipefail
cd "$(dirname "$0")/.."
if grep -rnE '\b(sprintf|vsprintf|strcpy|strcat|gets|atoi|atol)\s*\(' core plugins tests --include='*.c' --include='*.h'; then
  echo "banned string functions found (use the buffer API in core/base/buf.h, snprintf, strtol)" >&2
  exit 1
fi
echo "banned-function check: clean"
