#!/usr/bin/env python3
"""profilectl get, explain and stats against a running profile-service, then against its state
directory once it stopped: both must agree with each other and with the profile API.

kafka-local and profile-service (with an admin token, so the profile API needs it), fed a year
of event-gen traffic for a few hundred customers under the shipped segment file. With the service
settled (every event consumed, the timers that were due fired):
- `get --url` prints the profile API's JSON, and its table the same segments;
- `explain --url` on every segment and dimension agrees with the API: membership, field values;
- `stats --url` gives the member counts of /metrics;
- errors: an unknown customer, a misspelt segment (with a suggestion), a missing token.
Then the service stops, and `get`, `explain` and `stats --data-dir` must give what the service
gave (but the instant they were evaluated at), and `stats` must count the profiles `export`
lists.
"""

import argparse
import collections
import datetime
import json
import signal
import subprocess
import time
import urllib.error
import urllib.request

import harness
from harness import DLQ_TOPIC, INPUT_TOPIC, OUTPUT_TOPIC, metric, wait_until

PARTITIONS = 4
EVENTS = 3000
CUSTOMERS = 300
TOKEN = "profilectl-test-token-8d2e61"
JSON_HEADER = [("content-type", b"application/json")]
STARTED = time.monotonic()


def log(message):
    print(f"[{time.monotonic() - STARTED:5.1f} s] {message}", flush=True)


def api_get(service, path, token=TOKEN):
    """(status, parsed JSON body) of a profile API request."""
    request = urllib.request.Request(service.base_url + path)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


class Profilectl:
    def __init__(self, binary):
        self.binary = binary

    def run(self, *args, expect=0):
        done = subprocess.run([self.binary, *args], capture_output=True, timeout=60, text=True)
        assert done.returncode == expect, (
            f"profilectl {' '.join(args)}: exit {done.returncode}, expected {expect}\n"
            f"{done.stderr}")
        return done

    def json(self, *args):
        return json.loads(self.run(*args, "--json").stdout)


def without_as_of(answer):
    return {key: value for key, value in answer.items() if key != "as_of"}


def generate_events(h, event_gen):
    """A year of traffic ending yesterday, as (key, value, headers) records."""
    now = datetime.datetime.now(datetime.timezone.utc)
    start = (now - datetime.timedelta(days=361)).strftime("%Y-%m-%dT%H:%M:%SZ")
    out = h.path("events.jsonl")
    done = subprocess.run(
        [event_gen, "--out", out, "--events", str(EVENTS), "--customers", str(CUSTOMERS),
         "--seed", "11", "--clock", "simulated", "--start", start, "--days", "360",
         "--progress-interval", "0"], capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    records = []
    with open(out, "rb") as f:
        for line in f:
            if line.strip():
                records.append((json.loads(line)["customer_id"], line.strip(), JSON_HEADER))
    return records


def settled(service):
    """Whether every event is applied and the service stopped changing memberships: the timers
    due in the past fire in the wall-clock rounds after the events. Every count read here moves
    only once its batch or timer round is committed, and a timer round comes every second."""
    def state():
        samples = service.metrics()
        return (metric(samples, "cdp_event_processing_seconds_count"),
                sum(value for (name, _), value in samples.items()
                    if name in ("cdp_segment_changes_total", "cdp_timers_fired_total")))
    before = state()
    if before[0] < EVENTS:
        return False
    time.sleep(1.5)
    return state() == before


def check_explanations(answer, profile, name):
    """An explain answer agrees with the profile API's view of the same customer."""
    assert answer["customer_id"] == profile["customer_id"], answer
    assert answer["explanations"], f"{name}: nothing explained"
    for e in answer["explanations"]:
        if e["dimension"] is None:
            held = e["segment"] in profile["segments"]
        else:
            held = profile["tiers"].get(e["dimension"]) == e["segment"]
        assert e["member"] == held, f"{e['name']}: member {e['member']}, API {profile}"
        # Settled: what the profile holds is what evaluating it now gives.
        assert e["holds_now"] == e["member"], e
        for field, value in e["fields"].items():
            assert profile["fields"][field] == value, (field, value, profile["fields"][field])
        assert e["trace"][0]["text"] == e["rule"] and e["trace"][0]["value"] == e["rule_matches"]
        assert e["reason"].startswith("in: " if e["holds_now"] else "not in: "), e["reason"]


def main(h):
    parser = argparse.ArgumentParser()
    for flag in ("kafka-local", "profile-service", "profilectl", "event-gen", "segments"):
        parser.add_argument(f"--{flag}", required=True)
    args = parser.parse_args()
    ctl = Profilectl(args.profilectl)
    catalogue = ctl.json("check-config", args.segments)
    segment_ids = [s["id"] for s in catalogue["segments"]]
    dimensions = {d["id"]: [t["id"] for t in d["tiers"]] for d in catalogue["dimensions"]}

    records = generate_events(h, args.event_gen)
    _, bootstrap = harness.start_kafka(
        h, args.kafka_local, [(INPUT_TOPIC, PARTITIONS), (OUTPUT_TOPIC, PARTITIONS),
                              (DLQ_TOPIC, 1), (harness.CHANGELOG_TOPIC, PARTITIONS),
                              (harness.REPARTITION_TOPIC, PARTITIONS)])
    token_file = h.path("token")
    with open(token_file, "w") as f:
        f.write(TOKEN + "\n")
    data_dir = h.path("state")
    service = harness.start_service(h, args.profile_service, bootstrap, args.segments, data_dir,
                                    ["--admin-token-file", token_file, "--http-rate-limit", "0"])
    url = ["--url", service.base_url, "--token-file", token_file]
    offline = ["--data-dir", data_dir, "--segments", args.segments]
    harness.produce(bootstrap, INPUT_TOPIC, records)
    wait_until(lambda: service.child.check_running() or settled(service), 60,
               "every event consumed and the timers due fired")
    log(f"service settled: {EVENTS} events of {CUSTOMERS} customers")

    # The busiest customers, and a quiet one: a variety of segments.
    activity = collections.Counter(key for key, _, _ in records)
    customers = [c for c, _ in activity.most_common(4)] + [activity.most_common()[-1][0]]
    api, explained = {}, {}
    for customer in customers:
        status, profile = api_get(service, f"/v1/profiles/{customer}")
        if status == 404:  # erased by the generated traffic
            continue
        assert status == 200, (status, profile)
        api[customer] = profile
        got = ctl.json("get", *url, customer)
        assert without_as_of(got) == without_as_of(profile), (got, profile)
        table = ctl.run("get", *url, customer).stdout
        assert table.startswith(f"customer        {customer}\n"), table
        for segment in profile["segments"]:
            assert segment in table, (segment, table)
        for name in segment_ids + list(dimensions):
            answer = ctl.json("explain", *url, customer, name)
            check_explanations(answer, profile, name)
            explained[(customer, name)] = answer
        # A dimension's tiers: at most one held, and the first matching one unless a min_dwell
        # holds another.
        for dimension, tiers in dimensions.items():
            held = [e for e in explained[(customer, dimension)]["explanations"] if e["member"]]
            assert len(held) <= 1 and [e["segment"] for e in held] == (
                [profile["tiers"][dimension]] if dimension in profile["tiers"] else []), held
        text = ctl.run("explain", *url, customer, "lifecycle").stdout
        assert "<- decides" in text and "  rule     " in text, text
    assert len(api) >= 3, f"only {len(api)} of the chosen customers have a profile"
    log(f"get and explain --url agree with the API for {len(api)} customers")

    # Errors, as a script sees them.
    done = ctl.run("get", *url, "nobody-at-all", expect=1)
    assert done.stderr == "profilectl get: no profile for customer 'nobody-at-all'\n", done.stderr
    done = ctl.run("explain", *url, customers[0], "lifecycle/activ", expect=1)
    assert "did you mean 'active'?" in done.stderr, done.stderr
    done = ctl.run("get", "--url", service.base_url, customers[0], expect=1)
    assert "requires a token" in done.stderr, done.stderr

    stats_online = ctl.json("stats", *url)
    samples = service.metrics()
    for name, count in stats_online["members"].items():
        dimension, _, segment = name.rpartition("/")
        assert metric(samples, "cdp_segment_members", dimension=dimension,
                      segment=segment) == count, name
    assert sum(stats_online["members"].values()) > 0
    log("stats --url agrees with /metrics")

    service.child.signal(signal.SIGTERM)
    assert service.child.wait(30) == 0, service.child.stderr()
    log("service stopped")

    # Each run opens the store: every name for two customers, the dimensions for the others.
    for index, (customer, profile) in enumerate(api.items()):
        got = ctl.json("get", *offline, customer)
        assert without_as_of(got) == without_as_of(profile), (got, profile)
        for name in (segment_ids if index < 2 else []) + list(dimensions):
            answer = ctl.json("explain", *offline, customer, name)
            assert without_as_of(answer) == without_as_of(explained[(customer, name)]), name
    stats_offline = ctl.json("stats", *offline)
    assert stats_offline["members"] == stats_online["members"], (stats_offline, stats_online)
    exported = ctl.run("export", "--data-dir", data_dir).stdout.splitlines()
    assert stats_offline["profiles"] == len(exported) > 0, (stats_offline, len(exported))
    per_partition = collections.Counter(json.loads(line)["partition"] for line in exported)
    assert {p["partition"]: p["profiles"] for p in stats_offline["partitions"]} == per_partition
    table = ctl.run("stats", *offline).stdout
    assert table.startswith(f"profiles  {len(exported)} in {len(per_partition)} partition(s)\n")
    done = ctl.run("explain", *offline, customers[0], "lifecycle/activ", expect=1)
    assert "did you mean 'active'?" in done.stderr, done.stderr
    log("the stopped service's state gives the same answers")


if __name__ == "__main__":
    harness.run("profilectl", main)
