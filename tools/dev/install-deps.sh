#!/usr/bin/env bash
# Installs the Debian packages needed to build, run and test the project. Idempotent: does
# nothing when everything is already installed. clang, its sanitizer and libFuzzer runtimes
# (libclang-rt) and llvm's symbolizer serve the test build only; so do the Prometheus server and
# promtool (the deploy/ checks) and python3-yaml (reading the manifests).
set -euo pipefail

packages=(
  build-essential cmake pkg-config git python3 ca-certificates tzdata
  librdkafka-dev librocksdb-dev libprotobuf-dev protobuf-compiler libabsl-dev
  libyaml-cpp-dev prometheus-cpp-dev libcpp-httplib-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev libbenchmark-dev liblz4-dev libzstd-dev libsnappy-dev libgflags-dev
  libjemalloc-dev
  kcat python3-confluent-kafka python3-protobuf python3-yaml prometheus clang-format
  clang libclang-rt-14-dev llvm
)

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
echo "Installing: ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
