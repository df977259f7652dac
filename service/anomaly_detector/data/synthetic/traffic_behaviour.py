"""How each client type behaves, and how each anomaly type perturbs it.

The model behind ``traffic.py``: per client type a rate, a daily rhythm, error and
payload sizes; per anomaly type the perturbation applied to an otherwise normal
row, with a severity drawn per row so that part of each type stays subtle.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

CLIENT_TYPES: tuple[str, ...] = (
    "browser", "mobile", "partner_api", "internal_service", "batch_job",
)  # fmt: skip
ANOMALY_TYPES: tuple[str, ...] = (
    "credential_stuffing", "scraping", "data_exfiltration", "request_burst",
    "backend_degradation",
)  # fmt: skip
WINDOW_MINUTES = 5
N_CLIENTS = 300
# Fewer requests than this in a window and the gateway reports no p95.
MIN_REQUESTS_FOR_P95 = 12
_POPULATION_SEED = 20261101

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
ELIGIBLE_TYPES = {1: _EXTERNAL, 2: _EXTERNAL, 3: _EXTERNAL, 4: _ANY, 5: _ANY}
# Exfiltration hides in the hours when nobody is watching.
NIGHT_HOURS = np.array([22, 23, 0, 1, 2, 3, 4, 5])


@lru_cache(maxsize=1)
def population() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The fixed client fleet: ids, type codes and per-client size multipliers."""
    rng = np.random.default_rng(_POPULATION_SEED)
    types = rng.choice(len(CLIENT_TYPES), size=N_CLIENTS, p=_P["share"])
    scale = rng.lognormal(0.0, 0.5, size=N_CLIENTS)
    ids = np.array([f"c-{i:05d}" for i in range(N_CLIENTS)], dtype=object)
    return ids, types, scale


def season(type_code: np.ndarray, hour: np.ndarray) -> np.ndarray:
    """Daily multiplier of rate and activity for each (type, hour)."""
    phase = 2.0 * np.pi * (hour - _P["peak_hour"][type_code]) / 24.0
    return np.exp(_P["amp"][type_code] * np.cos(phase))


def row_features(
    rng: np.random.Generator, client: np.ndarray, hour: np.ndarray, kind: np.ndarray
) -> dict[str, np.ndarray]:
    """Feature columns for rows given client index, hour and anomaly kind code (0 = none)."""
    n = client.size
    _, types, scale = population()
    t = types[client]
    sev = rng.random(n)
    # Log-normal on top of a log-normal client size gives the heavy right tail seen in
    # real per-client traffic without any single distribution dominating.
    rate = _P["rate"][t] * scale[client] * season(t, hour) * rng.lognormal(0.0, 0.35, n)
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
