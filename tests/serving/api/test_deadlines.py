"""Tests for the shared request time limit (api/deadlines.py), on a real event loop."""

from __future__ import annotations

import asyncio
import time

import pytest

from anomaly_detector.serving.api.deadlines import Deadlines
from anomaly_detector.serving.api.errors import RequestTimedOut


async def _value_after(seconds: float, value: str = "done") -> str:
    await asyncio.sleep(seconds)
    return value


def test_work_within_the_limit_returns_its_result():
    deadlines = Deadlines(1.0)
    assert asyncio.run(deadlines.run(_value_after(0.01))) == "done"


def test_work_past_the_limit_raises_a_503_and_the_task_carries_on():
    deadlines = Deadlines(0.2, resolution=0.02)

    async def request():
        started = time.monotonic()
        with pytest.raises(RequestTimedOut) as timed_out:
            await deadlines.run(_value_after(30))
        waited = time.monotonic() - started
        # The task is not left cancelled: it can still await (to send its 503).
        await asyncio.sleep(0.01)
        return waited, timed_out.value

    waited, error = asyncio.run(request())
    assert 0.2 <= waited < 5
    assert error.status_code == 503 and error.reason == "timeout"
    assert error.headers == {"Retry-After": "1"}
    assert deadlines.watching == 0


def test_only_the_late_requests_are_cut_off():
    deadlines = Deadlines(0.3, resolution=0.02)

    async def many():
        quick = [deadlines.run(_value_after(0.01, f"quick-{i}")) for i in range(20)]
        slow = deadlines.run(_value_after(30))
        return await asyncio.gather(*quick, slow, return_exceptions=True)

    results = asyncio.run(many())
    assert results[:20] == [f"quick-{i}" for i in range(20)]
    assert isinstance(results[20], RequestTimedOut)


def test_cancellation_from_elsewhere_is_not_turned_into_a_timeout():
    deadlines = Deadlines(30)

    async def cancelled_from_outside():
        task = asyncio.create_task(deadlines.run(_value_after(30)))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancelled_from_outside())
    assert deadlines.watching == 0


def test_the_timer_stops_when_nothing_waits_and_restarts_on_a_new_loop():
    deadlines = Deadlines(0.2, resolution=0.01)

    async def idle_afterwards():
        await deadlines.run(_value_after(0.001))
        await asyncio.sleep(0.05)
        return deadlines.timer_loops

    assert asyncio.run(idle_afterwards()) == 0
    # A second event loop (as each TestClient has) gets its own timer.
    with pytest.raises(RequestTimedOut):
        asyncio.run(deadlines.run(_value_after(30)))


@pytest.mark.skipif(not hasattr(asyncio.Task, "uncancel"), reason="needs Python 3.11+")
def test_a_shutdown_cancel_landing_with_the_deadline_wins():
    deadlines = Deadlines(0.05, resolution=0.01)

    async def request():
        me = asyncio.current_task()

        async def shutdown():
            # Cancel the request right after the deadline check has cancelled it.
            while me.cancelling() == 0:
                await asyncio.sleep(0)
            me.cancel()

        asyncio.get_running_loop().create_task(shutdown())
        await deadlines.run(asyncio.get_running_loop().create_future())
        return "answered with a 503 instead of stopping"

    async def main():
        task = asyncio.get_running_loop().create_task(request())
        with pytest.raises(asyncio.CancelledError):
            await task
        return task

    assert asyncio.run(main()).cancelled()


def test_closed_loops_are_let_go():
    deadlines = Deadlines(30, resolution=10)

    async def waiting_request():
        await deadlines.run(asyncio.sleep(60))

    for _ in range(5):
        loop = asyncio.new_event_loop()
        task = loop.create_task(waiting_request())
        loop.run_until_complete(asyncio.sleep(0.01))  # the request is waiting
        assert deadlines.watching >= 1
        task.cancel()  # not awaited: the loop closes with the request still registered
        loop.close()
    # Each new loop's first request let the earlier closed loops and their requests go.
    assert deadlines.timer_loops == 1 and deadlines.watching == 1
    assert asyncio.run(deadlines.run(_value_after(0))) == "done"
    assert deadlines.timer_loops == 1 and deadlines.watching == 0
