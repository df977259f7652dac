"""Time-series speed: one new point per series, and a 50-series backtest.

Run by ``make bench`` (or alone: ``python bench/timeseries_speed.py``). On series
aggregated from a generated 30-day access log at 5-minute windows (8,640 points
each; 6 endpoint groups x 9 metrics, the first 50):

* **one new point**: each detector fitted on a series, then ``update`` with the next
  point, one call at a time (the watcher's path per poll and series), median and 99th
  percentile over 2,000 calls; target at most 1 ms for the default detector. Side by
  side, the straightforward way: pandas recomputing a rolling mean and standard
  deviation over the last 288 windows for each new point.
* **backtest**: every detector scores all 50 series from empty state
  (``timeseries.detection.detect``, the ``series detect`` path); target at most 60 s
  for the default detector.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from anomaly_detector.data.series import access_log
from anomaly_detector.data.synthetic.access_logs import write_access_logs
from anomaly_detector.detectors import registry
from anomaly_detector.timeseries.detection import detect, series_detector

STEP = pd.Timedelta("5min")
TARGET_POINT_MS = 1.0
TARGET_BACKTEST_S = 60.0


def series_corpus(days: int, count: int) -> list:
    with tempfile.TemporaryDirectory() as folder:
        log, _ = write_access_logs(Path(folder), seed=11, days=days)
        table = access_log.aggregate(log, STEP)
    found = []
    for endpoint in access_log.endpoints(table):
        for metric in access_log.METRICS:
            found.append(access_log.select(table, endpoint, metric, STEP, "generated"))
    return found[:count]


def one_point(series, name: str, calls: int) -> tuple[float, float]:
    """Median and p99 microseconds of ``update`` with one new point."""
    inputs = series.inputs()
    detector = series_detector(name)
    start = len(inputs) - calls - 1
    detector.run(inputs[:start], series.transform)  # as ``series detect`` and the benches
    detector.update(inputs[start : start + 1])  # warm (compiled)
    timings = []
    for i in range(start + 1, len(inputs)):
        started = time.perf_counter_ns()
        detector.update(inputs[i : i + 1])
        timings.append((time.perf_counter_ns() - started) / 1000)
    return statistics.median(timings), float(np.percentile(timings, 99))


def pandas_rolling_point(series, calls: int) -> tuple[float, float]:
    """The straightforward live z-score: pandas over the last 288 windows per new point."""
    frame = series.frame()
    timings = []
    for end in range(len(frame) - calls, len(frame)):
        started = time.perf_counter_ns()
        window = frame["value"].iloc[end - 288 : end]
        mean, std = window.mean(), window.std()
        _ = (frame["value"].iloc[end] - mean) / std if std else 0.0
        timings.append((time.perf_counter_ns() - started) / 1000)
    return statistics.median(timings), float(np.percentile(timings, 99))


def backtest(corpus: list, name: str) -> float:
    detect(corpus[0], series_detector(name))  # compile outside the timing
    started = time.perf_counter()
    for series in corpus:
        detect(series, series_detector(name))
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--series", type=int, default=50)
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args(argv)
    corpus = series_corpus(args.days, args.series)
    points = len(corpus[0])
    default = registry.DEFAULT_SERIES_DETECTOR
    names = [default, *(n for n in registry.trainable("timeseries") if n != default)]
    minutes = STEP / pd.Timedelta("1min")
    shape = f"{len(corpus)} series of {points} points, {minutes:.0f}-minute windows"
    print(f"\n## Time series ({shape})\n")
    print("| detector | one new point, median µs | p99 µs | backtest of all series, s |")
    print("|---|---|---|---|")
    for name in names:
        median, p99 = one_point(corpus[0], name, args.calls)
        seconds = backtest(corpus, name)
        tag = " (default)" if name == default else ""
        print(f"| `{name}`{tag} | {median:.1f} | {p99:.1f} | {seconds:.3f} |")
    median, p99 = pandas_rolling_point(corpus[0], args.calls)
    print(f"| pandas rolling z-score, recomputed per point | {median:.1f} | {p99:.1f} | |")
    print(
        f"\nTargets for the default detector: one point at most {TARGET_POINT_MS:g} ms, the "
        f"backtest at most {TARGET_BACKTEST_S:g} s."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
