"""Series that are not access logs, for ``make bench-timeseries``: does the default hold?

The series detectors' defaults were chosen on generated access logs (daily and weekly
cycles, multiplicative noise). Users also point ``series detect`` at other metrics,
and the public benchmarks we are measured on (the Numenta Anomaly Benchmark above
all) are mostly other shapes. So the benchmark also scores every detector on shapes
modelled on NAB's families: its artificial daily series with a jump or a flat day,
spikes that grow denser, an AWS CPU-like autocorrelated metric with a level shift
and a burst, a machine-temperature-like slow process that drifts down before a
failure, a Twitter-volume-like daily count with bursts, a random walk with a step, a
variance change, and a NYC-taxi-like half-hourly series with daily and weekly
cycles and a demand drop.

They are generated (NAB's data files cannot be fetched here and are not ours to
commit), each with labelled anomaly starts as NAB labels them, and each anomaly's
size drawn from a range that runs from hard to see to obvious, so the scores are not
all at the ceiling. No default was chosen on them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from anomaly_detector.data.series.grid import Series
from anomaly_detector.timeseries.evaluation import Case

FIVE_MINUTES = pd.Timedelta("5min")
DAY = 288  # five-minute points
N = 14 * DAY  # two weeks, about NAB's typical file


def _ar1(rng: np.random.Generator, n: int, phi: float, sigma: float) -> np.ndarray:
    noise = rng.normal(0, sigma, n)
    values = np.empty(n)
    values[0] = noise[0]
    for i in range(1, n):
        values[i] = phi * values[i - 1] + noise[i]
    return values


def _late(rng: np.random.Generator, n: int, lo: float = 0.4, room: int = 300) -> int:
    """An anomaly start past the probationary period, with ``room`` points after it."""
    return int(rng.integers(int(lo * n), n - room))


def daily_jumpsup(rng):
    t = np.arange(N)
    values = 40 + 20 * np.sin(2 * np.pi * t / DAY) + rng.normal(0, 2, N)
    start = _late(rng, N)
    values[start : start + 150] += rng.uniform(4, 25)
    return values, [start], FIVE_MINUTES


def daily_flatmiddle(rng):
    t = np.arange(N)
    values = 40 + 20 * np.sin(2 * np.pi * t / DAY) + rng.normal(0, 2, N)
    start = _late(rng, N, room=DAY + 10)
    level = 40 + rng.uniform(-15, 15)
    values[start : start + DAY] = level + rng.normal(0, 2, DAY)
    return values, [start], FIVE_MINUTES


def spike_density(rng):
    values = 20 + rng.normal(0, 1, N)
    values[::50] += 30
    start = _late(rng, N, 0.5)
    values[start : start + 250 : int(rng.integers(5, 16))] += 30
    return values, [start], FIVE_MINUTES


def cpu(rng):
    values = 30 + _ar1(rng, N, 0.9, 2.0)
    values += np.where(rng.random(N) < 0.01, rng.exponential(10, N), 0)
    shift = _late(rng, N, 0.4, N // 3)
    values[shift:] += rng.uniform(4, 15)
    burst = int(rng.integers(shift + 400, N - 50))
    values[burst : burst + 6] += rng.uniform(15, 40)
    return values, [shift, burst], FIVE_MINUTES


def machine_temperature(rng):
    values = 80 + _ar1(rng, N, 0.995, 0.3)
    start = _late(rng, N)
    values[start : start + 120] -= np.linspace(0, rng.uniform(4, 25), 120)
    return values, [start], FIVE_MINUTES


def twitter_volume(rng):
    t = np.arange(N)
    values = rng.poisson(50 * (1.3 + np.sin(2 * np.pi * t / DAY))).astype(float)
    first = _late(rng, N, 0.3, N // 2)
    second = int(rng.integers(first + 500, N - 100))
    values[first : first + 12] *= rng.uniform(1.5, 4)
    values[second : second + 3] *= rng.uniform(1.5, 4)
    return values, [first, second], FIVE_MINUTES


def random_walk(rng):
    values = 100 + np.cumsum(rng.normal(0, 0.5, N))
    start = _late(rng, N, room=100)
    values[start:] += rng.choice([-1, 1]) * rng.uniform(3, 12)
    return values, [start], FIVE_MINUTES


def variance_change(rng):
    values = 10 + rng.normal(0, 1, N)
    start = _late(rng, N)
    values[start : start + 200] = 10 + rng.normal(0, rng.uniform(2, 5), 200)
    return values, [start], FIVE_MINUTES


def taxi_demand(rng):
    n, day = 48 * 7 * 10, 48  # ten weeks of half hours
    t = np.arange(n)
    values = (15000 + 8000 * np.sin(2 * np.pi * t / day)
              + 2000 * np.sin(2 * np.pi * t / (7 * day)) + rng.normal(0, 800, n))  # fmt: skip
    start = _late(rng, n, 0.5, 60)
    values[start : start + 24] *= rng.uniform(0.5, 0.85)
    return values, [start], pd.Timedelta("30min")


SHAPES: dict[str, Callable] = {
    "daily jump up": daily_jumpsup,
    "daily flat middle": daily_flatmiddle,
    "spike density": spike_density,
    "cpu": cpu,
    "machine temperature": machine_temperature,
    "twitter volume": twitter_volume,
    "random walk": random_walk,
    "variance change": variance_change,
    "taxi demand": taxi_demand,
}


def shape_cases(seeds: list[int]) -> list[Case]:
    """One series per (shape, seed), its anomaly starts as point labels; family = shape."""
    cases = []
    for index, (shape, make) in enumerate(SHAPES.items()):
        for seed in seeds:
            values, starts, step = make(np.random.default_rng([seed, index]))
            times = pd.date_range("2026-01-05", periods=len(values), freq=step, tz="UTC")
            series = Series(f"{shape} {seed}", times, values.astype(np.float64), step)
            cases.append(Case(series, [(times[i], times[i]) for i in starts], shape))
    return cases
