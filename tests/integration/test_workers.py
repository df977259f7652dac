"""Several workers: metrics from /metrics add up across them, gauges aggregate sensibly."""

import httpx
import pytest

from anomaly_detector.serving.api.contract import VECTOR_EXAMPLE
from factories import write_bundle
from live import LiveServer

pytestmark = pytest.mark.integration


def test_counters_add_up_across_two_workers(tmp_path):
    bundle, model_path = write_bundle(tmp_path / "models", seed=71)
    env = {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics")}
    (tmp_path / "metrics").mkdir()
    with LiveServer(
        model_path, tmp_path / "server.log", env=env, extra_args=("--workers", "2")
    ) as server:
        sent = 400
        # A new connection each time, so the kernel spreads them over both workers; one
        # client, since building one per request costs ~50 ms (its SSL context).
        with httpx.Client(base_url=server.url, headers={"Connection": "close"}) as http:
            for _ in range(sent):
                response = http.post("/prediction", json={"feature_vector": VECTOR_EXAMPLE})
                assert response.status_code == 200
        served = server.metric("http_requests_total", {"route": "/prediction", "status": "200"})
        scored = sum(
            server.metric(
                "anomaly_detector_predictions_total", {"outcome": o, "endpoint": "prediction"}
            )
            or 0
            for o in ("inlier", "anomaly")
        )
        assert served == sent and scored == sent
        assert server.metric("anomaly_detector_anomaly_score_count") == sent
        # Identity gauges do not double: one model, value 1, loaded everywhere.
        assert server.metric("anomaly_detector_model_info", {"version": bundle.version}) == 1
        assert server.metric("anomaly_detector_model_loaded") == 1
        assert server.metric("http_requests_in_flight") == 0
        # Both workers really served (each one's process id appears in the shared folder).
        pids = {
            path.stem.rsplit("_", 1)[-1] for path in (tmp_path / "metrics").glob("counter_*.db")
        }
        assert len(pids) == 2, pids
