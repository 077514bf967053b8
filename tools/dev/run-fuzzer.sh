#!/usr/bin/env bash
# Runs one libFuzzer target (a build configured with -DCDP_FUZZ=ON) from its seed corpus.
# Usage: tools/dev/run-fuzzer.sh FUZZER SEED_DIR SECONDS [libFuzzer options...]
# CDP_FUZZ_SECONDS, when set, overrides SECONDS, for a longer run of the registered tests:
#   CDP_FUZZ_SECONDS=3600 ctest --test-dir build/sanitize -L fuzz
# What the run finds goes beside the binary, never into the repository: new inputs to
# FUZZER.corpus/, a crashing input to FUZZER.corpus/crash-* (libFuzzer prints its path). To keep
# a crash as a regression test, fix it and copy the input into SEED_DIR.
set -euo pipefail
if [ $# -lt 3 ]; then
  sed -n '2,9p' "$0" >&2
  exit 2
fi
fuzzer=$1 seeds=$2 seconds=${CDP_FUZZ_SECONDS:-$3}
shift 3
work="$fuzzer.corpus"
mkdir -p "$work"
# -timeout: an input taking longer than this is a hang, reported like a crash.
exec "$fuzzer" -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
  -artifact_prefix="$work/" "$@" "$work" "$seeds"
