#!/usr/bin/env python3
"""scale-bench: what scaling out and failing over cost, measured on real profile-service
processes sharing a kafka-local cluster (8 input partitions). Not a test: run it by hand on a
Release build and read the figures it prints (see README.md, "Benchmark").

1. Throughput with 1 instance, then with 2 instances of a fresh consumer group, each draining the
   same preloaded input: events per second from the group's first committed batch to the last
   input offset committed.
2. Failover: two instances share the partitions while events are published at a steady rate;
   one is SIGKILLed, and the time is taken until every partition it owned has been processed
   (committed) again by the other, which restores them from the changelog first. Then the same after a clean leave (SIGTERM). A SIGKILL is
   noticed only when the member's session times out (--session-timeout-ms), a clean leave at once.

usage: scale_bench.py --build-dir build/release [--events 200000] [--customers 20000]
                      [--rate 2000] [--session-timeout-ms 10000] [--service-flag FLAG ...]
"""

import argparse
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests",
                                "integration"))
import harness  # noqa: E402
from confluent_kafka import Consumer, TopicPartition  # noqa: E402
from harness import DLQ_TOPIC, INPUT_TOPIC, OUTPUT_TOPIC, wait_until  # noqa: E402

PARTITIONS = 8
GROUPS = ["bench-1", "bench-2", "bench-failover"]
# The failovers run on input of their own, so that their group's changelog holds only what they
# publish: the embedded broker keeps 5 MiB per partition.
FAILOVER_TOPIC = "failover-events"


def binaries(build_dir):
    paths = {"kafka-local": "tools/kafka-local/kafka-local",
             "profile-service": "services/profile-service/profile-service",
             "event-gen": "tools/event-gen/event-gen"}
    found = {name: os.path.join(build_dir, path) for name, path in paths.items()}
    for name, path in found.items():
        if not os.access(path, os.X_OK):
            sys.exit(f"scale-bench: no {name} at {path}: build it first (see README.md)")
    return found


def generate(h, event_gen, events, customers):
    path = h.path("events.jsonl")
    subprocess.run([event_gen, "--out", path, "--events", str(events), "--customers",
                    str(customers), "--seed", "7", "--clock", "simulated", "--start",
                    "2024-01-01T00:00:00Z", "--days", "365", "--progress-interval", "0"],
                   check=True, capture_output=True, timeout=600)
    with open(path, "rb") as f:
        lines = [line for line in f.read().split(b"\n") if line]
    return [(_customer(line), line, []) for line in lines]


def _customer(line):
    marker = b'"customer_id":"'
    start = line.find(marker)
    if start < 0:
        return None
    start += len(marker)
    return line[start:line.find(b'"', start)].decode()


class Committed:
    """Reads a group's committed offsets through one client, cheaply enough to poll often."""

    def __init__(self, bootstrap, group, topic):
        self.reader = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                                "enable.auto.commit": False})
        self.partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]

    def __call__(self):
        return {tp.partition: max(tp.offset, 0)
                for tp in self.reader.committed(self.partitions, timeout=10)}

    def close(self):
        self.reader.close()


class Changelog:
    """Fails the failover at once, with the reason, when the embedded broker has dropped the oldest
    records of a partition of the group's changelog (it keeps about 5 MiB per partition): the
    survivor then rightly refuses to restore it, and the wait would only time out."""

    CHECK_EVERY_S = 1.0

    def __init__(self, bootstrap, topic):
        self.topic = topic
        self.reader = Consumer({"bootstrap.servers": bootstrap, "group.id": f"{topic}-watch",
                                "enable.auto.commit": False})
        self.checked = 0.0

    def intact(self):
        if time.monotonic() - self.checked < self.CHECK_EVERY_S:
            return True
        self.checked = time.monotonic()
        trimmed = [p for p in range(PARTITIONS)
                   if self.reader.get_watermark_offsets(TopicPartition(self.topic, p),
                                                        timeout=10)[0] > 0]
        if trimmed:
            raise AssertionError(
                f"the embedded broker dropped the oldest records of {self.topic} partitions "
                f"{trimmed} (it keeps about 5 MiB per partition), so no instance can restore "
                "them and no failover can be measured; rerun with a lower --rate")
        return True

    def close(self):
        self.reader.close()


def owned(service, topic=FAILOVER_TOPIC):
    # Each owned input partition also has a lag gauge for its repartition topic partition.
    return sorted(int(dict(labels)["partition"]) for (name, labels) in service.metrics()
                  if name == "cdp_consumer_lag_records" and dict(labels)["topic"] == topic)


class Bench:
    def __init__(self, h, args, tools, bootstrap):
        self.h, self.args, self.tools, self.bootstrap = h, args, tools, bootstrap

    def start(self, group, name, topic=INPUT_TOPIC):
        data_dir = self.h.path(f"{group}-{name}")
        shutil.rmtree(data_dir, ignore_errors=True)
        flags = ["--group-id", group, "--input-topic", topic, "--clock", "event-time",
                 "--kafka-property", f"session.timeout.ms={self.args.session_timeout_ms}",
                 "--kafka-property", "heartbeat.interval.ms=1000"] + self.args.service_flag
        return harness.start_service(self.h, self.tools["profile-service"], self.bootstrap,
                                     self.args.segments, data_dir, flags, ready=False)

    def throughput(self, instances, total):
        group = f"bench-{instances}"
        committed = Committed(self.bootstrap, group, INPUT_TOPIC)
        services = [self.start(group, f"i{i}") for i in range(instances)]
        first = wait_until(lambda: sum(committed().values()) or None, 120,
                           "the first committed batch", interval=0.05)
        started = time.monotonic()
        wait_until(lambda: sum(committed().values()) >= total, 600, "the input to be drained",
                   interval=0.05)
        seconds = time.monotonic() - started
        committed.close()
        for service in services:
            service.child.signal(signal.SIGTERM)
        for service in services:
            service.child.wait(60)
        disk = sum(os.path.getsize(os.path.join(root, name))
                   for i in range(instances)
                   for root, _, names in os.walk(self.h.path(f"{group}-i{i}")) for name in names)
        return (total - first) / seconds, disk

    def failover(self, records):
        group = "bench-failover"
        stop = threading.Event()

        def publish():
            # A steady load, paced by the clock: each partition keeps getting records.
            index, started = 0, time.monotonic()
            while not stop.is_set():
                due = int((time.monotonic() - started) * self.args.rate)
                if due > index:
                    harness.produce(self.bootstrap, FAILOVER_TOPIC,
                                    [records[i % len(records)] for i in range(index, due)])
                    index = due
                time.sleep(0.05)

        publisher = threading.Thread(target=publish, daemon=True)
        publisher.start()
        committed = Committed(self.bootstrap, group, FAILOVER_TOPIC)
        changelog = Changelog(self.bootstrap, f"{group}-changelog")
        survivor = self.start(group, "a", FAILOVER_TOPIC)
        leaver = self.start(group, "b", FAILOVER_TOPIC)
        results = {}
        try:
            for how in ("SIGKILL", "SIGTERM"):
                wait_until(lambda: owned(survivor) and owned(leaver) and
                           len(owned(survivor)) + len(owned(leaver)) == PARTITIONS, 120,
                           "both instances to own partitions")
                moved = owned(leaver)
                signalled = time.monotonic()
                leaver.child.signal(signal.SIGKILL if how == "SIGKILL" else signal.SIGTERM)
                # From here on only the other instance commits (a leaving one commits its last
                # batch on its way out).
                leaver.child.wait(60)
                before = committed()
                wait_until(lambda: changelog.intact() and
                           all(committed()[p] > before[p] for p in moved), 300,
                           f"the other instance to process partitions {moved}", interval=0.05)
                results[how] = (time.monotonic() - signalled, len(moved))
                if how == "SIGKILL":
                    leaver = self.start(group, "b2", FAILOVER_TOPIC)
        finally:
            stop.set()
            publisher.join()
            committed.close()
            changelog.close()
        return results


def main(h):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build-dir", required=True)
    parser.add_argument("--segments", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "deploy", "config",
        "segments.yaml"))
    parser.add_argument("--events", type=int, default=200000)
    parser.add_argument("--customers", type=int, default=20000)
    parser.add_argument("--rate", type=int, default=2000, help="events/s during the failovers")
    parser.add_argument("--session-timeout-ms", type=int, default=10000)
    parser.add_argument("--service-flag", action="append", default=[], metavar="FLAG",
                        help="passed to every profile-service, e.g. --service-flag=--lanes=2; "
                             "repeatable")
    args = parser.parse_args()
    tools = binaries(args.build_dir)

    topics = [(INPUT_TOPIC, PARTITIONS), (FAILOVER_TOPIC, PARTITIONS), (OUTPUT_TOPIC, PARTITIONS),
              (DLQ_TOPIC, 1)]
    topics += [(f"{group}-{kind}", PARTITIONS) for group in GROUPS
               for kind in ("changelog", "repartition")]
    _, bootstrap = harness.start_kafka(h, tools["kafka-local"], topics)
    records = generate(h, tools["event-gen"], args.events, args.customers)
    harness.produce(bootstrap, INPUT_TOPIC, records)
    bench = Bench(h, args, tools, bootstrap)
    print(f"scale-bench: {args.events} events for {args.customers} customers, {PARTITIONS} "
          f"partitions, {os.cpu_count()} cores", flush=True)
    for instances in (1, 2):
        rate, disk = bench.throughput(instances, len(records))
        print(f"throughput, {instances} instance(s): {rate:,.0f} events/s; state on disk "
              f"{disk / 2**20:,.1f} MiB ({disk / args.customers:,.0f} bytes per customer)",
              flush=True)
    for how, (seconds, partitions) in bench.failover(records).items():
        print(f"failover after {how} of 1 of 2 instances: {partitions} partitions processed "
              f"again by the other after {seconds:.2f} s (session.timeout.ms="
              f"{args.session_timeout_ms})", flush=True)


if __name__ == "__main__":
    harness.run("scale-bench", main)
