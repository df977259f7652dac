"""Access logs aggregated into windows: request rate, error ratios, latency quantiles, bytes.

An access log is one row per request with a time, an endpoint, a status code, a
response size and a response time (``timestamp, method, endpoint, status_code,
size, response_time``, or the usual variants: ``path``, ``status``, ``bytes``,
``latency_ms``, ``duration_ms``, nginx's ``request_time`` in seconds). Each window
of ``step`` gets, overall (endpoint ``*``) and per endpoint:

- ``requests``: the request count (a window without requests counts 0);
- ``error_ratio``, ``error_ratio_4xx``, ``error_ratio_5xx``: shares of the requests;
- ``p50``, ``p95``, ``p99``, ``mean``: response time in milliseconds;
- ``bytes``: response bytes.

Windows without requests have no latency or ratios (NaN: not scored), and windows
with fewer than ``MIN_RATIO_REQUESTS`` requests have no error ratios: one failed
request out of two is a ratio of 0.5 but no evidence of anything, and at night such
windows would otherwise outscore a real error burst on hundreds of requests.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from anomaly_detector.data.reading import read_csv
from anomaly_detector.data.series.grid import (
    MIN_POINTS,
    Series,
    check_grid,
    parse_timestamps,
    step_text,
)
from anomaly_detector.errors import InputError

ALL_ENDPOINTS = "*"
METRICS = (
    "requests", "error_ratio", "error_ratio_4xx", "error_ratio_5xx",
    "p50", "p95", "p99", "mean", "bytes",
)  # fmt: skip
ALIASES = {
    "timestamp": ("timestamp", "time", "ts", "datetime", "date", "@timestamp"),
    "endpoint": ("endpoint", "path", "route", "url", "uri", "request_path"),
    "status_code": ("status_code", "status", "code", "http_status"),
    "size": ("size", "bytes", "body_bytes_sent", "bytes_sent", "response_size"),
    "response_time": (
        "response_time", "response_time_ms", "latency_ms", "latency", "duration_ms",
        "elapsed_ms", "request_time", "response_time_seconds", "duration_seconds",
    ),
}  # fmt: skip
SECONDS_COLUMNS = ("request_time", "response_time_seconds", "duration_seconds")
RATIOS = ("error_ratio", "error_ratio_4xx", "error_ratio_5xx")
MIN_RATIO_REQUESTS = 10


def is_access_log(columns: list[str]) -> bool:
    """Whether a header looks like an access log (a time, a status and a latency column)."""
    names = {str(c).strip().lower() for c in columns}
    return all(
        any(alias in names for alias in ALIASES[key])
        for key in ("timestamp", "status_code", "response_time")
    )


def _column(frame: pd.DataFrame, key: str, required: bool, path: Path) -> str | None:
    lower = {str(c).strip().lower(): c for c in frame.columns}
    for alias in ALIASES[key]:
        if alias in lower:
            return lower[alias]
    if required:
        raise InputError(
            "invalid_request",
            f"{path}: an access log needs a {key} column (or one of "
            f"{', '.join(ALIASES[key][1:])}); found {', '.join(map(str, frame.columns))}",
        )
    return None


def _numeric(frame: pd.DataFrame, column: str, path: Path) -> pd.Series:
    values = pd.to_numeric(frame[column], errors="coerce")
    bad = values.isna() & frame[column].notna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(
            "invalid_request",
            f"{path}: {column} {frame[column].iloc[row]!r} on data row {row + 1} is not a number",
        )
    return values


def aggregate(path: str | Path, step: pd.Timedelta) -> pd.DataFrame:
    """Read an access log and aggregate it: one row per (endpoint, window), metrics as columns."""
    path = Path(path)
    raw = read_csv(path)
    time_column = _column(raw, "timestamp", True, path)
    if raw.empty:
        raise InputError("invalid_request", f"{path}: the access log has a header but no rows")
    latency_column = _column(raw, "response_time", True, path)
    status_column = _column(raw, "status_code", True, path)
    endpoint_column = _column(raw, "endpoint", False, path)
    size_column = _column(raw, "size", False, path)
    latency = _numeric(raw, latency_column, path)
    if str(latency_column).strip().lower() in SECONDS_COLUMNS:
        latency = latency * 1000.0
    status = _numeric(raw, status_column, path)
    frame = pd.DataFrame(
        {
            "slot": parse_timestamps(raw[time_column], str(path)).floor(step),
            "endpoint": raw[endpoint_column].astype(str) if endpoint_column else ALL_ENDPOINTS,
            "latency": latency.to_numpy(float),
            "error_4xx": ((status >= 400) & (status < 500)).to_numpy(float),
            "error_5xx": (status >= 500).to_numpy(float),
            "size": _numeric(raw, size_column, path).to_numpy(float) if size_column else np.nan,
        }
    )
    if endpoint_column:
        frame = pd.concat([frame.assign(endpoint=ALL_ENDPOINTS), frame], ignore_index=True)
    grouped = frame.groupby(["endpoint", "slot"], sort=True)
    latency_groups = grouped["latency"]
    table = pd.DataFrame(
        {
            "requests": grouped.size().astype(float),
            "error_ratio_4xx": grouped["error_4xx"].mean(),
            "error_ratio_5xx": grouped["error_5xx"].mean(),
            "p50": latency_groups.quantile(0.50),
            "p95": latency_groups.quantile(0.95),
            "p99": latency_groups.quantile(0.99),
            "mean": latency_groups.mean(),
            "bytes": grouped["size"].sum(min_count=1),
        }
    )
    table["error_ratio"] = table["error_ratio_4xx"] + table["error_ratio_5xx"]
    table.loc[table["requests"] < MIN_RATIO_REQUESTS, list(RATIOS)] = np.nan
    slots = table.index.get_level_values("slot")
    check_grid(slots.min(), slots.max(), slots.nunique(), step, str(path))
    full = pd.date_range(slots.min(), slots.max(), freq=step)
    endpoints = table.index.get_level_values("endpoint").unique()
    table = table.reindex(pd.MultiIndex.from_product([endpoints, full], names=["endpoint", "slot"]))
    table["requests"] = table["requests"].fillna(0.0)
    return table[list(METRICS)]


def select(
    table: pd.DataFrame, endpoint: str | None, metric: str, step: pd.Timedelta, source: str
) -> Series:
    """One (endpoint, metric) series of an aggregated access log."""
    if metric not in METRICS:
        raise InputError(
            "invalid_request", f"metric must be one of {', '.join(METRICS)}; got {metric!r}"
        )
    endpoint = endpoint or ALL_ENDPOINTS
    known = endpoints(table)
    if endpoint not in known:
        named = ", ".join(e for e in known if e != ALL_ENDPOINTS) or "no endpoint column"
        raise InputError(
            "invalid_request", f"{source} has no endpoint {endpoint!r}; it has {named}"
        )
    rows = table.loc[endpoint]
    if len(rows) < MIN_POINTS:
        raise InputError(
            "invalid_request",
            f"{source}: {len(rows)} window(s) of {step_text(step)}; "
            f"a series needs at least {MIN_POINTS}",
        )
    empty = int(rows[metric].isna().sum())
    if len(rows) - empty < MIN_POINTS:
        raise InputError(
            "invalid_request",
            f"{source}: {metric} of {endpoint} has a value in {len(rows) - empty} of "
            f"{len(rows)} windows of {step_text(step)}; a series needs at least {MIN_POINTS}",
        )
    reason = f"fewer than {MIN_RATIO_REQUESTS} requests" if metric in RATIOS else "no requests"
    repairs = [f"{empty} window(s) with {reason} left empty (not scored)"] if empty else []
    name = f"{metric}" if endpoint == ALL_ENDPOINTS else f"{metric} {endpoint}"
    transform = "none" if metric in RATIOS else "log"
    values = rows[metric].to_numpy(float)
    return Series(name, pd.DatetimeIndex(rows.index), values, step, repairs, transform, metric)


def endpoints(table: pd.DataFrame) -> list[str]:
    """The endpoints of an aggregated log, ``*`` (all requests) first."""
    return list(table.index.get_level_values("endpoint").unique().sort_values())
