#!/usr/bin/env python3
"""Privacy and the admin API, through kafka-local and the profile-service binary.

An erasure requested over the token-protected admin API removes the customer: the profile API
answers 404, the customer's older events are dead-lettered as `erased` without their content,
and once the scrubber has run no file of the state directory holds the customer's id (raw or
hex-encoded, as RocksDB logs keys), nor does the changelog once compacted. The service's logs and /metrics name none of the customers.
Also: requests without the token are refused, the reload endpoint validates and reloads the
segment file, and /v1/ requests over the rate limit get 429 while /metrics never does.
"""

import argparse
import datetime
import json
import os
import signal
import urllib.error
import urllib.request

import harness
from harness import CHANGELOG_TOPIC, DLQ_TOPIC, INPUT_TOPIC, metric, wait_until

TOKEN = "test-admin-token-4f9c2a7e1b"
JSON_HEADER = [("content-type", b"application/json")]
# Long and unusual, so that a match in a file or a log is never a coincidence.
FRANK = "frank-erasable-7f3a9c"
GRACE = "grace-keeps-91bc4e"
NOW = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
RATE_LIMIT = 20
# The service's default --partitions, with which it creates the topics here.
PARTITIONS = 8


def at(hours_ago):
    return (NOW - datetime.timedelta(hours=hours_ago)).isoformat().replace("+00:00", "Z")


def purchase(event_id, customer, occurred_at):
    return json.dumps({"event_id": event_id, "customer_id": customer, "occurred_at": occurred_at,
                       "purchase": {"order_id": f"o-{event_id}", "total_amount": 12000}}).encode()


def request(service, method, path, token=None):
    """(status, body) of an HTTP request, with the bearer token if given."""
    req = urllib.request.Request(service.base_url + path, method=method,
                                 data=b"" if method == "POST" else None)
    if token is not None:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8")


def files_holding(directory, needle):
    """Files under `directory` whose bytes contain `needle`, raw or hex-encoded."""
    forms = [needle.encode(), needle.encode().hex().encode(), needle.encode().hex().upper().encode()]
    found = []
    for root, _, names in os.walk(directory):
        for name in names:
            with open(os.path.join(root, name), "rb") as f:
                data = f.read()
            if any(form in data for form in forms):
                found.append(name)
    return found


def check_access(service):
    for token in (None, "wrong-token-0000000000"):
        status, _ = request(service, "GET", f"/v1/profiles/{GRACE}", token)
        assert status == 401, f"profile read with token {token!r}: {status}"
        status, _ = request(service, "POST", f"/v1/admin/erasures/{GRACE}", token)
        assert status == 401, f"erasure with token {token!r}: {status}"
        status, _ = request(service, "POST", "/v1/admin/reload", token)
        assert status == 401, f"reload with token {token!r}: {status}"
    status, _ = request(service, "GET", "/v1/admin/reload", TOKEN)
    assert status == 405, f"GET on a POST endpoint: {status}"


def erase_frank(service, bootstrap):
    status, body = request(service, "POST", f"/v1/admin/erasures/{FRANK}", TOKEN)
    assert status == 202, (status, body)
    answer = json.loads(body)
    assert answer["topic"] == INPUT_TOPIC and answer["event_id"].startswith("admin-erasure-"), answer
    wait_until(lambda: request(service, "GET", f"/v1/profiles/{FRANK}", TOKEN)[0] == 404, 60,
               "the erased customer's profile to be gone")
    assert metric(service.metrics(), "cdp_erasures_total") == 1

    # A late event of the erased customer, from before the erasure: refused, content withheld.
    harness.produce(bootstrap, INPUT_TOPIC, [(FRANK, purchase("f9", FRANK, at(3)), JSON_HEADER)])
    wait_until(lambda: harness.count_records(bootstrap, DLQ_TOPIC) == 1, 60,
               "the late event's dead letter")
    (letter,) = harness.read_all(bootstrap, DLQ_TOPIC)
    assert letter.headers.get("cdp-reject-reason") == "erased", letter.headers
    assert not letter.key and not letter.value, (letter.key, letter.value)
    assert FRANK not in json.dumps(letter.headers), letter.headers
    assert metric(service.metrics(), "cdp_events_rejected_total", reason="erased") == 1

    # Another, published to a partition not Frank's: passed on through the repartition topic to
    # his partition and refused there, its dead letter still names where it was published.
    elsewhere = (harness.partition_of(FRANK, PARTITIONS) + 1) % PARTITIONS
    ((partition, offset),) = harness.produce(
        bootstrap, INPUT_TOPIC, [(None, purchase("f8", FRANK, at(3)), JSON_HEADER, elsewhere)])
    wait_until(lambda: harness.count_records(bootstrap, DLQ_TOPIC) == 2, 60,
               "the wrongly keyed late event's dead letter")
    (letter,) = [r for r in harness.read_all(bootstrap, DLQ_TOPIC)
                 if (r.partition, r.offset) != (letter.partition, letter.offset)]
    assert letter.headers.get("cdp-reject-reason") == "erased", letter.headers
    assert (letter.headers.get("cdp-source-topic"), letter.headers.get("cdp-source-partition"),
            letter.headers.get("cdp-source-offset")) == (INPUT_TOPIC, str(partition),
                                                         str(offset)), letter.headers
    assert metric(service.metrics(), "cdp_events_repartitioned_total") == 1

    # The changelog names the erasure by a hash of the id.
    markers = [r for r in harness.read_all(bootstrap, CHANGELOG_TOPIC)
               if r.headers.get("cdp-changelog") == "erasure"]
    assert len(markers) == 1 and FRANK.encode() not in markers[0].key, markers


def holds(record, customer):
    return any(customer.encode() in (part or b"") for part in (record.key, record.value))


def check_changelog_compacts_away(bootstrap):
    """The changelog as the broker's compaction leaves it holds nothing of the erased customer.
    The mock cluster does not compact, so the test applies compaction's contract to what the
    service wrote: per partition, only the last record of each key stays, and a tombstone goes
    too once delete.retention.ms has passed. (The bound in time is the topic's configuration,
    which the service sets when it creates the topic on a real cluster: README, Privacy.)"""
    records = harness.read_all(bootstrap, CHANGELOG_TOPIC)
    assert any(holds(r, FRANK) for r in records), "the changelog never held the customer"
    last = {}
    for record in records:
        last[(record.partition, record.key)] = record
    kept = [r for r in last.values() if r.value is not None]
    assert not [r for r in kept if holds(r, FRANK)], (
        "records of the erased customer survive compaction: they are not keyed by the customer, "
        "or no tombstone follows them")
    assert any(holds(r, GRACE) for r in kept), "compaction would keep nothing: the scan is blind"


def check_scrubbed(service, data_dir):
    def scrubbed():
        samples = service.metrics()
        return (metric(samples, "cdp_erasure_scrub_pending") == 0
                and metric(samples, "cdp_erasure_scrubs_total", result="done") >= 1)
    wait_until(scrubbed, 60, "the erased customer to be scrubbed from the state files")
    assert files_holding(data_dir, FRANK) == [], files_holding(data_dir, FRANK)
    # The scan finds what is there: the other customer is.
    assert files_holding(data_dir, GRACE), "the scan found nothing at all"


def check_reload(service):
    status, body = request(service, "POST", "/v1/admin/reload", TOKEN)
    assert status == 202, (status, body)
    wait_until(lambda: metric(service.metrics(), "cdp_segment_config_reloads_total",
                              result="applied") == 1, 30, "the requested reload")


def check_rate_limit(service):
    statuses = [request(service, "GET", f"/v1/profiles/{GRACE}", TOKEN)[0]
                for _ in range(3 * RATE_LIMIT)]
    assert 429 in statuses and 200 in statuses, statuses
    assert set(statuses) <= {200, 429}, statuses
    assert all(request(service, "GET", "/metrics")[0] == 200 for _ in range(3 * RATE_LIMIT))


def main(h):
    parser = argparse.ArgumentParser()
    for flag in ("kafka-local", "profile-service", "segments"):
        parser.add_argument(f"--{flag}", required=True)
    args = parser.parse_args()

    token_file = h.path("admin-token")
    with open(token_file, "w") as f:
        f.write(TOKEN + "\n")
    os.chmod(token_file, 0o600)
    _, bootstrap = harness.start_kafka(h, args.kafka_local)
    data_dir = h.path("state")
    service = harness.start_service(
        h, args.profile_service, bootstrap, args.segments, data_dir,
        extra=["--admin-token-file", token_file, "--erasure-scrub-interval", "1s",
               "--http-rate-limit", str(RATE_LIMIT)])

    harness.produce(bootstrap, INPUT_TOPIC, [
        (FRANK, purchase("f1", FRANK, at(2)), JSON_HEADER),
        (GRACE, purchase("g1", GRACE, at(2)), JSON_HEADER),
    ])
    for customer in (FRANK, GRACE):
        wait_until(lambda c=customer: request(service, "GET", f"/v1/profiles/{c}", TOKEN)[0] == 200,
                   60, f"{customer}'s profile", interval=0.2)

    check_access(service)
    erase_frank(service, bootstrap)
    check_changelog_compacts_away(bootstrap)
    check_scrubbed(service, data_dir)
    check_reload(service)
    check_rate_limit(service)

    metrics_text = request(service, "GET", "/metrics")[1]
    service.child.signal(signal.SIGTERM)
    code = service.child.wait(30)
    assert code == 0, f"exit code {code} after SIGTERM:\n{service.child.stderr()}"
    logs = service.child.stderr() + service.child.stdout()
    for customer in (FRANK, GRACE):
        assert customer not in logs, f"{customer} appears in the service's output"
        assert customer not in metrics_text, f"{customer} appears in /metrics"
    assert TOKEN not in logs, "the admin token appears in the service's output"
    assert "can be read by other users" not in logs, "a private token file was taken for shared"
    print("privacy: erasure over the admin API, late event refused without content, state files "
          "scrubbed, no customer id in logs or metrics, token, reload and rate limit enforced")


if __name__ == "__main__":
    harness.run("privacy", main)
