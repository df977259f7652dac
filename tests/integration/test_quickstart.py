"""The README's quick start, for real: `make run`, its curl example, `make traffic`, Ctrl-C.

Uses the fixed ports of the quick start (API 8000, Prometheus 9090,
Alertmanager 9093). Elsewhere than CI the test is skipped when one of them is
taken (for example by a `make run` in another terminal).
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from observability_tools import missing_tool

from live import wait_for

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
PORTS = {"api": 8000, "prometheus": 9090, "alertmanager": 9093}


def _busy(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def readme_curl() -> str:
    """The first `curl ... /prediction` command of the README, continuation lines joined."""
    text = (REPO / "README.md").read_text()
    match = re.search(r"^(curl [^\n]*/prediction[^\n]*\\\n(?:[^\n]*\\\n)*[^\n]*)$", text, re.M)
    assert match, "README has no curl example for /prediction"
    return match.group(1)


def _start_make_run(log_path: Path) -> subprocess.Popen:
    log = open(log_path, "wb")  # noqa: SIM115 - the child owns it
    return subprocess.Popen(
        ["make", "run"], cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip


def _wait_running(process: subprocess.Popen, log_path: Path) -> None:
    def running():
        if process.poll() is not None:
            raise AssertionError(f"make run exited:\n{log_path.read_text()[-3000:]}")
        return "Anomaly Detector is running" in log_path.read_text()

    wait_for(running, timeout=240, interval=0.5, what="make run to report its URLs")


def _prometheus_value(expr: str) -> float:
    body = httpx.get("http://127.0.0.1:9090/api/v1/query", params={"query": expr}, timeout=5).json()
    result = body["data"]["result"]
    return float(result[0]["value"][1]) if result else 0.0


def test_make_run_curl_traffic_and_prometheus(tmp_path):
    if shutil.which("prometheus") is None:
        missing_tool("prometheus not installed: apt-get install prometheus prometheus-alertmanager")
    busy = [name for name, port in PORTS.items() if _busy(port)]
    if busy:
        missing_tool(f"quick-start ports in use by something else: {busy}")

    log_path = tmp_path / "make-run.log"
    process = _start_make_run(log_path)
    try:
        _wait_running(process, log_path)
        output = log_path.read_text()
        for url in ("http://127.0.0.1:8000", "http://127.0.0.1:9090", "http://127.0.0.1:9093"):
            assert url in output

        # The README's curl example, verbatim.
        curl = subprocess.run(
            ["bash", "-c", readme_curl()], capture_output=True, text=True, timeout=30
        )
        assert curl.returncode == 0, curl.stderr
        answer = httpx.Response(200, content=curl.stdout).json()
        assert isinstance(answer["is_inlier"], bool)
        assert 0 < answer["anomaly_score"] <= 1
        assert (
            answer["model_version"]
            == httpx.get("http://127.0.0.1:8000/readyz").json()["model_version"]
        )

        # make traffic, shortened; then Prometheus at :9090 has the service's metrics.
        traffic = subprocess.run(
            ["make", "traffic", "TRAFFIC_DURATION=8", "TRAFFIC_RATE=40"],
            cwd=REPO, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert traffic.returncode == 0, traffic.stdout + traffic.stderr
        assert "done" in traffic.stdout
        scored = 'sum(anomaly_detector_predictions_total{job="anomaly-detector"})'
        wait_for(lambda: _prometheus_value(scored) >= 300, timeout=30, interval=1,
                 what="predictions in Prometheus at :9090")  # fmt: skip
        assert _prometheus_value('up{job="anomaly-detector"}') == 1

        # A hard kill of make leaves the children running; a second make run cleans them up.
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        time.sleep(1)
        second_log = tmp_path / "make-run-2.log"
        process = _start_make_run(second_log)
        _wait_running(process, second_log)
        assert "stopped leftover" in second_log.read_text()
        assert httpx.get("http://127.0.0.1:8000/readyz").status_code == 200
    finally:
        # Ctrl-C: everything stops and the ports are free again.
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
            process.wait(timeout=60)
    wait_for(
        lambda: not any(_busy(port) for port in PORTS.values()), timeout=30, what="ports freed"
    )
    assert "stopped." in second_log.read_text()
