"""The labelled incidents of the synthetic access log: when they happen and what they do.

``access_logs.py`` draws normal traffic; this module decides, from its own random stream,
which incidents happen and turns them into per-minute multipliers on the request rate,
the response time and the 5xx share of each endpoint. Keeping the schedule apart from
the traffic means the list of incidents of a seed only changes when this file does.

Scheduling rules, each for a reason:

* nothing in the first ``QUIET_DAYS`` days: a detector needs a clean week to learn the
  weekly cycle before it is asked to flag anything;
* the incident-eligible span is cut into one slot per incident and each incident stays
  ``MIN_GAP_MINUTES / 2`` away from its slot's edges, so two incidents are always at least
  six hours apart and a window is never ambiguous between two labels;
* no incident overlaps the same time of week as another one (one week before or after),
  so "the same window a week earlier" is a clean baseline for seasonal detectors;
* starts are drawn with a density following the square of the target's expected load,
  and never where it is below ``LOAD_FLOOR`` of its peak: incidents surface when traffic
  is there to reveal them (and deploys happen in working hours), whereas a short error
  burst on a handful of night requests would be a coin toss to see, even for a person;
* incidents spread over the endpoints, and repeats of a kind hit another endpoint;
* the noisy endpoint gets none of its own: only an overall traffic drop touches it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MINUTES_PER_DAY = 1440
QUIET_DAYS = 7
MIN_GAP_MINUTES = 6 * 60
ALL_ENDPOINTS = "*"
# Per kind: labelled metric, duration range (minutes), magnitude range. The magnitude is a
# latency factor (the peak factor for a degradation), a 5xx share, or a rate factor.
INCIDENT_KINDS: dict[str, tuple[str, tuple[int, int], tuple[float, float]]] = {
    "latency_spike": ("response_time", (5, 15), (4.0, 8.0)),
    "degradation": ("response_time", (120, 360), (2.2, 2.8)),
    "error_burst": ("error_ratio", (10, 30), (0.20, 0.40)),
    "traffic_drop": ("request_rate", (20, 60), (0.10, 0.30)),
    # Only the first two hours after the shift are labelled; the new level stays.
    "level_shift": ("response_time", (120, 120), (1.5, 1.5)),
}
INCIDENT_COLUMNS = ("start", "end", "endpoint", "metric", "kind")
_MAX_DURATION = max(d[1] for _, d, _ in INCIDENT_KINDS.values())
_SLOT_MINUTES = _MAX_DURATION + MIN_GAP_MINUTES
_WEEK = 7 * MINUTES_PER_DAY
_WEEK_MARGIN = 60  # minutes kept free around the same time of week as another incident
_ATTEMPTS = 500
LOAD_FLOOR = 0.35  # share of the target's peak load below which no incident starts


@dataclass(frozen=True)
class Incident:
    """One labelled incident; minutes count from the start of the log, ``end`` exclusive."""

    kind: str
    endpoint: str
    start: int
    end: int
    magnitude: float

    @property
    def metric(self) -> str:
        return INCIDENT_KINDS[self.kind][0]


@dataclass(frozen=True)
class Effects:
    """Per-endpoint, per-minute multipliers (shape ``(n_endpoints, n_minutes)``)."""

    rate: np.ndarray
    latency: np.ndarray
    error_share: np.ndarray


def incidents_per_kind(days: int) -> int:
    """About two of each kind over four weeks, scaled with the length of the log."""
    return int(round(days / 14)) if days > QUIET_DAYS else 0


def _kind_order(rng: np.random.Generator, days: int) -> list[str]:
    """Kinds in time order: rounds of shuffled kinds, truncated to what fits in the span."""
    names = list(INCIDENT_KINDS)
    rounds = [names[i] for _ in range(incidents_per_kind(days)) for i in rng.permutation(5)]
    span = (days - QUIET_DAYS) * MINUTES_PER_DAY
    return rounds[: max(span // _SLOT_MINUTES, 0)]


def _collides(start: int, end: int, placed: list[Incident]) -> bool:
    """Whether ``[start, end)`` overlaps another incident one week before or after."""
    for other in placed:
        for shift in (-_WEEK, _WEEK):
            lo, hi = other.start + shift - _WEEK_MARGIN, other.end + shift + _WEEK_MARGIN
            if start < hi and end > lo:
                return True
    return False


def _target(rng: np.random.Generator, kind: str, placed: list[Incident],
            endpoints: list[str]) -> str:  # fmt: skip
    """An endpoint for ``kind``: one this kind has not hit yet, among the least hit overall,
    so incidents spread over the endpoints. Traffic drops may also hit all endpoints at once
    (a load balancer or DNS failure).
    """
    options = [*endpoints, ALL_ENDPOINTS] if kind == "traffic_drop" else list(endpoints)
    same_kind = {p.endpoint for p in placed if p.kind == kind}
    fresh = [e for e in options if e not in same_kind] or options
    hits = {e: sum(p.endpoint == e for p in placed) for e in fresh}
    least = [e for e in fresh if hits[e] == min(hits.values())]
    return least[int(rng.integers(len(least)))]


def schedule_incidents(
    rng: np.random.Generator, days: int, endpoints: list[str], load: np.ndarray
) -> list[Incident]:
    """Draw the incidents of a ``days``-long log, sorted by start.

    Args:
        rng: The incidents' own generator.
        days: Length of the log.
        endpoints: Endpoints that may have incidents of their own (not the noisy one).
        load: Expected load of each of ``endpoints`` (rows) per minute, any scale; an
            incident's start follows the square of its target's load, above LOAD_FLOOR.

    Returns:
        The incidents, in time order.
    """
    kinds = _kind_order(rng, days)
    if not kinds:
        return []
    first = QUIET_DAYS * MINUTES_PER_DAY
    slot = (days * MINUTES_PER_DAY - first) / len(kinds)
    placed: list[Incident] = []
    for i, kind in enumerate(kinds):
        _, (d_lo, d_hi), (m_lo, m_hi) = INCIDENT_KINDS[kind]
        duration = int(rng.integers(d_lo, d_hi + 1))
        endpoint = _target(rng, kind, placed, endpoints)
        row = load.sum(axis=0) if endpoint == ALL_ENDPOINTS else load[endpoints.index(endpoint)]
        weight = row / row.max()
        weight = np.where(weight >= LOAD_FLOOR, weight**2, 0.0)
        lo = int(first + i * slot) + MIN_GAP_MINUTES // 2
        hi = int(first + (i + 1) * slot) - MIN_GAP_MINUTES // 2 - duration
        start = lo
        for _ in range(_ATTEMPTS):  # rejection sampling on the load, away from echoes
            start = int(rng.integers(lo, hi + 1))
            if rng.random() < weight[start] and not _collides(start, start + duration, placed):
                break
        magnitude = round(float(rng.uniform(m_lo, m_hi)), 3)
        placed.append(Incident(kind, endpoint, start, start + duration, magnitude))
    return placed


def incident_effects(incidents: list[Incident], endpoints: list[str], n_minutes: int) -> Effects:
    """What the incidents do to each endpoint, minute by minute."""
    shape = (len(endpoints), n_minutes)
    rate, latency, error = np.ones(shape), np.ones(shape), np.zeros(shape)
    for inc in incidents:
        rows = slice(None) if inc.endpoint == ALL_ENDPOINTS else endpoints.index(inc.endpoint)
        window = slice(inc.start, inc.end)
        if inc.kind == "latency_spike":
            latency[rows, window] *= inc.magnitude
        elif inc.kind == "degradation":
            # A linear ramp to the peak factor, then an abrupt recovery (a restart).
            steps = np.arange(1, inc.end - inc.start + 1) / (inc.end - inc.start)
            latency[rows, window] *= 1.0 + (inc.magnitude - 1.0) * steps
        elif inc.kind == "error_burst":
            error[rows, window] = np.maximum(error[rows, window], inc.magnitude)
        elif inc.kind == "traffic_drop":
            rate[rows, window] *= inc.magnitude
        else:  # level_shift: the new level lasts until the end of the log
            latency[rows, inc.start :] *= inc.magnitude
    return Effects(rate=rate, latency=latency, error_share=error)
