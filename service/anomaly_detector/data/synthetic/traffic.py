"""Deterministic, labelled synthetic API-traffic data.

One row describes one client during one 5-minute window. A fixed fleet of clients
(drawn from ``_POPULATION_SEED``, so the same ``client_id`` keeps its type and size across
train, test and the live simulator) belongs to five normal populations with their own
rates, payloads, endpoint diversity and daily rhythm. Five attack/failure patterns are
injected by perturbing otherwise normal rows; a severity draw per row makes part of them
subtle, so a detector should rank most but not all of them above normal traffic.

All randomness flows through ``np.random.default_rng``; the same seed gives byte-identical
CSV files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from anomaly_detector.data.synthetic.traffic_behaviour import (
    ANOMALY_TYPES,
    CLIENT_TYPES,
    ELIGIBLE_TYPES,
    N_CLIENTS,
    NIGHT_HOURS,
    WINDOW_MINUTES,
    population,
    row_features,
    season,
)
from anomaly_detector.files import atomic_write

ID_COLUMNS = ("client_id", "window_start")
FEATURE_COLUMNS: tuple[str, ...] = (
    "client_type", "hour_of_day", "request_rate", "error_ratio", "latency_p50_ms",
    "latency_p95_ms", "bytes_in", "bytes_out", "distinct_endpoints", "auth_failures",
)  # fmt: skip
LABEL_COLUMN = "is_anomaly"
ANOMALY_TYPE_COLUMN = "anomaly_type"
__all__ = ["ANOMALY_TYPES", "CLIENT_TYPES", "generate_traffic", "sample_rows"]
DEFAULT_SEED = 42
DEFAULT_START = "2026-11-01T00:00:00Z"

# Kept small so a few thousand rows still span more than a day of windows.
_CLIENTS_PER_WINDOW = 16
_ALL_COLUMNS = (*ID_COLUMNS, *FEATURE_COLUMNS, LABEL_COLUMN, ANOMALY_TYPE_COLUMN)
_KIND_NAMES = np.array(("none", *ANOMALY_TYPES), dtype=object)


def _frame(
    rng: np.random.Generator, client: np.ndarray, ts: pd.DatetimeIndex, kind: np.ndarray
) -> pd.DataFrame:
    """Assemble the output frame in column order."""
    ids, types, _ = population()
    hour = np.asarray(ts.hour, dtype=np.int64)
    feats = row_features(rng, client, hour, kind)
    data = {
        "client_id": ids[client],
        "window_start": np.asarray(ts.strftime("%Y-%m-%dT%H:%M:%SZ"), dtype=object),
        "client_type": np.array(CLIENT_TYPES, dtype=object)[types[client]],
        "hour_of_day": hour,
        **feats,
        LABEL_COLUMN: (kind > 0).astype(np.int64),
        ANOMALY_TYPE_COLUMN: _KIND_NAMES[kind],
    }
    return pd.DataFrame(data, columns=list(_ALL_COLUMNS))


def _parse_start(start: str) -> pd.Timestamp:
    ts = pd.Timestamp(start)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.floor(f"{WINDOW_MINUTES}min")


def generate_traffic(
    n_rows: int, contamination: float, seed: int = DEFAULT_SEED, start: str = DEFAULT_START
) -> pd.DataFrame:
    """Generate consecutive windows of labelled traffic.

    Args:
        n_rows: Number of rows (client-windows) to produce.
        contamination: Fraction of rows to turn into anomalies, in [0, 1]; the count is
            ``round(contamination * n_rows)``, split as evenly as possible over ANOMALY_TYPES.
        seed: Seed for ``np.random.default_rng``; equal seeds give identical frames.
        start: ISO-8601 timestamp of the first window, floored to a 5-minute boundary.

    Returns:
        DataFrame with ID_COLUMNS, FEATURE_COLUMNS, LABEL_COLUMN and ANOMALY_TYPE_COLUMN,
        ordered by window.
    """
    if n_rows < 0 or not 0.0 <= contamination <= 1.0:
        raise ValueError("n_rows must be >= 0 and contamination in [0, 1]")
    rng = np.random.default_rng(seed)
    _, types, scale = population()
    k = min(_CLIENTS_PER_WINDOW, N_CLIENTS)
    n_windows = max(-(-n_rows // k), 1)
    t0 = _parse_start(start)
    win_ts = t0 + pd.to_timedelta(np.arange(n_windows) * WINDOW_MINUTES, unit="min")
    # Weighted sampling without replacement per window via the Gumbel top-k trick, so
    # batch jobs dominate the night and browsers the afternoon without a Python loop.
    weights = season(types[None, :], np.asarray(win_ts.hour)[:, None]) * scale[None, :] ** 0.5
    keys = np.log(weights) + rng.gumbel(size=weights.shape)
    client = np.argsort(-keys, axis=1)[:, :k].ravel()[:n_rows]
    ts = win_ts[np.repeat(np.arange(n_windows), k)[:n_rows]]

    kind = np.zeros(n_rows, dtype=np.int64)
    n_anom = min(int(round(contamination * n_rows)), n_rows)
    counts = np.bincount(rng.permutation(n_anom) % len(ANOMALY_TYPES), minlength=5)
    hours = np.asarray(ts.hour)
    for code, count in enumerate(counts, start=1):
        free = kind == 0
        cond = free & np.isin(types[client], ELIGIBLE_TYPES[code])
        if code == 3:
            cond &= np.isin(hours, NIGHT_HOURS)
        pool = np.flatnonzero(cond)
        if pool.size < count:  # tiny frames: fall back to any free row
            pool = np.flatnonzero(free)
        kind[rng.choice(pool, size=count, replace=False)] = code
    return _frame(rng, client, ts, kind)


def sample_rows(
    rng: np.random.Generator,
    n: int,
    anomaly_type: str | None = None,
    hour_of_day: int | None = None,
) -> pd.DataFrame:
    """Draw independent rows, e.g. for a live traffic simulator.

    Args:
        rng: Generator to draw from (the caller owns its state).
        n: Number of rows.
        anomaly_type: None for normal traffic, else one of ANOMALY_TYPES.
        hour_of_day: Fix the hour (0-23); None draws one per row (night hours for
            data_exfiltration). Timestamps fall on DEFAULT_START's date.

    Returns:
        DataFrame with the same columns as ``generate_traffic``.
    """
    if anomaly_type is not None and anomaly_type not in ANOMALY_TYPES:
        raise ValueError(f"unknown anomaly_type {anomaly_type!r}; expected one of {ANOMALY_TYPES}")
    if hour_of_day is not None and not 0 <= hour_of_day <= 23:
        raise ValueError("hour_of_day must be in 0..23")
    code = 0 if anomaly_type is None else ANOMALY_TYPES.index(anomaly_type) + 1
    _, types, scale = population()
    if hour_of_day is not None:
        hour = np.full(n, hour_of_day, dtype=np.int64)
    elif code == 3:
        hour = rng.choice(NIGHT_HOURS, size=n)
    else:
        hour = rng.integers(0, 24, size=n)
    allowed = np.isin(types, ELIGIBLE_TYPES[code]) if code else np.ones(N_CLIENTS, bool)
    client = np.empty(n, dtype=np.int64)
    for h in np.unique(hour):  # at most 24 iterations
        rows = np.flatnonzero(hour == h)
        w = season(types, np.full(N_CLIENTS, h)) * scale**0.5 * allowed
        client[rows] = rng.choice(N_CLIENTS, size=rows.size, p=w / w.sum())
    minutes = hour * 60 + rng.integers(0, 60 // WINDOW_MINUTES, size=n) * WINDOW_MINUTES
    ts = _parse_start(DEFAULT_START).normalize() + pd.to_timedelta(minutes, unit="min")
    return _frame(rng, client, pd.DatetimeIndex(ts), np.full(n, code, dtype=np.int64))


def _write_csv_atomic(df: pd.DataFrame, path: Path) -> None:
    """Write via a temp file in the same directory so readers never see a partial file."""
    atomic_write(path, lambda handle: df.to_csv(handle, index=False, lineterminator="\n"), mode="w")


def write_default_dataset(
    out_dir: str | Path,
    seed: int = DEFAULT_SEED,
    train_rows: int = 20_000,
    test_rows: int = 5_000,
) -> tuple[Path, Path]:
    """Write the default unlabelled train set and labelled test set.

    Args:
        out_dir: Directory to write into; created if missing.
        seed: Base seed; the test set uses a seed derived from it.
        train_rows: Rows in train.csv (3% anomalies, labels dropped).
        test_rows: Rows in test.csv (10% anomalies, labelled), starting the day after
            the last training window.

    Returns:
        Paths of train.csv and test.csv.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    train = generate_traffic(train_rows, 0.03, seed=seed)
    last = (
        pd.Timestamp(train["window_start"].iloc[-1]) if train_rows else _parse_start(DEFAULT_START)
    )
    test_start = (last + pd.Timedelta(days=1)).normalize().strftime("%Y-%m-%dT%H:%M:%SZ")
    # A derived rather than adjacent seed, so seed+1's train set never equals this test set.
    test_seed = int(np.random.SeedSequence([seed, 1]).generate_state(1)[0])
    test = generate_traffic(test_rows, 0.10, seed=test_seed, start=test_start)
    train_path, test_path = out / "train.csv", out / "test.csv"
    _write_csv_atomic(train.drop(columns=[LABEL_COLUMN, ANOMALY_TYPE_COLUMN]), train_path)
    _write_csv_atomic(test, test_path)
    return train_path, test_path
