#!/usr/bin/env python3
"""Crash safety and failover: profile-service is SIGKILLed at random points while it consumes a
stream of generated events (with re-published duplicates and invalid records), restarted each
time, and finally left to drain. What it ends with must equal `profilectl fold`, the offline
reference, over the input topic exactly as it stands:

- the exported profiles equal the reference's, byte for byte (so no event was applied twice or
  lost: events_applied is compared first, for a clearer message);
- the published change ids are exactly the reference's, and a change published more than once
  (replayed after a kill) has byte-identical content each time;
- every rejected record is in the dead-letter topic, exactly once per source offset after
  deduplication, with the reference's reason.

Each instance runs as if on one of three machines (MACHINES): some restart on the directory the
killed instance left (its own state, resumed as it is when it is the changelog's last word),
others on a directory other instances have moved past (a stale copy) or on an empty one, and
must restore their partitions from the changelog first. The last instance gets a stale copy.
"""

import argparse
import collections
import json
import random
import shutil
import signal
import subprocess
import time

import harness
from harness import DLQ_TOPIC, INPUT_TOPIC, OUTPUT_TOPIC, wait_until

SEED = 20240601
EVENTS = 30000
CUSTOMERS = 4000
INVALID_FRACTION = 0.01
DUPLICATE_FRACTION = 0.02
# A duplicate follows its original within this many records: in the generated traffic that is
# well inside the dedup retention (7 days of event time), where a repeat must be dropped.
DUPLICATE_DISTANCE = 200
PARTITIONS = 8
KILLS = 10
BATCH_SIZE = 500
GROUP = "cdp-profile-service"
# Two lanes commit a batch's partitions separately, so a kill can also fall between the two.
SERVICE_FLAGS = ["--clock", "event-time", "--batch-size", str(BATCH_SIZE), "--lanes", "2"]


def generate(h, event_gen):
    path = h.path("generated.jsonl")
    done = subprocess.run(
        [event_gen, "--out", path, "--events", str(EVENTS), "--customers", str(CUSTOMERS),
         "--seed", str(SEED), "--invalid-fraction", str(INVALID_FRACTION), "--clock", "simulated",
         "--start", "2024-01-01T00:00:00Z", "--days", "365", "--progress-interval", "0"],
        capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    with open(path, "rb") as f:
        return [line for line in f.read().split(b"\n") if line]


def to_records(lines, rng):
    """(key, value, headers) per line, keyed by customer id, with duplicates mixed in."""
    originals = []
    for index, line in enumerate(lines):
        try:
            customer = json.loads(line).get("customer_id") or f"no-customer-{index}"
        except ValueError:
            customer = f"garbage-{index}"
        # Half of the JSON records carry the content-type header, as event-gen's Kafka sink does.
        headers = [("content-type", b"application/json")] if rng.random() < 0.5 else []
        originals.append((customer, line, headers))
    placed = [(float(i), record) for i, record in enumerate(originals)]
    for i in rng.sample(range(len(originals)), int(len(originals) * DUPLICATE_FRACTION)):
        placed.append((i + rng.randint(1, DUPLICATE_DISTANCE) + 0.5, originals[i]))
    placed.sort(key=lambda item: item[0])
    return [record for _, record in placed]


def committed_batches(service):
    return harness.metric(service.metrics(), "cdp_batches_total", outcome="committed")


def drained(bootstrap, ends):
    committed = harness.committed_offsets(bootstrap, GROUP, INPUT_TOPIC, list(ends))
    return all(committed.get(p, -1) >= end for p, end in ends.items())


def compare_profiles(exported, folded):
    def by_customer(lines):
        parsed = (json.loads(line) for line in lines)
        return {(p["partition"], p["customer_id"]): p for p in parsed}

    service, reference = by_customer(exported), by_customer(folded)
    missing = sorted(set(reference) - set(service))[:5]
    unexpected = sorted(set(service) - set(reference))[:5]
    assert not missing and not unexpected, f"profiles missing: {missing}, unexpected: {unexpected}"
    counted = [(key, service[key]["events_applied"], reference[key]["events_applied"])
               for key in reference
               if service[key]["events_applied"] != reference[key]["events_applied"]]
    assert not counted, f"events_applied (service, reference) differ: {counted[:5]}"
    different = [key for key in reference if service[key] != reference[key]]
    assert not different, (f"{len(different)} profiles differ, e.g. {different[0]}:\n"
                           f"service:   {service[different[0]]}\n"
                           f"reference: {reference[different[0]]}")
    assert exported == folded, "same profiles, but the export's lines are not byte-identical"
    return len(reference)


def compare_changes(bootstrap, changes_file):
    published = collections.defaultdict(set)
    records = harness.read_all(bootstrap, OUTPUT_TOPIC)
    for r in records:
        published[json.loads(r.value)["change_id"]].add(r.value)
    divergent = [(cid, values) for cid, values in published.items() if len(values) > 1]
    assert not divergent, (f"{len(divergent)} change ids published with different content, e.g. "
                           f"{divergent[0]}")
    with open(changes_file) as f:
        reference = {json.loads(line)["change_id"] for line in f}
    missing = reference - set(published)
    unexpected = set(published) - reference
    assert not missing and not unexpected, (f"{len(missing)} change ids missing, "
                                            f"{len(unexpected)} unexpected")
    return len(reference), len(records)


def compare_dead_letters(bootstrap, rejects_file):
    with open(rejects_file) as f:
        reference = {(r["partition"], r["offset"]): r["reason"] for r in map(json.loads, f)}
    letters = harness.read_all(bootstrap, DLQ_TOPIC)
    published = {}
    for letter in letters:
        h = letter.headers
        assert h.get("cdp-source-topic") == INPUT_TOPIC, h
        source = (int(h["cdp-source-partition"]), int(h["cdp-source-offset"]))
        reason = h.get("cdp-reject-reason")
        assert published.setdefault(source, reason) == reason, f"{source}: two reasons"
    missing = sorted(set(reference) - set(published))[:5]
    unexpected = sorted(set(published) - set(reference))[:5]
    assert not missing and not unexpected, (f"dead letters missing: {missing}, "
                                            f"unexpected: {unexpected}")
    wrong = [(s, published[s], reference[s]) for s in reference if published[s] != reference[s]]
    assert not wrong, f"reasons (service, reference) differ: {wrong[:5]}"
    return len(reference), len(letters)


# The data directory of each run, the last one included: "empty" is wiped before its run.
MACHINES = ["a", "a", "b", "empty", "a", "b", "b", "empty", "a", "a", "b"]


def data_dir_for(h, run):
    machine = MACHINES[run]
    path = h.path(f"state-{machine}")
    if machine == "empty":
        shutil.rmtree(path, ignore_errors=True)
    return path


def main(h):
    parser = argparse.ArgumentParser()
    for flag in ("kafka-local", "profile-service", "profilectl", "event-gen", "segments"):
        parser.add_argument(f"--{flag}", required=True)
    args = parser.parse_args()
    assert len(MACHINES) == KILLS + 1, "one machine per run"
    rng = random.Random(SEED)
    started = time.monotonic()

    _, bootstrap = harness.start_kafka(
        h, args.kafka_local, [(INPUT_TOPIC, PARTITIONS), (OUTPUT_TOPIC, PARTITIONS),
                              (DLQ_TOPIC, 1),
         (harness.CHANGELOG_TOPIC, PARTITIONS)])
    records = to_records(generate(h, args.event_gen), rng)
    chunk = -(-len(records) // (KILLS + 1))
    chunks = [records[i:i + chunk] for i in range(0, len(records), chunk)]
    kills = 0
    for kill in range(KILLS):
        # Fresh input for every instance, so that it has work in hand when it dies.
        harness.produce(bootstrap, INPUT_TOPIC, chunks[kill])
        service = harness.start_service(h, args.profile_service, bootstrap, args.segments,
                                        data_dir_for(h, kill), SERVICE_FLAGS,
                                        ready=False)
        wait_until(lambda: service.child.check_running() or committed_batches(service) >= 1, 90,
                   f"instance {kill + 1} to commit a batch")
        time.sleep(rng.uniform(0.0, 1.5))  # the random kill point; nothing waits on it
        consumed = harness.metric(service.metrics(), "cdp_events_consumed_total",
                                  topic=INPUT_TOPIC)
        service.child.signal(signal.SIGKILL)
        assert service.child.wait(10) == -signal.SIGKILL
        kills += 1
        print(f"kill {kills}: instance had consumed {consumed:.0f} records; "
              f"{harness.count_records(bootstrap, OUTPUT_TOPIC)} changes published so far",
              flush=True)
    for rest in chunks[KILLS:]:
        harness.produce(bootstrap, INPUT_TOPIC, rest)

    data_dir = data_dir_for(h, KILLS)
    service = harness.start_service(h, args.profile_service, bootstrap, args.segments, data_dir,
                                    SERVICE_FLAGS, ready=False)
    ends = harness.end_offsets(bootstrap, INPUT_TOPIC)
    assert sum(ends.values()) == len(records), (ends, len(records))
    wait_until(lambda: service.child.check_running() or drained(bootstrap, ends), 120,
               "the service to consume the whole input topic", interval=0.5)
    restored = harness.metric(service.metrics(), "cdp_changelog_restores_total",
                              result="restored")
    # Its copy is stale: others owned the partitions after it.
    assert restored >= 1, f"the last instance restored {restored} partitions"
    service.child.signal(signal.SIGTERM)
    code = service.child.wait(30)
    assert code == 0, f"exit code {code} after SIGTERM"

    exported = subprocess.run([args.profilectl, "export", "--data-dir", data_dir],
                              capture_output=True, timeout=120)
    assert exported.returncode == 0, exported.stderr.decode()
    events_file = h.path("input.jsonl")
    harness.write_fold_events(events_file, harness.read_all(bootstrap, INPUT_TOPIC))
    changes_file, rejects_file = h.path("fold-changes.jsonl"), h.path("fold-rejects.jsonl")
    folded = subprocess.run([args.profilectl, "fold", "--segments", args.segments, "--clock",
                             "event-time", "--changes", changes_file, "--rejects", rejects_file,
                             events_file], capture_output=True, timeout=120)
    assert folded.returncode == 0, folded.stderr.decode()

    profiles = compare_profiles(exported.stdout.decode().splitlines(),
                                folded.stdout.decode().splitlines())
    changes, published_changes = compare_changes(bootstrap, changes_file)
    rejected, letters = compare_dead_letters(bootstrap, rejects_file)
    print(f"crash: {kills} kills, {restored:.0f} partitions "
          f"restored by the last instance; {len(records)} records published ({len(records) - EVENTS} "
          f"duplicates), {profiles} profiles equal to the reference; {changes} distinct changes "
          f"({published_changes} published with replays); {rejected} rejected records "
          f"({letters} dead letters); {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    harness.run("crash", main)
