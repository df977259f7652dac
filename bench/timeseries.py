"""Time-series quality: NAB scores, event precision / recall and forecast accuracy.

``make bench-timeseries`` runs this and writes ``bench/results-timeseries.md``. The
data are generated access logs (``data.synthetic.access_logs``) for several seeds,
each 28 days with its labelled incidents; every log gives 18 series (all requests
and each of five endpoints, times p95 latency, error ratio and request count) and
the incidents that apply to each (``timeseries.evaluation.access_log_cases``).

Detection, every detector through ``timeseries.evaluation`` (the code behind
``series evaluate``) on the same series, in one run:

* NAB standard, reward-low-FP and reward-low-FN scores over the pooled series of all
  seeds, each at its own best threshold (how NAB reports detectors), and the
  standard score per seed and per metric family;
* event-level precision, recall and F1 at the NAB standard threshold and at the
  detector's default threshold (what a user runs with).

The baselines are Windowed Gaussian (NAB's) and seasonal naive (the forecasting
literature's). The default detector is the series ensemble of seasonal MAD and the
forecaster, which also run alone; both also run with pointwise scoring, and Windowed
Gaussian with likelihood scoring, which measures what the likelihood step adds.

The defaults (the detector, its threshold, the spread and ratio floors) were chosen on
the three default seeds, so the same figures on ``--holdout-seeds`` (logs no choice
saw) are reported beside them: the default detector's NAB scores and event scores at
its default threshold.

Other shapes: every detector on the series of ``timeseries_shapes`` (shapes modelled
on NAB's families, none an access log, none used to choose a default), pooled NAB
scores and the standard score per shape: whether the defaults carry beyond the data
they were chosen on.

Forecasting: a rolling-origin backtest of every p95 series (warm-up 14 days, then
every hour a forecast of the next hour, 12 five-minute windows), the forecaster
against seasonal naive (the value one day back) and seasonal MAD's median: MASE
(mean absolute error over the in-sample MAE of the daily seasonal naive forecast),
the forecaster's MASE relative to seasonal naive's, and the share of actual values
inside each model's 95% band.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from anomaly_detector.data.synthetic.access_logs import write_access_logs
from anomaly_detector.timeseries import evaluation as ev
from anomaly_detector.timeseries.detection import series_detector
from anomaly_detector.timeseries.forecasting import accuracy, rolling_origin, seasonal_naive_scale
from timeseries_shapes import SHAPES, shape_cases

RESULTS = Path(__file__).with_name("results-timeseries.md")
DETECTORS: dict[str, tuple[str, dict]] = {
    "series_ensemble (default)": ("series_ensemble", {}),
    "seasonal_mad": ("seasonal_mad", {}),
    "seasonal_mad, pointwise scoring": ("seasonal_mad", {"scoring": "pointwise"}),
    "forecaster": ("forecaster", {}),
    "forecaster, pointwise scoring": ("forecaster", {"scoring": "pointwise"}),
    "windowed_gaussian": ("windowed_gaussian", {}),
    "windowed_gaussian, likelihood scoring": ("windowed_gaussian", {"scoring": "likelihood"}),
    "seasonal_naive": ("seasonal_naive", {}),
}
ACCESS_LOG_FAMILIES = ("response_time", "error_ratio", "request_rate")
COUNTS = {"series", "forecasts", "false alerts @NAB thr", "false alerts @default"}
FORECASTERS = ("forecaster", "seasonal_naive", "seasonal_mad")
WINDOW = pd.Timedelta("5min")
HORIZON, STRIDE, WARMUP_DAYS = 12, 12, 14
DAY_POINTS = int(pd.Timedelta(days=1) / WINDOW)


def factory(label: str) -> Callable:
    name, params = DETECTORS.get(label, (label, {}))
    return lambda: series_detector(name, **params)


def corpus(seeds: list[int], days: int, folder: Path) -> dict[int, list[ev.Case]]:
    """The cases of one generated access log per seed."""
    cases = {}
    for seed in seeds:
        started = time.perf_counter()
        log, incidents = write_access_logs(folder / f"seed-{seed}", seed=seed, days=days)
        cases[seed] = ev.access_log_cases(log, incidents, WINDOW)
        n_labels = sum(len(c.labels) for c in cases[seed])
        print(
            f"seed {seed}: {len(cases[seed])} series, {n_labels} incident-series pairs "
            f"({time.perf_counter() - started:.1f}s)",
            file=sys.stderr,
        )
    return cases


def _standard_by_family(
    scored: list[ev.Scored], make: Callable, families: Iterable[str]
) -> dict[str, float]:
    """The NAB standard score of each family's series, its threshold optimised on them."""
    scores = {}
    for family in families:
        chosen = [s for s in scored if s.case.family == family]
        result = ev.evaluate([s.case for s in chosen], make, scored=chosen)
        scores[family] = result.nab["standard"]["score"]
    return scores


def detection(cases: dict[int, list[ev.Case]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Headline and per-seed / per-family tables, one row per detector."""
    pooled = [c for seed_cases in cases.values() for c in seed_cases]
    headline, breakdown = [], []
    for label in DETECTORS:
        started = time.perf_counter()
        make = factory(label)
        scored = ev.score_cases(pooled, make)
        result = ev.evaluate(pooled, make, scored=scored)
        row = {"detector": label, **result.summary()}
        headline.append(row)
        parts = {"detector": label}
        offset = 0
        for seed, seed_cases in cases.items():
            part = scored[offset : offset + len(seed_cases)]
            offset += len(seed_cases)
            parts[f"seed {seed}"] = ev.evaluate(seed_cases, make, scored=part).nab["standard"][
                "score"
            ]
        parts.update(_standard_by_family(scored, make, ACCESS_LOG_FAMILIES))
        breakdown.append(parts)
        print(
            f"{label}: NAB standard {row['nab_standard']:.1f} "
            f"({time.perf_counter() - started:.1f}s)",
            file=sys.stderr,
        )
    breakdown = pd.DataFrame(breakdown).set_index("detector")
    breakdown.attrs["series"] = len(pooled)
    return pd.DataFrame(headline).set_index("detector"), breakdown


def holdout(cases: dict[int, list[ev.Case]]) -> pd.DataFrame:
    """The default detector on logs no choice saw, with the baselines beside it."""
    pooled = [c for seed_cases in cases.values() for c in seed_cases]
    rows = []
    for label in ("series_ensemble (default)", "windowed_gaussian", "seasonal_naive"):
        result = ev.evaluate(pooled, factory(label))
        summary = result.summary()
        rows.append({
            "detector": label,
            "NAB standard": summary["nab_standard"],
            "NAB low FP": summary["nab_reward_low_fp"],
            "NAB low FN": summary["nab_reward_low_fn"],
            "default thr": summary["threshold"],
            "P @default": summary["precision_t"],
            "R @default": summary["recall_t"],
            "F1 @default": summary["f1_t"],
            "false alerts @default": summary["false_events_t"],
        })  # fmt: skip
    return pd.DataFrame(rows).set_index("detector")


def shapes(seeds: list[int]) -> pd.DataFrame:
    """Every detector on the series of ``timeseries_shapes``: pooled NAB scores, and the
    standard score per shape (threshold optimised on each subset)."""
    cases = shape_cases(seeds)
    rows = []
    for label in DETECTORS:
        make = factory(label)
        scored = ev.score_cases(cases, make)
        nab = ev.evaluate(cases, make, scored=scored).nab
        row = {"detector": label, "NAB standard": nab["standard"]["score"],
               "NAB low FP": nab["reward_low_fp"]["score"],
               "NAB low FN": nab["reward_low_fn"]["score"]}  # fmt: skip
        row.update(_standard_by_family(scored, make, SHAPES))
        rows.append(row)
    print(f"shapes: {len(cases)} series, {len(DETECTORS)} detectors", file=sys.stderr)
    return pd.DataFrame(rows).set_index("detector")


def forecasting(cases: dict[int, list[ev.Case]]) -> pd.DataFrame:
    """MASE and 95% coverage of each forecaster on every p95 series' rolling origins."""
    series = [c.series for seed_cases in cases.values() for c in seed_cases]
    series = [s for s in series if s.name.startswith("p95")]
    warmup = WARMUP_DAYS * DAY_POINTS
    rows = []
    for name in FORECASTERS:
        mase, coverage, forecasts = [], [], 0
        for one in series:
            backtest = rolling_origin(one, factory(name), HORIZON, STRIDE, warmup)
            scale = seasonal_naive_scale(one.values[:warmup], DAY_POINTS)
            result = accuracy(backtest, scale)
            mase.append(result.mase)
            coverage.append(result.coverage)
            forecasts += result.forecasts
        rows.append(
            {
                "model": name,
                "MASE (mean over series)": float(np.mean(mase)),
                "95% band coverage": float(np.mean(coverage)),
                "lowest series coverage": float(np.min(coverage)),
                "highest series coverage": float(np.max(coverage)),
                "series": len(series),
                "forecasts": forecasts,
            }
        )
    table = pd.DataFrame(rows).set_index("model")
    table["MASE vs seasonal naive"] = (
        table["MASE (mean over series)"] / table.loc["seasonal_naive", "MASE (mean over series)"]
    )
    return table


def _fmt(table: pd.DataFrame, digits: int = 3) -> str:
    """Markdown with floats at ``digits`` decimals and counts as integers."""
    shown = table.copy().astype(object)
    for column in table.columns:
        integral = pd.api.types.is_integer_dtype(table[column]) or column in COUNTS
        spec = "{:.0f}" if integral else f"{{:.{digits}f}}"
        shown[column] = [spec.format(v) for v in table[column]]
    align = ("left",) + ("right",) * len(table.columns)
    return shown.to_markdown(disable_numparse=True, colalign=align)


def _minutes(delta: pd.Timedelta) -> str:
    return f"{delta / pd.Timedelta('1min'):.0f} minutes"


def report(
    seeds: list[int], days: int, headline: pd.DataFrame, breakdown: pd.DataFrame,
    forecasts: pd.DataFrame, seconds: float, held_out: pd.DataFrame | None = None,
    holdout_seeds: list[int] | None = None, shaped: pd.DataFrame | None = None,
    shape_seeds: list[int] | None = None,
) -> str:  # fmt: skip
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    nab = headline[["nab_standard", "nab_reward_low_fp", "nab_reward_low_fn", "nab_threshold"]]
    nab.columns = ["NAB standard", "NAB low FP", "NAB low FN", "standard threshold"]
    events = headline[
        ["precision_nab", "recall_nab", "f1_nab", "false_events_nab",
         "threshold", "precision_t", "recall_t", "f1_t", "false_events_t"]
    ]  # fmt: skip
    events.columns = [
        "P @NAB thr", "R @NAB thr", "F1 @NAB thr", "false alerts @NAB thr",
        "default thr", "P @default", "R @default", "F1 @default", "false alerts @default",
    ]  # fmt: skip
    forecaster = forecasts.loc["forecaster"]
    n_series = int(breakdown.attrs.get("series", 0))
    lines = [
        "# Time series: detection and forecasting",
        "",
        f"`make bench-timeseries` on {when}; generated access logs of {days} days, seeds "
        f"{', '.join(map(str, seeds))}; 5-minute windows; {seconds:.0f} s in all. See the "
        "docstring of `bench/timeseries.py` for the protocol. Scores are written and swept "
        "at full precision.",
        "",
        "## NAB scores (pooled series of all seeds, threshold optimised per profile)",
        "",
        _fmt(nab, 2),
        "",
        "NAB standard score per seed and per metric family (threshold optimised on each subset):",
        "",
        _fmt(breakdown, 1),
        "",
        "## Event-level precision and recall",
        "",
        "An incident counts as detected when an alert (a run of flagged windows, runs "
        f"closer than {_minutes(ev.DEFAULT_MERGE_GAP)} merged) overlaps it within "
        f"{_minutes(ev.DEFAULT_TOLERANCE)}; precision is the share of alerts that overlap "
        f"an incident. Alerts are counted over {n_series} series of {days} days.",
        "",
        _fmt(events, 3),
        "",
        *(
            [
                "## Held out: logs no default was chosen on",
                "",
                f"Seeds {', '.join(map(str, holdout_seeds or []))}, {days} days each: the "
                "default detector (and its threshold) as chosen on the seeds above.",
                "",
                _fmt(held_out, 3),
                "",
            ]
            if held_out is not None
            else []
        ),
        *(
            [
                "## Other shapes: series that are not access logs",
                "",
                f"{len(SHAPES)} shapes modelled on NAB's families, {len(shape_seeds or [])} "
                "series of each (seeds "
                f"{', '.join(map(str, shape_seeds or []))}), anomaly sizes from subtle to "
                "obvious; see `bench/timeseries_shapes.py`. No default was chosen on them. "
                "Pooled NAB scores, then the standard score per shape.",
                "",
                _fmt(shaped, 1),
                "",
            ]
            if shaped is not None
            else []
        ),
        "## Forecasts: rolling-origin backtest of p95 latency",
        "",
        f"Warm-up {WARMUP_DAYS} days, then every {STRIDE} windows a forecast of the next "
        f"{HORIZON} (one hour) from the past only.",
        "",
        _fmt(forecasts, 3),
        "",
        f"The forecaster's MASE is {forecaster['MASE vs seasonal naive']:.2f} x seasonal "
        f"naive's ({1 - forecaster['MASE vs seasonal naive']:.0%} lower; the target is at "
        f"least 10%), and its 95% band covers {forecaster['95% band coverage']:.1%} of "
        "points (target 92% to 98%).",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 7, 2026])
    parser.add_argument("--holdout-seeds", type=int, nargs="*", default=[11, 23, 99])
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--shape-seeds", type=int, nargs="*", default=[1, 2, 3, 4, 5])
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        cases = corpus(args.seeds, args.days, Path(folder))
        held = corpus(args.holdout_seeds, args.days, Path(folder)) if args.holdout_seeds else {}
    headline, breakdown = detection(cases)
    held_out = holdout(held) if held else None
    shaped = shapes(args.shape_seeds) if args.shape_seeds else None
    forecasts = forecasting(cases)
    text = report(
        args.seeds, args.days, headline, breakdown, forecasts, time.perf_counter() - started,
        held_out, args.holdout_seeds, shaped, args.shape_seeds,
    )  # fmt: skip
    args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
