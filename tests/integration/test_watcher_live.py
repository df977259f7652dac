"""The series watcher live: a real Prometheus scrapes the real service and the real watcher.

The service (``anomaly-detector serve``), the watcher (``anomaly-detector series watch``
with 1 s steps and polls) and Prometheus (the committed native config with 1 s scrapes,
the committed rules, the series alert's ``for:`` shortened in a copy) run as processes.
Single-row traffic gives a baseline; then heavy ``/predictions`` batches, mixed into the
same traffic, raise the service's p95 latency: a real latency incident, with no test-only
setting in the service. The test checks that

* the watcher is healthy (``/healthz``, ``prometheus_up``) and scores the baseline as normal;
* the incident drives ``anomaly_detector_series_anomalous{series="latency_p95_seconds"}``
  up and ``AnomalyDetectorSeriesAnomalous`` to firing in Prometheus;
* every query of the series dashboard returns data from that Prometheus;
* stopping Prometheus shows in the watcher's health (``prometheus_up`` 0, failed polls,
  ``/healthz`` 503), and once Prometheus is back the watcher recovers and scores again.
"""

from __future__ import annotations

import contextlib
import copy
import math
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import orjson
import pandas as pd
import pytest
import yaml
from dashboard_queries import grafana_queries
from observability_tools import PROMETHEUS_HINT, require_tool
from prometheus_client.parser import text_string_to_metric_families

from anomaly_detector.monitor.queries import DEFAULT_QUERIES
from anomaly_detector.serving.api.contract import VECTOR_EXAMPLE
from factories import write_bundle
from live import LiveServer, free_port, stop_process, wait_for

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SERVICE_JOB, WATCHER_JOB = "anomaly-detector", "anomaly-detector-watcher"
SERIES = "latency_p95_seconds"
ALERT = "AnomalyDetectorSeriesAnomalous"
# The committed rule waits 3 minutes. With a minute of history, the likelihood's
# reference soon takes the incident in, so a step in latency stays anomalous for
# about 6 to 10 one-second points here: the copy waits 3 evaluations.
ALERT_FOR = "3s"
# The watcher starts once the p95 has this much history and fits on it (without
# refits), so that the incident meets a model that has seen the baseline.
HISTORY_SECONDS = 20
# Scores are 0 until the likelihood has 30 short means (likelihood.MIN_LONG) and the
# level a few points: past this many scored points the baseline is really scored.
BASELINE_POINTS = 45
# Normal requests score 1 to this many rows; the incident's batches take tens of
# milliseconds where those take one or two.
NORMAL_BATCH_ROWS = 100
INCIDENT_ROWS = 10_000


def _differences(a, b, path=()) -> list[tuple]:
    """Paths at which two parsed YAML documents differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [
            d for k in a.keys() | b.keys() for d in _differences(a.get(k), b.get(k), (*path, k))
        ]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [
            d
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for d in _differences(x, y, (*path, i))
        ]
    return [] if a == b else [path]


def _alert_rules(tmp_path: Path) -> Path:
    """The committed alert rules with the series alert's ``for:`` shortened, and nothing else."""
    committed = yaml.safe_load((REPO / "prometheus" / "rules" / "alerts.yml").read_text())
    rules = copy.deepcopy(committed)
    for group in rules["groups"]:
        for rule in group["rules"]:
            if rule.get("alert") == ALERT:
                rule["for"] = ALERT_FOR
    changed = _differences(committed, rules)
    assert len(changed) == 1 and changed[0][-1] == "for", changed
    path = tmp_path / "alerts.yml"
    path.write_text(yaml.safe_dump(rules))
    return path


def _prometheus_config(tmp_path: Path, api_port: int, watcher_port: int) -> Path:
    config = yaml.safe_load((REPO / "prometheus" / "prometheus.native.yml").read_text())
    for key in ("scrape_interval", "evaluation_interval", "scrape_timeout"):
        config["global"][key] = "1s"
    config["rule_files"] = [
        str(REPO / "prometheus" / "rules" / "recording.yml"),
        str(_alert_rules(tmp_path)),
    ]
    config.pop("alerting")  # alerts are read from Prometheus; test_prometheus.py covers delivery
    targets = {SERVICE_JOB: api_port, WATCHER_JOB: watcher_port}
    assert {s["job_name"] for s in config["scrape_configs"]} == set(targets)
    for scrape in config["scrape_configs"]:
        scrape["scrape_interval"] = scrape["scrape_timeout"] = "1s"
        for static in scrape["static_configs"]:
            static["targets"] = [f"127.0.0.1:{targets[scrape['job_name']]}"]
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return path


class Process:
    """A command run in the background, its output in ``log``; ``start`` again restarts it."""

    def __init__(self, command: list[str], log: Path, env: dict[str, str] | None = None):
        self.command, self.log, self.env = command, log, env
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log, "ab") as handle:
            self.process = subprocess.Popen(
                self.command, stdout=handle, stderr=subprocess.STDOUT, env=self.env
            )

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


class Traffic:
    """Normal requests at up to ``rate``/s; with ``incident`` set, heavy batches too.

    Normal requests are single rows or, half the time, small batches (up to
    ``NORMAL_BATCH_ROWS``), so their latencies spread over several histogram buckets
    and the p95 varies as a real one does (requests all in one bucket give a p95 that
    is exactly constant). The watched p95 is over a one-minute window, so it moves once
    slow requests are 5% of the window: at 5 requests/s a few heavy batches a second
    get there in seconds and the p95 steps up, where busier traffic would make it creep
    for half a minute. Both loops are bounded: they end with the ``with`` block or
    after ``max_seconds``.
    """

    def __init__(self, url: str, rate: float = 5.0, max_seconds: float = 300.0):
        self.url, self.interval, self.max_seconds = url, 1.0 / rate, max_seconds
        self.rng = np.random.default_rng(14)
        self.incident = threading.Event()
        self._stop = threading.Event()
        self.sent = {"rows": 0, "batches": 0, "errors": 0}
        self._threads = [
            threading.Thread(target=self._rows, daemon=True),
            threading.Thread(target=self._batches, daemon=True),
        ]

    def __enter__(self) -> Traffic:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def _loop(self, send, interval: float, when=lambda: True) -> None:
        deadline = time.monotonic() + self.max_seconds
        with httpx.Client(base_url=self.url, timeout=30) as client:
            while not self._stop.is_set() and time.monotonic() < deadline:
                if when():
                    try:
                        send(client)
                    except httpx.HTTPError:
                        self.sent["errors"] += 1
                self._stop.wait(interval)

    def _rows(self) -> None:
        def send(client):
            single = self.rng.random() < 0.5
            rows = 1 if single else int(self.rng.integers(2, NORMAL_BATCH_ROWS + 1))
            if rows == 1:
                response = client.post("/prediction", json={"feature_vector": VECTOR_EXAMPLE})
            else:
                response = client.post(
                    "/predictions", json={"feature_vectors": [VECTOR_EXAMPLE] * rows}
                )
            response.raise_for_status()
            self.sent["rows"] += rows

        self._loop(send, self.interval)

    def _batches(self) -> None:
        body = orjson.dumps({"feature_vectors": [VECTOR_EXAMPLE] * INCIDENT_ROWS})
        headers = {"Content-Type": "application/json"}

        def send(client):
            client.post("/predictions", content=body, headers=headers).raise_for_status()
            self.sent["batches"] += 1

        self._loop(send, 0.2, when=self.incident.is_set)


def _samples(url: str) -> dict[tuple, float]:
    """The watcher's /metrics as {(name, sorted labels): value}."""
    text = httpx.get(url + "/metrics/", timeout=5).text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _metric(url: str, name: str, **labels: str) -> float | None:
    return _samples(url).get((name, tuple(sorted(labels.items()))))


def _query(prometheus: str, expr: str, at: float | None = None) -> list[dict]:
    params = {"query": expr} | ({"time": f"{at:.3f}"} if at is not None else {})
    response = httpx.get(f"{prometheus}/api/v1/query", params=params, timeout=10)
    body = response.json()
    assert body.get("status") == "success", f"{expr}: {body.get('error')}"
    data = body["data"]
    return [{"value": data["result"]}] if data["resultType"] == "scalar" else data["result"]


def _finite(results: list[dict]) -> bool:
    return bool(results) and all(math.isfinite(float(r["value"][1])) for r in results)


def _series_alerts(prometheus: str) -> list[dict]:
    """Prometheus's alerts of ``ALERT`` on ``SERIES`` (pending or firing)."""
    alerts = httpx.get(f"{prometheus}/api/v1/alerts", timeout=5).json()["data"]["alerts"]
    return [
        a
        for a in alerts
        if a["labels"].get("alertname") == ALERT and a["labels"].get("series") == SERIES
    ]


def _firing(prometheus: str) -> list[dict]:
    return [a for a in _series_alerts(prometheus) if a["state"] == "firing"]


@pytest.fixture
def stack(tmp_path):
    prometheus = require_tool("prometheus", PROMETHEUS_HINT)
    _, model_path = write_bundle(tmp_path / "models", seed=7)
    prom_port, watch_port = free_port(), free_port()
    prom_url = f"http://127.0.0.1:{prom_port}"
    watch_url = f"http://127.0.0.1:{watch_port}"
    with LiveServer(model_path, tmp_path / "api.log") as api:
        prom = Process(
            [
                prometheus,
                f"--config.file={_prometheus_config(tmp_path, api.port, watch_port)}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
            ],
            tmp_path / "prometheus.log",
        )
        env = {
            **os.environ,
            "WATCH_PROMETHEUS_URL": prom_url,
            "WATCH_PORT": str(watch_port),
            "WATCH_STEP_SECONDS": "1",
            "WATCH_INTERVAL_SECONDS": "1",
            "WATCH_HISTORY_HOURS": str(HISTORY_SECONDS / 3600),
            "WATCH_REFIT_MINUTES": "10",
            # The default detector (series_ensemble): with a minute of history its
            # seasonal member has no day to compare with, and the forecaster's score
            # stands alone. The threshold is pinned: this tests the live path, while
            # thresholds are tuned on days of 5-minute windows
            # (bench/results-timeseries.md), not on a minute of 1 s steps whose band and
            # likelihood have little history yet.
            "WATCH_THRESHOLD": "0.5",
        }
        watcher = Process(
            [
                sys.executable,
                "-m",
                "anomaly_detector.cli",
                "series",
                "watch",
                "--host",
                "127.0.0.1",
            ],
            tmp_path / "watcher.log",
            env,
        )
        prom.start()
        try:
            wait_for(
                lambda: httpx.get(prom_url + "/-/ready").status_code == 200, 30, what="prometheus"
            )
            yield {
                "api": api,
                "prometheus": prom,
                "prometheus_url": prom_url,
                "watcher": watcher,
                "watcher_url": watch_url,
                "watcher_instance": f"127.0.0.1:{watch_port}",
            }
        finally:
            watcher.stop()
            prom.stop()


def test_latency_incident_drives_watcher_alert_and_dashboard(stack):
    api, prometheus, watcher = stack["api"], stack["prometheus_url"], stack["watcher_url"]
    points = "anomaly_detector_series_points_scored_total"
    polls = "anomaly_detector_watcher_polls_total"
    prometheus_up = "anomaly_detector_watcher_prometheus_up"
    timeline: list[tuple] = []
    started = time.monotonic()

    def observe(note: str) -> dict[str, float | str | None]:
        """The watcher's gauges of SERIES and the alert's state, kept for failure messages."""
        samples = _samples(watcher)  # one scrape: the gauges of one poll
        point: dict[str, float | str | None] = {
            gauge: samples.get((f"anomaly_detector_series_{gauge}", (("series", SERIES),)))
            for gauge in ("value", "forecast", "upper", "anomaly_score", "anomalous")
        }
        with contextlib.suppress(httpx.HTTPError):
            point["alert"] = ",".join(a["state"] for a in _series_alerts(prometheus)) or None
        timeline.append((round(time.monotonic() - started), note, point))
        return point

    def history() -> str:
        return "\n".join(map(str, timeline[-40:])) + "\nwatcher log:\n" + stack["watcher"].output()

    with Traffic(api.url) as traffic:
        # Traffic first, then the watcher, fitted on HISTORY_SECONDS of its p95.
        lead = f"count_over_time(({DEFAULT_QUERIES[SERIES]})[{HISTORY_SECONDS}s:1s])"
        wait_for(
            lambda: float(_query(prometheus, lead)[0]["value"][1]) >= HISTORY_SECONDS,
            120,
            interval=1,
            what=f"{HISTORY_SECONDS} s of p95 history",
        )
        stack["watcher"].start()

        # The watcher reaches Prometheus and says so, in /healthz and in its own gauge.
        wait_for(
            lambda: httpx.get(watcher + "/healthz", timeout=5).status_code == 200,
            60,
            what="watcher /healthz 200",
        )
        assert _metric(watcher, prometheus_up) == 1
        health = httpx.get(watcher + "/healthz", timeout=5).json()
        assert health["prometheus_up"] is True and health["last_error"] is None

        # A baseline long enough for the likelihood to score, and scored as normal.
        wait_for(
            lambda: (_metric(watcher, points, series=SERIES) or 0) >= BASELINE_POINTS,
            120,
            interval=1,
            what=f"{BASELINE_POINTS} scored baseline points",
        )
        threshold = _metric(watcher, "anomaly_detector_series_threshold", series=SERIES)
        assert threshold == 0.5

        def normal() -> bool:
            point = observe("baseline")
            return point["anomalous"] == 0 and point["anomaly_score"] < threshold

        def anomalous(note: str) -> bool:
            point = observe(note)
            return point["anomalous"] == 1 and point["anomaly_score"] >= threshold

        try:
            wait_for(lambda: normal() and not _firing(prometheus), 60, interval=1)
        except TimeoutError:
            pytest.fail("the baseline stayed anomalous:\n" + history())
        baseline = timeline[-1][2]

        # The incident: heavy batches among the single rows raise the p95 latency.
        incident_at = time.time()
        traffic.incident.set()
        try:
            wait_for(lambda: anomalous("incident"), 90, interval=1)
        except TimeoutError:
            pytest.fail("the incident was not flagged:\n" + history())
        flagged, flagged_after = timeline[-1][2], time.time() - incident_at
        assert flagged["value"] > baseline["value"]

        # The sustained anomaly fires the alert in Prometheus, and it is this incident's.
        try:
            firing = wait_for(
                lambda: observe("alert") and _firing(prometheus), 60, interval=1, what="firing"
            )
        except TimeoutError:
            pytest.fail(f"{ALERT} did not fire:\n" + history())
        fired_at = time.time()
        assert pd.Timestamp(firing[0]["activeAt"]).timestamp() >= incident_at
        assert firing[0]["labels"]["job"] == WATCHER_JOB

        # Every query of the series dashboard returns data from that Prometheus, evaluated
        # when the alert fired (the detector adapts to a lasting shift, so the anomaly's
        # own panels and annotations may be empty again by now).
        queries = [
            q
            for q in grafana_queries(job=WATCHER_JOB, instance=stack["watcher_instance"])
            if q.uid == "ad-series"
        ]
        assert len(queries) >= 20
        empty = [
            (q.panel, q.expr) for q in queries if not _finite(_query(prometheus, q.expr, fired_at))
        ]
        assert not empty, "series dashboard queries without data:\n" + "\n".join(map(str, empty))
        up = _query(prometheus, f'{prometheus_up}{{job="{WATCHER_JOB}"}}', fired_at)
        assert [float(r["value"][1]) for r in up] == [1.0]
        traffic.incident.clear()

        # Prometheus stops: the watcher's health says so; it keeps its state and /metrics.
        failed_before = _metric(watcher, polls, result="failure") or 0
        stack["prometheus"].stop()
        wait_for(
            lambda: (
                _metric(watcher, prometheus_up) == 0
                and (_metric(watcher, polls, result="failure") or 0) > failed_before
            ),
            30,
            what="prometheus_up 0 and failed polls",
        )
        outage = httpx.get(watcher + "/healthz", timeout=5)
        assert outage.status_code == 503
        assert "could not reach Prometheus" in outage.json()["last_error"]
        assert outage.json()["series"][SERIES]["timestamp"] > incident_at - 60

        # Prometheus is back (same storage): the watcher recovers and scores new points.
        scored_at_restart = _metric(watcher, points, series=SERIES)
        restarted_at = time.time()
        stack["prometheus"].start()
        try:
            wait_for(
                lambda: (
                    httpx.get(watcher + "/healthz", timeout=5).status_code == 200
                    and _metric(watcher, prometheus_up) == 1
                    and _metric(watcher, points, series=SERIES) > scored_at_restart
                    and _metric(
                        watcher,
                        "anomaly_detector_series_last_point_timestamp_seconds",
                        series=SERIES,
                    )
                    > restarted_at
                ),
                60,
                interval=1,
                what="the watcher recovering",
            )
        except TimeoutError:
            pytest.fail(
                "no recovery:\n" + history() + "\nprometheus:\n" + stack["prometheus"].output()
            )
    ms = {key: 1e3 * flagged[key] for key in ("value", "forecast", "upper")}
    print(
        f"\nbaseline score {baseline['anomaly_score']:.4f} at p95 {1e3 * baseline['value']:.1f} ms;"
        f" flagged {flagged_after:.0f} s into the incident, score {flagged['anomaly_score']:.4f}"
        f" at p95 {ms['value']:.1f} ms (forecast {ms['forecast']:.1f}, upper {ms['upper']:.1f});"
        f" firing after {fired_at - incident_at:.0f} s; highest score"
        f" {max(p['anomaly_score'] or 0 for _, _, p in timeline):.4f}; traffic {traffic.sent}"
    )
