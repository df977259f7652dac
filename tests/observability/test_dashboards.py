"""Grafana dashboards and provisioning: structure, variables, and query validity.

Metric names used by dashboards and rules are checked against
service/anomaly_detector/serving/metrics.py and monitor/metrics.py (the source of truth),
the recording rules, and the series Prometheus makes up itself (``up``, ``ALERTS``).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from dashboard_queries import (
    DASHBOARDS_DIR,
    grafana_queries,
    iter_panels,
    load_dashboards,
    substitute,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
PROVISIONING_DIR = REPO_ROOT / "grafana" / "provisioning"
RULE_FILES = sorted((REPO_ROOT / "prometheus" / "rules").glob("*.yml"))
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"

DATASOURCE = {"type": "prometheus", "uid": "prometheus"}
PANEL_TYPES = {
    "timeseries", "stat", "heatmap", "bargauge", "table", "gauge", "barchart", "text",
    "state-timeline",
}  # fmt: skip
EXPECTED_UIDS = {"service.json": "ad-service", "model.json": "ad-model", "series.json": "ad-series"}
PROMETHEUS_SERIES = {"up", "ALERTS", "ALERTS_FOR_STATE"}
PROMQL_KEYWORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool",
    "and", "or", "unless", "offset", "inf", "nan",
}  # fmt: skip

DASHBOARDS = load_dashboards()


def dashboard_ids() -> list[str]:
    return [path.name for path in DASHBOARDS]


def panels_of(dashboard: dict) -> list[dict]:
    return list(iter_panels(dashboard.get("panels", [])))


def all_exprs() -> list[tuple[str, str]]:
    """(where, raw expr) of every dashboard target, annotation and rule."""
    exprs = []
    for path, dashboard in DASHBOARDS.items():
        for panel in panels_of(dashboard):
            for target in panel.get("targets", []):
                exprs.append((f"{path.name}: {panel.get('title')}", target.get("expr", "")))
        for annotation in dashboard.get("annotations", {}).get("list", []):
            if annotation.get("expr"):
                exprs.append((f"{path.name}: annotation {annotation['name']}", annotation["expr"]))
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                exprs.append(
                    (f"{path.name}: {rule.get('alert') or rule.get('record')}", rule["expr"])
                )
    return exprs


def recording_rule_names() -> set[str]:
    return {
        rule["record"]
        for path in RULE_FILES
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
        if "record" in rule
    }


_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENT = re.compile(r"(?<![\w.:$])([a-zA-Z_:][\w:]*)")
_SELECTOR = re.compile(r"([a-zA-Z_:][\w:]*)\s*\{([^}]*)\}")
_MATCHER = re.compile(r'([a-zA-Z_]\w*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"')


def metric_names(expr: str) -> set[str]:
    """Metric names an expression selects (a small PromQL lexer, good enough for our queries)."""
    text = _STRING.sub('""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = _GROUPING.sub(" ", text)
    names = set()
    for match in _IDENT.finditer(text):
        name = match.group(1)
        following = text[match.end() :].lstrip()
        if following.startswith("(") or name.lower() in PROMQL_KEYWORDS:
            continue
        names.add(name)
    return names


def test_metric_name_lexer() -> None:
    expr = (
        'sum by (job, le) (rate(a_bucket{job=~"$job", route!~"/admin/.*"}[$__rate_interval]))'
        ' / on (job) group_left b:c:d offset 5m > 1e3 and label_replace(x, "q", "0.5", "", "")'
    )
    assert metric_names(expr) == {"a_bucket", "b:c:d", "x"}


# ------------------------------------------------------------------ dashboards


def test_expected_dashboards_exist() -> None:
    assert {path.name: d["uid"] for path, d in DASHBOARDS.items()} == EXPECTED_UIDS


def test_dashboard_uids_and_titles_are_unique() -> None:
    uids = [d["uid"] for d in DASHBOARDS.values()]
    titles = [d["title"] for d in DASHBOARDS.values()]
    assert len(uids) == len(set(uids))
    assert len(titles) == len(set(titles))


@pytest.mark.parametrize("name", dashboard_ids())
def test_dashboard_structure(name: str) -> None:
    dashboard = DASHBOARDS[DASHBOARDS_DIR / name]
    assert dashboard.get("uid") and len(dashboard["uid"]) <= 40
    assert dashboard.get("title")
    assert 39 <= dashboard.get("schemaVersion", 0) <= 41
    assert dashboard.get("id") is None, "export dashboards without a database id"
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    for var in ("job", "instance"):
        assert var in variables, f"{name}: no ${var} variable"
        spec = variables[var]
        assert spec["type"] == "query"
        assert spec["datasource"] == DATASOURCE
        query = spec["query"]["query"] if isinstance(spec["query"], dict) else spec["query"]
        assert re.fullmatch(rf"label_values\((.+,\s*)?{var}\)", query), query
        assert spec.get("includeAll") and spec.get("allValue") == ".*"
    assert "$job" in variables["instance"]["query"]["query"], "instance should follow job"


@pytest.mark.parametrize("name", dashboard_ids())
def test_panels(name: str) -> None:
    dashboard = DASHBOARDS[DASHBOARDS_DIR / name]
    panels = panels_of(dashboard)
    assert panels
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids)), f"{name}: duplicate panel ids"
    occupied: dict[tuple[int, int], str] = {}
    for panel in panels:
        where = f"{name}: {panel.get('title')!r}"
        assert panel["type"] in PANEL_TYPES, where
        assert panel.get("title"), where
        assert panel.get("datasource") == DATASOURCE, where
        grid = panel["gridPos"]
        assert all(isinstance(grid[k], int) for k in ("x", "y", "w", "h")), where
        assert grid["w"] > 0 and grid["h"] > 0 and grid["x"] + grid["w"] <= 24, where
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in occupied, f"{where} overlaps {occupied[(x, y)]}"
                occupied[(x, y)] = where
        targets = panel.get("targets", [])
        assert targets, f"{where}: no targets"
        ref_ids = [t["refId"] for t in targets]
        assert len(ref_ids) == len(set(ref_ids)), f"{where}: duplicate refIds"
        for target in targets:
            assert target.get("expr", "").strip(), f"{where}: empty expr"
            assert target.get("datasource", DATASOURCE) == DATASOURCE, where


def test_every_selector_filters_on_job_and_instance() -> None:
    for path, dashboard in DASHBOARDS.items():
        exprs = [
            (panel["title"], t["expr"]) for panel in panels_of(dashboard) for t in panel["targets"]
        ] + [(a["name"], a["expr"]) for a in dashboard["annotations"]["list"] if a.get("expr")]
        for title, expr in exprs:
            names = metric_names(expr)
            selectors = _SELECTOR.findall(expr)
            assert {metric for metric, _ in selectors} == names, f"{title}: bare metric in {expr}"
            for metric, matchers in selectors:
                found = {(label, op, value) for label, op, value in _MATCHER.findall(matchers)}
                assert ("job", "=~", "$job") in found, f"{path.name} {title}: {metric} lacks $job"
                assert ("instance", "=~", "$instance") in found, (
                    f"{title}: {metric} lacks $instance"
                )


def test_panel_rates_use_rate_interval() -> None:
    for path, dashboard in DASHBOARDS.items():
        for panel in panels_of(dashboard):
            for target in panel["targets"]:
                for func, window in re.findall(
                    r"\b(rate|irate|increase)\([^\[]*\[([^\]]+)\]", target["expr"]
                ):
                    allowed = {"$__rate_interval"} | ({"$__range"} if func == "increase" else set())
                    assert window in allowed, f"{path.name} {panel['title']}: {func}[{window}]"


def test_series_dashboard_content() -> None:
    series = DASHBOARDS[DASHBOARDS_DIR / "series.json"]
    variables = {v["name"]: v for v in series["templating"]["list"]}
    spec = variables["series"]
    assert spec["query"]["query"] == (
        'label_values(anomaly_detector_series_value{job=~"$job", instance=~"$instance"}, series)'
    )
    assert spec.get("includeAll") and spec.get("allValue") == ".*" and spec.get("multi")
    panels = panels_of(series)
    exprs = " ".join(t["expr"] for p in panels for t in p["targets"])
    for gauge in ("value", "forecast", "lower", "upper", "anomaly_score", "threshold", "anomalous"):
        assert f"anomaly_detector_series_{gauge}{{" in exprs, f"series dashboard lacks {gauge}"
    for health in ("prometheus_up", "polls_total", "last_success_timestamp_seconds", "refits"):
        assert f"anomaly_detector_watcher_{health}" in exprs, f"series dashboard lacks {health}"
    # One band panel per selected series, the band filled between its lower and upper bound.
    (band,) = [p for p in panels if p.get("repeat")]
    assert band["repeat"] == "series" and "$series" in band["title"]
    legends = {t["legendFormat"] for t in band["targets"]}
    assert {"value", "forecast", "lower", "upper", "anomalous"} <= legends
    fills = {
        o["matcher"]["options"]: prop["value"]
        for o in band["fieldConfig"]["overrides"]
        for prop in o["properties"]
        if prop["id"] == "custom.fillBelowTo"
    }
    assert fills == {"upper": "lower"}
    # Anomalies are marked: as points on the band, and as annotations.
    marks = [a["expr"] for a in series["annotations"]["list"] if a.get("expr")]
    assert any(
        m.startswith("anomaly_detector_series_anomalous{") and m.endswith("== 1") for m in marks
    )
    # Every series selector follows the $series variable; the watcher's own health has no series.
    for panel in panels:
        for target in panel["targets"]:
            for metric, matchers in _SELECTOR.findall(target["expr"]):
                if metric.startswith("anomaly_detector_series_"):
                    assert ("series", "=~", "$series") in _MATCHER.findall(matchers), (
                        f"{panel['title']}: {metric} ignores $series"
                    )


def test_series_dashboard_reads_only_what_the_watcher_exports() -> None:
    import importlib

    from prometheus_client import CollectorRegistry

    registry = CollectorRegistry()
    importlib.import_module("anomaly_detector.monitor.metrics").WatcherMetrics(registry)
    exported = {
        family.name + ("_total" if family.type == "counter" else "")
        for family in registry.collect()
    }
    series = DASHBOARDS[DASHBOARDS_DIR / "series.json"]
    used = {
        name
        for panel in panels_of(series)
        for target in panel["targets"]
        for name in metric_names(target["expr"])
    } | {name for a in series["annotations"]["list"] for name in metric_names(a.get("expr", ""))}
    assert used - exported <= PROMETHEUS_SERIES, sorted(used - exported - PROMETHEUS_SERIES)
    assert len(used & exported) >= 10


def test_model_dashboard_content() -> None:
    model = DASHBOARDS[DASHBOARDS_DIR / "model.json"]
    panels = panels_of(model)
    heatmaps = [p for p in panels if p["type"] == "heatmap"]
    assert heatmaps and all(
        t["format"] == "heatmap" and "anomaly_detector_anomaly_score_bucket" in t["expr"]
        for p in heatmaps
        for t in p["targets"]
    )
    assert heatmaps[0]["options"]["calculate"] is False, "buckets come from Prometheus"
    histogram = [p for p in panels if p["type"] in {"bargauge", "barchart"}]
    assert any(
        "anomaly_detector_anomaly_score_bucket" in t["expr"]
        for p in histogram
        for t in p["targets"]
    )
    exprs = " ".join(t["expr"] for p in panels for t in p["targets"])
    for needed in (
        "anomaly_detector_model_threshold",
        "anomaly_detector_model_info",
        "anomaly_detector_model_reference_score",
        "anomaly_detector_model_reloads_total",
        "anomaly_detector_predictions_total",
    ):
        assert needed in exprs, f"model dashboard does not show {needed}"


def test_service_dashboard_content() -> None:
    service = DASHBOARDS[DASHBOARDS_DIR / "service.json"]
    exprs = " ".join(t["expr"] for p in panels_of(service) for t in p["targets"])
    for quantile in ("0.50", "0.95", "0.99"):
        assert (
            f"histogram_quantile({quantile}, sum by (le) (rate(http_request_duration_seconds_bucket"
            in exprs
        )
    for needed in (
        "http_requests_total",
        "http_requests_in_flight",
        "anomaly_detector_rejected_requests_total",
        "up{",
    ):
        assert needed in exprs, f"service dashboard does not show {needed}"


# ----------------------------------------------------------------- metric names


def test_every_referenced_metric_exists(service_metric_names: set[str]) -> None:
    known = service_metric_names | recording_rule_names() | PROMETHEUS_SERIES
    unknown = {(where, name) for where, expr in all_exprs() for name in metric_names(expr) - known}
    assert not unknown, (
        f"metrics that neither metrics.py nor a recording rule defines: {sorted(unknown)}"
    )


def test_label_matchers_use_labels_the_service_exports() -> None:
    """A typo in a label name (``reson=``) would silently match nothing."""
    import importlib

    from prometheus_client import CollectorRegistry

    metrics = importlib.import_module("anomaly_detector.serving.metrics").Metrics(
        CollectorRegistry()
    )
    watcher = importlib.import_module("anomaly_detector.monitor.metrics").WatcherMetrics(
        CollectorRegistry()
    )
    labels: dict[str, set[str]] = {}
    for collector in [*vars(metrics).values(), *vars(watcher).values()]:
        names = getattr(collector, "_labelnames", None)
        if names is None or not hasattr(collector, "_name"):
            continue
        kind = getattr(collector, "_type", "")
        base = set(names) | {"job", "instance"}
        if kind == "counter":
            labels[collector._name + "_total"] = base
        elif kind == "histogram":
            labels[collector._name + "_bucket"] = base | {"le"}
            labels[collector._name + "_count"] = base
            labels[collector._name + "_sum"] = base
        else:
            labels[collector._name] = base
    assert labels, "could not read label names from metrics.py"
    for where, expr in all_exprs():
        for metric, matchers in _SELECTOR.findall(expr):
            if metric not in labels:
                continue
            for label, _, _ in _MATCHER.findall(matchers):
                assert label in labels[metric], f"{where}: {metric} has no label {label!r}"


# ------------------------------------------------------------- query expansion


def test_grafana_queries_expands_every_target() -> None:
    queries = grafana_queries(job="anomaly-detector", instance="127.0.0.1:8000")
    targets = sum(
        1 for d in DASHBOARDS.values() for p in panels_of(d) for t in p["targets"] if t.get("expr")
    )
    annotations = sum(
        1 for d in DASHBOARDS.values() for a in d["annotations"]["list"] if a.get("expr")
    )
    assert len(queries) == targets + annotations
    assert {q.uid for q in queries} == set(EXPECTED_UIDS.values())
    for query in queries:
        assert "$" not in query.expr, query
        assert 'job=~"anomaly-detector"' in query.expr, query
        assert 'instance=~"127.0.0.1:8000"' in query.expr, query
    assert any("[1m]" in q.expr for q in queries)
    assert len(grafana_queries(include_annotations=False)) == targets


def test_substitute() -> None:
    expr = (
        'rate(x{job=~"$job", instance=~"${instance}"}[$__rate_interval])'
        " + y[$__interval] + z[${__range}]"
    )
    assert substitute(
        expr, job="a", instance="b:1", rate_interval="2m", interval="30s", range_="6h"
    ) == ('rate(x{job=~"a", instance=~"b:1"}[2m]) + y[30s] + z[6h]')
    assert substitute("x[$__range_s]", range_="1h") == "x[3600]"
    assert substitute('x{series=~"$series"}') == 'x{series=~".*"}'
    assert substitute('x{series=~"${series}"}', series="latency") == 'x{series=~"latency"}'
    with pytest.raises(ValueError, match="unsupported"):
        substitute("x{a=~'$nope'}")


def test_dashboard_queries_parse(promtool: str, tmp_path: Path) -> None:
    """Every expanded query is valid PromQL (checked by promtool as recording rules)."""
    rules = [
        {"record": f"dashboard:query_{i}:check", "expr": q.expr}
        for i, q in enumerate(grafana_queries())
    ]
    path = tmp_path / "dashboard_queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    result = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


# ---------------------------------------------------------------- provisioning


def _compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def _grafana_mounts() -> dict[str, Path]:
    """Container path -> repository path of Grafana's bind mounts."""
    mounts = {}
    for volume in _compose()["services"]["grafana"]["volumes"]:
        source, target = volume.split(":")[:2]
        if source.startswith("."):
            mounts[target] = (REPO_ROOT / source).resolve()
    return mounts


def test_datasource_provisioning() -> None:
    doc = yaml.safe_load((PROVISIONING_DIR / "datasources" / "prometheus.yml").read_text())
    assert doc["apiVersion"] == 1
    prometheus = [ds for ds in doc["datasources"] if ds["type"] == "prometheus"]
    assert len(prometheus) == 1
    ds = prometheus[0]
    assert ds["uid"] == "prometheus"
    assert ds["url"] == "http://prometheus:9090"
    assert ds.get("isDefault") is True
    services = _compose()["services"]
    for source in doc["datasources"]:
        host = re.match(r"https?://([^:/]+)", source["url"]).group(1)
        assert host in services, f"datasource {source['name']} points at unknown service {host}"


def test_dashboard_provisioning_points_at_mounted_dashboards() -> None:
    doc = yaml.safe_load((PROVISIONING_DIR / "dashboards" / "dashboards.yml").read_text())
    mounts = _grafana_mounts()
    assert mounts.get("/etc/grafana/provisioning") == PROVISIONING_DIR.resolve()
    for provider in doc["providers"]:
        assert provider["type"] == "file"
        path = provider["options"]["path"]
        assert path == "/var/lib/grafana/dashboards"
        assert mounts.get(path) == DASHBOARDS_DIR.resolve(), f"{path} is not the dashboards mount"


def test_home_dashboard_is_the_model_dashboard() -> None:
    env = _compose()["services"]["grafana"]["environment"]
    home = env["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    directory, _, filename = home.rpartition("/")
    mounts = _grafana_mounts()
    assert directory in mounts, f"{home} is not inside a mounted directory"
    local = mounts[directory] / filename
    assert local.is_file(), f"{home} -> {local} does not exist"
    assert json.loads(local.read_text())["uid"] == "ad-model"
