#!/usr/bin/env bash
# run.sh BUILDDIR TARGET SECONDS [LIBFUZZER_ARGS...]: run one fuzz target for
# SECONDS from its seed corpus (tests/fuzz/corpus/TARGET, read only). New
# inputs go to BUILDDIR/corpus/TARGET, a crash or hang to BUILDDIR/artifacts/,
# the log of a run with -jobs to BUILDDIR/fuzz-0.log.
# Exit 77 (skipped) when the target was not built (no clang).
set -u

out=${1:?usage: run.sh BUILDDIR TARGET SECONDS}
target=${2:?usage: run.sh BUILDDIR TARGET SECONDS}
secs=${3:?usage: run.sh BUILDDIR TARGET SECONDS}
shift 3
here=$(cd "$(dirname "$0")" && pwd)
bin=$out/$target
if [ ! -x "$bin" ]; then
	echo "fuzz: $bin was not built (no clang with libFuzzer): skipped"
	exit 77
fi
mkdir -p "$out/corpus/$target" "$out/artifacts"
# with -jobs, libFuzzer writes fuzz-JOB.log into the current directory: keep it in BUILDDIR
out=$(cd "$out" && pwd)
bin=$out/$target
cd "$out" || exit 1
# -timeout: one input taking 10 s is a hang; -rss_limit_mb: memory is bounded;
# -error_exitcode: libFuzzer's own default is 77, which ctest reads as "skipped"
# (a crash passed as a skip until this was set)
exec "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=16384 \
	-error_exitcode=1 -timeout_exitcode=1 \
	-print_final_stats=1 -artifact_prefix="$out/artifacts/$target-" "$@" \
	"$out/corpus/$target" "$here/corpus/$target"
