"""Real processes for behaviour tests: the service under uvicorn on a free port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout: float, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            result = predicate()
            if result:
                return result
        except Exception as exc:  # the thing waited for may not answer yet
            last_error = exc
        time.sleep(interval)
    raise TimeoutError(
        f"timed out after {timeout}s waiting for {what} (last error: {last_error!r})"
    )


class LiveServer:
    """``anomaly-detector serve`` as a subprocess; logs go to ``log_path``."""

    def __init__(
        self,
        model_path: Path,
        log_path: Path,
        env: dict[str, str] | None = None,
        ready: bool = True,
        extra_args: tuple[str, ...] = (),
    ):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.model_path = model_path
        self.log_path = log_path
        self.env = {**os.environ, "RELOAD_INTERVAL_SECONDS": "0.5", **(env or {})}
        self.wait_ready = ready
        self.extra_args = extra_args
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> LiveServer:
        self._log = open(self.log_path, "ab")
        command = [
            sys.executable,
            "-m",
            "anomaly_detector.cli",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--model",
            str(self.model_path),
            *self.extra_args,
        ]
        self.process = subprocess.Popen(
            command, stdout=self._log, stderr=subprocess.STDOUT, env=self.env
        )
        path = "/readyz" if self.wait_ready else "/healthz"
        try:
            wait_for(
                lambda: self._alive() and httpx.get(self.url + path, timeout=1).status_code == 200,
                timeout=60,
                what=f"{path} on {self.url}",
            )
        except TimeoutError:
            self.__exit__(None, None, None)
            raise RuntimeError(
                f"server did not start:\n{self.log_path.read_text()[-3000:]}"
            ) from None
        return self

    def _alive(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"server exited with {self.process.returncode}")
        return True

    def metric(self, name: str, labels: dict[str, str] | None = None) -> float | None:
        from prometheus_client.parser import text_string_to_metric_families

        text = httpx.get(self.url + "/metrics", timeout=5).text
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and all(
                    sample.labels.get(k) == v for k, v in (labels or {}).items()
                ):
                    return sample.value
        return None

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")

    def __exit__(self, *exc_info) -> None:
        if self.process:
            stop_process(self.process)
        self._log.close()


def stop_process(process: subprocess.Popen, timeout: float = 15) -> None:
    """SIGTERM, then SIGKILL if it has not exited within ``timeout`` seconds."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
