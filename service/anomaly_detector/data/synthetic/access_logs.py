"""A deterministic API access log with labelled incidents, for time-series detection.

One row is one request, as a gateway would log it. Unlike ``traffic.py`` (one row per
client window, for tabular detectors), this is the raw material of time-series work:
aggregate it per endpoint and per 5 minutes into request rate, error ratio and latency
p95, then forecast or flag. So the series have to look like production ones:

* arrivals are a non-homogeneous Poisson process per endpoint, piecewise constant per
  minute: a business-hours plateau with a night trough (its depth differs per endpoint),
  weekends lower, and a mild, slowly varying noise so that no two days are identical;
* latency follows load a little (busier is slower), so p95 is seasonal too and a
  detector has to learn that an afternoon p95 is not an incident;
* ``/api/reports`` is the noisy neighbour: bursty traffic (dashboards refreshing in
  bursts) and heavy-tailed latency, with no incidents of its own, so detectors that flag
  every burst get false positives, as they would in production;
* incidents (``access_log_incidents.py``) perturb the rate, latency or 5xx share of one
  endpoint, or the rate of all, and come with a label table of ``start``/``end`` windows.

The default rate gives about a million rows over four weeks, on average about 25 requests
per endpoint per 5-minute window, enough for a meaningful p95. All randomness flows
through seeded ``np.random.Generator`` streams; the same seed gives byte-identical files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from anomaly_detector.data.synthetic.access_log_incidents import (
    INCIDENT_COLUMNS,
    MINUTES_PER_DAY,
    Incident,
    incident_effects,
    schedule_incidents,
)
from anomaly_detector.files import atomic_write

LOG_COLUMNS = ("timestamp", "method", "endpoint", "status_code", "size", "response_time")
METHODS = ("GET", "POST", "PUT", "DELETE")
STATUS_CODES = np.array([200, 201, 304, 400, 401, 404, 500, 502, 503])
# Per method, the probability of each of STATUS_CODES in normal operation (5xx ~0.4%).
_STATUS_MIX = np.array([
    [0.880, 0.000, 0.060, 0.015, 0.015, 0.026, 0.002, 0.001, 0.001],  # GET
    [0.120, 0.800, 0.000, 0.040, 0.020, 0.015, 0.003, 0.001, 0.001],  # POST
    [0.900, 0.000, 0.000, 0.040, 0.020, 0.035, 0.003, 0.001, 0.001],  # PUT
    [0.850, 0.000, 0.000, 0.020, 0.030, 0.095, 0.003, 0.001, 0.001],  # DELETE
])  # fmt: skip
# During an error burst: gateways mostly answer 502/503 when a backend falls over.
_BURST_5XX = ((500, 0.3), (502, 0.4), (503, 0.3))
DEFAULT_SEED = 42
DEFAULT_START = "2026-10-05"  # a Monday
DEFAULT_RATE = 0.45
# How much latency follows load: factor = (load / mean load) ** elasticity.
LOAD_ELASTICITY = 0.15
NOISE_SIGMA = 0.08  # log-sd of the slow multiplicative rate noise
_NOISE_MINUTES = 30
TIMEOUT_MS = 30_000.0  # the gateway cuts requests here


@dataclass(frozen=True)
class Endpoint:
    """How one endpoint behaves in normal operation."""

    name: str
    share: float  # of all requests on a weekly average
    night: float  # night rate relative to the business-hours plateau
    weekend: float  # weekend rate relative to a weekday
    methods: tuple[float, float, float, float]  # GET, POST, PUT, DELETE
    size_bytes: float  # median body size of a successful response
    size_sigma: float
    latency_ms: float  # median at average load
    latency_sigma: float
    tail_share: float = 0.0  # share of requests with a Pareto-long latency on top
    bursts_per_day: float = 0.0  # traffic bursts (x3 to x8 for 3 to 20 minutes)


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("/api/orders", 0.21, 0.22, 0.70, (0.60, 0.30, 0.07, 0.03), 2_400, 0.50, 80, 0.45),
    Endpoint("/api/search", 0.24, 0.30, 0.80, (0.92, 0.08, 0.00, 0.00), 8_000, 0.60, 120, 0.55),
    Endpoint("/api/users", 0.20, 0.18, 0.65, (0.72, 0.10, 0.14, 0.04), 1_200, 0.35, 40, 0.35),
    Endpoint("/api/payments", 0.18, 0.15, 0.60, (0.35, 0.60, 0.03, 0.02), 900, 0.30, 220, 0.40),
    Endpoint("/api/reports", 0.17, 0.10, 0.40, (0.85, 0.15, 0.00, 0.00), 150_000, 1.00, 600,
             0.90, tail_share=0.05, bursts_per_day=6.0),
)  # fmt: skip
NOISY_ENDPOINT = "/api/reports"


def _parse_start(start: str) -> pd.Timestamp:
    ts = pd.Timestamp(start)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.floor("min")


def _shape(minute_of_week: np.ndarray) -> np.ndarray:
    """Expected relative rate per endpoint (rows) and minute of the week (Monday 00:00 = 0).

    A business-hours plateau (ramping up 07-09, down 18-21) over a per-endpoint night
    floor, times the endpoint's weekend factor on Saturdays and Sundays.
    """
    hour = (minute_of_week % MINUTES_PER_DAY + 0.5) / 60.0
    day = 1.0 / (1.0 + np.exp(-(hour - 8.0) / 1.0)) / (1.0 + np.exp(-(19.5 - hour) / 1.2))
    weekend = minute_of_week // MINUTES_PER_DAY >= 5
    night = np.array([e.night for e in ENDPOINTS])[:, None]
    factor = np.array([e.weekend for e in ENDPOINTS])[:, None]
    return (night + (1.0 - night) * day[None, :]) * np.where(weekend[None, :], factor, 1.0)


def _slow_noise(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Multiplicative noise with mean 1 that drifts over about half an hour."""
    white = rng.normal(size=(shape[0], shape[1] + _NOISE_MINUTES))
    csum = np.cumsum(white, axis=1)
    moving = (csum[:, _NOISE_MINUTES:] - csum[:, :-_NOISE_MINUTES]) / np.sqrt(_NOISE_MINUTES)
    return np.exp(NOISE_SIGMA * moving - NOISE_SIGMA**2 / 2)


def _bursts(rng: np.random.Generator, n_minutes: int) -> np.ndarray:
    """Per endpoint and minute, the rate factor of traffic bursts (1 outside bursts)."""
    extra = np.zeros((len(ENDPOINTS), n_minutes + 1))
    for row, endpoint in enumerate(ENDPOINTS):
        n = int(rng.poisson(endpoint.bursts_per_day * n_minutes / MINUTES_PER_DAY))
        starts = rng.integers(0, n_minutes, size=n)
        ends = np.minimum(starts + rng.integers(3, 21, size=n), n_minutes)
        height = rng.uniform(2.0, 7.0, size=n)
        np.add.at(extra[row], starts, height)
        np.add.at(extra[row], ends, -height)
    return 1.0 + np.cumsum(extra, axis=1)[:, :n_minutes]


def _statuses(rng: np.random.Generator, method: np.ndarray, error_share: np.ndarray) -> np.ndarray:
    """Status codes by method, with 5xx forced at ``error_share`` (incidents)."""
    cdf = np.cumsum(_STATUS_MIX / _STATUS_MIX.sum(axis=1, keepdims=True), axis=1)[method]
    code = (rng.random(method.size)[:, None] > cdf[:, :-1]).sum(axis=1)
    status = STATUS_CODES[code]
    forced = rng.random(method.size) < error_share
    codes, shares = zip(*_BURST_5XX, strict=True)
    status[forced] = rng.choice(codes, size=int(forced.sum()), p=shares)
    return status


def _iso(t0: pd.Timestamp, ms: np.ndarray) -> np.ndarray:
    """ISO 8601 UTC strings with milliseconds and a trailing Z, vectorised."""
    base = np.datetime64(t0.tz_localize(None).to_datetime64(), "ms")
    stamps = base + ms.astype("timedelta64[ms]")
    return np.datetime_as_string(stamps, unit="ms", timezone="UTC").astype(object)


def _incident_frame(t0: pd.Timestamp, incidents: list[Incident]) -> pd.DataFrame:
    starts = np.array([i.start for i in incidents], dtype=np.int64) * 60_000
    ends = np.array([i.end for i in incidents], dtype=np.int64) * 60_000
    return pd.DataFrame({
        "start": _iso(t0, starts), "end": _iso(t0, ends),
        "endpoint": np.array([i.endpoint for i in incidents], dtype=object),
        "metric": np.array([i.metric for i in incidents], dtype=object),
        "kind": np.array([i.kind for i in incidents], dtype=object),
    }, columns=list(INCIDENT_COLUMNS))  # fmt: skip


def generate_access_logs(
    days: int = 28,
    seed: int = DEFAULT_SEED,
    start: str = DEFAULT_START,
    mean_requests_per_second: float = DEFAULT_RATE,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Generate the access log and its incidents.

    Args:
        days: Length of the log in days; incidents start after the first week.
        seed: Seed of every random stream; equal seeds give identical frames.
        start: First instant of the log (UTC unless it says otherwise), floored to the minute.
        mean_requests_per_second: Weekly-average request rate over all endpoints.

    Returns:
        The log (LOG_COLUMNS, sorted by timestamp) and the incidents (INCIDENT_COLUMNS,
        sorted by start).
    """
    if days < 0 or mean_requests_per_second < 0:
        raise ValueError("days and mean_requests_per_second must be >= 0")
    incident_rng, traffic_rng, request_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3)
    )
    t0 = _parse_start(start)
    n_minutes = days * MINUTES_PER_DAY
    offset = t0.day_of_week * MINUTES_PER_DAY + t0.hour * 60 + t0.minute
    shape = _shape((offset + np.arange(n_minutes)) % (7 * MINUTES_PER_DAY))
    weekly_mean = _shape(np.arange(7 * MINUTES_PER_DAY)).mean(axis=1, keepdims=True)
    share = np.array([e.share for e in ENDPOINTS])[:, None]
    expected = shape / weekly_mean  # 1 on a weekly average, per endpoint
    load = expected * _slow_noise(traffic_rng, shape.shape) * _bursts(traffic_rng, n_minutes)

    names = [e.name for e in ENDPOINTS]
    eligible = [n for n in names if n != NOISY_ENDPOINT]
    rows = [names.index(n) for n in eligible]
    incidents = schedule_incidents(incident_rng, days, eligible, (share * expected)[rows])
    effects = incident_effects(incidents, names, n_minutes)

    per_minute = mean_requests_per_second * 60.0 * share * load * effects.rate
    counts = traffic_rng.poisson(per_minute)
    cells = np.repeat(np.arange(counts.size), counts.ravel())
    ms = (cells % n_minutes) * 60_000 + request_rng.integers(0, 60_000, size=cells.size)
    order = np.argsort(ms, kind="stable")
    cells, ms = cells[order], ms[order]
    endpoint, minute = cells // n_minutes, cells % n_minutes
    n = cells.size

    mix = np.array([e.methods for e in ENDPOINTS])
    cdf = np.cumsum(mix / mix.sum(axis=1, keepdims=True), axis=1)[endpoint]
    method = (request_rng.random(n)[:, None] > cdf[:, :-1]).sum(axis=1)
    status = _statuses(request_rng, method, effects.error_share[endpoint, minute])

    def per_endpoint(field: str) -> np.ndarray:
        return np.array([getattr(e, field) for e in ENDPOINTS])[endpoint]

    size = request_rng.lognormal(np.log(per_endpoint("size_bytes")), per_endpoint("size_sigma"))
    small = request_rng.lognormal(np.log(180.0), 0.25, size=n)  # error bodies
    size = np.where(status >= 400, small, size)
    size = np.where(status == 304, 0.0, size).round().astype(np.int64)

    latency = request_rng.lognormal(
        np.log(per_endpoint("latency_ms")), per_endpoint("latency_sigma")
    )
    tail = request_rng.random(n) < per_endpoint("tail_share")
    latency = np.where(tail, latency * (1.0 + request_rng.pareto(1.3, size=n)), latency)
    latency *= load[endpoint, minute] ** LOAD_ELASTICITY * effects.latency[endpoint, minute]
    latency = np.minimum(latency, TIMEOUT_MS).round(3)

    log = pd.DataFrame({
        "timestamp": _iso(t0, ms),
        "method": np.array(METHODS, dtype=object)[method],
        "endpoint": np.array(names, dtype=object)[endpoint],
        "status_code": status.astype(np.int64),
        "size": size,
        "response_time": latency,
    }, columns=list(LOG_COLUMNS))  # fmt: skip
    return log, _incident_frame(t0, incidents)


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    """Via a temp file in the same folder, so a reader never sees half a file."""
    atomic_write(
        path,
        lambda handle: frame.to_csv(handle, index=False, lineterminator="\n", float_format="%.3f"),
        mode="w",
    )


def write_access_logs(out: Path, seed: int = DEFAULT_SEED, days: int = 28) -> tuple[Path, Path]:
    """``access_log.csv`` and ``access_log_incidents.csv`` in ``out`` (created if missing)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    log, incidents = generate_access_logs(days=days, seed=seed)
    log_path, incidents_path = out / "access_log.csv", out / "access_log_incidents.csv"
    _write_csv(log, log_path)
    _write_csv(incidents, incidents_path)
    return log_path, incidents_path
