#!/usr/bin/env bash
# The whole test suite from scratch: installs what is missing, builds with warnings as errors,
# AddressSanitizer + UndefinedBehaviorSanitizer and libFuzzer's coverage, and runs every test
# (unit, integration, the short reliability harness, each fuzz target for a while).
# Usage: tools/dev/test.sh [--no-sanitizers]
#   --no-sanitizers: an optimised GCC build instead, without the fuzz runs; quicker to build
#   and run, for a developer's check before the full one.
set -euo pipefail
cd "$(dirname "$0")/../.."

sanitizers=1
for arg in "$@"; do
  case "$arg" in
    --no-sanitizers) sanitizers=0 ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "unknown option: $arg" >&2; exit 2 ;;
  esac
done

tools/dev/install-deps.sh
jobs=$(nproc)

rm -rf build/test
if [ "$sanitizers" -eq 1 ]; then
  # One build for every check, so that the whole suite runs sanitized in the time two builds
  # took. libFuzzer needs clang. -O1: the reliability harness pushes 100,000 events through
  # killed and restarted services, several times slower unoptimised; line tables let the
  # reports name source lines. A unity build (several sources compiled as one) halves the
  # build time, most of it spent instrumenting the same headers over again; the developers'
  # builds keep every source on its own, so a missing include still shows there.
  CXX=clang++ cmake -S . -B build/test -DCMAKE_BUILD_TYPE=Debug \
    -DCMAKE_CXX_FLAGS_DEBUG="-O1 -gline-tables-only" -DCDP_WERROR=ON -DCDP_SANITIZE=ON \
    -DCDP_FUZZ=ON -DCMAKE_UNITY_BUILD=ON
else
  # -O2 because GCC 12 at Release's -O3 warns falsely (-Wrestrict) in gtest's printers.
  cmake -S . -B build/test -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" \
    -DCDP_WERROR=ON
fi
cmake --build build/test -j"$jobs"
(cd build/test && ctest --output-on-failure -j"$jobs" --timeout 900)
