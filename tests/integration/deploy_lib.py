"""What deploy_static_test.py and prometheus_test.py share: the files under deploy/, the metric
catalogue they may use, the PromQL of the dashboard and the alerts, and a small PromQL scanner.

The scanner is no PromQL parser: it finds the vector selectors (metric name and label matchers)
and the grouping labels (by, without, on, ignoring, group_left, group_right) of an expression,
which is what the checks need. Whether an expression is valid PromQL is for promtool and a real
Prometheus to say (prometheus_test.py).
"""

import json
import os
import re

import yaml

SOURCE_DIR = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DEPLOY_DIR = os.path.join(SOURCE_DIR, "deploy")
ALERTS = os.path.join(DEPLOY_DIR, "prometheus", "alerts.yaml")
ALERTS_TEST = os.path.join(DEPLOY_DIR, "prometheus", "alerts_test.yaml")
RUNBOOK = os.path.join(DEPLOY_DIR, "prometheus", "RUNBOOK.md")
PROMETHEUS_CONFIG = os.path.join(DEPLOY_DIR, "prometheus", "prometheus.yml")
DASHBOARD = os.path.join(DEPLOY_DIR, "grafana", "profile-service.json")
README = os.path.join(SOURCE_DIR, "README.md")

# The scrape job every configuration under deploy/ gives the service; CdpTargetDown selects it.
JOB = "profile-service"

# Series Prometheus makes itself for every target, and the labels every scraped series gets.
SYNTHETIC_METRICS = {"up": ("gauge", set())}
TARGET_LABELS = {"job", "instance"}

# Template variables Grafana defines itself.
GRAFANA_BUILTINS = {"__rate_interval", "__interval", "__interval_ms", "__range", "__range_s",
                    "__range_ms", "__from", "__to", "__dashboard", "__name", "__org",
                    "__user", "timeFilter", "__timeFilter"}


def load_yaml(path):
    with open(path) as f:
        return yaml.safe_load(f)


def load_yaml_all(path):
    with open(path) as f:
        return [doc for doc in yaml.safe_load_all(f) if doc is not None]


def load_json(path):
    with open(path) as f:
        return json.load(f)


def relative(path):
    return os.path.relpath(path, SOURCE_DIR)


# --- The metric catalogue -----------------------------------------------------------------------


def documented_metrics(readme=README):
    """{name: (type, {label, ...})} of the README's metrics table (as end_to_end_test.py reads
    it)."""
    documented = {}
    with open(readme) as f:
        for line in f:
            if not line.startswith("| `cdp_"):
                continue
            name, kind, labels = (cell.strip() for cell in line.strip("|\n").split("|")[:3])
            documented[name.strip("`")] = (kind, {label.strip(" `") for label in labels.split(",")
                                                  if label.strip()})
    return documented


def metric_catalogue():
    """Every metric the deploy files may use, {name: (type, labels)}: the README's table and
    the series Prometheus makes itself."""
    catalogue = dict(SYNTHETIC_METRICS)
    catalogue.update(documented_metrics())
    return catalogue


def resolve_series_name(name, catalogue):
    """(family, suffix) of a series name: ('cdp_x_seconds', '_bucket') for a histogram's bucket
    series; (name, '') for a plain one; (None, None) when the catalogue has no such series."""
    if name in catalogue and catalogue[name][0] != "histogram":
        return name, ""
    for suffix in ("_bucket", "_sum", "_count"):
        family = name[:-len(suffix)]
        if name.endswith(suffix) and catalogue.get(family, ("",))[0] == "histogram":
            return family, suffix
    return None, None


# --- PromQL -------------------------------------------------------------------------------------

_KEYWORDS = {"and", "or", "unless", "bool", "offset", "atan2", "inf", "nan", "start", "end"}
_GROUPING = {"by", "without", "on", "ignoring", "group_left", "group_right"}
# Aggregations, which may be followed by `by (...)` before their parenthesis.
_AGGREGATIONS = {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count",
                 "count_values", "bottomk", "topk", "quantile", "limitk", "limit_ratio"}
_IDENT = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_NUMBER = re.compile(r"(0x[0-9a-fA-F]+|[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?)([smhdwy]|ms)?")
_MATCHER = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*"|'
                      r"'(?:[^'\\]|\\.)*'|`[^`]*`)\s*$")


class Selector:
    """A vector selector: metric name (None for {__name__=...} forms) and label matchers."""

    def __init__(self, name, matchers, text):
        self.name = name
        self.matchers = matchers  # [(label, op, value)]
        self.text = text          # as written, e.g. cdp_ready{instance=~"$instance"}

    def labels(self):
        return {label for label, _, _ in self.matchers}

    def __repr__(self):
        return self.text


def _skip_string(expr, i):
    quote = expr[i]
    i += 1
    while i < len(expr) and expr[i] != quote:
        i += 2 if expr[i] == "\\" and quote != "`" else 1
    if i >= len(expr):
        raise ValueError(f"unterminated string in {expr!r}")
    return i + 1


def _closing(expr, i, open_char, close_char):
    """Index after the bracket matching expr[i] == open_char, strings skipped."""
    depth = 0
    while i < len(expr):
        c = expr[i]
        if c in "\"'`":
            i = _skip_string(expr, i)
            continue
        if c == open_char:
            depth += 1
        elif c == close_char:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise ValueError(f"unbalanced {open_char}{close_char} in {expr!r}")


def _split_matchers(body):
    items, current, i = [], "", 0
    while i < len(body):
        c = body[i]
        if c in "\"'`":
            end = _skip_string(body, i)
            current += body[i:end]
            i = end
            continue
        if c == ",":
            items.append(current)
            current = ""
        else:
            current += c
        i += 1
    if current.strip():
        items.append(current)
    matchers = []
    for item in items:
        match = _MATCHER.match(item)
        if not match:
            raise ValueError(f"cannot read label matcher {item.strip()!r}")
        value = match.group(3)[1:-1]
        matchers.append((match.group(1), match.group(2), value))
    return matchers


def scan(expr):
    """(selectors, grouping labels) of a PromQL expression."""
    selectors, grouping = [], set()
    i, n = 0, len(expr)
    while i < n:
        c = expr[i]
        if c.isspace():
            i += 1
        elif c == "#":  # a comment, to the end of the line
            while i < n and expr[i] != "\n":
                i += 1
        elif c in "\"'`":
            i = _skip_string(expr, i)
        elif c == "[":
            i = _closing(expr, i, "[", "]")
        elif c == "{":  # a selector without a metric name
            end = _closing(expr, i, "{", "}")
            selectors.append(Selector(None, _split_matchers(expr[i + 1:end - 1]), expr[i:end]))
            i = end
        elif c.isdigit() or (c == "." and i + 1 < n and expr[i + 1].isdigit()):
            match = _NUMBER.match(expr, i)
            i = match.end() if match and match.end() > i else i + 1
        elif _IDENT.match(expr, i):
            word = _IDENT.match(expr, i).group(0)
            start, i = i, i + len(word)
            j = i
            while j < n and expr[j].isspace():
                j += 1
            if word in _GROUPING:
                if j < n and expr[j] == "(":
                    end = _closing(expr, j, "(", ")")
                    grouping.update(label.strip() for label in expr[j + 1:end - 1].split(",")
                                    if label.strip())
                    i = end
            elif word.lower() in _KEYWORDS or word in _AGGREGATIONS:
                continue
            elif j < n and expr[j] == "(":
                continue  # a function or an aggregation
            elif j < n and expr[j] == "{":
                end = _closing(expr, j, "{", "}")
                selectors.append(Selector(word, _split_matchers(expr[j + 1:end - 1]),
                                          expr[start:end]))
                i = end
            else:
                selectors.append(Selector(word, [], word))
        else:
            i += 1
    return selectors, grouping


def template_variables(text):
    """Grafana variables ($name, ${name}, ${name:format}, [[name]]) used in text."""
    found = set(re.findall(r"\$\{([a-zA-Z0-9_]+)(?::[a-z]+)?\}", text))
    found |= set(re.findall(r"\$([a-zA-Z0-9_]+)", text))
    found |= set(re.findall(r"\[\[([a-zA-Z0-9_]+)\]\]", text))
    return found


def substitute(expr, variables):
    """expr with Grafana variables replaced: {name: value}. Longest names first, so that
    $__rate_interval is not taken for $__rate."""
    for name in sorted(variables, key=len, reverse=True):
        value = variables[name]
        expr = re.sub(r"\$\{" + re.escape(name) + r"(?::[a-z]+)?\}", lambda _: value, expr)
        expr = expr.replace("[[" + name + "]]", value)
        expr = re.sub(r"\$" + re.escape(name) + r"(?![a-zA-Z0-9_])", lambda _: value, expr)
    return expr


# --- The dashboard and the alerts ---------------------------------------------------------------


def dashboard_panels(dashboard):
    """Every panel, rows' nested panels included."""
    for panel in dashboard.get("panels", []):
        yield panel
        for nested in panel.get("panels", []) or []:
            yield nested


def dashboard_queries(dashboard):
    """[(panel title, refId, expr, legendFormat)] of every Prometheus target."""
    queries = []
    for panel in dashboard_panels(dashboard):
        for target in panel.get("targets", []) or []:
            if "expr" in target:
                queries.append((panel.get("title", "?"), target.get("refId", "?"),
                                target["expr"], target.get("legendFormat", "")))
    return queries


def alert_rules(rules_file=ALERTS):
    return [rule for group in load_yaml(rules_file)["groups"] for rule in group["rules"]
            if "alert" in rule]


def github_anchor(heading):
    """The anchor GitHub gives a Markdown heading."""
    anchor = heading.strip().lower()
    anchor = re.sub(r"[^\w\- ]", "", anchor)
    return anchor.replace(" ", "-")


def runbook_anchors(path=RUNBOOK):
    """{anchor: heading} of the runbook's second-level sections."""
    anchors = {}
    with open(path) as f:
        for line in f:
            if line.startswith("## "):
                heading = line[3:].strip()
                anchors[github_anchor(heading)] = heading
    return anchors
