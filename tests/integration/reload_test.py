#!/usr/bin/env python3
"""Segment file hot reload: kafka-local and profile-service, with the file edited while it runs.

A few hundred customers buy once or twice. Then the segment file is rewritten while events keep
arriving: `buyer` now needs two orders and `big_spender` is new. Every stored customer must get
exactly the changes the new definitions imply (cause: definition_change), in the background, and
events arriving after the reload are applied under the new definitions; segment member gauges
must follow. (Live input during a long re-evaluation is covered by the processor's unit tests.)
An invalid file is then reported and the running definitions kept; SIGHUP with the same
definitions changes nothing; and a restart with the first file re-evaluates the stored profiles
back, since the state records which definitions its memberships follow.
"""

import argparse
import datetime
import json
import signal
import uuid

from confluent_kafka import Consumer, TopicPartition

import harness
from harness import DLQ_TOPIC, INPUT_TOPIC, OUTPUT_TOPIC, metric, wait_until

PARTITIONS = 4
JSON_HEADER = [("content-type", b"application/json")]
CUSTOMERS = 300

FIRST = """\
segments:
  - id: buyer
    when: orders_total >= 1
dimensions:
  - id: lifecycle
    tiers:
      - {id: active, when: "orders_total >= 1"}
"""

EDITED = """\
segments:
  - id: buyer
    when: orders_total >= 2
  - id: big_spender
    when: monetary_total >= 15000
dimensions:
  - id: lifecycle
    tiers:
      - {id: active, when: "orders_total >= 1"}
"""

INVALID = EDITED.replace("monetary_total >= 15000", "monetry_total >= 15000")


def now_text():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def purchase(customer, n, amount):
    body = {"event_id": f"{customer}-p{n}", "customer_id": customer, "occurred_at": now_text(),
            "channel": "app",
            "purchase": {"order_id": f"{customer}-o{n}", "total_amount": amount,
                         "currency": "CNY"}}
    return (customer, json.dumps(body).encode(), JSON_HEADER)


def orders_of(i):
    """Customer i's orders: every third buys twice; amounts make some of those big spenders."""
    amounts = [10000]
    if i % 3 == 0:
        amounts.append(2000 if i % 2 == 0 else 8000)
    return amounts


class ChangeTail:
    """Every segment change published so far, read as they arrive."""

    def __init__(self, bootstrap):
        self.consumer = Consumer({"bootstrap.servers": bootstrap,
                                  "group.id": f"reload-tail-{uuid.uuid4()}",
                                  "enable.auto.commit": False})
        self.consumer.assign([TopicPartition(OUTPUT_TOPIC, p, 0) for p in range(PARTITIONS)])
        self.changes = []

    def read(self):
        for message in self.consumer.consume(1000, 0.2):
            if message.error() is None:
                self.changes.append(json.loads(message.value()))
        return self.changes

    def by_cause(self, cause):
        return {(c["customer_id"], c["segment"], c["direction"])
                for c in self.read() if c["cause"] == cause}

    def close(self):
        self.consumer.close()


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def main(h):
    parser = argparse.ArgumentParser()
    for flag in ("kafka-local", "profile-service"):
        parser.add_argument(f"--{flag}", required=True)
    args = parser.parse_args()
    _, bootstrap = harness.start_kafka(
        h, args.kafka_local, [(INPUT_TOPIC, PARTITIONS), (OUTPUT_TOPIC, PARTITIONS), (DLQ_TOPIC, 1),
         (harness.CHANGELOG_TOPIC, PARTITIONS),
         (harness.REPARTITION_TOPIC, PARTITIONS)])
    segments = h.path("segments.yaml")
    write(segments, FIRST)
    data_dir = h.path("state")
    extra = ["--segments-check-interval", "200ms"]
    service = harness.start_service(h, args.profile_service, bootstrap, segments, data_dir, extra)
    tail = ChangeTail(bootstrap)
    try:
        customers = [f"c{i:03d}" for i in range(CUSTOMERS)]
        records = []
        for i, customer in enumerate(customers):
            for n, amount in enumerate(orders_of(i)):
                records.append(purchase(customer, n, amount))
        harness.produce(bootstrap, INPUT_TOPIC, records)
        wait_until(lambda: service.child.check_running() or
                   len(tail.by_cause("event")) == 2 * CUSTOMERS, 60,
                   "every customer's buyer and lifecycle changes")

        # The edit; then live traffic, applied under the new definitions.
        write(segments, EDITED)
        wait_until(lambda: service.child.check_running() or metric(
            service.metrics(), "cdp_segment_config_reloads_total", result="applied") == 1, 30,
                   "the edited file to be applied")
        live = [purchase(f"live{i}", 0, 20000) for i in range(20)]
        harness.produce(bootstrap, INPUT_TOPIC, live)

        twice = {c for i, c in enumerate(customers) if len(orders_of(i)) == 2}
        big = {c for i, c in enumerate(customers) if sum(orders_of(i)) >= 15000}
        expected = {(c, "buyer", "exited") for c in customers if c not in twice} | \
                   {(c, "big_spender", "entered") for c in big}

        def reevaluated():
            service.child.check_running()
            samples = service.metrics()
            return metric(samples, "cdp_definition_reevaluation_partitions") == 0 and \
                metric(samples, "cdp_segment_config_reloads_total", result="applied") == 1 and \
                tail.by_cause("definition_change") == expected
        try:
            wait_until(reevaluated, 60, "the definition changes of every stored customer")
        except AssertionError:
            seen = tail.by_cause("definition_change")
            raise AssertionError(f"definition changes: missing {sorted(expected - seen)[:5]}, "
                                 f"unexpected {sorted(seen - expected)[:5]}, "
                                 f"metrics {service.metrics()}") from None
        # Live customers entered under the new definitions: big spenders, not buyers.
        wait_until(lambda: {("live0", "big_spender", "entered"), ("live19", "big_spender",
                                                                     "entered")}
                   <= tail.by_cause("event"), 30, "the live customers' changes")
        assert not {(c, s, d) for c, s, d in tail.by_cause("event")
                    if c.startswith("live") and s == "buyer"}, "a live customer became buyer"
        samples = service.metrics()
        assert metric(samples, "cdp_segment_members", dimension="", segment="buyer") == len(twice)
        assert metric(samples, "cdp_segment_members", dimension="",
                      segment="big_spender") == len(big) + len(live)
        assert metric(samples, "cdp_segment_members", dimension="lifecycle",
                      segment="active") == CUSTOMERS + len(live)
        assert metric(samples, "cdp_definition_reevaluated_profiles_total") >= CUSTOMERS

        # An invalid file is reported, and the running definitions stay.
        write(segments, INVALID)
        wait_until(lambda: service.child.check_running() or metric(
            service.metrics(), "cdp_segment_config_reloads_total", result="invalid") == 1, 30,
                   "the invalid file to be reported")
        assert metric(service.metrics(), "cdp_segment_config_valid") == 0
        assert "did you mean 'monetary_total'" in service.child.stderr()
        harness.produce(bootstrap, INPUT_TOPIC, [purchase("late", 0, 20000)])
        wait_until(lambda: service.child.check_running() or
                   ("late", "big_spender", "entered") in tail.by_cause("event"), 30,
                   "an event applied under the running definitions")

        # SIGHUP re-reads the file; the same definitions, formatted differently, change nothing.
        write(segments, "# reformatted\n" + EDITED)
        service.child.signal(signal.SIGHUP)
        wait_until(lambda: service.child.check_running() or metric(
            service.metrics(), "cdp_segment_config_reloads_total", result="applied") == 2, 30,
                   "the SIGHUP reload")
        assert metric(service.metrics(), "cdp_segment_config_valid") == 1
        assert metric(service.metrics(), "cdp_definition_reevaluation_partitions") == 0

        # A restart with the first file brings the stored profiles back to it.
        service.child.signal(signal.SIGTERM)
        service.child.wait(30)
        write(segments, FIRST)
        mark = len(tail.read())
        service = harness.start_service(h, args.profile_service, bootstrap, segments, data_dir,
                                        extra)
        everyone = set(customers) | {f"live{i}" for i in range(20)} | {"late"}
        back = {(c, "buyer", "entered") for c in everyone if c not in twice} | \
               {(c, "big_spender", "exited") for c in big | everyone - set(customers)}
        wait_until(lambda: service.child.check_running() or {
            (x["customer_id"], x["segment"], x["direction"]) for x in tail.read()[mark:]
            if x["cause"] == "definition_change"} == back,
                   60, "the re-evaluation back to the first file after a restart")
        print(f"reload: {CUSTOMERS} stored customers re-evaluated in the background with "
              f"{len(expected)} definition changes, live input applied meanwhile; invalid file "
              f"kept the running definitions; restart with the old file re-evaluated back")
    finally:
        tail.close()


if __name__ == "__main__":
    harness.run("reload", main)
