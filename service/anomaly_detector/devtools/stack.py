"""``make run`` without Docker: the API, Prometheus, Alertmanager and (if installed) Grafana.

Each component is a child process using the project's own config files, with
ports on 127.0.0.1. Components whose binary is missing are skipped with an
install hint. Process ids are kept in ``.run/`` so a later start can stop
leftovers of an earlier one; Ctrl-C (or SIGTERM) stops every child.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from anomaly_detector.settings import Settings

INSTALL_HINT = "sudo apt-get install prometheus prometheus-alertmanager (macOS: brew install ...)"


@dataclass
class Component:
    name: str
    command: list[str]
    port: int
    url: str
    health_path: str
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen | None = None


def _which(*names: str) -> str | None:
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    return None


def _port_busy(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _stop_leftovers(run_dir: Path) -> None:
    """Terminate processes recorded by an earlier run that are still alive."""
    for pid_file in run_dir.glob("*.pid"):
        try:
            pid = int(pid_file.read_text().strip())
            os.kill(pid, signal.SIGTERM)
            print(f"stopped leftover {pid_file.stem} (pid {pid}) from an earlier run")
            for _ in range(50):
                os.kill(pid, 0)
                time.sleep(0.1)
        except (ValueError, ProcessLookupError, PermissionError):
            pass
        pid_file.unlink(missing_ok=True)


def _prometheus_config(repo: Path, run_dir: Path, api_port: int, alertmanager_port: int) -> Path:
    """The native config with this run's ports and absolute rule paths."""
    text = (repo / "prometheus" / "prometheus.native.yml").read_text()
    text = text.replace("127.0.0.1:8000", f"127.0.0.1:{api_port}")
    text = text.replace("127.0.0.1:9093", f"127.0.0.1:{alertmanager_port}")
    text = text.replace("rules/", f"{repo / 'prometheus' / 'rules'}/")
    path = run_dir / "prometheus.yml"
    path.write_text(text)
    return path


def _grafana_provisioning(repo: Path, run_dir: Path, prometheus_port: int) -> Path:
    """Copy of grafana/provisioning pointing at the native Prometheus and dashboards folder."""
    target = run_dir / "grafana-provisioning"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(repo / "grafana" / "provisioning", target)
    for path in target.rglob("*.yml"):
        text = path.read_text()
        text = text.replace("http://prometheus:9090", f"http://127.0.0.1:{prometheus_port}")
        text = text.replace("/var/lib/grafana/dashboards", str(repo / "grafana" / "dashboards"))
        path.write_text(text)
    return target


def plan(repo: Path, run_dir: Path, port: int, model: Path) -> list[Component]:
    """The components to start, skipping (with a message) those not installed."""
    components = [
        Component(
            "api",
            [sys.executable, "-m", "anomaly_detector.cli", "serve", "--host", "127.0.0.1",
             "--port", str(port), "--model", str(model)],
            port, f"http://127.0.0.1:{port}/ui", "/healthz",
        )
    ]  # fmt: skip
    components.append(
        Component(
            "watcher",
            [sys.executable, "-m", "anomaly_detector.cli", "series", "watch", "--host",
             "127.0.0.1", "--port", "9101", "--prometheus-url", "http://127.0.0.1:9090"],
            9101, "http://127.0.0.1:9101/metrics/", "/metrics/",
        )
    )  # fmt: skip
    alertmanager = _which("alertmanager", "prometheus-alertmanager")
    if alertmanager:
        components.append(
            Component(
                "alertmanager",
                [alertmanager, f"--config.file={repo / 'alertmanager' / 'alertmanager.yml'}",
                 f"--storage.path={run_dir / 'alertmanager'}",
                 "--web.listen-address=127.0.0.1:9093", "--cluster.listen-address="],
                9093, "http://127.0.0.1:9093", "/-/ready",
            )
        )  # fmt: skip
    else:
        print(f"alertmanager not installed: skipping it ({INSTALL_HINT})")
    prometheus = _which("prometheus")
    if prometheus:
        config = _prometheus_config(repo, run_dir, port, 9093)
        components.append(
            Component(
                "prometheus",
                [prometheus, f"--config.file={config}",
                 f"--storage.tsdb.path={run_dir / 'prometheus'}",
                 "--web.listen-address=127.0.0.1:9090", "--web.enable-lifecycle"],
                9090, "http://127.0.0.1:9090", "/-/ready",
            )
        )  # fmt: skip
    else:
        print(f"prometheus not installed: skipping it ({INSTALL_HINT})")
    grafana = _which("grafana", "grafana-server")
    if grafana:
        provisioning = _grafana_provisioning(repo, run_dir, 9090)
        command = [grafana, "server"] if Path(grafana).name == "grafana" else [grafana]
        components.append(
            Component(
                "grafana", command, 3000, "http://127.0.0.1:3000", "/api/health",
                env={
                    "GF_PATHS_PROVISIONING": str(provisioning),
                    "GF_PATHS_DATA": str(run_dir / "grafana"),
                    "GF_SERVER_HTTP_ADDR": "127.0.0.1",
                    "GF_AUTH_ANONYMOUS_ENABLED": "true",
                    "GF_AUTH_ANONYMOUS_ORG_ROLE": "Viewer",
                    "GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH": str(
                        repo / "grafana" / "dashboards" / "model.json"
                    ),
                },
            )
        )  # fmt: skip
    else:
        print("grafana not installed: skipping it (dashboards need `docker compose up` or a "
              "local Grafana, e.g. brew install grafana)")  # fmt: skip
    _link_the_page(components)
    return components


def _link_the_page(components: list[Component]) -> None:
    """The web page (/ui) links to the Prometheus and Grafana this run starts, unless
    UI_PROMETHEUS_URL or UI_GRAFANA_URL (environment or .env) say otherwise."""
    settings = Settings()
    started = {c.name: c.url for c in components}
    api = next(c for c in components if c.name == "api")
    if "prometheus" in started and not settings.ui_prometheus_url:
        api.env["UI_PROMETHEUS_URL"] = started["prometheus"]
    if "grafana" in started and not settings.ui_grafana_url:
        api.env["UI_GRAFANA_URL"] = started["grafana"]


def run_stack(repo: Path, port: int, model: Path) -> int:
    """Start everything, print the URLs, wait for Ctrl-C; returns an exit code."""
    run_dir = repo / ".run"
    run_dir.mkdir(exist_ok=True)
    _stop_leftovers(run_dir)
    components = plan(repo, run_dir, port, model)
    for component in components:
        if _port_busy(component.port):
            print(f"port {component.port} is in use: not starting {component.name} "
                  f"(stop whatever listens there, or set another port)")  # fmt: skip
            if component.name == "api":
                return 1
            component.command = []
    started = [c for c in components if c.command]

    stopping = False

    def stop(*_args) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    logs = run_dir / "logs"
    logs.mkdir(exist_ok=True)
    try:
        for component in started:
            log_file = open(logs / f"{component.name}.log", "ab")  # noqa: SIM115 - lives as long as the child
            component.process = subprocess.Popen(
                component.command, stdout=log_file, stderr=subprocess.STDOUT,
                env={**os.environ, **component.env}, cwd=repo,
                start_new_session=True,  # Ctrl-C reaches us, and we stop the children in order
            )  # fmt: skip
            (run_dir / f"{component.name}.pid").write_text(str(component.process.pid))
        for component in started:
            _wait_healthy(component, logs)
        print("\nAnomaly Detector is running:")
        for component in started:
            print(f"  {component.name:<13} {component.url}")
        print(f"  {'logs':<13} {logs}/\nPress Ctrl-C to stop.")
        while not stopping:
            for component in started:
                if component.process.poll() is not None:
                    print(f"{component.name} exited with {component.process.returncode}; "
                          f"see {logs / (component.name + '.log')}. Stopping.")  # fmt: skip
                    return 1
            time.sleep(0.5)
        return 0
    finally:
        for component in reversed(started):
            if component.process and component.process.poll() is None:
                component.process.terminate()
        for component in reversed(started):
            if component.process:
                try:
                    component.process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    component.process.kill()
            (run_dir / f"{component.name}.pid").unlink(missing_ok=True)
        print("stopped.")


def _wait_healthy(component: Component, logs: Path, timeout: float = 60) -> None:
    url = f"http://127.0.0.1:{component.port}{component.health_path}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if component.process.poll() is not None:
            raise SystemExit(
                f"{component.name} failed to start; see {logs / (component.name + '.log')}"
            )
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    print(f"warning: {component.name} is not healthy after {timeout:.0f}s")
