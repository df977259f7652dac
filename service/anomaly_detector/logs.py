"""JSON log lines on stderr: one per request, plus model events."""

from __future__ import annotations

import logging
import sys

from pythonjsonlogger.json import JsonFormatter

ACCESS_LOGGER = "anomaly_detector.access"


def configure_logging(level: str = "INFO") -> None:
    """Send the package's logs to stderr as one JSON object per line (idempotent)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            datefmt="%Y-%m-%dT%H:%M:%S%z",
        )
    )
    root = logging.getLogger("anomaly_detector")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
