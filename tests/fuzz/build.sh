#!/usr/bin/env bash
# build.sh OUTDIR: build the libFuzzer targets (fuzz_*.c here) with clang,
# -fsanitize=fuzzer,address,undefined, against padctl's core sources.
# Exit 77 (ctest's "skipped") when clang or its libFuzzer runtime is missing.
# Rebuilds only when a core or fuzz source is newer than the last build.
set -euo pipefail

out=${1:?usage: build.sh OUTDIR}
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
CLANG=${CLANG:-clang}

if ! command -v "$CLANG" >/dev/null 2>&1; then
	echo "fuzz: $CLANG not found: the fuzz targets are skipped (apt-get install clang)"
	exit 77
fi
mkdir -p "$out/obj"
probe=$out/probe.c
printf '#include <stdint.h>\n#include <stddef.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' >"$probe"
if ! "$CLANG" -fsanitize=fuzzer,address,undefined "$probe" -o "$out/probe" >/dev/null 2>&1; then
	echo "fuzz: $CLANG cannot link -fsanitize=fuzzer (no libFuzzer runtime): the fuzz targets are skipped"
	exit 77
fi

stamp=$out/.built
if [ -f "$stamp" ] && [ -z "$(find "$src/core" "$here" -name '*.[ch]' -newer "$stamp" -print -quit)" ]; then
	echo "fuzz: up to date"
	exit 0
fi

# The library's sources, as CMakeLists.txt takes them: every folder of core/
# but cmd/ (commands) and include/ (the SDK) is a subsystem.
subs=()
srcs=()
for d in "$src"/core/*/; do
	d=${d%/}
	case $(basename "$d") in cmd | include) continue ;; esac
	subs+=(-I"$d")
	srcs+=("$d"/*.c)
done

deps="libpq yaml-0.1 libssh2 jansson libcrypto"
read -r -a cflags <<<"$(pkg-config --cflags $deps)"
read -r -a libs <<<"$(pkg-config --libs $deps) -lpg_query -ldl"
common=(-std=c11 -g -O1 -Wall -Wextra -fno-omit-frame-pointer -fno-sanitize-recover=undefined
	-D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -DPADCTL_VERSION=\"fuzz\"
	-DPADCTL_PLUGIN_DIR=\"/nonexistent\" -DPADCTL_BUILD_PLUGIN_DIR=\"/nonexistent\"
	"${subs[@]}" -I"$src/core/include" -I"$here" "${cflags[@]}")

# lint.c alone reads libpg_query's parse nodes, with PostgreSQL 15's server
# headers (as CMakeLists.txt sets them on that one file)
pgserver=/usr/include/postgresql/15/server
[ -d "$pgserver" ] || pgserver=$(pg_config --includedir-server 2>/dev/null || echo /nonexistent)

# objects are named folder_file.o: two subsystems may each have a file of one name
obj_of() { printf '%s/obj/%s_%s.o' "$out" "$(basename "$(dirname "$1")")" "$(basename "$1" .c)"; }
objs=()
for c in "${srcs[@]}" "$here/fuzz_common.c"; do
	objs+=("$(obj_of "$c")")
done
# two compilers at a time: the machine is shared
for c in "${srcs[@]}" "$here/fuzz_common.c"; do
	extra=()
	case $c in */schema/lint.c) extra=(-I"$pgserver") ;; esac
	"$CLANG" "${common[@]}" "${extra[@]}" -fsanitize=fuzzer-no-link,address,undefined -c "$c" -o "$(obj_of "$c")" &
	if [ "$(jobs -rp | wc -l)" -ge 2 ]; then wait -n; fi
done
while [ "$(jobs -rp | wc -l)" -gt 0 ]; do wait -n; done
for t in "$here"/fuzz_*.c; do
	name=$(basename "$t" .c)
	[ "$name" = fuzz_common ] && continue
	"$CLANG" "${common[@]}" -Werror -fsanitize=fuzzer,address,undefined "$t" "${objs[@]}" "${libs[@]}" -o "$out/$name"
	echo "fuzz: built $out/$name"
done
touch "$stamp"
