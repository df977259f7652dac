"""JSON log lines on stderr: one per request, plus model events.

The formatter serializes with orjson: at thousands of requests per second the
access log is on the hot path, and python-json-logger's generic formatter cost
about as much as scoring a row.
"""

from __future__ import annotations

import logging
import sys
import time

import orjson

ACCESS_LOGGER = "anomaly_detector.access"

# Attributes every LogRecord has; anything else was passed with ``extra=``.
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonLineFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and every ``extra`` field."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD:
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


def configure_logging(level: str = "INFO") -> None:
    """Send the package's logs to stderr as one JSON object per line (idempotent).

    Also turns off what the Logging HOWTO's "Optimization" section lists as
    avoidable per-record work (caller lookup, thread and process names), which
    the access log otherwise pays on every request.
    """
    logging._srcfile = None  # documented switch: skip findCaller() per record
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLineFormatter())
    root = logging.getLogger("anomaly_detector")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
