"""Series from Prometheus: ``/api/v1/query_range`` for any PromQL expression.

Prometheus refuses a range query of more than 11,000 points per series, so a long
range is asked for in chunks of ``CHUNK_POINTS`` and stitched back together. Every
result series comes back on the full regular grid from ``start`` to ``end``: the
steps Prometheus had no sample for (a scrape gap, a restart) are NaN, which
detectors skip. An unreachable server and a rejected query are ``InputError``s
that say which.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import httpx
import numpy as np
import pandas as pd

from anomaly_detector.data.series.grid import Series
from anomaly_detector.errors import InputError

# Prometheus's limit is 11,000 points per series; stay clear of it.
CHUNK_POINTS = 10_000


@dataclass(frozen=True)
class Result:
    """One series of a range query: its labels and its values on the grid."""

    labels: dict[str, str]
    series: Series


def label_text(labels: dict[str, str], query: str) -> str:
    """A series' name as Prometheus prints it: ``name{a="b"}``, the query when unnamed."""
    name = labels.get("__name__", "")
    rest = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if k != "__name__")
    if not name and not rest:
        return query
    return f"{name}{{{rest}}}" if rest else name


def utc(moment: pd.Timestamp | str | float) -> pd.Timestamp:
    """A moment as a UTC timestamp (naive ones are taken as UTC)."""
    stamp = pd.Timestamp(moment)
    return stamp.tz_convert("UTC") if stamp.tzinfo else stamp.tz_localize("UTC")


def _get(client: httpx.Client, base_url: str, params: dict[str, str]) -> list[dict]:
    url = base_url.rstrip("/") + "/api/v1/query_range"
    try:
        response = client.get(url, params=params)
    except httpx.HTTPError as exc:
        raise InputError(
            "prometheus_unreachable", f"could not reach Prometheus at {base_url}: {exc}"
        ) from None
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code != 200 or body.get("status") != "success":
        reason = body.get("error") or response.text[:200] or f"HTTP {response.status_code}"
        raise InputError(
            "prometheus_error", f"Prometheus at {base_url} rejected {params['query']!r}: {reason}"
        )
    return body["data"]["result"]


def query_range(
    base_url: str,
    query: str,
    start: pd.Timestamp,
    end: pd.Timestamp,
    step: pd.Timedelta,
    client: httpx.Client | None = None,
    timeout_seconds: float = 10.0,
) -> list[Result]:
    """Evaluate ``query`` over [start, end] every ``step``, in chunks under the point limit.

    Args:
        base_url: Prometheus's address, such as ``http://localhost:9090``.
        query: any PromQL expression.
        start, end: the range; ``start`` is floored and ``end`` ceiled onto the grid.
        step: the resolution, which is also the window of the returned series.
        client: an ``httpx.Client`` to reuse (the watcher keeps one).

    Returns:
        One ``Result`` per series the query returned, each on the full grid.
    """
    start, end = utc(start), utc(end)
    seconds = step.total_seconds()
    first = math.floor(start.timestamp() / seconds) * seconds
    last = math.ceil(end.timestamp() / seconds) * seconds
    grid = first + seconds * np.arange(int(round((last - first) / seconds)) + 1)
    values: dict[tuple, np.ndarray] = {}
    labels: dict[tuple, dict[str, str]] = {}
    owned = client is None
    client = client or httpx.Client(timeout=timeout_seconds)
    try:
        for chunk_start in range(0, len(grid), CHUNK_POINTS):
            chunk = grid[chunk_start : chunk_start + CHUNK_POINTS]
            params = {
                "query": query, "start": f"{chunk[0]:.3f}", "end": f"{chunk[-1]:.3f}",
                "step": f"{seconds:g}",
            }  # fmt: skip
            for item in _get(client, base_url, params):
                key = tuple(sorted(item["metric"].items()))
                labels[key] = item["metric"]
                row = values.setdefault(key, np.full(len(grid), np.nan))
                for stamp, text in item.get("values", []):
                    index = int(round((float(stamp) - first) / seconds))
                    if 0 <= index < len(grid):
                        row[index] = float(text)
    finally:
        if owned:
            client.close()
    timestamps = pd.DatetimeIndex(pd.to_datetime(grid, unit="s", utc=True))
    return [
        Result(labels[key], Series(label_text(labels[key], query), timestamps, row, step))
        for key, row in values.items()
    ]
