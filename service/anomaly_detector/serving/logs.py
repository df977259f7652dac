"""JSON log lines on stderr: one per request, plus model events.

The formatter serializes with orjson: at thousands of requests per second the
access log is on the hot path, and python-json-logger's generic formatter cost
about as much as scoring a row. The access line itself skips ``LogRecord``
altogether when logging is configured the default way (``AccessLog``), since
building and dispatching a record cost more than the rest of a prediction.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import select
import sys
import time
import weakref

import orjson

ACCESS_LOGGER = "anomaly_detector.access"
PACKAGE_LOGGER = "anomaly_detector"

# Attributes every LogRecord has; anything else was passed with ``extra=``.
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}

_second: int | None = None
_second_text = ""


def iso_time(created: float) -> str:
    """``created`` as UTC ISO-8601 with milliseconds, e.g. ``2026-11-22T07:41:18.123Z``."""
    global _second, _second_text
    second = int(created)
    if second != _second:  # strftime once per second, not once per line
        _second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        _second = second
    return f"{_second_text}.{int((created - second) * 1000):03d}Z"


class JsonLineFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and every ``extra`` field."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": iso_time(record.created),
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


class JsonLineHandler(logging.StreamHandler):
    """The stream handler ``configure_logging`` installs; ``AccessLog`` may write to it directly."""

    def write_lines(self, lines: bytes) -> None:
        """Write finished UTF-8 lines: one ``write`` call on a file, else through the stream."""
        with self.lock:
            try:
                descriptor = self.stream.fileno()
            except (AttributeError, OSError, ValueError):  # StringIO and the like
                self.stream.write(lines.decode())
                self.flush()
                return
            self.flush()  # whatever the text layer still holds goes first
            for piece in _atomic_pieces(lines):
                view = memoryview(piece)
                while view:
                    view = view[os.write(descriptor, view) :]


# Writes of at most this many bytes to a pipe are atomic (POSIX PIPE_BUF): other
# processes writing to the same pipe (several workers on one stderr) cannot land
# in the middle of one.
_ATOMIC_BYTES = getattr(select, "PIPE_BUF", 512)


def _atomic_pieces(lines: bytes, limit: int = _ATOMIC_BYTES):
    """``lines`` cut at line ends into pieces of at most ``limit`` bytes where possible
    (a single longer line stays whole)."""
    start, end = 0, len(lines)
    while end - start > limit:
        cut = lines.rfind(b"\n", start, start + limit)
        if cut < 0:  # one line longer than the limit
            cut = lines.find(b"\n", start + limit)
            if cut < 0:
                break
        yield lines[start : cut + 1]
        start = cut + 1
    if start < end:
        yield lines[start:]


class AccessLog:
    """Writes the per-request line of ``ACCESS_LOGGER``.

    When the access logger is set up as ``configure_logging`` leaves it (no own
    handlers or filters, the package logger's one ``JsonLineHandler``), the line
    is serialized directly, byte for byte what the formatter would produce, and
    the lines of one event-loop iteration are written together at its end (one
    system call for all the requests finished in that iteration, not one each).
    Any other logging set-up (a handler added, a filter, a different formatter)
    gets an ordinary ``LogRecord`` through ``logging``.
    """

    def __init__(self) -> None:
        self.logger = logging.getLogger(ACCESS_LOGGER)
        self._pending: list[bytes] = []
        self._pending_handler: JsonLineHandler | None = None
        self._flush_loop: asyncio.AbstractEventLoop | None = None
        _open_access_logs.add(self)

    def write(
        self,
        route: str,
        method: str,
        status: int,
        duration_ms: float,
        model_version: str | None,
        rows: int | None,
    ) -> None:
        """One access line (nothing when the access logger is below INFO)."""
        logger = self.logger
        if not logger.isEnabledFor(logging.INFO):
            return
        handler = self._direct_handler()
        if handler is None:
            fields = {
                "route": route,
                "method": method,
                "status": status,
                "duration_ms": duration_ms,
                "model_version": model_version,
                "rows": rows,
            }
            logger.info("request", extra=fields)
            return
        line = {
            "time": iso_time(time.time()),
            "level": "INFO",
            "logger": ACCESS_LOGGER,
            "message": "request",
            "route": route,
            "method": method,
            "status": status,
            "duration_ms": duration_ms,
            "model_version": model_version,
            "rows": rows,
        }
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop: write now
            loop = None
        if self._pending_handler is not None and loop is not self._flush_loop:
            # The flush was scheduled on a loop that is not this one (stopped, closed,
            # or another thread's): do not wait for it.
            self.flush()
        self._pending.append(orjson.dumps(line, default=str, option=orjson.OPT_APPEND_NEWLINE))
        if self._pending_handler is None:
            self._pending_handler = handler
            if loop is None:
                self.flush()
            else:
                self._flush_loop = loop
                loop.call_soon(self.flush)

    def flush(self) -> None:
        """Write the lines waiting for the end of the event-loop iteration."""
        handler, self._pending_handler = self._pending_handler, None
        self._flush_loop = None
        lines, self._pending = self._pending, []
        if handler is not None and lines:
            handler.write_lines(b"".join(lines))

    def _direct_handler(self) -> JsonLineHandler | None:
        logger = self.logger
        if logger.handlers or logger.filters or not logger.propagate:
            return None
        parent = logger.parent
        if parent is None or parent.name != PACKAGE_LOGGER or parent.filters or parent.propagate:
            return None
        if len(parent.handlers) != 1:
            return None
        (handler,) = parent.handlers
        if (
            type(handler) is not JsonLineHandler
            or type(handler.formatter) is not JsonLineFormatter
            or handler.filters
            or handler.level > logging.INFO
        ):
            return None
        return handler


_open_access_logs: weakref.WeakSet[AccessLog] = weakref.WeakSet()


@atexit.register
def _flush_access_logs() -> None:
    """Lines still waiting for an event-loop iteration that will not come."""
    for access_log in list(_open_access_logs):
        access_log.flush()


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
    handler = JsonLineHandler(sys.stderr)
    handler.setFormatter(JsonLineFormatter())
    root = logging.getLogger(PACKAGE_LOGGER)
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
