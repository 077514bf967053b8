#!/usr/bin/env bash
# The whole test suite from scratch: installs what is missing, builds with warnings as errors,
# runs every test, then builds again with AddressSanitizer + UndefinedBehaviorSanitizer and runs
# the unit tests under them. Usage: tools/dev/test.sh [--no-sanitizers]
set -euo pipefail
cd "$(dirname "$0")/../.."

sanitizers=1
for arg in "$@"; do
  case "$arg" in
    --no-sanitizers) sanitizers=0 ;;
    -h|--help) sed -n '2,4p' "$0"; exit 0 ;;
    *) echo "unknown option: $arg" >&2; exit 2 ;;
  esac
done

tools/dev/install-deps.sh
jobs=$(nproc)

rm -rf build/test
# Optimised as the service runs, without debug info, which took a large share of the build
# time; -O2 because GCC 12 at Release's -O3 warns falsely (-Wrestrict) in gtest's printers.
cmake -S . -B build/test -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" \
  -DCDP_WERROR=ON
cmake --build build/test -j"$jobs"
(cd build/test && ctest --output-on-failure -j"$jobs" --timeout 600)

if [ "$sanitizers" -eq 1 ]; then
  rm -rf build/sanitize
  # A unity build: compiling several sources as one halves this build's time, most of it spent
  # instrumenting the same headers over again. The build above keeps every source on its own,
  # so a missing include still shows there.
  cmake -S . -B build/sanitize -DCMAKE_BUILD_TYPE=Debug -DCDP_WERROR=ON -DCDP_SANITIZE=ON \
    -DCMAKE_UNITY_BUILD=ON
  cmake --build build/sanitize -j"$jobs"
  (cd build/sanitize && ctest --output-on-failure -j"$jobs" --timeout 600 -L unit)
fi
