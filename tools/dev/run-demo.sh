#!/usr/bin/env bash
# The service on the embedded broker with demo traffic: installs what is missing, builds, starts
# profile-service (default segment catalogue, embedded Kafka) and event-gen publishing live
# synthetic events; prints segment changes as they happen. Ctrl-C stops both.
# Usage: tools/dev/run-demo.sh [--rate EVENTS_PER_SECOND] [--customers N] [--http-port PORT]
set -euo pipefail
cd "$(dirname "$0")/../.."

rate=200
customers=2000
http_port=8080
while [ $# -gt 0 ]; do
  case "$1" in
    --rate) rate="$2"; shift 2 ;;
    --customers) customers="$2"; shift 2 ;;
    --http-port) http_port="$2"; shift 2 ;;
    -h|--help) sed -n '2,5p' "$0"; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
done

tools/dev/install-deps.sh
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j"$(nproc)" --target profile-service event-gen

run_dir=$(mktemp -d)
service_pid=""
generator_pid=""
cleanup() {
  [ -n "$generator_pid" ] && kill "$generator_pid" 2>/dev/null || true
  [ -n "$service_pid" ] && kill "$service_pid" 2>/dev/null && wait "$service_pid" 2>/dev/null || true
  rm -rf "$run_dir"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

build/release/services/profile-service/profile-service \
  --segments deploy/config/segments.yaml --data-dir "$run_dir/data" \
  --http-port "$http_port" --status-file "$run_dir/status.json" --print-changes &
service_pid=$!

for _ in $(seq 1 300); do
  [ -s "$run_dir/status.json" ] && break
  kill -0 "$service_pid" 2>/dev/null || { echo "profile-service failed to start" >&2; exit 1; }
  sleep 0.1
done
[ -s "$run_dir/status.json" ] || { echo "profile-service did not become ready" >&2; exit 1; }
bootstrap=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["bootstrap_servers"])' \
  "$run_dir/status.json")

echo "Demo traffic: event-gen publishing $rate events/s for $customers customers to $bootstrap"
echo "Press Ctrl-C to stop."
build/release/tools/event-gen/event-gen --brokers "$bootstrap" --customers "$customers" \
  --rate "$rate" --clock live --invalid-fraction 0.01 --progress-interval 30 &
generator_pid=$!
wait "$service_pid"
