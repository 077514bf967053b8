#!/usr/bin/env python3
"""The reliability harness: profile-service instances are SIGKILLed, moved between machines,
joined to and removed from the consumer group, and the brokers under them fail, all while
generated traffic flows. However it went, the outcome must be what one instance processing
everything once would give, checked against `profilectl fold`, the offline reference, over the
input topic exactly as it stands:

- the profiles the last instance exports equal the reference's, byte for byte;
- every profile state the instances wrote to the changelog applied the customer's events in
  sequence: the harness numbers each customer's events (the number is in the `event_id`), and the
  numbers a state remembers must be the last k of 1..n, where n is its `events_applied` (no event
  skipped, none applied twice, at any point, not just at the end);
- the published change ids are exactly the reference's, and a change published more than once
  (replayed after a kill) has byte-identical content each time, so a consumer that keeps the first
  of each change_id sees exactly the reference;
- every rejected record is in the dead-letter topic with the reference's reason, exactly once per
  source offset once repeats of the same source offset are dropped.

The customers of the last two partitions are published wrongly keyed, as by an app that sends no
key: every record of theirs goes to partition 0, and the instances pass them on to their
customers' partitions through the repartition topic. The reference applies them in their
customers' partitions directly (`profilectl fold --partitions`); it agrees because those
partitions have no other input.

Scenarios (--scenario):
- crash: one instance at a time is SIGKILLed at random moments and, through CDP_CRASH_AT, at the
  points where the guarantees are decided (after a poll; after producing a batch's outputs, before
  its state commit; after the state commit, before the offset commit; during a restore). Each
  restart runs as if on one of three machines: the killed instance's data directory, a stale copy
  others have moved past, or an empty one (the last two must restore from the changelog).
- rebalance: three instances join, leave cleanly, are SIGKILLed and restart (one on an emptied
  data directory) while events flow; after each change the members must share every partition.
- faults: two instances on a three-broker cluster while kafka-local injects failures: request
  errors on produce and offset commit, a broker down and back, a moved group coordinator and
  partition leader, slow round trips.

--scale short (the default, what ctest runs) or long (by hand; 100,000 events and 40 random kills
for the crash scenario).
"""

import argparse
import collections
import json
import random
import shutil
import signal
import subprocess
import threading
import time
import types

import harness
from harness import (CHANGELOG_TOPIC, DLQ_TOPIC, GROUP, INPUT_TOPIC, OUTPUT_TOPIC,
                     REPARTITION_TOPIC, wait_until)

SEED = 20240601
# Partitions of the input, output and changelog topics (set from the scale): more at the long
# scale, so that each changelog partition stays within the 5 MiB the mock cluster keeps.
PARTITIONS = 8
PARTITIONS_BY_SCALE = {"short": 8, "long": 16}
INVALID_FRACTION = 0.01
DUPLICATE_FRACTION = 0.02
# A duplicate follows its original within this many records: in the generated traffic that is
# well inside the dedup retention (7 days of event time), where a repeat must be dropped.
DUPLICATE_DISTANCE = 200
BATCH_SIZE = 500
# Two lanes commit a batch's partitions separately, so a kill can also fall between the two. A
# short session timeout hands a killed member's partitions over in seconds; it stays above the
# mock cluster's 3 s initial rebalance delay, during which a joining member sends no heartbeat.
SERVICE_FLAGS = ["--clock", "event-time", "--batch-size", str(BATCH_SIZE), "--lanes", "2",
                 "--kafka-property", "session.timeout.ms=3500",
                 "--kafka-property", "heartbeat.interval.ms=300"]

SCALES = {
    "short": {"crash": dict(events=30000, customers=4000, random_kills=10),
              "rebalance": dict(events=20000, customers=3000),
              "faults": dict(events=15000, customers=2000)},
    "long": {"crash": dict(events=100000, customers=10000, random_kills=40),
             "rebalance": dict(events=50000, customers=6000),
             "faults": dict(events=50000, customers=6000)},
}

# The chosen kill points, CDP_CRASH_AT=POINT:N, with the range N is drawn from: late enough that
# the instance has done some work first.
CHOSEN_POINTS = {"after-poll": (1, 3), "after-produce": (2, 5), "after-state-commit": (1, 3),
                 "during-restore": (1, 1)}


# ---------------------------------------------------------------------------------------------
# Input: generated events, numbered per customer, with duplicates and invalid records.

def fold(args, events_file, h, name):
    """Runs `profilectl fold`, routing customers to their partitions as the service does;
    returns (profile lines, changes file, rejects file)."""
    changes_file, rejects_file = h.path(f"{name}-changes.jsonl"), h.path(f"{name}-rejects.jsonl")
    done = subprocess.run([args.profilectl, "fold", "--segments", args.segments, "--clock",
                           "event-time", "--partitions", str(PARTITIONS), "--changes",
                           changes_file, "--rejects", rejects_file, events_file],
                          capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout.decode().splitlines(), changes_file, rejects_file


def wrongly_keyed(customer):
    """Whether the customer's records go out without a key, all to partition 0."""
    return harness.partition_of(customer, PARTITIONS) >= PARTITIONS - 2


def make_records(h, args, rng, events, customers):
    """(key, value, headers[, partition]) per input record, keyed by customer id or, for the
    wrongly keyed customers, unkeyed in partition 0. Every event the reference applies gets
    event_id CUSTOMER.EPOCH.SEQ: SEQ counts the customer's applied events from 1, and EPOCH
    counts their erasures, after which the count starts again."""
    generated = h.path("generated.jsonl")
    done = subprocess.run(
        [args.event_gen, "--out", generated, "--events", str(events), "--customers",
         str(customers), "--seed", str(SEED), "--invalid-fraction", str(INVALID_FRACTION),
         "--clock", "simulated", "--start", "2024-01-01T00:00:00Z", "--days", "365",
         "--progress-interval", "0"], capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr.decode()
    with open(generated, "rb") as f:
        lines = [line for line in f.read().split(b"\n") if line]

    # Which records the reference rejects: validity does not depend on the partition.
    as_read = h.path("generated-fold.jsonl")
    harness.write_fold_events(as_read, [types.SimpleNamespace(partition=0, offset=i, value=line,
                                                              headers={})
                                        for i, line in enumerate(lines)])
    _, _, rejects_file = fold(args, as_read, h, "generated")
    with open(rejects_file) as f:
        rejected = {json.loads(line)["offset"] for line in f}

    epochs, counts = collections.Counter(), collections.Counter()
    originals = []
    for index, line in enumerate(lines):
        try:
            event = json.loads(line)
            customer = event.get("customer_id") or f"no-customer-{index}"
        except ValueError:
            event, customer = None, f"garbage-{index}"
        if index not in rejected:
            if "erasure" in event:
                event["event_id"] = f"{customer}.{epochs[customer]}.erasure"
                epochs[customer] += 1
                counts[customer] = 0
            else:
                counts[customer] += 1
                event["event_id"] = f"{customer}.{epochs[customer]}.{counts[customer]}"
            line = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()
        # Half of the JSON records carry the content-type header, as event-gen's Kafka sink does.
        headers = [("content-type", b"application/json")] if rng.random() < 0.5 else []
        originals.append((None, line, headers, 0) if wrongly_keyed(customer)
                         else (customer, line, headers))
    placed = [(float(i), record) for i, record in enumerate(originals)]
    for i in rng.sample(range(len(originals)), int(len(originals) * DUPLICATE_FRACTION)):
        placed.append((i + rng.randint(1, DUPLICATE_DISTANCE) + 0.5, originals[i]))
    placed.sort(key=lambda item: item[0])
    return [record for _, record in placed]


STARTED = time.monotonic()


def elapsed():
    return f"{time.monotonic() - STARTED:.1f} s"


def topics():
    return [(INPUT_TOPIC, PARTITIONS), (OUTPUT_TOPIC, PARTITIONS), (DLQ_TOPIC, 1),
            (CHANGELOG_TOPIC, PARTITIONS), (REPARTITION_TOPIC, PARTITIONS)]


def chunks_of(records, count):
    size = -(-len(records) // count)
    return [records[i:i + size] for i in range(0, len(records), size)]


# ---------------------------------------------------------------------------------------------
# Observing the instances.

def committed_batches(service):
    return harness.metric(service.metrics(), "cdp_batches_total", outcome="committed")


def owned_partitions(service):
    return sum(1 for (name, labels) in service.metrics()
               if name == "cdp_consumer_lag_records" and ("topic", INPUT_TOPIC) in labels)


def committed_total(bootstrap):
    """The group's committed input offsets, summed: it grows with every batch done."""
    committed = harness.committed_offsets(bootstrap, GROUP, INPUT_TOPIC, range(PARTITIONS))
    return sum(offset for offset in committed.values() if offset >= 0)


def wait_for_progress(bootstrap, before, services, what, timeout=120):
    """Waits until the group has committed past `before` (a committed_total), with every
    instance in `services` still running."""
    def progressed():
        for service in services:
            service.child.check_running()
        return committed_total(bootstrap) > before
    wait_until(progressed, timeout, what, interval=0.2)


def wait_for_sharing(services, what, timeout=120):
    """Waits until the live instances own every partition between them, each some."""
    def shared():
        for service in services:
            service.child.check_running()
        owned = [owned_partitions(s) for s in services]
        return sum(owned) == PARTITIONS and all(owned)
    wait_until(shared, timeout, what, interval=0.2)


def drained(bootstrap, ends):
    """Whether the group has committed the input up to `ends`, and, after that, the repartition
    topic up to its end: the input's records are passed on before their offsets commit."""
    # Partitions without records have nothing to commit: their customers' come passed on.
    committed = harness.committed_offsets(bootstrap, GROUP, INPUT_TOPIC, list(ends))
    if not all(committed.get(p, -1) >= end for p, end in ends.items() if end > 0):
        return False
    passed_on = {p: end for p, end in harness.end_offsets(bootstrap, REPARTITION_TOPIC).items()
                 if end > 0}
    committed = harness.committed_offsets(bootstrap, GROUP, REPARTITION_TOPIC, list(passed_on))
    return all(committed.get(p, -1) >= end for p, end in passed_on.items())


def start(h, args, bootstrap, data_dir):
    return harness.start_service(h, args.profile_service, bootstrap, args.segments, data_dir,
                                 SERVICE_FLAGS, ready=False)


def stop(service):
    service.child.signal(signal.SIGTERM)
    code = service.child.wait(60)
    assert code == 0, f"{service.child.name}: exit code {code} after SIGTERM"


def sigkill(service):
    service.child.signal(signal.SIGKILL)
    assert service.child.wait(10) == -signal.SIGKILL


# ---------------------------------------------------------------------------------------------
# Verification.

def _varint(data, i):
    value = shift = 0
    while True:
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, i
        shift += 7


def _fields(data):
    """(field number, value) of a protobuf message: ints for varints, bytes otherwise."""
    i = 0
    while i < len(data):
        key, i = _varint(data, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(data, i)
        elif wire == 2:
            size, i = _varint(data, i)
            value, i = data[i:i + size], i + size
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            value, i = data[i:i + size], i + size
        else:
            raise AssertionError(f"protobuf wire type {wire} in a changelog profile")
        yield number, value


# cdp.v1.CustomerProfile: events_applied = 36, applied_events = 39 { event_id = 1 }.
EVENTS_APPLIED, APPLIED_EVENTS, APPLIED_EVENT_ID = 36, 39, 1


def sequence_violation(customer, profile):
    """Why this stored state did not apply the customer's events in sequence, or None."""
    applied, ids = 0, []
    for number, value in _fields(profile):
        if number == EVENTS_APPLIED:
            applied = value
        elif number == APPLIED_EVENTS:
            ids += [v.decode() for n, v in _fields(value) if n == APPLIED_EVENT_ID]
    parts = [i.rsplit(".", 2) for i in ids]
    if any(len(p) != 3 or p[0] != customer or not p[2].isdigit() for p in parts):
        return f"remembers event ids of another form: {ids}"
    if len({p[1] for p in parts}) > 1:
        return f"remembers events from before an erasure: {ids}"
    seqs = [int(p[2]) for p in parts]
    if seqs != list(range(applied - len(seqs) + 1, applied + 1)):
        return f"events_applied {applied} but remembers sequence numbers {seqs}"
    return None


def check_changelog(bootstrap):
    """Every profile state written to the changelog applied its customer's events in sequence."""
    states = violations = 0
    for record in harness.read_all(bootstrap, CHANGELOG_TOPIC):
        if record.headers.get("cdp-changelog") != "profile" or record.value is None:
            continue
        states += 1
        why = sequence_violation(record.key.decode(), record.value)
        if why is not None:
            violations += 1
            if violations <= 5:
                print(f"changelog [{record.partition}] offset {record.offset}, "
                      f"{record.key.decode()}: {why}", flush=True)
    assert violations == 0, f"{violations} of {states} changelog states out of sequence"
    return states


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
        reference = {change["change_id"]: change for change in map(json.loads, f)}
    missing = set(reference) - set(published)
    unexpected = set(published) - set(reference)
    # Where they were due, to tell a lost partition or moment from a processing mistake.
    by_partition = collections.Counter(
        harness.partition_of(reference[change_id]["customer_id"], PARTITIONS)
        for change_id in missing)
    assert not missing and not unexpected, (
        f"{len(missing)} change ids missing ({len(missing) / max(1, len(reference)):.1%}; by "
        f"output partition {dict(sorted(by_partition.items()))}; caused by events occurring "
        f"{min(reference[c]['occurred_at'] for c in missing) if missing else '-'} to "
        f"{max(reference[c]['occurred_at'] for c in missing) if missing else '-'}), "
        f"{len(unexpected)} unexpected; missing e.g. "
        f"{[reference[change_id] for change_id in sorted(missing)[:3]]}")
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


def drain_and_verify(h, args, bootstrap, service, data_dir, published):
    """Lets `service`, the only instance left, consume the whole input, stops it and compares
    everything with the reference. Returns a summary."""
    ends = harness.end_offsets(bootstrap, INPUT_TOPIC)
    assert sum(ends.values()) == published, (ends, published)
    try:
        wait_until(lambda: service.child.check_running() or drained(bootstrap, ends), 180,
                   "the last instance to consume the whole input topic", interval=0.5)
    except AssertionError as timed_out:
        committed = harness.committed_offsets(bootstrap, GROUP, INPUT_TOPIC, list(ends))
        raise AssertionError(f"{timed_out}: committed {committed}, ends {ends}") from None
    restored = harness.metric(service.metrics(), "cdp_changelog_restores_total",
                              result="restored")
    stop(service)

    exported = subprocess.run([args.profilectl, "export", "--data-dir", data_dir],
                              capture_output=True, timeout=300)
    assert exported.returncode == 0, exported.stderr.decode()
    events_file = h.path("input.jsonl")
    harness.write_fold_events(events_file, harness.read_all(bootstrap, INPUT_TOPIC))
    folded, changes_file, rejects_file = fold(args, events_file, h, "input")
    print(f"drained and stopped at {elapsed()}", flush=True)
    # First: where a state went wrong says more than the final profiles do.
    states = check_changelog(bootstrap)
    profiles = compare_profiles(exported.stdout.decode().splitlines(), folded)
    changes, published_changes = compare_changes(bootstrap, changes_file)
    rejected, letters = compare_dead_letters(bootstrap, rejects_file)
    passed_on = sum(harness.end_offsets(bootstrap, REPARTITION_TOPIC).values())
    unkeyed = sum(1 for r in harness.read_all(bootstrap, INPUT_TOPIC) if r.key is None)
    assert passed_on >= unkeyed - rejected > 0, (passed_on, unkeyed, rejected)
    return (f"{published} records ({unkeyed} unkeyed, {passed_on} passed on through the "
            f"repartition topic with replays), {profiles} profiles equal to the reference, {states} "
            f"changelog states in sequence, {changes} distinct changes ({published_changes} "
            f"published with replays), {rejected} rejected records ({letters} dead letters); "
            f"the last instance restored {restored:.0f} partitions"), restored


# ---------------------------------------------------------------------------------------------
# Scenarios.

def crash(h, args, scale, rng):
    _, bootstrap = harness.start_kafka(
        h, args.kafka_local, topics())
    records = make_records(h, args, rng, scale["events"], scale["customers"])

    # A run per kill: mostly random moments; a chosen point every other run, and a kill during
    # a restore whenever an instance starts on an empty directory for the first time in a cycle.
    machines_cycle = ["a", "a", "b", "empty", "a", "b", "b", "empty", "a", "a", "b"]
    chosen_cycle = ["after-poll", "after-produce", "after-state-commit"]
    runs = []
    random_kills = chosen = 0
    while random_kills < scale["random_kills"]:
        machine = machines_cycle[len(runs) % len(machines_cycle)]
        if machine == "empty" and len(runs) % len(machines_cycle) == 3:
            point = "during-restore"
        elif len(runs) % 3 == 1:
            point = chosen_cycle[chosen % len(chosen_cycle)]
            chosen += 1
        else:
            point = None
            random_kills += 1
        runs.append((machine, point))
    # The last instance starts on a copy the others have moved past, and must restore.
    final_machine = "b" if runs[-1][0] != "b" else "a"

    def data_dir(machine):
        path = h.path(f"state-{machine}")
        if machine == "empty":
            shutil.rmtree(path, ignore_errors=True)
        return path

    chunks = chunks_of(records, len(runs) + 1)
    kills = collections.Counter()
    for number, (machine, point) in enumerate(runs):
        # Fresh input for every instance, so that it has work in hand when it dies.
        harness.produce(bootstrap, INPUT_TOPIC, chunks[number])
        if point is None:
            service = start(h, args, bootstrap, data_dir(machine))
            wait_until(lambda: service.child.check_running() or committed_batches(service) >= 1,
                       90, f"instance {number + 1} to commit a batch")
            time.sleep(rng.uniform(0.0, 1.5))  # the random kill point; nothing waits on it
            sigkill(service)
        else:
            low, high = CHOSEN_POINTS[point]
            spec = f"{point}:{rng.randint(low, high)}"
            child, status_file = harness.launch_service(
                h, args.profile_service, bootstrap, args.segments, data_dir(machine),
                SERVICE_FLAGS, env={"CDP_CRASH_AT": spec})
            try:
                code = child.wait(120)
            except AssertionError:
                with open(status_file) as f:
                    port = json.load(f)["http_port"]
                _, metrics = harness.http_get(f"http://127.0.0.1:{port}/metrics")
                raise AssertionError(f"instance {number + 1} with CDP_CRASH_AT={spec} still runs; "
                                     f"its metrics:\n{metrics}") from None
            assert code == -signal.SIGKILL, (f"instance {number + 1} with CDP_CRASH_AT={spec} "
                                             f"ended with {code}:\n{child.stderr()[-2000:]}")
            assert "CDP_CRASH_AT: reached" in child.stderr(), child.stderr()[-2000:]
        kills[point or "random"] += 1
        print(f"run {number + 1} on {machine}: killed at {point or 'a random moment'}; "
              f"{harness.count_records(bootstrap, OUTPUT_TOPIC)} changes published so far; "
              f"at {elapsed()}", flush=True)
    for rest in chunks[len(runs):]:
        harness.produce(bootstrap, INPUT_TOPIC, rest)

    last_dir = data_dir(final_machine)
    service = start(h, args, bootstrap, last_dir)
    summary, restored = drain_and_verify(h, args, bootstrap, service, last_dir, len(records))
    assert restored >= 1, f"the last instance restored {restored} partitions from a stale copy"
    return f"{sum(kills.values())} kills ({dict(kills)}); {summary}"


def rebalance(h, args, scale, rng):
    _, bootstrap = harness.start_kafka(
        h, args.kafka_local, topics())
    records = make_records(h, args, rng, scale["events"], scale["customers"])
    print(f"input made at {elapsed()}", flush=True)
    dirs = {m: h.path(f"state-{m}") for m in "abc"}
    live = {}

    def join(machine, wipe=False):
        if wipe:
            shutil.rmtree(dirs[machine], ignore_errors=True)
        live[machine] = start(h, args, bootstrap, dirs[machine])

    def kill(machine):
        sigkill(live.pop(machine))

    def leave(machine):
        stop(live.pop(machine))

    changes = [("b joins", lambda: join("b")),
               ("c joins", lambda: join("c")),
               ("b is SIGKILLed", lambda: kill("b")),
               ("b restarts on its own stale directory", lambda: join("b")),
               ("a leaves cleanly", lambda: leave("a")),
               ("a restarts on an emptied directory", lambda: join("a", wipe=True)),
               ("b leaves cleanly", lambda: leave("b")),
               ("c leaves cleanly", lambda: leave("c"))]
    chunks = chunks_of(records, len(changes) + 1)
    harness.produce(bootstrap, INPUT_TOPIC, chunks[0])
    join("a")
    wait_for_progress(bootstrap, 0, live.values(), "a to commit a batch")
    for number, (what, change) in enumerate(changes):
        before = committed_total(bootstrap)
        change()
        harness.produce(bootstrap, INPUT_TOPIC, chunks[number + 1])
        wait_for_sharing(live.values(), f"the partitions to be shared after '{what}'")
        wait_for_progress(bootstrap, before, live.values(), f"progress after '{what}'")
        print(f"change {number + 1}: {what}; members {sorted(live)}; at {elapsed()}", flush=True)
    assert list(live) == ["a"], live
    summary, restored = drain_and_verify(h, args, bootstrap, live["a"], dirs["a"], len(records))
    assert restored >= 1, f"a restarted empty yet restored {restored} partitions"
    return f"{len(changes)} membership changes; {summary}"


def faults(h, args, scale, rng):
    kafka, bootstrap = harness.start_kafka(
        h, args.kafka_local, topics(),
        brokers=3, control=True)
    control = harness.KafkaControl(kafka)
    records = make_records(h, args, rng, scale["events"], scale["customers"])
    dirs = {m: h.path(f"state-{m}") for m in "ab"}
    live = [start(h, args, bootstrap, dirs["a"]), start(h, args, bootstrap, dirs["b"])]

    chunks = iter(chunks_of(records, 7))

    def publish():
        harness.produce(bootstrap, INPUT_TOPIC, next(chunks))

    def step(what, *commands):
        before = committed_total(bootstrap)
        publish()
        for command in commands:
            control(command)
        wait_for_progress(bootstrap, before, live, f"progress while {what}")
        print(f"fault: {what}; at {elapsed()}", flush=True)

    publish()
    wait_for_sharing(live, "two instances to share the partitions")
    wait_for_progress(bootstrap, 0, live, "the first batches")
    # Injected after publishing, so that they hit the service's requests rather than ours.
    step("produce requests fail",
         "request-errors Produce NOT_LEADER_FOR_PARTITION REQUEST_TIMED_OUT NOT_ENOUGH_REPLICAS")
    step("offset commits fail",
         "request-errors OffsetCommit COORDINATOR_NOT_AVAILABLE NOT_COORDINATOR "
         "REQUEST_TIMED_OUT")
    step("the group coordinator moves", f"group-coordinator {GROUP} 3")
    step("partition leaders move", f"leader {INPUT_TOPIC} 0 3", f"leader {OUTPUT_TOPIC} 1 3",
         f"leader {CHANGELOG_TOPIC} 2 1")
    step("round trips take 300 ms", "broker-rtt 1 300", "broker-rtt 2 300", "broker-rtt 3 300")
    for broker in (1, 2, 3):
        control(f"broker-rtt {broker} 0")

    # A broker down while records flow: publishing to the partitions it leads waits for it, so
    # it comes back once a quarter of a chunk is in. It leads a quarter of the input partitions
    # then: left to the mock, which picks leaders at random, it could lead nearly all of them.
    for partition in range(PARTITIONS):
        leader = 2 if partition % 4 == 2 else 1 + partition % 2 * 2
        control(f"leader {INPUT_TOPIC} {partition} {leader}")
    before = committed_total(bootstrap)
    control("broker-down 2")
    chunk = next(chunks)
    delivered, finished = [], []
    publisher = threading.Thread(target=lambda: finished.append(harness.produce(
        bootstrap, INPUT_TOPIC, chunk, on_delivered=lambda: delivered.append(1))))
    publisher.start()
    wait_until(lambda: kafka.check_running() or len(delivered) >= len(chunk) // 4, 60,
               "a quarter of a chunk to be published with broker 2 down")
    control("broker-up 2")
    publisher.join(120)
    assert finished, "publishing with broker 2 down and back did not finish"
    wait_for_progress(bootstrap, before, live, "progress after broker 2 came back")
    print(f"fault: broker 2 down and back; at {elapsed()}", flush=True)

    stop(live.pop())
    summary, _ = drain_and_verify(h, args, bootstrap, live[0], dirs["a"], len(records))
    return f"6 kinds of broker fault; {summary}"


SCENARIOS = {"crash": crash, "rebalance": rebalance, "faults": faults}


def main(h):
    parser = argparse.ArgumentParser()
    for flag in ("kafka-local", "profile-service", "profilectl", "event-gen", "segments"):
        parser.add_argument(f"--{flag}", required=True)
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), required=True)
    parser.add_argument("--scale", choices=sorted(SCALES), default="short")
    args = parser.parse_args()
    global PARTITIONS
    PARTITIONS = PARTITIONS_BY_SCALE[args.scale]
    summary = SCENARIOS[args.scenario](h, args, SCALES[args.scale][args.scenario],
                                       random.Random(SEED))
    print(f"{args.scenario} ({args.scale}): {summary}; {elapsed()}")


if __name__ == "__main__":
    harness.run("reliability", main)
