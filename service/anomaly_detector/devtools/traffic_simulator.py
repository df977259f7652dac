"""Live traffic for a running service, so dashboards and alerts have something to show.

Rows come from the default data generator: normal client traffic with a small
share of anomalies, and every ``burst_every_seconds`` an attack burst in which
``burst_share`` of rows are one anomaly type. Bursts take the types in turn,
the most visible first (``BURST_ORDER``), so a demo's first burst is one the
default model sees. A small share of requests is deliberately malformed so the
rejection metrics move too.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TextIO

import httpx
import numpy as np

from anomaly_detector.data.synthetic.traffic import ANOMALY_TYPES, sample_rows

# By the default model's recall on test.csv, highest first.
BURST_ORDER = (
    "credential_stuffing", "backend_degradation", "request_burst", "scraping", "data_exfiltration",
)  # fmt: skip


@dataclass
class SimulationSummary:
    sent: int = 0
    status: Counter = field(default_factory=Counter)
    flagged: int = 0
    injected_anomalies: int = 0
    transport_errors: int = 0

    def line(self, elapsed: float, bursting: bool) -> str:
        ok = self.status.get(200, 0)
        rejected = sum(v for k, v in self.status.items() if 400 <= k < 500)
        return (
            f"t={elapsed:5.0f}s sent={self.sent} ok={ok} flagged={self.flagged} "
            f"injected={self.injected_anomalies} rejected={rejected} "
            f"errors={self.transport_errors + sum(v for k, v in self.status.items() if k >= 500)}"
            + (" [attack burst]" if bursting else "")
        )


async def _feature_names(client: httpx.AsyncClient) -> list[str]:
    response = await client.get("/model_information")
    response.raise_for_status()
    return [feature["name"] for feature in response.json()["features"]]


class RowPool:
    """Rows sampled 256 at a time per anomaly type (one DataFrame per call is slow)."""

    def __init__(self, rng: np.random.Generator, names: list[str]) -> None:
        self.rng = rng
        self.names = names
        self.pools: dict[str | None, list[dict]] = {}

    def payload(self, anomaly_type: str | None) -> dict:
        pool = self.pools.setdefault(anomaly_type, [])
        if not pool:
            hour = int(time.gmtime().tm_hour)
            frame = sample_rows(self.rng, 256, anomaly_type=anomaly_type, hour_of_day=hour)
            frame = frame[self.names].astype(object)
            pool.extend(frame.where(frame.notna(), None).to_dict("records"))
        features = {
            k: (v.item() if isinstance(v, np.generic) else v) for k, v in pool.pop().items()
        }
        return {"features": features, "score": True}


async def simulate(
    url: str,
    rate: float = 50.0,
    duration_seconds: float = 60.0,
    burst_every_seconds: float = 60.0,
    burst_seconds: float = 20.0,
    burst_share: float = 0.5,
    base_anomaly_share: float = 0.01,
    bad_request_share: float = 0.005,
    seed: int = 0,
    progress: TextIO | None = None,
    concurrency: int = 32,
    burst_types: tuple[str, ...] = BURST_ORDER,
) -> SimulationSummary:
    """Send ``rate`` requests per second for ``duration_seconds`` to ``url``/prediction.

    Each ``burst_every_seconds`` period ends with ``burst_seconds`` of attack, the
    n-th burst of type ``burst_types[n % len(burst_types)]``.

    Raises:
        ValueError: the served model's features are not columns of the generated data,
            or a burst type is unknown.
    """
    unknown_types = [t for t in burst_types if t not in ANOMALY_TYPES]
    if unknown_types or not burst_types:
        raise ValueError(f"burst types must be among {ANOMALY_TYPES}, got {burst_types}")
    rng = np.random.default_rng(seed)
    summary = SimulationSummary()
    limit = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        names = await _feature_names(client)
        generated = set(sample_rows(rng, 1).columns)
        unknown = [n for n in names if n not in generated]
        if unknown:
            raise ValueError(
                f"the served model expects {unknown}, which the traffic generator does not "
                "produce; simulate works with models trained on the default dataset"
            )

        rows = RowPool(rng, names)

        async def send(payload, is_bad: bool):
            async with limit:
                try:
                    if is_bad:
                        response = await client.post("/prediction", json={"feature_vector": [1.0]})
                    else:
                        response = await client.post("/prediction", json=payload)
                    summary.status[response.status_code] += 1
                    if response.status_code == 200 and not response.json()["is_inlier"]:
                        summary.flagged += 1
                except httpx.HTTPError:
                    summary.transport_errors += 1

        started = time.monotonic()
        next_report = 5.0
        tasks = set()
        total = int(rate * duration_seconds)
        for index in range(total):
            due = started + index / rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            elapsed = time.monotonic() - started
            bursting = burst_every_seconds > 0 and (elapsed % burst_every_seconds) >= (
                burst_every_seconds - burst_seconds
            )
            share = burst_share if bursting else base_anomaly_share
            anomaly_type = None
            if rng.random() < share:
                if bursting:
                    anomaly_type = burst_types[
                        int(elapsed // burst_every_seconds) % len(burst_types)
                    ]
                else:
                    anomaly_type = str(rng.choice(ANOMALY_TYPES))
                summary.injected_anomalies += 1
            is_bad = rng.random() < bad_request_share
            payload = None if is_bad else rows.payload(anomaly_type)
            task = asyncio.create_task(send(payload, is_bad))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            summary.sent += 1
            if progress is not None and elapsed >= next_report:
                progress.write(summary.line(elapsed, bursting) + "\n")
                progress.flush()
                next_report += 5.0
        if tasks:
            await asyncio.gather(*tasks)
    if progress is not None:
        progress.write(summary.line(time.monotonic() - started, False) + " done\n")
    return summary
