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

from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from anomaly_detector.files import atomic_write

ID_COLUMNS = ("client_id", "window_start")
FEATURE_COLUMNS: tuple[str, ...] = (
    "client_type", "hour_of_day", "request_rate", "error_ratio", "latency_p50_ms",
    "latency_p95_ms", "bytes_in", "bytes_out", "distinct_endpoints", "auth_failures",
)  # fmt: skip
LABEL_COLUMN = "is_anomaly"
ANOMALY_TYPE_COLUMN = "anomaly_type"
CLIENT_TYPES: tuple[str, ...] = (
    "browser", "mobile", "partner_api", "internal_service", "batch_job",
)  # fmt: skip
ANOMALY_TYPES: tuple[str, ...] = (
    "credential_stuffing", "scraping", "data_exfiltration", "request_burst",
    "backend_degradation",
)  # fmt: skip
DEFAULT_SEED = 42
DEFAULT_START = "2026-11-01T00:00:00Z"

WINDOW_MINUTES = 5
N_CLIENTS = 300
# Fewer requests than this in a window and the gateway reports no p95.
MIN_REQUESTS_FOR_P95 = 12
# Kept small so a few thousand rows still span more than a day of windows.
_CLIENTS_PER_WINDOW = 16
_POPULATION_SEED = 20261101
_ALL_COLUMNS = (*ID_COLUMNS, *FEATURE_COLUMNS, LABEL_COLUMN, ANOMALY_TYPE_COLUMN)
_KIND_NAMES = np.array(("none", *ANOMALY_TYPES), dtype=object)

# Per client type, in CLIENT_TYPES order. rate is requests/min at the (geometric) daily mean,
# amp the log-amplitude of the daily cycle peaking at peak_hour, err the usual error
# probability, auth the share of errors that are 401s, p50 in ms, in/out bytes per request.
_P = {
    "share": np.array([0.34, 0.26, 0.16, 0.14, 0.10]),
    "rate": np.array([12.0, 8.0, 40.0, 150.0, 120.0]),
    "peak_hour": np.array([14.0, 20.0, 11.0, 0.0, 2.0]),
    "amp": np.array([1.0, 0.9, 0.5, 0.0, 1.6]),
    "err": np.array([0.012, 0.018, 0.02, 0.004, 0.006]),
    "auth": np.array([0.15, 0.10, 0.05, 0.01, 0.01]),
    "p50": np.array([90.0, 110.0, 60.0, 18.0, 220.0]),
    "in": np.array([900.0, 600.0, 2500.0, 1200.0, 6000.0]),
    "out": np.array([25_000.0, 9_000.0, 12_000.0, 3_500.0, 120_000.0]),
    "endpoints": np.array([14.0, 9.0, 6.0, 10.0, 3.0]),
}
# Attacks come through externally reachable client types; internal and batch traffic
# is not where credential stuffing or scraping would originate.
_EXTERNAL, _ANY = np.array([0, 1, 2]), np.arange(len(CLIENT_TYPES))
_ELIGIBLE_TYPES = {1: _EXTERNAL, 2: _EXTERNAL, 3: _EXTERNAL, 4: _ANY, 5: _ANY}
# Exfiltration hides in the hours when nobody is watching.
_NIGHT_HOURS = np.array([22, 23, 0, 1, 2, 3, 4, 5])


@lru_cache(maxsize=1)
def _population() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The fixed client fleet: ids, type codes and per-client size multipliers."""
    rng = np.random.default_rng(_POPULATION_SEED)
    types = rng.choice(len(CLIENT_TYPES), size=N_CLIENTS, p=_P["share"])
    scale = rng.lognormal(0.0, 0.5, size=N_CLIENTS)
    ids = np.array([f"c-{i:05d}" for i in range(N_CLIENTS)], dtype=object)
    return ids, types, scale


def _season(type_code: np.ndarray, hour: np.ndarray) -> np.ndarray:
    """Daily multiplier of rate and activity for each (type, hour)."""
    phase = 2.0 * np.pi * (hour - _P["peak_hour"][type_code]) / 24.0
    return np.exp(_P["amp"][type_code] * np.cos(phase))


def _features(
    rng: np.random.Generator, client: np.ndarray, hour: np.ndarray, kind: np.ndarray
) -> dict[str, np.ndarray]:
    """Feature columns for rows given client index, hour and anomaly kind code (0 = none)."""
    n = client.size
    _, types, scale = _population()
    t = types[client]
    sev = rng.random(n)
    # Log-normal on top of a log-normal client size gives the heavy right tail seen in
    # real per-client traffic without any single distribution dominating.
    rate = _P["rate"][t] * scale[client] * _season(t, hour) * rng.lognormal(0.0, 0.35, n)
    err_p = _P["err"][t] * rng.lognormal(0.0, 0.4, n)
    auth_share = _P["auth"][t].copy()
    lat = _P["p50"][t] * rng.lognormal(0.0, 0.25, n)
    p95_ratio = np.maximum(rng.lognormal(np.log(2.8), 0.3, n), 1.05)
    in_req = _P["in"][t] * rng.lognormal(0.0, 0.3, n)
    out_req = _P["out"][t] * rng.lognormal(0.0, 0.4, n)
    ep_mult = np.ones(n)
    ep_fixed = np.zeros(n)

    # Severity is squared for scraping and bursts so that a good share of those rows
    # sit near the edge of normal behaviour; those are the cases a detector may miss.
    m = kind == 1  # credential_stuffing: login hammering, mostly rejected with 401
    s = sev[m]
    rate[m] *= 1.5 + 6.0 * s
    err_p[m] = 0.15 + 0.8 * s
    auth_share[m] = 0.9 + 0.1 * s
    ep_fixed[m] = 1 + (s > 0.7)
    # Login requests and 401 bodies are small and nearly constant in size.
    in_req[m] = 450.0 * rng.lognormal(0.0, 0.1, s.size)
    out_req[m] = 350.0 * rng.lognormal(0.0, 0.1, s.size)
    m = kind == 2  # scraping: walks through many endpoints, more 404s
    s = sev[m] ** 2
    rate[m] *= 1.5 + 6.0 * s
    ep_mult[m] = 3.0 + 30.0 * s
    err_p[m] += 0.02 + 0.15 * s
    m = kind == 3  # data_exfiltration: ordinary rate, enormous responses
    s = sev[m]
    rate[m] *= 0.8 + 1.2 * s**2
    out_req[m] *= 10.0 * 50.0**s
    m = kind == 4  # request_burst: 10-50x the client's usual rate
    s = sev[m] ** 2
    rate[m] *= 10.0 + 40.0 * s
    err_p[m] += 0.03 * s  # some 429s
    m = kind == 5  # backend_degradation: slow and failing with 5xx
    s = sev[m]
    lat[m] *= 3.0 + 17.0 * s
    p95_ratio[m] *= 1.0 + s
    err_p[m] += 0.05 + 0.45 * s
    auth_share[m] = 0.02
    rate[m] *= 0.6 + 0.4 * rng.random(int(m.sum()))  # clients back off

    n_req = np.maximum(np.rint(rate * WINDOW_MINUTES), 1).astype(np.int64)
    errors = rng.binomial(n_req, np.clip(err_p, 0.0, 1.0))
    auth = rng.binomial(errors, np.clip(auth_share, 0.0, 1.0))
    # Endpoint diversity grows sub-linearly with volume: more requests revisit pages.
    lam = _P["endpoints"][t] * (rate / _P["rate"][t]) ** 0.3 * ep_mult
    endpoints = np.where(ep_fixed > 0, ep_fixed, rng.poisson(lam)).astype(np.int64)
    endpoints = np.clip(endpoints, 1, n_req)
    p95 = lat * p95_ratio
    p95[n_req < MIN_REQUESTS_FOR_P95] = np.nan
    return {
        "request_rate": np.round(n_req / WINDOW_MINUTES, 2),
        "error_ratio": np.round(errors / n_req, 4),
        "latency_p50_ms": np.round(lat, 2),
        "latency_p95_ms": np.round(p95, 2),
        "bytes_in": np.rint(n_req * in_req).astype(np.int64),
        "bytes_out": np.rint(n_req * out_req).astype(np.int64),
        "distinct_endpoints": endpoints,
        "auth_failures": auth.astype(np.int64),
    }


def _frame(
    rng: np.random.Generator, client: np.ndarray, ts: pd.DatetimeIndex, kind: np.ndarray
) -> pd.DataFrame:
    """Assemble the output frame in column order."""
    ids, types, _ = _population()
    hour = np.asarray(ts.hour, dtype=np.int64)
    feats = _features(rng, client, hour, kind)
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
    _, types, scale = _population()
    k = min(_CLIENTS_PER_WINDOW, N_CLIENTS)
    n_windows = max(-(-n_rows // k), 1)
    t0 = _parse_start(start)
    win_ts = t0 + pd.to_timedelta(np.arange(n_windows) * WINDOW_MINUTES, unit="min")
    # Weighted sampling without replacement per window via the Gumbel top-k trick, so
    # batch jobs dominate the night and browsers the afternoon without a Python loop.
    weights = _season(types[None, :], np.asarray(win_ts.hour)[:, None]) * scale[None, :] ** 0.5
    keys = np.log(weights) + rng.gumbel(size=weights.shape)
    client = np.argsort(-keys, axis=1)[:, :k].ravel()[:n_rows]
    ts = win_ts[np.repeat(np.arange(n_windows), k)[:n_rows]]

    kind = np.zeros(n_rows, dtype=np.int64)
    n_anom = min(int(round(contamination * n_rows)), n_rows)
    counts = np.bincount(rng.permutation(n_anom) % len(ANOMALY_TYPES), minlength=5)
    hours = np.asarray(ts.hour)
    for code, count in enumerate(counts, start=1):
        free = kind == 0
        cond = free & np.isin(types[client], _ELIGIBLE_TYPES[code])
        if code == 3:
            cond &= np.isin(hours, _NIGHT_HOURS)
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
    _, types, scale = _population()
    if hour_of_day is not None:
        hour = np.full(n, hour_of_day, dtype=np.int64)
    elif code == 3:
        hour = rng.choice(_NIGHT_HOURS, size=n)
    else:
        hour = rng.integers(0, 24, size=n)
    allowed = np.isin(types, _ELIGIBLE_TYPES[code]) if code else np.ones(N_CLIENTS, bool)
    client = np.empty(n, dtype=np.int64)
    for h in np.unique(hour):  # at most 24 iterations
        rows = np.flatnonzero(hour == h)
        w = _season(types, np.full(N_CLIENTS, h)) * scale**0.5 * allowed
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
