"""The service does not depend on its observers: stopping Prometheus mid-run changes nothing."""

import subprocess

import httpx
import pytest
from observability_tools import PROMETHEUS_HINT, require_tool

from anomaly_detector.serving.api.contract import VECTOR_EXAMPLE
from factories import write_bundle
from live import LiveServer, free_port, stop_process, wait_for

pytestmark = pytest.mark.integration


def test_service_keeps_serving_when_prometheus_stops(tmp_path):
    prometheus = require_tool("prometheus", PROMETHEUS_HINT)
    _, model_path = write_bundle(tmp_path / "models", seed=61)
    with LiveServer(model_path, tmp_path / "api.log") as api:
        config = tmp_path / "prometheus.yml"
        config.write_text(
            "global: {scrape_interval: 1s, scrape_timeout: 1s}\n"
            "scrape_configs:\n"
            "  - job_name: anomaly-detector\n"
            f"    static_configs: [{{targets: ['127.0.0.1:{api.port}']}}]\n"
        )
        port = free_port()
        process = subprocess.Popen(
            [prometheus, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            query = f"http://127.0.0.1:{port}/api/v1/query"
            wait_for(lambda: httpx.get(query, params={"query": "up"}).json()["data"]["result"],
                     timeout=30, interval=0.5, what="a first scrape")  # fmt: skip
        finally:
            stop_process(process)
        with httpx.Client(base_url=api.url) as http:
            body = {"feature_vector": VECTOR_EXAMPLE}
            statuses = [http.post("/prediction", json=body).status_code for _ in range(200)]
        assert statuses == [200] * 200
        assert httpx.get(api.url + "/metrics").status_code == 200
        assert httpx.get(api.url + "/readyz").status_code == 200
