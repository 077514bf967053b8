#!/usr/bin/env python3
"""Time moves customers: kafka-local and profile-service, with customers who stop sending events.

Event time: a scripted history of a few dozen customers (archetypes repeated with shifted start
days) is written to a file, shuffled, and loaded with tools/replay, which publishes it in
occurred_at order to a service running with --clock event-time. Every
customer's lifecycle changes must come out exactly as derived by hand, in order, each at the
local midnight it became true, including those of customers who never send another event.

Wall clock: the catalogue's time zone is a fixed offset chosen so that a local midnight falls
about 45 s after the test starts. A customer buys, the service is killed and restarted (the timer
lives in its state), and at midnight the customer must move to `lapsed` with no new event,
within a second of the due time.
"""

import argparse
import datetime
import json
import random
import signal
import subprocess
import time
import uuid

from confluent_kafka import Consumer, TopicPartition

import harness
from harness import DLQ_TOPIC, INPUT_TOPIC, OUTPUT_TOPIC, wait_until

PARTITIONS = 4
JSON_HEADER = [("content-type", b"application/json")]
SHANGHAI = datetime.timezone(datetime.timedelta(hours=8))
BASE = datetime.date(2025, 1, 6)
HISTORY_DAYS = 420


def local_time(day, hour=10):
    """An RFC 3339 instant at `hour` o'clock in Shanghai, `day` days after BASE."""
    when = datetime.datetime.combine(BASE + datetime.timedelta(days=day),
                                     datetime.time(hour), SHANGHAI)
    return when.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def midnight(day):
    """The start of day `day` in Shanghai, as the service writes occurred_at."""
    return local_time(day, 0)


def event(event_id, customer, occurred_at, **payload):
    body = {"event_id": event_id, "customer_id": customer, "occurred_at": occurred_at,
            "channel": "app"}
    body.update(payload)
    return body


def purchase(customer, day):
    return event(f"{customer}-p{day}", customer, local_time(day),
                 purchase={"order_id": f"{customer}-o{day}", "total_amount": 10000,
                           "currency": "CNY"})


def interaction(customer, day):
    return event(f"{customer}-i{day}", customer, local_time(day),
                 interaction={"type": "page_view"})


def enter(tier, when, previous="", cause="event"):
    return ("entered", tier, previous, cause, when)


def move(old, new, when, cause):
    return [("exited", old, new, cause, when), ("entered", new, old, cause, when)]


def archetypes(start):
    """(name, events, expected lifecycle changes) for customers whose history starts on `start`."""
    d = start
    return [
        # Interested, never buys.
        ("browser", [interaction, d], [enter("potential", local_time(d))]),
        # One purchase, then silence: time alone takes them to churned.
        ("one_timer", [interaction, d, purchase, d + 5],
         [enter("potential", local_time(d))]
         + move("potential", "new", local_time(d + 5), "event")
         + move("new", "active", midnight(d + 5 + 31), "time")
         + move("active", "at_risk", midnight(d + 5 + 91), "time")
         + move("at_risk", "churned", midnight(d + 5 + 181), "time")),
        # Four purchases within a month: loyal, then silence.
        ("loyal", [purchase, d, purchase, d + 10, purchase, d + 20, purchase, d + 30],
         [enter("new", local_time(d))]
         + move("new", "loyal", local_time(d + 30), "event")
         + move("loyal", "at_risk", midnight(d + 30 + 91), "time")
         + move("at_risk", "churned", midnight(d + 30 + 181), "time")),
        # Drifts to at_risk, comes back, drifts again.
        ("returner", [purchase, d, purchase, d + 100],
         [enter("new", local_time(d))]
         + move("new", "active", midnight(d + 31), "time")
         + move("active", "at_risk", midnight(d + 91), "time")
         + move("at_risk", "active", local_time(d + 100), "event")
         + move("active", "at_risk", midnight(d + 100 + 91), "time")
         + move("at_risk", "churned", midnight(d + 100 + 181), "time")),
        # Churns, then buys again: won back, until silence makes them drift once more.
        ("churner", [purchase, d, purchase, d + 200],
         [enter("new", local_time(d))]
         + move("new", "active", midnight(d + 31), "time")
         + move("active", "at_risk", midnight(d + 91), "time")
         + move("at_risk", "churned", midnight(d + 181), "time")
         + move("churned", "won_back", local_time(d + 200), "event")
         + move("won_back", "at_risk", midnight(d + 200 + 91), "time")
         + move("at_risk", "churned", midnight(d + 200 + 181), "time")),
    ]


def history():
    """Every event of the history, shuffled, and per customer the expected lifecycle changes."""
    events = []
    expected = {}
    for shift in range(0, 35, 7):
        for name, steps, changes in archetypes(shift):
            customer = f"{name}-{shift}"
            for make, day in zip(steps[::2], steps[1::2]):
                events.append(make(customer, day))
            expected[customer] = changes
    # Every partition's event time must reach the end of the history, so that its timers fire.
    clocks = {}
    for n in range(1000):
        clocks.setdefault(harness.partition_of(f"clock-{n}", PARTITIONS), f"clock-{n}")
    assert len(clocks) == PARTITIONS, clocks
    events += [interaction(customer, HISTORY_DAYS) for customer in clocks.values()]
    random.Random(7).shuffle(events)
    return events, expected


def read_changes(bootstrap):
    """Segment changes per customer, in the order the service published them, repeats dropped."""
    by_customer = {}
    seen = set()
    for record in harness.read_all(bootstrap, OUTPUT_TOPIC):
        change = json.loads(record.value)
        if change["change_id"] in seen:
            continue
        seen.add(change["change_id"])
        by_customer.setdefault(change["customer_id"], []).append(change)
    return by_customer


def lifecycle(changes):
    return [(c["direction"], c["segment"], c.get("previous_tier") or c.get("next_tier") or "",
             c["cause"], c["occurred_at"])
            for c in changes if c.get("dimension") == "lifecycle"]


def run_event_time(h, args):
    _, bootstrap = harness.start_kafka(h, args.kafka_local,
                                       [(INPUT_TOPIC, PARTITIONS), (OUTPUT_TOPIC, PARTITIONS), (DLQ_TOPIC, 1),
         (harness.CHANGELOG_TOPIC, PARTITIONS),
         (harness.REPARTITION_TOPIC, PARTITIONS)])
    service = harness.start_service(h, args.profile_service, bootstrap, args.lifecycle_segments,
                                    h.path("state-event-time"),
                                    extra=["--clock", "event-time"])
    events, expected = history()
    history_file = h.path("history.jsonl")
    with open(history_file, "w") as f:
        f.writelines(json.dumps(e) + "\n" for e in events)
    done = subprocess.run([args.replay, "--brokers", bootstrap, "--format", "json", history_file],
                          capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    assert f"{len(events)} events" in done.stdout.decode(), done.stdout.decode()

    latest = {}

    def complete():
        service.child.check_running()
        latest["published"] = read_changes(bootstrap)
        return all(len(lifecycle(latest["published"].get(c, []))) >= len(want)
                   for c, want in expected.items())

    try:
        wait_until(complete, 120, "every expected lifecycle change", interval=1)
    finally:
        # On a timeout too: which customer is short, and of what, is the useful message.
        published = latest.get("published", {})
        short = [(c, lifecycle(published.get(c, [])), want) for c, want in expected.items()
                 if lifecycle(published.get(c, [])) != want]
        if short:
            print(f"{len(short)} customers differ, e.g. {short[0][0]}:\n  got  {short[0][1]}\n"
                  f"  want {short[0][2]}\n  profile: {service.get('/v1/profiles/' + short[0][0])}")
    for customer, want in expected.items():
        got = lifecycle(published.get(customer, []))
        assert got == want, f"{customer}:\n  got  {got}\n  want {want}"
    timer_changes = sum(1 for c in expected.values() for change in c if change[3] == "time")
    samples = service.metrics()
    assert harness.metric(samples, "cdp_timers_fired_total") >= timer_changes / 2, samples
    service.child.signal(signal.SIGTERM)
    assert service.child.wait(30) == 0, service.child.stderr()
    return len(expected), timer_changes


def fixed_zone_with_midnight_at(instant):
    """A fixed-offset time zone name in which `instant` (UTC, whole seconds) is a midnight."""
    seconds_into_day = instant.hour * 3600 + instant.minute * 60 + instant.second
    offset = -seconds_into_day % 86400
    if offset > 43200:
        offset -= 86400
    sign = "+" if offset >= 0 else "-"
    offset = abs(offset)
    return f"Fixed/UTC{sign}{offset // 3600:02d}:{offset % 3600 // 60:02d}:{offset % 60:02d}"


class ChangeTail:
    """Reads the output topic as records arrive, noting when each arrived."""

    def __init__(self, bootstrap):
        self.consumer = Consumer({"bootstrap.servers": bootstrap,
                                  "group.id": f"timers-tail-{uuid.uuid4()}",
                                  "enable.auto.commit": False})
        self.consumer.assign([TopicPartition(OUTPUT_TOPIC, p, 0) for p in range(PARTITIONS)])
        self.arrived = []  # (arrival time, broker timestamp in s, change)

    def poll(self):
        message = self.consumer.poll(0.2)
        if message is not None and message.error() is None:
            self.arrived.append((time.time(), message.timestamp()[1] / 1000,
                                 json.loads(message.value())))
        return self.arrived

    def find(self, customer, segment, direction="entered"):
        for arrival, stamp, change in self.poll():
            if (change["customer_id"], change["segment"], change["direction"]) == \
                    (customer, segment, direction):
                return arrival, stamp, change
        return None

    def close(self):
        self.consumer.close()


def run_wall_clock(h, args):
    _, bootstrap = harness.start_kafka(h, args.kafka_local,
                                       [(INPUT_TOPIC, PARTITIONS), (OUTPUT_TOPIC, PARTITIONS), (DLQ_TOPIC, 1),
         (harness.CHANGELOG_TOPIC, PARTITIONS),
         (harness.REPARTITION_TOPIC, PARTITIONS)])
    due = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=45)) \
        .replace(microsecond=0)
    segments = h.path("lapse-segments.yaml")
    with open(segments, "w") as f:
        f.write(f"timezone: '{fixed_zone_with_midnight_at(due)}'\n"
                "dimensions:\n"
                "  - id: recency\n"
                "    tiers:\n"
                "      - {id: lapsed, when: 'orders_total >= 1 and days_since_last_purchase >= 1'}\n"
                "      - {id: recent, when: 'orders_total >= 1'}\n")
    data_dir = h.path("state-wall")
    service = harness.start_service(h, args.profile_service, bootstrap, segments, data_dir)
    tail = ChangeTail(bootstrap)
    try:
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        harness.produce(bootstrap, INPUT_TOPIC, [
            ("quiet", json.dumps(purchase_at("quiet", now)).encode(), JSON_HEADER, 0)])
        wait_until(lambda: service.child.check_running() or tail.find("quiet", "recent"), 60,
                   "the purchase's change to recent")

        # The timer lives in the state: a new process on the same data directory fires it.
        service.child.signal(signal.SIGKILL)
        service.child.wait(10)
        service = harness.start_service(h, args.profile_service, bootstrap, segments, data_dir)
        assert datetime.datetime.now(datetime.timezone.utc) < due, \
            "the restarted service was ready only after the due time; the machine is too slow"

        arrival, stamp, change = wait_until(
            lambda: service.child.check_running() or tail.find("quiet", "lapsed"),
            90, "the time-driven change to lapsed")
        assert change["cause"] == "time", change
        assert change["previous_tier"] == "recent", change
        assert change["occurred_at"] == due.strftime("%Y-%m-%dT%H:%M:%SZ"), (change, due)
        lateness = stamp - due.timestamp()
        assert 0 <= lateness <= 1.0, f"published {lateness:.3f} s after its due time"
        return lateness, arrival - due.timestamp()
    finally:
        tail.close()


def purchase_at(customer, occurred_at):
    return event(f"{customer}-1", customer, occurred_at,
                 purchase={"order_id": f"{customer}-o1", "total_amount": 10000, "currency": "CNY"})


def main(h):
    parser = argparse.ArgumentParser()
    for flag in ("kafka-local", "profile-service", "replay", "lifecycle-segments"):
        parser.add_argument(f"--{flag}", required=True)
    args = parser.parse_args()
    customers, timer_changes = run_event_time(h, args)
    lateness, seen_after = run_wall_clock(h, args)
    print(f"timers: event time: {customers} customers' lifecycle changes exact "
          f"({timer_changes} caused by time); wall clock: published {lateness:.3f} s after due, "
          f"read by the test {seen_after:.3f} s after due, across a restart")


if __name__ == "__main__":
    harness.run("timers", main)
