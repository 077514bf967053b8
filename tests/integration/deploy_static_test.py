#!/usr/bin/env python3
"""deploy/ checked without Docker, Kubernetes, Grafana or Kafka: every file parses, and everything
the files name exists in the service.

- Every YAML and JSON file under deploy/ parses.
- The flags the compose file and the manifests pass are in `profile-service --help`; the config
  keys of the ConfigMap's service config are keys of deploy/config/profile-service.yaml; the
  HTTP paths they probe and scrape are the service's; the ports agree with its HTTP port.
- The metric names and labels of the dashboard and the alerts are in the README's metrics table;
  every documented metric is on the dashboard.
- Every alert has a summary, a description and a runbook_url whose anchor is a section of
  RUNBOOK.md; every section belongs to an alert; alerts_test.yaml tests every alert both firing
  and not firing; with --promtool, `promtool check rules`, `promtool check config` and
  `promtool test rules` pass.
- The ConfigMap's segments.yaml is deploy/config/segments.yaml, byte for byte.
- The compose file's services, mounts, images and the Kafka listeners fit together.

Every check runs; the failures are listed together, exit status 1 if there is any.
"""

import argparse
import base64
import glob
import os
import re
import subprocess
import sys

import deploy_lib
from deploy_lib import DEPLOY_DIR, JOB, SOURCE_DIR, load_json, load_yaml, load_yaml_all, relative

PROBE_PATHS = {"liveness": "/healthz", "readiness": "/readyz", "metrics": "/metrics"}
SEVERITIES = {"critical", "warning", "info"}
RUNBOOK_URL = "deploy/prometheus/RUNBOOK.md#"
# What the alerts must cover (issue 6), by alert name.
REQUIRED_ALERTS = {
    "CdpConsumerLagGrowing": "consumer lag growing",
    "CdpDeadLettersHigh": "dead-letter (rejects) rate high",
    "CdpNoProgress": "lag but nothing consumed",
    "CdpRestoreStuck": "changelog restore stuck",
    "CdpDiskNearlyFull": "disk nearly full",
    "CdpNotReady": "not ready",
    "CdpStorageFailing": "state store refusing writes",
    "CdpSegmentConfigInvalid": "segment file invalid",
}
# What the dashboard must show (issue 6), by a metric its queries must use.
REQUIRED_DASHBOARD_SERIES = [
    "cdp_events_consumed_total", "cdp_events_applied_total", "cdp_consumer_lag_records",
    "cdp_batch_duration_seconds_bucket", "cdp_event_processing_seconds_bucket",
    "cdp_event_to_change_latency_seconds_bucket", "cdp_events_rejected_total",
    "cdp_segment_members", "cdp_segment_changes_total", "cdp_rocksdb_live_data_bytes",
    "cdp_changelog_restoring_partitions", "cdp_changelog_restored_records_total",
    "cdp_timers_pending", "cdp_timers_fired_total", "cdp_kafka_broker_rtt_seconds",
    "cdp_kafka_produce_queue_messages", "cdp_ready",
]
COMPOSE_SERVICES = {"kafka", "profile-service", "prometheus", "grafana"}
KAFKA_IMAGE = "apache/kafka:3.7.0"


class Checks:
    def __init__(self):
        self.failures = []
        self.passed = 0
        self.section = ""

    def start(self, section):
        self.section = section

    def require(self, condition, message):
        if condition:
            self.passed += 1
        else:
            self.failures.append(f"[{self.section}] {message}")
        return condition


# --- The service's side -------------------------------------------------------------------------


class Service:
    """What profile-service and deploy/config say: flags, HTTP port and paths, config keys."""

    def __init__(self, binary):
        done = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=30)
        if done.returncode != 0:
            raise SystemExit(f"{binary} --help failed ({done.returncode}): {done.stderr}")
        self.help = done.stdout
        self.flags, current = {}, None
        for line in self.help.splitlines():
            match = re.match(r"^  (--[a-z0-9][a-z0-9-]*)", line)
            if match:
                current = match.group(1)
                self.flags[current] = ""
            elif current and line.startswith("      "):
                self.flags[current] += " " + line.strip()
            else:
                current = None
        if not self.flags:
            raise SystemExit(f"{binary} --help lists no options")
        port = re.search(r"Default: (\d+)\.", self.flags.get("--http-port", ""))
        self.http_port = int(port.group(1)) if port else None
        # The paths the HTTP server serves, as the --http-address help lists them.
        self.http_paths = set(re.findall(r"(/[a-z]+)\b", self.flags.get("--http-address", "")))
        self.config_example = load_yaml(os.path.join(DEPLOY_DIR, "config", "profile-service.yaml"))
        self.config_keys = set(self.config_example)

    def flag_words(self, argv):
        """The --flags of an argument list (values of --x=y forms split off)."""
        return [word.split("=", 1)[0] for word in argv if str(word).startswith("--")]

    def option(self, argv, flag):
        """The value given to `flag` in argv, else None."""
        argv = [str(w) for w in argv]
        for i, word in enumerate(argv):
            if word == flag and i + 1 < len(argv):
                return argv[i + 1]
            if word.startswith(flag + "="):
                return word.split("=", 1)[1]
        return None


def dockerfile_user_and_volume():
    """(uid, gid, VOLUME paths) of the final stage of deploy/container/Dockerfile."""
    uid = gid = None
    volumes = []
    with open(os.path.join(DEPLOY_DIR, "container", "Dockerfile")) as f:
        for line in f:
            words = line.split()
            if not words:
                continue
            if words[0] == "FROM":
                uid = gid = None
                volumes = []
            elif words[0] == "USER":
                user, _, group = words[1].partition(":")
                uid, gid = int(user), int(group or user)
            elif words[0] == "VOLUME":
                volumes += [w.strip('[]",') for w in words[1:]]
    return uid, gid, volumes


# --- Every file parses --------------------------------------------------------------------------


def check_parse(checks):
    checks.start("parse")
    count = 0
    for path in sorted(glob.glob(os.path.join(DEPLOY_DIR, "**", "*"), recursive=True)):
        if path.endswith((".yaml", ".yml")):
            try:
                load_yaml_all(path)
                count += 1
            except Exception as error:  # noqa: BLE001 - report any parse error
                checks.require(False, f"{relative(path)}: {error}")
        elif path.endswith(".json"):
            try:
                load_json(path)
                count += 1
            except Exception as error:  # noqa: BLE001
                checks.require(False, f"{relative(path)}: {error}")
    checks.require(count >= 10, f"only {count} YAML and JSON files under deploy/")
    return count


# --- PromQL against the metric catalogue --------------------------------------------------------


def check_promql(checks, where, expr, catalogue, extra_labels=()):
    """Metric names and labels of expr are in the catalogue; returns the families used."""
    try:
        selectors, grouping = deploy_lib.scan(expr)
    except ValueError as error:
        checks.require(False, f"{where}: {error}")
        return set()
    families, labels_in_scope = set(), set(deploy_lib.TARGET_LABELS) | set(extra_labels)
    checks.require(selectors, f"{where}: no metric in {expr!r}")
    for selector in selectors:
        if not checks.require(selector.name is not None,
                              f"{where}: {selector} has no metric name"):
            continue
        family, suffix = deploy_lib.resolve_series_name(selector.name, catalogue)
        if not checks.require(family is not None,
                              f"{where}: metric {selector.name} is not in README.md's "
                              f"metrics table"):
            continue
        families.add(family)
        allowed = set(catalogue[family][1]) | deploy_lib.TARGET_LABELS
        if suffix == "_bucket":
            allowed.add("le")
        labels_in_scope |= allowed
        for label in selector.labels():
            checks.require(label in allowed,
                           f"{where}: {selector.name} has no label {label!r} "
                           f"(it has {sorted(allowed)})")
    for label in grouping:
        checks.require(label in labels_in_scope,
                       f"{where}: groups by {label!r}, a label none of its metrics has "
                       f"({sorted(labels_in_scope)})")
    return families


# --- Alerts, their tests and the runbook --------------------------------------------------------


def check_alerts(checks, catalogue):
    checks.start("alerts")
    rules = deploy_lib.alert_rules()
    names = [rule["alert"] for rule in rules]
    checks.require(len(names) == len(set(names)), f"alert names repeat: {names}")
    for name, what in REQUIRED_ALERTS.items():
        checks.require(name in names, f"no alert {name} ({what})")
    anchors = deploy_lib.runbook_anchors()
    used_anchors = set()
    for rule in rules:
        name = rule["alert"]
        check_promql(checks, f"alert {name}", rule["expr"], catalogue)
        checks.require(rule.get("labels", {}).get("severity") in SEVERITIES,
                       f"{name}: severity label not one of {sorted(SEVERITIES)}")
        checks.require("for" in rule, f"{name}: no `for`: a single bad scrape would page")
        annotations = rule.get("annotations", {})
        for key in ("summary", "description", "runbook_url"):
            checks.require(annotations.get(key), f"{name}: no {key} annotation")
        url = annotations.get("runbook_url", "")
        if checks.require(url.startswith(RUNBOOK_URL),
                          f"{name}: runbook_url {url!r} does not start with {RUNBOOK_URL}"):
            anchor = url[len(RUNBOOK_URL):]
            used_anchors.add(anchor)
            checks.require(anchor in anchors,
                           f"{name}: runbook_url anchor #{anchor} is no section of RUNBOOK.md "
                           f"(sections: {sorted(anchors)})")
        # $labels.X in a template must be a label the alert has.
        selectors, grouping = deploy_lib.scan(rule["expr"])
        has_labels = set(rule.get("labels", {})) | grouping
        if not grouping:
            for selector in selectors:
                family, _ = deploy_lib.resolve_series_name(selector.name or "", catalogue)
                if family:
                    has_labels |= set(catalogue[family][1]) | deploy_lib.TARGET_LABELS
        for key, text in annotations.items():
            for label in re.findall(r"\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)", text):
                checks.require(label in has_labels,
                               f"{name}: annotation {key} uses $labels.{label}, which the "
                               f"alert does not have ({sorted(has_labels)})")
    for anchor, heading in anchors.items():
        checks.require(anchor in used_anchors,
                       f"RUNBOOK.md section '{heading}' belongs to no alert")

    checks.start("alerts_test.yaml")
    tests = load_yaml(deploy_lib.ALERTS_TEST)
    checks.require(os.path.basename(deploy_lib.ALERTS) in tests.get("rule_files", []),
                   "alerts_test.yaml does not load alerts.yaml")
    firing, quiet = set(), set()
    for group in tests.get("tests", []):
        for case in group.get("alert_rule_test", []) or []:
            (firing if case.get("exp_alerts") else quiet).add(case["alertname"])
    for name in names:
        checks.require(name in firing, f"no test where {name} fires")
        checks.require(name in quiet, f"no test where {name} must not fire")
    for name in (firing | quiet) - set(names):
        checks.require(False, f"alerts_test.yaml tests {name}, which alerts.yaml does not have")
    return names


def check_promtool(checks, promtool):
    checks.start("promtool")
    directory = os.path.join(DEPLOY_DIR, "prometheus")
    for argv in (["check", "rules", "alerts.yaml"],
                 ["check", "config", "prometheus.yml"],
                 ["test", "rules", "alerts_test.yaml"]):
        done = subprocess.run([promtool] + argv, cwd=directory, capture_output=True, text=True,
                              timeout=60)
        checks.require(done.returncode == 0,
                       f"promtool {' '.join(argv)} (in deploy/prometheus) failed:\n"
                       f"{done.stdout}{done.stderr}")


# --- The dashboard ------------------------------------------------------------------------------


def check_dashboard(checks, catalogue):
    checks.start("dashboard")
    dashboard = load_json(deploy_lib.DASHBOARD)
    checks.require(36 <= dashboard.get("schemaVersion", 0) <= 39,
                   f"schemaVersion {dashboard.get('schemaVersion')}: expected 36-39")
    checks.require(dashboard.get("uid") and dashboard.get("title"), "no uid or title")
    variables = {v["name"]: v for v in dashboard.get("templating", {}).get("list", [])}
    datasource = variables.get("datasource", {})
    checks.require(datasource.get("type") == "datasource" and
                   datasource.get("query") == "prometheus",
                   "no `datasource` variable of type datasource, query prometheus")
    instance = variables.get("instance", {})
    query = instance.get("query", {})
    query = query.get("query", "") if isinstance(query, dict) else query
    match = re.fullmatch(r"\s*label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,\s*instance\s*\)\s*",
                         query or "")
    if checks.require(match, f"the `instance` variable's query {query!r} is not "
                             f"label_values(METRIC, instance)"):
        checks.require(match.group(1) in catalogue,
                       f"the `instance` variable reads {match.group(1)}, an unknown metric")
    expected_ds = "${datasource}"

    ids, boxes, used = set(), [], set()
    for panel in deploy_lib.dashboard_panels(dashboard):
        title = panel.get("title", "?")
        checks.require(panel.get("id") not in ids, f"panel id {panel.get('id')} repeats")
        ids.add(panel.get("id"))
        pos = panel.get("gridPos", {})
        if checks.require(all(k in pos for k in "hwxy"), f"{title}: no gridPos"):
            checks.require(pos["x"] >= 0 and pos["x"] + pos["w"] <= 24,
                           f"{title}: gridPos beyond the 24 columns")
            for other_title, other in boxes:
                overlap = (pos["x"] < other["x"] + other["w"] and other["x"] < pos["x"] + pos["w"]
                           and pos["y"] < other["y"] + other["h"]
                           and other["y"] < pos["y"] + pos["h"])
                checks.require(not overlap, f"panels '{title}' and '{other_title}' overlap")
            boxes.append((title, pos))
        if panel.get("type") == "row":
            continue
        checks.require(panel.get("datasource", {}).get("uid") == expected_ds,
                       f"{title}: datasource is not {expected_ds}")
        checks.require(panel.get("targets"), f"{title}: no query")
        for target in panel.get("targets", []):
            where = f"panel '{title}' {target.get('refId')}"
            checks.require(target.get("datasource", {}).get("uid") == expected_ds,
                           f"{where}: datasource is not {expected_ds}")
            expr = target.get("expr", "")
            if not checks.require(expr, f"{where}: no expr"):
                continue
            for name in deploy_lib.template_variables(expr):
                checks.require(name in variables or name in deploy_lib.GRAFANA_BUILTINS,
                               f"{where}: uses ${name}, which is no variable")
            used |= check_promql(checks, where, expr, catalogue)
            selectors, _ = deploy_lib.scan(expr)
            for selector in selectors:
                checks.require(("instance", "=~", "$instance") in selector.matchers,
                               f"{where}: {selector} does not filter instance=~\"$instance\"")
    series_used = set()
    for _, _, expr, _ in deploy_lib.dashboard_queries(dashboard):
        series_used |= {s.name for s in deploy_lib.scan(expr)[0]}
    for series in REQUIRED_DASHBOARD_SERIES:
        checks.require(series in series_used, f"no panel shows {series}")
    for name in catalogue:
        if name not in deploy_lib.SYNTHETIC_METRICS:
            checks.require(name in used, f"metric {name} is on no panel: add it to "
                                         f"deploy/grafana/profile-service.json")
    return len(ids)


# --- Prometheus configuration and Grafana provisioning -----------------------------------------


def check_prometheus_config(checks, service):
    checks.start("prometheus.yml")
    config = load_yaml(deploy_lib.PROMETHEUS_CONFIG)
    directory = os.path.dirname(deploy_lib.PROMETHEUS_CONFIG)
    rule_files = config.get("rule_files", [])
    checks.require(os.path.basename(deploy_lib.ALERTS) in rule_files,
                   f"rule_files {rule_files} does not load alerts.yaml")
    for rule_file in rule_files:
        checks.require(os.path.exists(os.path.join(directory, rule_file)),
                       f"rule file {rule_file} does not exist next to prometheus.yml")
    jobs = {job["job_name"]: job for job in config.get("scrape_configs", [])}
    job = jobs.get(JOB)
    if not checks.require(job, f"no scrape job {JOB}"):
        return []
    checks.require(job.get("metrics_path", "/metrics") == PROBE_PATHS["metrics"] and
                   PROBE_PATHS["metrics"] in service.http_paths,
                   f"job {JOB} scrapes {job.get('metrics_path')}, not the service's /metrics")
    targets = [t for static in job.get("static_configs", []) for t in static.get("targets", [])]
    checks.require(targets, f"job {JOB} has no targets")
    for target in targets:
        host, _, port = target.rpartition(":")
        checks.require(port == str(service.http_port),
                       f"target {target}: port is not the service's HTTP port "
                       f"{service.http_port}")
    return targets


def check_grafana_provisioning(checks):
    checks.start("grafana provisioning")
    base = os.path.join(DEPLOY_DIR, "grafana", "provisioning")
    sources = load_yaml(os.path.join(base, "datasources", "prometheus.yaml"))
    prometheus = [d for d in sources.get("datasources", []) if d.get("type") == "prometheus"]
    checks.require(len(prometheus) == 1, "not exactly one Prometheus data source")
    providers = load_yaml(os.path.join(base, "dashboards", "profile-service.yaml"))
    paths = [p.get("options", {}).get("path") for p in providers.get("providers", [])
             if p.get("type") == "file"]
    checks.require(len(paths) == 1, "not exactly one file dashboard provider")
    return (prometheus[0]["url"] if prometheus else None), (paths[0] if paths else None)


# --- Compose ------------------------------------------------------------------------------------


def compose_mounts(service, compose_dir):
    """{container path: host path or volume name} of a compose service's volumes."""
    mounts = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            source, target = volume.get("source"), volume.get("target")
        else:
            parts = volume.split(":")
            source, target = parts[0], parts[1]
        if source.startswith((".", "/")):
            source = os.path.normpath(os.path.join(compose_dir, source))
        mounts[target] = source
    return mounts


def host_path(mounts, container_path):
    """The host file behind a container path, through the bind mount holding it, else None."""
    for target, source in sorted(mounts.items(), key=lambda kv: -len(kv[0])):
        if container_path == target or container_path.startswith(target.rstrip("/") + "/"):
            if not source.startswith("/"):
                return None  # a named volume
            return os.path.join(source, os.path.relpath(container_path, target))
    return None


def check_compose(checks, service, prometheus_targets, grafana):
    checks.start("compose")
    compose_dir = os.path.join(DEPLOY_DIR, "compose")
    compose = load_yaml(os.path.join(compose_dir, "compose.yaml"))
    services = compose.get("services", {})
    checks.require(COMPOSE_SERVICES <= set(services),
                   f"services {sorted(services)} lack {sorted(COMPOSE_SERVICES - set(services))}")
    named_volumes = set(compose.get("volumes", {}) or {})
    for name, definition in services.items():
        checks.require(definition.get("image") or definition.get("build"),
                       f"{name}: neither image nor build")
        image = definition.get("image", "")
        checks.require(":" in image and not image.endswith(":latest"),
                       f"{name}: image {image!r} has no fixed tag")
        for target, source in compose_mounts(definition, compose_dir).items():
            if source.startswith("/"):
                checks.require(os.path.exists(source),
                               f"{name}: mounts {relative(source)}, which does not exist")
            else:
                checks.require(source in named_volumes,
                               f"{name}: volume {source} is not declared under volumes:")

    kafka = services.get("kafka", {})
    env = {k: str(v) for k, v in (kafka.get("environment") or {}).items()}
    checks.require(kafka.get("image") == KAFKA_IMAGE, f"kafka: image is not {KAFKA_IMAGE}")
    checks.require(set(env.get("KAFKA_PROCESS_ROLES", "").split(",")) == {"broker", "controller"},
                   "kafka: not a combined broker and controller (KAFKA_PROCESS_ROLES)")
    checks.require("zookeeper" not in str(kafka).lower(), "kafka: ZooKeeper in KRaft mode?")
    try:
        cluster_id = base64.urlsafe_b64decode(env.get("CLUSTER_ID", "") + "==")
    except ValueError:
        cluster_id = b""
    checks.require(len(cluster_id) == 16,
                   "kafka: CLUSTER_ID is not a UUID in URL-safe base64 (22 characters)")
    advertised = {a.split("://", 1)[1] for a in env.get("KAFKA_ADVERTISED_LISTENERS", "").split(",")
                  if "://" in a}
    listener_names = {a.split("://", 1)[0] for a in env.get("KAFKA_LISTENERS", "").split(",")}
    protocol_map = dict(p.split(":", 1) for p in env.get("KAFKA_LISTENER_SECURITY_PROTOCOL_MAP",
                                                          "").split(",") if ":" in p)
    checks.require(listener_names <= set(protocol_map),
                   f"kafka: listeners {sorted(listener_names)} not all in the protocol map")
    checks.require(env.get("KAFKA_CONTROLLER_LISTENER_NAMES") in listener_names,
                   "kafka: the controller listener is not among the listeners")
    checks.require("healthcheck" in kafka, "kafka: no healthcheck for the service to wait on")

    app = services.get("profile-service", {})
    build = app.get("build", {})
    context = os.path.normpath(os.path.join(compose_dir, build.get("context", ".")))
    checks.require(context == SOURCE_DIR, "profile-service: build context is not the repository "
                                          "root (deploy/container/README.md)")
    checks.require(os.path.normpath(os.path.join(context, build.get("dockerfile", ""))) ==
                   os.path.join(DEPLOY_DIR, "container", "Dockerfile"),
                   "profile-service: not built from deploy/container/Dockerfile")
    command = [str(w) for w in app.get("command", [])]
    for flag in service.flag_words(command):
        checks.require(flag in service.flags, f"profile-service: {flag} is not in --help")
    brokers = service.option(command, "--brokers") or ""
    checks.require(brokers and set(brokers.split(",")) <= advertised,
                   f"profile-service: --brokers {brokers!r} is not a listener kafka advertises "
                   f"({sorted(advertised)})")
    depends = app.get("depends_on", {})
    checks.require(isinstance(depends, dict) and
                   depends.get("kafka", {}).get("condition") == "service_healthy",
                   "profile-service: does not wait for kafka to be healthy")
    checks.require(service.option(command, "--http-address") == "0.0.0.0",
                   "profile-service: --http-address is not 0.0.0.0: unreachable from Prometheus")
    port = int(service.option(command, "--http-port") or service.http_port)
    published = [str(p).rsplit(":", 1)[-1] for p in app.get("ports", [])]
    checks.require(str(port) in published,
                   f"profile-service: HTTP port {port} is not among its ports {published}")
    mounts = compose_mounts(app, compose_dir)
    segments = service.option(command, "--segments")
    if checks.require(segments, "profile-service: no --segments"):
        source = host_path(mounts, segments)
        checks.require(source and os.path.isfile(source),
                       f"profile-service: --segments {segments} is in no bind mount of an "
                       f"existing file")
    data_dir = service.option(command, "--data-dir")
    _, _, volumes = dockerfile_user_and_volume()
    checks.require(data_dir in volumes and mounts.get(data_dir) in named_volumes,
                   f"profile-service: --data-dir {data_dir} is not the image's VOLUME "
                   f"{volumes} on a named volume")
    for target in prometheus_targets:
        host, _, target_port = target.rpartition(":")
        checks.require(host in services and target_port == str(port),
                       f"prometheus.yml target {target} is not profile-service:{port}")

    prometheus = services.get("prometheus", {})
    prom_mounts = compose_mounts(prometheus, compose_dir)
    config_flag = next((w.split("=", 1)[1] for w in prometheus.get("command", [])
                        if str(w).startswith("--config.file=")), None)
    source = host_path(prom_mounts, config_flag or "")
    checks.require(source and os.path.normpath(source) == deploy_lib.PROMETHEUS_CONFIG,
                   f"prometheus: --config.file {config_flag} is not deploy/prometheus/"
                   f"prometheus.yml")
    if source:
        for rule_file in load_yaml(deploy_lib.PROMETHEUS_CONFIG).get("rule_files", []):
            checks.require(host_path(prom_mounts, os.path.join(os.path.dirname(config_flag),
                                                               rule_file)),
                           f"prometheus: rule file {rule_file} is not mounted")

    datasource_url, dashboards_path = grafana
    grafana_service = services.get("grafana", {})
    grafana_mounts = compose_mounts(grafana_service, compose_dir)
    checks.require(os.path.normpath(grafana_mounts.get("/etc/grafana/provisioning", "")) ==
                   os.path.join(DEPLOY_DIR, "grafana", "provisioning"),
                   "grafana: deploy/grafana/provisioning is not on /etc/grafana/provisioning")
    dashboard_file = host_path(grafana_mounts, os.path.join(dashboards_path or "",
                                                            "profile-service.json"))
    checks.require(dashboard_file and os.path.normpath(dashboard_file) == deploy_lib.DASHBOARD,
                   f"grafana: the dashboard is not mounted in the provider's path "
                   f"{dashboards_path}")
    match = re.fullmatch(r"http://([^:/]+):(\d+)/?", datasource_url or "")
    prometheus_ports = [str(p).rsplit(":", 1)[-1] for p in prometheus.get("ports", [])]
    checks.require(match and match.group(1) == "prometheus" and match.group(2) in
                   prometheus_ports + ["9090"],
                   f"grafana: data source URL {datasource_url} is not the prometheus service")


# --- Kubernetes ---------------------------------------------------------------------------------


def labels_match(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def check_probe(checks, container, probe_key, path, ports):
    probe = container.get(probe_key, {}).get("httpGet", {})
    checks.require(probe.get("path") == path and path in ("/healthz", "/readyz"),
                   f"{probe_key}: path {probe.get('path')} is not {path}")
    port = probe.get("port")
    checks.require(port in ports or port in ports.values(),
                   f"{probe_key}: port {port} is no container port")


def check_kubernetes(checks, service):
    checks.start("kubernetes")
    directory = os.path.join(DEPLOY_DIR, "kubernetes")
    objects = {}
    for path in sorted(glob.glob(os.path.join(directory, "*.yaml"))):
        if os.path.basename(path) == "kustomization.yaml":
            continue
        for doc in load_yaml_all(path):
            where = f"{os.path.basename(path)}"
            ok = checks.require(doc.get("apiVersion") and doc.get("kind") and
                                doc.get("metadata", {}).get("name"),
                                f"{where}: an object without apiVersion, kind or name")
            if ok:
                objects[(doc["kind"], doc["metadata"]["name"])] = (os.path.basename(path), doc)
    kinds = {kind for kind, _ in objects}
    for kind in ("StatefulSet", "ConfigMap", "Service", "PodDisruptionBudget", "PodMonitor"):
        checks.require(kind in kinds, f"no {kind}")

    kustomization = load_yaml(os.path.join(directory, "kustomization.yaml"))
    resources = set(kustomization.get("resources", []))
    files = {file for file, _ in objects.values()}
    for resource in resources:
        checks.require(os.path.exists(os.path.join(directory, resource)),
                       f"kustomization.yaml lists {resource}, which does not exist")
    checks.require(files - resources == {"podmonitor.yaml"},
                   f"kustomization.yaml leaves out {sorted(files - resources)} (only "
                   f"podmonitor.yaml, which needs the operator's CRDs, should be)")

    sets = [doc for (kind, _), (_, doc) in objects.items() if kind == "StatefulSet"]
    if not sets:
        return
    statefulset = sets[0]
    spec = statefulset["spec"]
    pod = spec["template"]
    pod_labels = pod["metadata"].get("labels", {})
    checks.require(labels_match(spec["selector"].get("matchLabels"), pod_labels),
                   "StatefulSet: selector does not match the pod labels")
    containers = pod["spec"]["containers"]
    container = next((c for c in containers if c["name"] == "profile-service"), containers[0])
    ports = {p.get("name"): p["containerPort"] for p in container.get("ports", [])}
    args = [str(a) for a in container.get("args", []) + container.get("command", [])]
    for flag in service.flag_words(args):
        checks.require(flag in service.flags, f"StatefulSet: {flag} is not in --help")
    mounts = {m["mountPath"]: m for m in container.get("volumeMounts", [])}
    volumes = {v["name"]: v for v in pod["spec"].get("volumes", [])}
    claims = {c["metadata"]["name"] for c in spec.get("volumeClaimTemplates", [])}
    for mount in mounts.values():
        checks.require(mount["name"] in volumes or mount["name"] in claims,
                       f"StatefulSet: mount {mount['mountPath']} names no volume")
    headless = objects.get(("Service", spec.get("serviceName")))
    checks.require(headless and headless[1]["spec"].get("clusterIP") == "None",
                   f"StatefulSet: serviceName {spec.get('serviceName')} is no headless Service")

    # The service configuration, from the ConfigMap.
    config_path = service.option(args, "--config")
    config = None
    if checks.require(config_path, "StatefulSet: no --config"):
        mount_dir = os.path.dirname(config_path)
        mount = mounts.get(mount_dir)
        volume = volumes.get(mount["name"]) if mount else None
        configmap_name = (volume or {}).get("configMap", {}).get("name")
        configmap = objects.get(("ConfigMap", configmap_name))
        checks.require(mount and "subPath" not in mount,
                       f"StatefulSet: {mount_dir} is not a directory mount of a volume "
                       f"(a subPath mount never sees ConfigMap updates)")
        if checks.require(configmap, f"StatefulSet: --config {config_path} is in no ConfigMap "
                                     f"mount"):
            data = configmap[1].get("data", {})
            key = os.path.basename(config_path)
            if checks.require(key in data, f"ConfigMap {configmap_name} has no {key}"):
                config = deploy_lib.yaml.safe_load(data[key])
                check_configmap(checks, service, config, data, mount_dir, mounts, claims)
    if config is None:
        config = {}

    # Ports, probes, metrics.
    http_port = int(service.option(args, "--http-port") or config.get("http_port") or
                    service.http_port)
    checks.require(ports.get("http") == http_port,
                   f"StatefulSet: container port 'http' is {ports.get('http')}, the service "
                   f"listens on {http_port}")
    address = service.option(args, "--http-address") or config.get("http_address")
    checks.require(address == "0.0.0.0",
                   f"StatefulSet: http_address {address}: probes and scrapes cannot reach it")
    for key, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        check_probe(checks, container, key, path, ports)
        checks.require(path in service.http_paths, f"{path} is not a path the service serves")
    if "startupProbe" in container:
        check_probe(checks, container, "startupProbe", "/healthz", ports)
    resources = container.get("resources", {})
    for kind in ("requests", "limits"):
        checks.require({"cpu", "memory"} <= set(resources.get(kind, {})),
                       f"StatefulSet: resources.{kind} lacks cpu or memory")
    annotations = pod["metadata"].get("annotations", {})
    checks.require(annotations.get("prometheus.io/scrape") == "true" and
                   annotations.get("prometheus.io/port") == str(http_port) and
                   annotations.get("prometheus.io/path") == PROBE_PATHS["metrics"],
                   f"StatefulSet: prometheus.io annotations are not scrape=true, "
                   f"port={http_port}, path=/metrics")
    uid, gid, image_volumes = dockerfile_user_and_volume()
    security = pod["spec"].get("securityContext", {})
    checks.require(security.get("runAsNonRoot") is True and security.get("runAsUser") == uid and
                   security.get("fsGroup") == gid,
                   f"StatefulSet: securityContext is not runAsNonRoot with the image's user "
                   f"{uid}:{gid} and fsGroup {gid}")

    for (kind, name), (file, doc) in objects.items():
        where = f"{kind} {name}"
        if kind == "Service":
            checks.require(labels_match(doc["spec"].get("selector"), pod_labels),
                           f"{where}: selector does not match the pods")
            for port in doc["spec"].get("ports", []):
                target = port.get("targetPort", port.get("port"))
                checks.require(target in ports or target in ports.values(),
                               f"{where}: targetPort {target} is no container port")
        elif kind == "PodDisruptionBudget":
            checks.require(labels_match(doc["spec"].get("selector", {}).get("matchLabels"),
                                        pod_labels), f"{where}: selector does not match the pods")
            checks.require("maxUnavailable" in doc["spec"] or "minAvailable" in doc["spec"],
                           f"{where}: neither maxUnavailable nor minAvailable")
        elif kind == "PodMonitor":
            checks.require(doc["apiVersion"] == "monitoring.coreos.com/v1",
                           f"{where}: apiVersion is not monitoring.coreos.com/v1")
            checks.require(labels_match(doc["spec"].get("selector", {}).get("matchLabels"),
                                        pod_labels), f"{where}: selector does not match the pods")
            checks.require(pod_labels.get(doc["spec"].get("jobLabel")) == JOB,
                           f"{where}: jobLabel does not give job=\"{JOB}\", which the alerts "
                           f"select")
            endpoints = doc["spec"].get("podMetricsEndpoints", [])
            checks.require(endpoints, f"{where}: no podMetricsEndpoints")
            for endpoint in endpoints:
                checks.require(endpoint.get("port") in ports,
                               f"{where}: port {endpoint.get('port')} is no named container port")
                checks.require(endpoint.get("path", "/metrics") == PROBE_PATHS["metrics"],
                               f"{where}: path is not /metrics")


def check_configmap(checks, service, config, data, mount_dir, mounts, claims):
    for key in config:
        checks.require(key in service.config_keys,
                       f"ConfigMap service config: key {key!r} is not in "
                       f"deploy/config/profile-service.yaml")
        checks.require("--" + key.replace("_", "-") in service.flags,
                       f"ConfigMap service config: key {key!r} has no flag in --help")
    segments = config.get("segments", "")
    checks.require(os.path.dirname(segments) == mount_dir and
                   os.path.basename(segments) in data,
                   f"ConfigMap service config: segments {segments!r} is not a key of the "
                   f"ConfigMap mounted on {mount_dir}")
    with open(os.path.join(DEPLOY_DIR, "config", "segments.yaml")) as f:
        catalogue = f.read()
    checks.require(data.get(os.path.basename(segments)) == catalogue,
                   "the ConfigMap's segments.yaml differs from deploy/config/segments.yaml: run "
                   "deploy/kubernetes/update-configmap.py")
    data_dir = config.get("data_dir")
    mount = mounts.get(data_dir)
    checks.require(mount and mount["name"] in claims,
                   f"ConfigMap service config: data_dir {data_dir} is not the mount of the "
                   f"StatefulSet's volumeClaimTemplate")
    done = subprocess.run([sys.executable, os.path.join(DEPLOY_DIR, "kubernetes",
                                                        "update-configmap.py"), "--check"],
                          capture_output=True, text=True, timeout=30)
    checks.require(done.returncode == 0,
                   f"update-configmap.py --check: {done.stdout}{done.stderr}")


# --- Main ---------------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile-service", required=True)
    parser.add_argument("--promtool", help="also run promtool's checks and rule tests")
    args = parser.parse_args()

    service = Service(args.profile_service)
    catalogue = deploy_lib.metric_catalogue()
    checks = Checks()
    files = check_parse(checks)
    alerts = check_alerts(checks, catalogue)
    if args.promtool:
        check_promtool(checks, args.promtool)
    else:
        print("promtool not given: promtool check rules / check config / test rules skipped")
    panels = check_dashboard(checks, catalogue)
    targets = check_prometheus_config(checks, service)
    grafana = check_grafana_provisioning(checks)
    check_compose(checks, service, targets, grafana)
    check_kubernetes(checks, service)

    if checks.failures:
        print(f"{len(checks.failures)} of {checks.passed + len(checks.failures)} checks failed:",
              file=sys.stderr)
        for failure in checks.failures:
            print(f"  {failure}", file=sys.stderr)
        print("deploy_static_test: FAILED")
        sys.exit(1)
    print(f"{files} files, {len(alerts)} alerts, {panels} panels: {checks.passed} checks passed")
    print("deploy_static_test: PASSED")


if __name__ == "__main__":
    main()
