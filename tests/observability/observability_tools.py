"""Helpers shared by the observability tests (importable by name: no package needed)."""

from __future__ import annotations

import os
import shutil

import pytest

PROMETHEUS_HINT = "apt-get install prometheus prometheus-alertmanager"
COMPOSE_HINT = "apt-get install docker-compose (or a Docker engine with the compose plugin)"


def on_ci() -> bool:
    """True on CI (``CI=true``), where a missing tool must fail instead of skip."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def missing_tool(message: str) -> None:
    """Skip the test, or fail it on CI."""
    if on_ci():
        pytest.fail(message)
    pytest.skip(message)


def require_tool(name: str, install_hint: str) -> str:
    """Path of an executable; skip (fail on CI) when it is not installed."""
    path = shutil.which(name)
    if path is None:
        missing_tool(f"{name} not found on PATH; install it with: {install_hint}")
    return path
