"""Runs the event-gen binary as a user would: files, determinism, bad options, signals."""

import json
import os
import signal
import subprocess
import sys
import tempfile

BINARY = sys.argv[1]


def run(*args, timeout=60):
    return subprocess.run([BINARY, *args], capture_output=True, timeout=timeout)


def check(condition, message):
    if not condition:
        sys.exit(f"FAIL: {message}")


def lines(path):
    with open(path, "rb") as f:
        return f.read().split(b"\n")[:-1]


with tempfile.TemporaryDirectory() as tmp:
    first = os.path.join(tmp, "first.jsonl")
    second = os.path.join(tmp, "second.jsonl")
    simulated = ["--clock", "simulated", "--start", "2024-01-01T00:00:00Z", "--days", "90",
                 "--customers", "500", "--events", "5000", "--seed", "17",
                 "--invalid-fraction", "0.02"]

    result = run("--out", first, *simulated)
    check(result.returncode == 0, f"exit {result.returncode}: {result.stderr!r}")
    check(b"done: 5000 events" in result.stderr, f"no summary: {result.stderr!r}")
    records = lines(first)
    check(len(records) == 5000, f"{len(records)} lines, wanted 5000")
    events = [json.loads(r) for r in records if r.startswith(b"{")]
    check(len(events) > 4800, f"only {len(events)} JSON lines")
    check(all("event_id" in e and "occurred_at" in e for e in events), "envelope fields missing")
    times = [e["occurred_at"] for e in events]
    check(times == sorted(times), "simulated time went backwards")
    check("2024-01-01" <= times[0] and times[-1] < "2024-03-31", f"{times[0]}..{times[-1]}")

    result = run("--out", second, *simulated)
    check(result.returncode == 0, f"second run: exit {result.returncode}")
    with open(first, "rb") as a, open(second, "rb") as b:
        check(a.read() == b.read(), "same seed, different output")

    result = run("--out", "-", "--customers", "10", "--events", "3")
    check(result.returncode == 0, f"stdout run: exit {result.returncode}")
    check(len(result.stdout.splitlines()) == 3, f"stdout: {result.stdout!r}")

    result = run("--help")
    check(result.returncode == 0 and b"--bootstrap-file" in result.stdout, "--help")

    for bad in (["--out", first, "--events", "many"], ["--events", "3"],
                ["--out", first, "--frobnicate"],
                ["--bootstrap-file", os.path.join(tmp, "missing")]):
        result = run(*bad)
        check(result.returncode == 2, f"{bad}: exit {result.returncode}, wanted 2")
        check(b"--help" in result.stderr, f"{bad}: no hint: {result.stderr!r}")

    result = run("--out", os.path.join(tmp, "no-such-dir", "x"), "--events", "1")
    check(result.returncode == 1, f"unwritable file: exit {result.returncode}, wanted 1")

    # A paced endless run stops on SIGINT, flushes what it made and reports it.
    endless = os.path.join(tmp, "endless.jsonl")
    process = subprocess.Popen([BINARY, "--out", endless, "--rate", "200",
                                "--progress-interval", "0.2"],
                               stderr=subprocess.PIPE)
    progress = process.stderr.readline()
    check(progress.startswith(b"event-gen: "), f"no progress line: {progress!r}")
    process.send_signal(signal.SIGINT)
    _, rest = process.communicate(timeout=30)
    check(process.returncode == 0, f"SIGINT: exit {process.returncode}: {rest!r}")
    check(b"stopped: " in rest, f"no summary after SIGINT: {rest!r}")
    written = int(rest.split(b"stopped: ")[1].split(b" ")[0])
    check(written > 0 and len(lines(endless)) == written,
          f"summary says {written}, file has {len(lines(endless))}")

print("event-gen CLI: all checks passed")
