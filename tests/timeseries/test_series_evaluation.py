"""``timeseries.evaluation``: NAB and event scores of a detector over a corpus of series."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from anomaly_detector.data.series.grid import Series
from anomaly_detector.data.synthetic.access_logs import write_access_logs
from anomaly_detector.timeseries import evaluation as ev
from anomaly_detector.timeseries.detection import series_detector
from anomaly_detector.timeseries.events import EventScores

STEP = pd.Timedelta("5min")


def spiky_series(seed: int, n: int = 4000, at: tuple[int, ...] = (2500,)) -> Series:
    rng = np.random.default_rng(seed)
    times = pd.date_range("2026-03-02", periods=n, freq=STEP, tz="UTC")
    values = 50 + 10 * np.sin(2 * np.pi * np.arange(n) / 288) + rng.normal(0, 2, n)
    for start in at:
        values[start : start + 6] += 60
    return Series(f"s{seed}", times, values, STEP)


def case(seed: int, at: tuple[int, ...] = (2500,)) -> ev.Case:
    series = spiky_series(seed, at=at)
    labels = [(series.timestamps[i], series.timestamps[i + 5]) for i in at]
    return ev.Case(series, labels, "value")


def test_clear_incidents_are_all_found_with_a_high_nab_score() -> None:
    cases = [case(1), case(2, (1800, 3300)), case(3, (3000,))]
    result = ev.evaluate(cases, lambda: series_detector("seasonal_mad"))
    assert result.nab["standard"]["score"] > 60
    assert set(result.nab) == {"standard", "reward_low_fp", "reward_low_fn"}
    assert result.events_at_nab.detected == 4 and result.events_at_nab.missed == 0
    assert result.events_at_nab.recall == 1.0
    assert list(result.per_series["incidents"]) == [1, 2, 1]
    assert result.per_series["detected"].sum() == 4
    assert result.threshold == series_detector("seasonal_mad").default_threshold
    # One row per incident, with its series, bounds and outcome at the operating threshold.
    incidents = result.incidents
    assert list(incidents["series"]) == ["s1", "s2", "s2", "s3"]
    assert list(incidents["start"]) == [c.series.timestamps[i] for c, i in
                                        ((cases[0], 2500), (cases[1], 1800), (cases[1], 3300),
                                         (cases[2], 3000))]  # fmt: skip
    assert incidents["detected"].sum() == result.events_at_threshold.detected
    detected = incidents[incidents["detected"]]
    assert (detected["delay_minutes"].abs() <= 30).all()


def test_a_missed_incident_is_listed_as_missed() -> None:
    quiet = case(4)
    # An incident labelled where the series is plain: nothing can find it.
    label = (quiet.series.timestamps[1000], quiet.series.timestamps[1005])
    result = ev.evaluate([ev.Case(quiet.series, [*quiet.labels, label], "value")],
                         lambda: series_detector("seasonal_mad"))  # fmt: skip
    assert list(result.incidents["detected"]) == [True, False]
    assert math.isnan(result.incidents["delay_minutes"].iloc[1])


def test_a_detector_that_cannot_see_the_incidents_scores_lower() -> None:
    cases = [case(1), case(2, (1800, 3300)), case(3, (3000,))]
    good = ev.evaluate(cases, lambda: series_detector("seasonal_mad"))
    # A window of 2 points has no idea what normal is: a much worse detector.
    blind = ev.evaluate(cases, lambda: series_detector("windowed_gaussian", window=2))
    assert blind.nab["standard"]["score"] < good.nab["standard"]["score"]


def test_pooled_event_scores_count_alerts_across_series() -> None:
    parts = [
        EventScores(0.5, 1.0, 2 / 3, 1, 0, 1, alerts=2, outcomes=[pd.Timedelta(0)]),
        EventScores(math.nan, 0.0, math.nan, 0, 2, 0, alerts=0, outcomes=[None, None]),
        EventScores(1.0, 1.0, 1.0, 1, 0, 0, alerts=3, outcomes=[pd.Timedelta("5min")]),
    ]
    pooled = ev.pool(parts)
    assert pooled.alerts == 5 and pooled.false_events == 1
    assert pooled.precision == pytest.approx(4 / 5)
    assert pooled.recall == pytest.approx(2 / 4)
    assert pooled.f1 == pytest.approx(2 * 0.8 * 0.5 / 1.3)
    assert len(pooled.delays) == 2


def test_scores_already_computed_are_reused_not_recomputed() -> None:
    cases = [case(1)]
    make = lambda: series_detector("seasonal_mad")  # noqa: E731
    scored = ev.score_cases(cases, make)
    scored[0].table.loc[:, "anomaly_score"] = np.nan  # nothing can be detected any more
    result = ev.evaluate(cases, make, scored=scored)
    assert result.events_at_threshold.detected == 0
    assert result.nab["standard"]["score"] == pytest.approx(0.0)


@pytest.fixture(scope="module")
def access_log(tmp_path_factory) -> tuple[Path, Path]:
    return write_access_logs(tmp_path_factory.mktemp("log"), seed=5, days=10)


def test_an_access_log_gives_one_case_per_endpoint_and_metric(access_log) -> None:
    log, incidents = access_log
    cases = ev.access_log_cases(log, incidents)
    names = [c.series.name for c in cases]
    assert len(cases) == 18 and len(set(names)) == 18
    assert {c.family for c in cases} == {"response_time", "error_ratio", "request_rate"}
    labelled = pd.read_csv(incidents)
    # Every incident applies to at least one case, and only to cases of its metric family.
    assert sum(len(c.labels) for c in cases) >= len(labelled)
    for c in cases:
        for start, _ in c.labels:
            rows = labelled[pd.to_datetime(labelled["start"], utc=True) == start]
            assert c.family in set(rows["metric"]), (c.series.name, start)


def test_file_cases_narrow_an_access_log_by_endpoint_and_metric(access_log) -> None:
    log, incidents = access_log
    cases = ev.file_cases(log, incidents, endpoint="/api/search", metric="p95")
    assert [c.series.name for c in cases] == ["p95 /api/search"]
