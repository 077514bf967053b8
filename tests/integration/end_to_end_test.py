#!/usr/bin/env python3
"""End to end: kafka-local and profile-service, fed binary protobuf, JSON (with and without the
content-type header) and invalid records by a Kafka producer.

Run 1 (test catalogue, wall clock) checks every output against hand-derived expectations: the
exact segment changes, each dead letter and its headers (a record for every reject reason, and
random, truncated, deeply nested, oversized and non-UTF-8 records), the profile API, the
metrics, health, no customer id in the logs or /metrics, and a clean SIGTERM. Run 2 (the shipped deploy/config/segments.yaml, event-time clock) checks the
service against `profilectl fold` over the same input, and a few memberships by hand. Last, the
service's refusals: a bad flag and a bad segment file.
"""

import argparse
import collections
import datetime
import json
import random
import re
import signal
import subprocess

import deploy_lib
import harness
from harness import DLQ_TOPIC, INPUT_TOPIC, OUTPUT_TOPIC, metric, wait_until

NOW = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
PARTITIONS = 8
JSON_HEADER = [("content-type", b"application/json")]
# Each sentinel is the last record of its partition, and belongs there.
SENTINELS = [harness.id_in_partition("sentinel", p, PARTITIONS) for p in range(PARTITIONS)]
# A customer whose events all arrive in other partitions than hers, passed on to hers through the
# repartition topic. Her partition has no other customer, and her event is as late as its
# sentinel's, so that event time there is the same whichever comes first.
ERIN_PARTITION = min(set(range(PARTITIONS)) - {harness.partition_of(c, PARTITIONS)
                                               for c in ("alice", "bob", "carol", "dave")})
ERIN = harness.id_in_partition("erin", ERIN_PARTITION, PARTITIONS)
ERIN_AWAY = [p for p in range(PARTITIONS) if p != ERIN_PARTITION][:2]


def at(days_ago, hours_ago=0):
    when = NOW - datetime.timedelta(days=days_ago, hours=hours_ago)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def event(event_id, customer, occurred_at, **payload):
    body = {"event_id": event_id, "customer_id": customer, "occurred_at": occurred_at,
            "channel": "app"}
    body.update(payload)
    return body


def purchase(event_id, customer, occurred_at, amount):
    return event(event_id, customer, occurred_at,
                 purchase={"order_id": f"o-{event_id}", "total_amount": amount, "currency": "CNY",
                           "items": [{"sku": "sku-1", "category": "shoes", "quantity": 1,
                                      "unit_price": amount}]})


def interaction(event_id, customer, occurred_at, kind):
    return event(event_id, customer, occurred_at, interaction={"type": kind})


class Input:
    """One record to publish, and what the pipeline must make of it."""

    def __init__(self, key, value, headers=(), reject=None, partition=None):
        self.key = key
        self.value = value
        self.headers = list(headers)
        self.reject = reject  # the expected cdp-reject-reason, None for a valid record
        self.partition = partition
        self.delivered = None  # (partition, offset)


def encode_binary(encoder, events):
    lines = "".join(json.dumps(e) + "\n" for e in events)
    done = subprocess.run([encoder], input=lines.encode(), capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode()
    return [bytes.fromhex(line) for line in done.stdout.decode().split()]


def scenario(encoder):
    """The input records, in publishing order."""
    alice = [interaction("a1", "alice", at(3), "page_view"),
             purchase("a2", "alice", at(2), 30000),
             purchase("a3", "alice", at(1), 25000)]
    a1, a2, a3 = encode_binary(encoder, alice)
    valid_for_dave = event("d0", "dave", at(1), interaction={"type": "like"})
    (dave_binary,) = encode_binary(encoder, [valid_for_dave])

    def as_json(body):
        return json.dumps(body).encode()

    records = [
        # Binary protobuf, no header; a2 published twice (a producer retry).
        Input("alice", a1), Input("alice", a2), Input("alice", a3), Input("alice", a2),
        # JSON labelled with the content-type header.
        Input("bob", as_json(event("b1", "bob", at(2), consent={"channel": "email",
                                                                 "granted": True})),
              JSON_HEADER),
        Input("bob", as_json(interaction("b2", "bob", at(1), "like")), JSON_HEADER),
        Input("bob", as_json(interaction("b3", "bob", at(0, 1), "share")), JSON_HEADER),
        # JSON recognised by its content.
        Input("carol", as_json(event("c1", "carol", at(2), profile_update={"city": "shanghai"}))),
        Input("carol", as_json(purchase("c2", "carol", at(1), 10000))),
        Input("carol", as_json(event("c3", "carol", at(0, 1), erasure={"reason": "request"}))),
        # Invalid records, one reason each (empty_value twice: empty and null).
        Input("bad-garbage", b"\x00\x01garbage\xff", reject="undecodable"),
        Input("dave", as_json(purchase("d1", "dave", at(1), -5)), JSON_HEADER,
              reject="negative_amount"),
        Input("dave", as_json(dict(purchase("d2", "dave", at(1), 100),
                                   purchase={"order_id": "o", "total_amount": 100,
                                             "currency": "USD"})),
              reject="unsupported_currency"),
        Input("dave", as_json(interaction("d3", "", at(1), "like")), reject="missing_customer_id"),
        Input("dave", as_json(interaction("", "dave", at(1), "like")), reject="missing_event_id"),
        Input("dave", as_json(dict(interaction("d4", "dave", at(1), "like"), channel="tiktok")),
              reject="unknown_enum"),
        Input("dave", as_json(interaction("d5", "dave", at(-3), "like")),
              reject="timestamp_out_of_range"),
        Input("bad-empty", b"", reject="empty_value"),
        Input("bad-null", None, reject="empty_value"),
        Input("dave", dave_binary, JSON_HEADER, reject="undecodable"),
        # Hostile input: one more per remaining reason, and malformed bytes of every kind.
        *hostile_inputs(a1, as_json),
        # Wrongly placed: with no key, then retried under another id as key, each in another
        # partition than erin's. Applied once, in hers.
        Input(None, as_json(interaction("e1", ERIN, at(0), "page_view")), partition=ERIN_AWAY[0]),
        Input("device-42", as_json(interaction("e1", ERIN, at(0), "page_view")),
              partition=ERIN_AWAY[1]),
    ]
    # Last in every partition: once a sentinel's profile is visible, everything published
    # before it in its partition has been committed, outputs included.
    for p, sentinel in enumerate(SENTINELS):
        records.append(Input(sentinel, as_json(interaction(f"s{p}", sentinel, at(0), "page_view")),
                             partition=p))
    return records


# The service and the fold run with this record size limit, so that a huge record is cheap.
MAX_RECORD_BYTES = 4096


def hostile_inputs(binary_event, as_json):
    """Records that must each end in the dead-letter topic once, with the reason given."""
    rng = random.Random(7)
    old = at(1)
    nested = ('{"event_id": "h-n", "customer_id": "dave", "occurred_at": "' + old +
              '", "profile_update": {"attributes": ' + "[" * 600 + "]" * 600 + "}}").encode()
    return [
        Input("dave", as_json({"event_id": "h1", "customer_id": "dave",
                               "interaction": {"type": "like"}}), reject="missing_occurred_at"),
        Input("dave", as_json(interaction("h2", "d" * 200, old, "like")), reject="invalid_id"),
        Input("dave", as_json(event("h3", "dave", old)), reject="missing_payload"),
        Input("dave", as_json(purchase("h4", "dave", old, 10 ** 16)), reject="amount_overflow"),
        Input("dave", as_json(event("h5", "dave", old, profile_update={"birth_date": "2023-02-30"})),
              reject="invalid_date"),
        Input("dave", as_json(event("h6", "dave", old, interaction={"type": "review", "rating": 9})),
              reject="invalid_rating"),
        Input("dave", as_json(dict(purchase("h7", "dave", old, 100),
                                   purchase={"total_amount": 100, "items": [
                                       {"sku": "s", "quantity": 2, "unit_price": 5000}]})),
              reject="inconsistent_total"),
        # A huge repeated field: over the size limit before anything is decoded.
        Input("dave", as_json(dict(purchase("h8", "dave", old, 100),
                                   purchase={"total_amount": 100, "items": [
                                       {"sku": "s", "quantity": 1}] * 500})),
              reject="oversize"),
        # Random bytes (a zero first byte is no protobuf field and no JSON), binary protobuf cut
        # short inside its payload, JSON nested deeper than the decoder follows, and a customer
        # id that is not UTF-8, in JSON (then no JSON text at all) and in binary protobuf.
        Input("bad-random", b"\x00" + bytes(rng.randrange(256) for _ in range(300)),
              reject="undecodable"),
        Input("bad-truncated", binary_event[:-3], reject="undecodable"),
        Input("bad-nested", nested, reject="undecodable"),
        Input("bad-utf8", as_json(interaction("h9", "dave", old, "like")).replace(
            b'"dave"', b'"d\xffve"'), reject="undecodable"),
        Input("bad-utf8-binary", binary_event.replace(b"alice", b"al\xffce"),
              reject="invalid_id"),
    ]


def publish(bootstrap, records):
    tuples = []
    for r in records:
        tuples.append((r.key, r.value, r.headers) +
                      ((r.partition,) if r.partition is not None else ()))
    for record, delivered in zip(records, harness.produce(bootstrap, INPUT_TOPIC, tuples)):
        record.delivered = delivered


def wait_for_sentinels(service, bootstrap):
    wait_until(lambda: service.child.check_running() or all(
        service.get(f"/v1/profiles/{sentinel}")[0] == 200 for sentinel in SENTINELS),
        90, "every partition's sentinel to be committed")
    # Records passed on through the repartition topic come after: their offsets are committed to
    # the group, as the input's are, once their batch is.
    ends = harness.end_offsets(bootstrap, harness.REPARTITION_TOPIC)
    assert sum(ends.values()) == 2, f"erin's two records passed on, not {ends}"
    used = {p: end for p, end in ends.items() if end > 0}
    wait_until(lambda: service.child.check_running() or harness.committed_offsets(
        bootstrap, harness.GROUP, harness.REPARTITION_TOPIC, list(used)) == used,
        60, "the repartition topic's records to be committed")


# A change as the assertions compare it.
Change = collections.namedtuple(
    "Change", "customer segment dimension direction previous_tier next_tier cause cause_event_id "
              "occurred_at consent")


def change_of(value):
    c = json.loads(value)
    return Change(c["customer_id"], c["segment"], c.get("dimension", ""), c["direction"],
                  c.get("previous_tier", ""), c.get("next_tier", ""), c["cause"],
                  c.get("cause_event_id", ""), c["occurred_at"],
                  tuple(sorted(c.get("consent", {}).items())))


def expected_changes():
    def entered(customer, segment, cause_event_id, when, dimension="", previous="", consent=()):
        return Change(customer, segment, dimension, "entered", previous, "", "event",
                      cause_event_id, when, consent)

    def exited(customer, segment, cause_event_id, when, dimension="", following="",
               cause="event"):
        return Change(customer, segment, dimension, "exited", "", following, cause,
                      cause_event_id, when, ())

    email = (("email", True),)
    changes = [
        entered("alice", "browser", "a1", at(3), "lifecycle"),
        exited("alice", "browser", "a2", at(2), "lifecycle", "first_time_buyer"),
        entered("alice", "first_time_buyer", "a2", at(2), "lifecycle", "browser"),
        entered("alice", "big_spender", "a3", at(1)),
        exited("alice", "first_time_buyer", "a3", at(1), "lifecycle", "repeat_buyer"),
        entered("alice", "repeat_buyer", "a3", at(1), "lifecycle", "first_time_buyer"),
        entered("bob", "email_reachable", "b1", at(2), consent=email),
        entered("bob", "browser", "b2", at(1), "lifecycle", consent=email),
        entered("bob", "engaged", "b3", at(0, 1), consent=email),
        entered("carol", "first_time_buyer", "c2", at(1), "lifecycle"),
        exited("carol", "first_time_buyer", "c3", at(0, 1), "lifecycle", cause="erasure"),
    ]
    changes += [entered(sentinel, "browser", f"s{p}", at(0), "lifecycle")
                for p, sentinel in enumerate(SENTINELS)]
    changes.append(entered(ERIN, "browser", "e1", at(0), "lifecycle"))
    return changes


def check_changes(bootstrap, expected):
    records = harness.read_all(bootstrap, OUTPUT_TOPIC)
    for r in records:
        change = json.loads(r.value)
        assert r.key.decode() == change["customer_id"], f"change keyed {r.key!r}: {change}"
        assert r.headers.get("content-type") == "application/json", r.headers
        assert re.fullmatch(r"[0-9a-f]{32}", change["change_id"]), change
    actual = collections.Counter(change_of(r.value) for r in records)
    wanted = collections.Counter(expected)
    assert actual == wanted, (f"segment changes differ.\nmissing: {list(wanted - actual)}\n"
                              f"unexpected: {list(actual - wanted)}")
    return len(records)


def check_dead_letters(bootstrap, records):
    invalid = {r.delivered: r for r in records if r.reject}
    letters = harness.read_all(bootstrap, DLQ_TOPIC)
    seen = collections.Counter()
    for letter in letters:
        h = letter.headers
        assert h.get("cdp-source-topic") == INPUT_TOPIC, h
        source = (int(h["cdp-source-partition"]), int(h["cdp-source-offset"]))
        assert source in invalid, f"dead letter for a record that is valid or unknown: {h}"
        seen[source] += 1
        original = invalid[source]
        assert h.get("cdp-reject-reason") == original.reject, (
            f"{original.key} at {source}: reason {h.get('cdp-reject-reason')}, "
            f"wanted {original.reject} ({h.get('cdp-reject-detail')})")
        assert h.get("cdp-reject-detail"), f"{original.key}: no detail"
        assert (letter.value or b"") == (original.value or b""), f"{original.key}: value differs"
        assert letter.key == original.key.encode(), f"{original.key}: key {letter.key!r}"
    missing = [invalid[s].reject for s in invalid if seen[s] == 0]
    repeated = [invalid[s].reject for s in invalid if seen[s] > 1]
    assert not missing and not repeated, f"missing: {missing}, repeated: {repeated}"
    return len(letters)


def check_profiles(service):
    status, body = service.get("/v1/profiles/alice")
    assert status == 200, (status, body)
    alice = json.loads(body)
    assert alice["customer_id"] == "alice"
    assert alice["fields"]["orders_total"] == 2, alice["fields"]
    assert alice["fields"]["monetary_total"] == 55000, alice["fields"]
    assert alice["fields"]["interactions_total"] == 1, alice["fields"]
    # The API evaluates at its own "now", which may be a day later than NOW at midnight.
    today = datetime.datetime.now(datetime.timezone.utc).date()
    since_a3 = (today - (NOW - datetime.timedelta(days=1)).date()).days
    assert alice["fields"]["days_since_last_purchase"] == since_a3, alice["fields"]
    assert alice["segments"] == ["big_spender"], alice
    assert alice["tiers"] == {"lifecycle": "repeat_buyer"}, alice
    assert alice["events_applied"] == 3, alice  # the repeated a2 counted once

    status, body = service.get("/v1/profiles/bob")
    assert status == 200, (status, body)
    bob = json.loads(body)
    assert bob["fields"]["interactions_30d"] == 2, bob["fields"]
    assert bob["fields"]["orders_total"] == 0, bob["fields"]
    assert bob["fields"]["monetary_total"] == 0, bob["fields"]
    assert bob["segments"] == ["email_reachable", "engaged"], bob
    assert bob["tiers"] == {"lifecycle": "browser"}, bob
    assert bob["consent"] == {"email": True}, bob

    for gone in ("carol", "dave", "nobody-at-all"):
        status, body = service.get(f"/v1/profiles/{gone}")
        assert status == 404, f"{gone}: {status} {body}"


def check_metrics(service, records, changes):
    samples = service.metrics()
    consumed = metric(samples, "cdp_events_consumed_total", topic=INPUT_TOPIC)
    assert consumed == len(records), f"consumed {consumed}, published {len(records)}"
    passed_on = (metric(samples, "cdp_events_repartitioned_total"),
                 metric(samples, "cdp_events_consumed_total", topic=harness.REPARTITION_TOPIC))
    assert passed_on == (2, 2), f"erin's records passed on and consumed: {passed_on}"
    reasons = collections.Counter(r.reject for r in records if r.reject)
    for reason, count in reasons.items():
        got = metric(samples, "cdp_events_rejected_total", reason=reason)
        assert got == count, f"rejected {reason}: {got}, wanted {count}"
    # a2 repeated, and erin's retry.
    assert metric(samples, "cdp_events_duplicate_total") == 2
    for kind, count in (("purchase", 3), ("interaction", 4 + PARTITIONS), ("consent", 1),
                        ("profile_update", 1), ("erasure", 1)):
        got = metric(samples, "cdp_events_applied_total", type=kind, topic=INPUT_TOPIC)
        assert got == count, f"applied {kind}: {got}, wanted {count}"
    by_series = collections.Counter((c.dimension, c.segment, c.direction) for c in changes)
    for (dimension, segment, direction), count in by_series.items():
        got = metric(samples, "cdp_segment_changes_total", dimension=dimension, segment=segment,
                     direction=direction)
        assert got == count, f"changes {dimension}/{segment} {direction}: {got}, wanted {count}"
    assert metric(samples, "cdp_segment_changes_total", dimension="", segment="big_spender",
                  direction="exited") == 0
    # Every record of the input and repartition topics timed once, however batched.
    timed = metric(samples, "cdp_event_processing_seconds_count")
    assert timed == consumed + passed_on[1], f"events timed: {timed}, consumed {consumed}"
    assert metric(samples, "cdp_rebalances_total", kind="assigned") >= 1
    assert metric(samples, "cdp_rebalances_total", kind="lost") == 0
    # Read at scrape time from the state store's file system.
    capacity = metric(samples, "cdp_disk_capacity_bytes")
    assert 0 < metric(samples, "cdp_disk_free_bytes") <= capacity, "disk figures"


def served_metrics(service):
    """{name: (type, {label, ...})} of what /metrics serves; labels from the series present."""
    status, body = service.get("/metrics")
    assert status == 200, f"/metrics answered {status}"
    served = {}
    for line in body.splitlines():
        if line.startswith("# TYPE cdp_"):
            _, _, name, kind = line.split()
            served[name] = (kind, set())
    for (series, labels), _ in harness.parse_metrics(body).items():
        family = series
        for suffix in ("_bucket", "_sum", "_count"):
            if series.endswith(suffix) and series[:-len(suffix)] in served:
                family = series[:-len(suffix)]
        if family in served:
            served[family][1].update(key for key, _ in labels if key != "le")
    return served


def check_metrics_documented(service):
    """The README's metrics table is what the service serves: names, types and labels."""
    # Per-broker round trips come with librdkafka's first statistics report.
    harness.wait_until(lambda: "cdp_kafka_broker_rtt_seconds{" in service.get("/metrics")[1],
                       30, "the Kafka clients' first statistics")
    documented, served = deploy_lib.documented_metrics(), served_metrics(service)
    assert documented, "README.md has no metrics table"
    assert set(documented) == set(served), (
        f"served but not documented: {sorted(set(served) - set(documented))}; "
        f"documented but not served: {sorted(set(documented) - set(served))}")
    for name, (kind, labels) in served.items():
        assert documented[name] == (kind, labels), (
            f"{name}: README says {documented[name]}, the service serves {(kind, labels)}")


def stop(service):
    service.child.signal(signal.SIGTERM)
    code = service.child.wait(30)
    assert code == 0, f"exit code {code} after SIGTERM:\n{service.child.stderr()}"


def export(args, data_dir):
    done = subprocess.run([args.profilectl, "export", "--data-dir", data_dir],
                          capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode()
    return [json.loads(line) for line in done.stdout.decode().splitlines()]


def run_test_catalogue(h, args):
    kafka, bootstrap = harness.start_kafka(h, args.kafka_local)
    data_dir = h.path("state-test-catalogue")
    service = harness.start_service(h, args.profile_service, bootstrap, args.test_segments,
                                    data_dir,
                                    extra=["--max-record-bytes", str(MAX_RECORD_BYTES)])
    records = scenario(args.encode_events)
    publish(bootstrap, records)
    wait_for_sentinels(service, bootstrap)

    expected = expected_changes()
    change_count = check_changes(bootstrap, expected)
    letter_count = check_dead_letters(bootstrap, records)
    check_profiles(service)
    check_metrics(service, records, expected)
    check_metrics_documented(service)
    for path in ("/healthz", "/readyz"):
        status, body = service.get(path)
        assert status == 200, f"{path}: {status} {body}"
    metrics_text = service.get("/metrics")[1]
    stop(service)
    # Customer ids are personal data: never in the logs, never a metric label.
    output = service.child.stderr() + service.child.stdout()
    for customer in ["alice", "bob", "carol", "dave", ERIN] + SENTINELS:
        assert customer not in output, f"{customer} appears in the service's output"
        assert customer not in metrics_text, f"{customer} appears in /metrics"

    exported = export(args, data_dir)
    customers = sorted(p["customer_id"] for p in exported)
    assert customers == sorted(["alice", "bob", ERIN] + SENTINELS), customers
    alice = next(p for p in exported if p["customer_id"] == "alice")
    assert alice["events_applied"] == "3" and alice["orders_total"] == "2", alice
    erin = next(p for p in exported if p["customer_id"] == ERIN)
    assert erin["partition"] == ERIN_PARTITION and erin["events_applied"] == "1", erin
    kafka.kill()
    return len(records), change_count, letter_count


def run_default_catalogue(h, args):
    """The shipped catalogue, in event-time mode so that the reference fold is exact."""
    _, bootstrap = harness.start_kafka(h, args.kafka_local)
    data_dir = h.path("state-default-catalogue")
    service = harness.start_service(h, args.profile_service, bootstrap, args.default_segments,
                                    data_dir, extra=["--clock", "event-time",
                                                     "--max-record-bytes", str(MAX_RECORD_BYTES)])
    records = scenario(args.encode_events)
    publish(bootstrap, records)
    wait_for_sentinels(service, bootstrap)

    status, body = service.get("/v1/profiles/alice")
    alice = json.loads(body)
    assert status == 200 and alice["tiers"].get("lifecycle") == "new", body
    assert alice["tiers"].get("purchase_frequency") == "low_frequency", body
    assert alice["tiers"].get("engagement") == "low_engagement", body
    status, body = service.get("/v1/profiles/bob")
    bob = json.loads(body)
    assert status == 200 and bob["tiers"].get("lifecycle") == "potential", body
    assert "sms_reachable" not in bob["segments"], body
    check_dead_letters(bootstrap, records)
    stop(service)

    events_file = h.path("default-events.jsonl")
    harness.write_fold_events(events_file, harness.read_all(bootstrap, INPUT_TOPIC))
    changes_file = h.path("default-fold-changes.jsonl")
    done = subprocess.run([args.profilectl, "fold", "--segments", args.default_segments,
                           "--clock", "event-time", "--partitions", str(PARTITIONS),
                           "--max-record-bytes", str(MAX_RECORD_BYTES),
                           "--changes", changes_file, events_file],
                          capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode()
    reference = [json.loads(line) for line in done.stdout.decode().splitlines()]
    assert export(args, data_dir) == reference, "exported profiles differ from profilectl fold"

    def canonical(values):
        return sorted(json.dumps(json.loads(v), sort_keys=True) for v in values)

    with open(changes_file) as f:
        folded = canonical(f.read().splitlines())
    published = canonical(r.value for r in harness.read_all(bootstrap, OUTPUT_TOPIC))
    assert published == folded, "published changes differ from profilectl fold"
    return len(published)


def check_refusals(h, args):
    done = subprocess.run([args.profile_service, "--no-such-flag"], capture_output=True,
                          timeout=30)
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert "unknown option '--no-such-flag'" in done.stderr.decode(), done.stderr

    done = subprocess.run([args.profile_service, "--segments", args.bad_segments,
                           "--data-dir", h.path("state-refused"), "--http-port", "0"],
                          capture_output=True, timeout=30)
    stderr = done.stderr.decode()
    assert done.returncode == 2, (done.returncode, stderr)
    assert re.search(r"bad_segments\.yaml:\d+:\d+: .*monetry_total.*monetary_total", stderr), \
        stderr


def main(h):
    parser = argparse.ArgumentParser()
    for flag in ("kafka-local", "profile-service", "profilectl", "encode-events",
                 "test-segments", "bad-segments", "default-segments"):
        parser.add_argument(f"--{flag}", required=True)
    args = parser.parse_args()

    published, changes, letters = run_test_catalogue(h, args)
    default_changes = run_default_catalogue(h, args)
    check_refusals(h, args)
    print(f"end_to_end: {published} records published per run; test catalogue: {changes} "
          f"changes, {letters} dead letters; default catalogue: {default_changes} changes, "
          f"equal to profilectl fold; refusals exit 2")


if __name__ == "__main__":
    harness.run("end_to_end", main)
