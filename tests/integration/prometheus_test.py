#!/usr/bin/env python3
"""The dashboard's and the alerts' PromQL against a real Prometheus scraping a running service.

kafka-local, profile-service with the default segment catalogue, and event-gen publishing live
traffic (some of it invalid); then Prometheus (the Debian package's server) scraping the service
every second with deploy/prometheus/alerts.yaml loaded. Once series arrive:

- every query of every panel of deploy/grafana/profile-service.json, its template variables
  substituted, is valid and returns series, and the labels its legend names are on them;
- the dashboard's `instance` variable finds the service's instance;
- every alert expression evaluates without error, every vector selector in it has series (an
  alert that does not fire returns nothing, so the selectors stand in for "it can fire"), and
  Prometheus itself evaluates every rule with health "ok".

All waits poll against deadlines. Every query that fails is reported, not only the first.
"""

import argparse
import json
import re
import socket
import time
import urllib.error
import urllib.parse
import urllib.request

import yaml

import deploy_lib
import harness
from harness import DLQ_TOPIC, INPUT_TOPIC, OUTPUT_TOPIC, wait_until

PARTITIONS = 4
SCRAPE_INTERVAL = "1s"
# What the dashboard's Grafana variables stand for here: rate windows of 10 scrapes.
RATE_INTERVAL = "10s"
QUERY_DEADLINE = 45  # seconds for every query to return series, from the first scraped sample


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Prometheus:
    def __init__(self, base_url):
        self.base_url = base_url

    def get(self, path, **params):
        """(HTTP status, decoded JSON or text) of a GET."""
        url = self.base_url + path
        if params:
            url += "?" + urllib.parse.urlencode(params, doseq=True)
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                status, body = response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            status, body = error.code, error.read().decode()
        except (urllib.error.URLError, ConnectionError):
            return None, None
        try:
            return status, json.loads(body)
        except json.JSONDecodeError:
            return status, body

    def query(self, expr):
        """(series, error): the instant query's result list, or the error Prometheus gave."""
        status, body = self.get("/api/v1/query", query=expr)
        if status != 200 or not isinstance(body, dict) or body.get("status") != "success":
            error = body.get("error") if isinstance(body, dict) else body
            return None, f"HTTP {status}: {error}"
        data = body["data"]
        result = data["result"]
        if data["resultType"] == "scalar":
            result = [{"metric": {}, "value": result}]
        return result, None


def start_prometheus(h, binary, target):
    """Prometheus scraping `target` every second, with the alerting rules; retried on another
    port if the one picked was taken meanwhile."""
    config = {
        "global": {"scrape_interval": SCRAPE_INTERVAL, "scrape_timeout": SCRAPE_INTERVAL,
                   "evaluation_interval": SCRAPE_INTERVAL},
        "rule_files": [deploy_lib.ALERTS],
        "scrape_configs": [{"job_name": deploy_lib.JOB,
                            "static_configs": [{"targets": [target]}]}],
    }
    config_path = h.path("prometheus.yml")
    with open(config_path, "w") as f:
        yaml.safe_dump(config, f)
    for attempt in range(3):
        port = free_port()
        child = h.start("prometheus", [
            binary, f"--config.file={config_path}",
            f"--storage.tsdb.path={h.path(f'prometheus-data-{attempt}')}",
            f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"])
        prometheus = Prometheus(f"http://127.0.0.1:{port}")

        def ready():
            if not child.running():
                return "exited"
            status, _ = prometheus.get("/-/ready")
            return "ready" if status == 200 else None

        if wait_until(ready, 30, "Prometheus to be ready") == "ready":
            return child, prometheus
        if "address already in use" not in child.stderr():
            child.check_running()
    raise AssertionError("Prometheus could not bind a port three times")


def legend_labels(legend):
    return set(re.findall(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}", legend or ""))


def build_queries(instance):
    """[(where, expr, legend)]: the dashboard's targets with their variables substituted, then
    every alert expression's vector selectors."""
    dashboard = deploy_lib.load_json(deploy_lib.DASHBOARD)
    # A selected instance as Grafana puts it in a regex matcher: regex-escaped, and the
    # backslashes escaped again for the PromQL string.
    variables = {"instance": re.escape(instance).replace("\\", "\\\\"),
                 "__rate_interval": RATE_INTERVAL,
                 "__interval": "2s", "__range": "1m", "datasource": "prometheus"}
    queries = []
    for title, ref, expr, legend in deploy_lib.dashboard_queries(dashboard):
        substituted = deploy_lib.substitute(expr, variables)
        assert "$" not in substituted, (
            f"panel '{title}' {ref}: a variable is left after substitution: {substituted}")
        queries.append((f"panel '{title}' {ref}", substituted, legend))
    for rule in deploy_lib.alert_rules():
        selectors, _ = deploy_lib.scan(rule["expr"])
        for text in sorted({s.text for s in selectors}):
            queries.append((f"alert {rule['alert']}: selector", text, ""))
    return queries


def run_queries(prometheus, queries, deadline):
    """Polls every query until it returns series or the deadline passes; returns the failures."""
    failures, pending = [], list(queries)
    while pending:
        still = []
        for where, expr, legend in pending:
            series, error = prometheus.query(expr)
            if error is not None:
                failures.append(f"{where}: {expr}\n      is not valid: {error}")
            elif not series:
                still.append((where, expr, legend))
            else:
                present = set().union(*(s["metric"].keys() for s in series))
                missing = legend_labels(legend) - present
                if missing:
                    failures.append(f"{where}: {expr}\n      legend {legend!r} names "
                                    f"{sorted(missing)}, which no returned series has")
        pending = still
        if pending and time.monotonic() > deadline:
            for where, expr, _ in pending:
                failures.append(f"{where}: {expr}\n      returned no series")
            break
        if pending:
            time.sleep(1)
    return failures


def check_alert_expressions(prometheus):
    """Every alert expression evaluates (firing or not) without error."""
    failures = []
    for rule in deploy_lib.alert_rules():
        _, error = prometheus.query(rule["expr"])
        if error is not None:
            failures.append(f"alert {rule['alert']}: expression is not valid: {error}")
    return failures


def check_rules_loaded(prometheus, deadline):
    """Prometheus loaded every alert of alerts.yaml and evaluated each with health ok."""
    expected = {rule["alert"] for rule in deploy_lib.alert_rules()}

    def evaluated():
        status, body = prometheus.get("/api/v1/rules", type="alert")
        if status != 200:
            return None
        rules = {r["name"]: r for g in body["data"]["groups"] for r in g["rules"]}
        if set(rules) != expected:
            raise AssertionError(f"Prometheus loaded alerts {sorted(rules)}, alerts.yaml has "
                                 f"{sorted(expected)}")
        if any(r.get("health") == "unknown" for r in rules.values()):
            return None
        return rules

    rules = wait_until(evaluated, max(5, deadline - time.monotonic()),
                       "Prometheus to evaluate every alerting rule")
    return [f"alert {name}: health {rule.get('health')}: {rule.get('lastError')}"
            for name, rule in sorted(rules.items()) if rule.get("health") != "ok"]


def main(h):
    parser = argparse.ArgumentParser()
    for flag in ("kafka-local", "profile-service", "event-gen", "prometheus", "segments"):
        parser.add_argument(f"--{flag}", required=True)
    args = parser.parse_args()
    started = time.monotonic()

    _, bootstrap = harness.start_kafka(
        h, args.kafka_local, [(INPUT_TOPIC, PARTITIONS), (OUTPUT_TOPIC, PARTITIONS),
                              (DLQ_TOPIC, 1), (harness.CHANGELOG_TOPIC, PARTITIONS),
                              (harness.REPARTITION_TOPIC, PARTITIONS)])
    service = harness.start_service(h, args.profile_service, bootstrap, args.segments,
                                    h.path("state"))
    generator = h.start("event-gen", [
        args.event_gen, "--brokers", bootstrap, "--rate", "300", "--customers", "500",
        "--invalid-fraction", "0.05", "--progress-interval", "0"])
    instance = f"127.0.0.1:{service.status['http_port']}"
    prometheus_child, prometheus = start_prometheus(h, args.prometheus, instance)

    def scraped_traffic():
        service.child.check_running()
        generator.check_running()
        prometheus_child.check_running()
        series, _ = prometheus.query(f'sum(cdp_events_applied_total{{instance="{instance}"}}) > 0')
        return bool(series)

    wait_until(scraped_traffic, 60, "Prometheus to scrape applied events", interval=0.5)
    print(f"series in Prometheus after {time.monotonic() - started:.1f} s")
    deadline = time.monotonic() + QUERY_DEADLINE

    failures = []
    status, body = prometheus.get("/api/v1/label/instance/values", **{"match[]": "cdp_build_info"})
    if status != 200 or instance not in body.get("data", []):
        failures.append(f"the dashboard's instance variable (label_values(cdp_build_info, "
                        f"instance)) does not find {instance}: {body}")
    failures += check_alert_expressions(prometheus)
    queries = build_queries(instance)
    failures += run_queries(prometheus, queries, deadline)
    failures += check_rules_loaded(prometheus, deadline)
    service.child.check_running()
    prometheus_child.check_running()

    if failures:
        raise AssertionError(f"{len(failures)} of {len(queries)} queries and checks failed:\n  " +
                             "\n  ".join(failures))
    print(f"{len(queries)} dashboard and alert queries returned series; "
          f"{len(deploy_lib.alert_rules())} alerts evaluate; "
          f"{time.monotonic() - started:.1f} s in all")


if __name__ == "__main__":
    harness.run("prometheus", main)
