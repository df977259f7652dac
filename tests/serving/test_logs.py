"""Tests for the JSON log lines, and the access line's direct path matching the formatter."""

from __future__ import annotations

import io
import json
import logging

import pytest

from anomaly_detector.serving.logs import (
    ACCESS_LOGGER,
    PACKAGE_LOGGER,
    AccessLog,
    JsonLineFormatter,
    JsonLineHandler,
    configure_logging,
    iso_time,
)

FIELDS = {
    "route": "/prediction",
    "method": "POST",
    "status": 200,
    "duration_ms": 0.412,
    "model_version": "20261122T000000Z-abcdef12",
    "rows": None,
}


@pytest.fixture
def stream():
    """The package logger configured as in production, writing into a string buffer."""
    package = logging.getLogger(PACKAGE_LOGGER)
    saved = (package.handlers[:], package.level, package.propagate)
    configure_logging("INFO")
    buffer = io.StringIO()
    package.handlers[0].setStream(buffer)
    yield buffer
    package.handlers[:], package.level, package.propagate = saved
    logging.getLogger(ACCESS_LOGGER).handlers.clear()


def _without_pytest_capture() -> None:
    # pytest attaches its capture handlers to loggers for the test's call phase;
    # production has only the JSON handler.
    package = logging.getLogger(PACKAGE_LOGGER)
    package.handlers[:] = [h for h in package.handlers if isinstance(h, JsonLineHandler)]


def _lines(buffer: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_access_line_is_written_directly_with_the_formatters_layout(stream):
    _without_pytest_capture()
    access = AccessLog()
    assert access._direct_handler() is not None
    access.write(**FIELDS)
    direct = stream.getvalue()
    stream.seek(0)
    stream.truncate()
    logging.getLogger(ACCESS_LOGGER).info("request", extra=FIELDS)
    through_logging = stream.getvalue()
    # Same keys in the same order; only the timestamps may differ.
    first, second = json.loads(direct), json.loads(through_logging)
    assert list(first) == list(second)
    first.pop("time"), second.pop("time")
    assert first == second == {"level": "INFO", "logger": ACCESS_LOGGER, "message": "request",
                               **FIELDS}  # fmt: skip
    assert direct.endswith("\n") and direct.count("\n") == 1


def test_any_other_logging_set_up_gets_a_real_log_record(stream):
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record):
            seen.append(record)

    _without_pytest_capture()
    logging.getLogger(ACCESS_LOGGER).addHandler(Keep())
    access = AccessLog()
    assert access._direct_handler() is None
    access.write(**FIELDS)
    (record,) = seen
    assert record.getMessage() == "request" and record.status == 200
    # It still propagates to the package's JSON handler too.
    assert _lines(stream)[0]["route"] == "/prediction"


def test_access_lines_follow_the_level(stream):
    logging.getLogger(PACKAGE_LOGGER).setLevel(logging.WARNING)
    AccessLog().write(**FIELDS)
    assert stream.getvalue() == ""


def test_formatter_adds_extras_and_exceptions():
    try:
        raise ValueError("bad bundle")
    except ValueError:
        record = logging.getLogger("anomaly_detector.model").makeRecord(
            "anomaly_detector.model", logging.ERROR, __file__, 1, "model refused", (), None,
            extra={"path": "/models/model.joblib"},
        )  # fmt: skip
        import sys

        record.exc_info = sys.exc_info()
    line = json.loads(JsonLineFormatter().format(record))
    assert line["level"] == "ERROR" and line["message"] == "model refused"
    assert line["path"] == "/models/model.joblib"
    assert "ValueError: bad bundle" in line["exception"]


@pytest.mark.parametrize("created", [0.0, 1_795_000_000.9999, 1_795_000_001.25, 1_795_000_001.0])
def test_iso_time_is_utc_with_milliseconds(created):
    from datetime import datetime, timezone

    moment = datetime.fromtimestamp(int(created), timezone.utc)
    millis = int(round((created - int(created)) * 1e6)) // 1000
    assert iso_time(created) == f"{moment:%Y-%m-%dT%H:%M:%S}.{millis:03d}Z"


def test_lines_of_one_loop_iteration_are_written_together_at_its_end(stream):
    import asyncio

    _without_pytest_capture()
    access = AccessLog()

    async def three_requests():
        for status in (200, 422, 503):
            access.write(**{**FIELDS, "status": status})
        before = stream.getvalue()
        await asyncio.sleep(0)  # the iteration ends; the scheduled flush runs
        return before

    assert asyncio.run(three_requests()) == ""
    assert [line["status"] for line in _lines(stream)] == [200, 422, 503]


def test_lines_go_to_the_file_descriptor_in_one_piece(tmp_path):
    package = logging.getLogger(PACKAGE_LOGGER)
    saved = (package.handlers[:], package.level, package.propagate)
    try:
        configure_logging("INFO")
        with open(tmp_path / "access.log", "w") as file:
            package.handlers[0].setStream(file)
            _without_pytest_capture()
            logging.getLogger("anomaly_detector.model").info("model loaded")  # text layer
            AccessLog().write(**FIELDS)  # no event loop: written at once
            file.flush()
        lines = [json.loads(x) for x in (tmp_path / "access.log").read_text().splitlines()]
        assert [line["message"] for line in lines] == ["model loaded", "request"]
    finally:
        package.handlers[:], package.level, package.propagate = saved


@pytest.mark.parametrize("limit", [64, 300, 4096])
def test_batches_are_cut_at_line_ends_into_atomic_pieces(limit):
    from anomaly_detector.serving.logs import _atomic_pieces

    lines = b"".join(b"x" * (n % 97) + b"\n" for n in range(200)) + b"y" * 500 + b"\n"
    pieces = list(_atomic_pieces(lines, limit))
    assert b"".join(pieces) == lines
    for piece in pieces:
        assert piece.endswith(b"\n")
        # Longer only when it is a single line that does not fit.
        assert len(piece) <= limit or piece.count(b"\n") == 1


def test_workers_sharing_one_pipe_never_tear_each_others_lines():
    # Several uvicorn workers share stderr (docker logs: a pipe). Each writes a
    # loop iteration's lines at once; a pipe only keeps writes of up to PIPE_BUF
    # bytes whole, so the batch goes out in pieces of at most that size.
    import os
    import subprocess
    import sys
    import time

    writer = (
        "import sys, orjson\n"
        "from anomaly_detector.serving.logs import JsonLineHandler\n"
        "handler = JsonLineHandler(sys.stderr)\n"
        "for batch in range(150):\n"
        "    handler.write_lines(b''.join(orjson.dumps(\n"
        "        {'worker': sys.argv[1], 'batch': batch, 'i': i, 'pad': 'p' * 180},\n"
        "        option=orjson.OPT_APPEND_NEWLINE) for i in range(40)))\n"
    )
    read_end, write_end = os.pipe()
    workers = [
        subprocess.Popen([sys.executable, "-c", writer, str(k)], stderr=write_end) for k in (1, 2)
    ]
    os.close(write_end)
    received = bytearray()
    while chunk := os.read(read_end, 3000):  # a slow reader keeps the pipe full
        received += chunk
        time.sleep(0.0005)
    os.close(read_end)
    assert [worker.wait(timeout=60) for worker in workers] == [0, 0]
    lines = [json.loads(line) for line in bytes(received).splitlines()]
    assert len(lines) == 2 * 150 * 40


def test_a_flush_scheduled_on_a_loop_that_never_ran_it_does_not_hold_lines_back(stream):
    import asyncio

    _without_pytest_capture()
    access = AccessLog()
    loop = asyncio.new_event_loop()

    def request_then_stop():
        access.write(**{**FIELDS, "status": 200})
        loop.stop()  # the loop stops in the iteration that scheduled the flush

    loop.call_soon(request_then_stop)
    loop.run_forever()
    loop.close()
    access.write(**{**FIELDS, "status": 201})  # no loop running: both go out now

    async def on_a_new_loop():
        access.write(**{**FIELDS, "status": 202})

    asyncio.run(on_a_new_loop())
    assert [line["status"] for line in _lines(stream)] == [200, 201, 202]
    assert not access._pending
