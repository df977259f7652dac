"""Dashboards and alerts against a real Prometheus and Alertmanager scraping the real service.

Starts the service, Alertmanager and Prometheus (the project's own rule files;
the native scrape config with 1 s intervals so the test takes a minute, not
ten), sends normal traffic, bad requests and then an attack burst, and checks:

* every panel query of every committed dashboard returns a non-empty, finite result;
* every recording rule produces series;
* the anomaly-spike alert fires within the first attack burst of the fresh stack
  (it compares with what the model expects, not with live history) and reaches
  Alertmanager.
"""

import asyncio
import contextlib
import math
import shutil
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest
import yaml
from dashboard_queries import grafana_queries
from observability_tools import PROMETHEUS_HINT, require_tool

from anomaly_detector.detectors import registry
from anomaly_detector.devtools.traffic_simulator import simulate
from factories import write_bundle
from live import LiveServer, free_port, stop_process, wait_for

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
JOB = "anomaly-detector"


def _prometheus_config(tmp_path: Path, api_port: int, alertmanager_port: int) -> Path:
    config = yaml.safe_load((REPO / "prometheus" / "prometheus.native.yml").read_text())
    config["global"]["scrape_interval"] = "1s"
    config["global"]["evaluation_interval"] = "1s"
    config["global"]["scrape_timeout"] = "1s"
    config["rule_files"] = [str(REPO / "prometheus" / "rules" / "*.yml")]
    config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] = [
        f"127.0.0.1:{alertmanager_port}"
    ]
    # The series watcher and its dashboard have their own test (test_watcher_live.py).
    config["scrape_configs"] = [s for s in config["scrape_configs"] if s["job_name"] == JOB]
    for scrape in config["scrape_configs"]:
        scrape["scrape_interval"] = "1s"
        scrape["scrape_timeout"] = "1s"
        for static in scrape["static_configs"]:
            static["targets"] = [f"127.0.0.1:{api_port}"]
    assert [s["job_name"] for s in config["scrape_configs"]] == [JOB]
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return path


class Process:
    def __init__(self, command: list[str], log: Path):
        self.log = log
        self._handle = open(log, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(command, stdout=self._handle, stderr=subprocess.STDOUT)

    def stop(self):
        stop_process(self.process)
        self._handle.close()


@pytest.fixture
def stack(tmp_path):
    prometheus = require_tool("prometheus", PROMETHEUS_HINT)
    alertmanager = shutil.which("alertmanager") or require_tool(
        "prometheus-alertmanager", PROMETHEUS_HINT
    )
    # The default detector (the ensemble), not the forest: the score histogram, the
    # drift quantiles and the alerts must work on the percentile scale too.
    bundle, model_path = write_bundle(
        tmp_path / "models", seed=5, detector=registry.DEFAULT_DETECTOR, contamination=0.02
    )
    assert bundle.scale is not None
    am_port, prom_port = free_port(), free_port()
    am_url, prom_url = f"http://127.0.0.1:{am_port}", f"http://127.0.0.1:{prom_port}"
    with LiveServer(model_path, tmp_path / "api.log", env={"ADMIN_TOKEN": "test-admin"}) as api:
        am = Process(
            [
                alertmanager,
                f"--config.file={REPO / 'alertmanager' / 'alertmanager.yml'}",
                f"--storage.path={tmp_path / 'am'}",
                f"--web.listen-address=127.0.0.1:{am_port}",
                "--cluster.listen-address=",
            ],
            tmp_path / "alertmanager.log",
        )
        prom = Process(
            [
                prometheus,
                f"--config.file={_prometheus_config(tmp_path, api.port, am_port)}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
            ],
            tmp_path / "prometheus.log",
        )
        try:
            wait_for(
                lambda: httpx.get(prom_url + "/-/ready").status_code == 200, 30, what="prometheus"
            )
            wait_for(
                lambda: httpx.get(am_url + "/-/ready").status_code == 200, 30, what="alertmanager"
            )
            yield {"api": api, "prometheus": prom_url, "alertmanager": am_url, "bundle": bundle}
        finally:
            prom.stop()
            am.stop()


def _query(prometheus: str, expr: str) -> list[dict]:
    response = httpx.get(f"{prometheus}/api/v1/query", params={"query": expr}, timeout=10)
    body = response.json()
    assert body.get("status") == "success", f"{expr}: {body.get('error')}"
    data = body["data"]
    if data["resultType"] == "scalar":
        return [{"value": data["result"]}]
    return data["result"]


def _finite(results: list[dict]) -> bool:
    return bool(results) and all(math.isfinite(float(r["value"][1])) for r in results)


# The first burst starts 20 s into the traffic and lasts 20 s.
BURST_EVERY_SECONDS, BURST_SECONDS = 40.0, 20.0


class Traffic(threading.Thread):
    """The simulator in its own event loop, for at most ``seconds``; ``stop()`` ends it
    as soon as the checks are done rather than at the end of the schedule."""

    def __init__(self, url: str, seconds: float):
        super().__init__(daemon=True)
        self.loop = asyncio.new_event_loop()
        self.task = self.loop.create_task(
            simulate(url, rate=40, duration_seconds=seconds,
                     burst_every_seconds=BURST_EVERY_SECONDS, burst_seconds=BURST_SECONDS,
                     burst_share=0.6, base_anomaly_share=0.01, bad_request_share=0.05, seed=1,
                     burst_types=("credential_stuffing",))
        )  # fmt: skip

    def run(self) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            self.loop.run_until_complete(self.task)
        self.loop.close()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.task.cancel)
        self.join(timeout=30)
        assert not self.is_alive(), "the traffic simulator did not stop"


def _alert_state(prometheus: str, name: str) -> str | None:
    alerts = httpx.get(f"{prometheus}/api/v1/alerts", timeout=5).json()["data"]["alerts"]
    states = [a["state"] for a in alerts if a["labels"].get("alertname") == name]
    return "firing" if "firing" in states else (states[0] if states else None)


def test_dashboards_rules_and_alerts_against_real_prometheus(stack):
    api, prometheus = stack["api"], stack["prometheus"]
    instance = f"127.0.0.1:{api.port}"

    # A fresh stack: no history at all. Traffic starts now, with its first attack
    # burst 20 s in; a model reload gives the reload panels data meanwhile.
    started = time.monotonic()
    traffic = Traffic(api.url, 90)
    traffic.start()
    time.sleep(5)
    reload = httpx.post(api.url + "/admin/reload", headers={"Authorization": "Bearer test-admin"})
    assert reload.status_code == 200
    timeline = []

    def spike_firing():
        ratio = _query(prometheus, "instance:anomaly_detector_anomaly_ratio:rate1m")
        limit = _query(prometheus, "instance:anomaly_detector_anomaly_ratio:spike_threshold")
        state = _alert_state(prometheus, "AnomalyDetectorAnomalySpike")
        timeline.append((round(time.monotonic() - started), ratio[:1] and ratio[0]["value"][1],
                         limit[:1] and limit[0]["value"][1], state))  # fmt: skip
        return state == "firing"

    # The burst runs from 20 s to 40 s; the alert needs 30 s above the threshold. It
    # must fire before the second burst begins (60 s), i.e. on the first one.
    second_burst = BURST_EVERY_SECONDS + (BURST_EVERY_SECONDS - BURST_SECONDS)
    try:
        wait_for(spike_firing, timeout=second_burst + 10 - (time.monotonic() - started),
                 interval=1, what="AnomalySpike firing")  # fmt: skip
    except TimeoutError:
        pytest.fail("AnomalySpike did not fire on the first burst; (t, ratio, threshold, state):\n"
                    + "\n".join(map(str, timeline[::3])))  # fmt: skip
    assert timeline[-1][0] <= second_burst + 10, timeline[-1]

    # The firing alert reached Alertmanager.
    def in_alertmanager():
        alerts = httpx.get(stack["alertmanager"] + "/api/v2/alerts", timeout=5).json()
        return any(a["labels"].get("alertname") == "AnomalyDetectorAnomalySpike" for a in alerts)

    wait_for(in_alertmanager, timeout=30, interval=1, what="alert in Alertmanager")

    # The model dashboard's first panel names the detector serving.
    info = _query(prometheus, f'anomaly_detector_model_info{{instance="{instance}"}}')
    assert [r["metric"]["detector"] for r in info] == [registry.DEFAULT_DETECTOR]
    # Scores land inside the percentile scale's buckets, below 1 and above the threshold.
    bucket = f'anomaly_detector_anomaly_score_bucket{{instance="{instance}"}}'
    counts = {r["metric"]["le"]: float(r["value"][1]) for r in _query(prometheus, bucket)}
    assert counts["+Inf"] == counts["1.0"] > counts["0.97"] > 0, counts

    # Every panel query of the service and model dashboards returns data (the series
    # dashboard reads the watcher, which test_watcher_live.py runs).
    queries = [
        q
        for q in grafana_queries(job=JOB, instance=instance, include_annotations=False)
        if q.uid != "ad-series"
    ]
    assert len(queries) >= 20
    empty = [(q.uid, q.panel, q.expr) for q in queries if not _finite(_query(prometheus, q.expr))]
    assert not empty, "panels without data:\n" + "\n".join(map(str, empty))

    # Every recording rule produces series.
    rules = yaml.safe_load((REPO / "prometheus" / "rules" / "recording.yml").read_text())
    records = [r["record"] for group in rules["groups"] for r in group["rules"] if "record" in r]
    missing = [name for name in records if not _query(prometheus, name)]
    assert not missing, f"recording rules without series: {missing}"

    # The annotations' queries are valid too (they may be empty: they mark events).
    for q in grafana_queries(job=JOB, instance=instance, include_annotations=True):
        _query(prometheus, q.expr)
    traffic.stop()
