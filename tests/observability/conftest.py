"""Fixtures shared by the observability tests (Prometheus, Grafana, Alertmanager, compose).

These tests are static: they need no running service. The external tools they
call (promtool, amtool, docker-compose) are skipped when absent, except on CI
(``CI=true``) where a missing tool is a failure.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
SERVICE_DIR = REPO_ROOT / "service"

# The helper modules next to this file (dashboard_queries, observability_tools)
# are imported by name, also under --import-mode=importlib.
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from observability_tools import PROMETHEUS_HINT, require_tool  # noqa: E402

# Metric-name checks import the service's metrics module: use the installed
# package if there is one, else the source tree.
if importlib.util.find_spec("anomaly_detector") is None:  # pragma: no cover - depends on env
    sys.path.insert(0, str(SERVICE_DIR))


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def promtool() -> str:
    return require_tool("promtool", PROMETHEUS_HINT)


@pytest.fixture(scope="session")
def amtool() -> str:
    return require_tool("amtool", PROMETHEUS_HINT)


@pytest.fixture(scope="session")
def service_metric_names() -> set[str]:
    """Every sample name the service and the series watcher can export, from their code."""
    from prometheus_client import CollectorRegistry

    metrics = importlib.import_module("anomaly_detector.serving.metrics")
    registry = CollectorRegistry()
    metrics.Metrics(registry)
    watcher_registry = CollectorRegistry()
    importlib.import_module("anomaly_detector.monitor.metrics").WatcherMetrics(watcher_registry)
    suffixes = {
        "counter": ("_total", "_created"),
        "gauge": ("",),
        "histogram": ("_bucket", "_count", "_sum", "_created"),
        "summary": ("", "_count", "_sum", "_created"),
        "info": ("_info",),
    }
    names: set[str] = set()
    for family in [*registry.collect(), *watcher_registry.collect()]:
        for suffix in suffixes.get(family.type, ("",)):
            names.add(family.name + suffix)
    return names
