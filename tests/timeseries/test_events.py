"""Event-level precision and recall, on series whose alerts are counted by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from anomaly_detector.timeseries.events import event_scores, flagged_events

TIMES = pd.date_range("2024-01-01", periods=100, freq="min")
ZERO = pd.Timedelta(0)
MINUTE = pd.Timedelta("1min")


def flags(*minutes: int) -> np.ndarray:
    out = np.zeros(len(TIMES), dtype=bool)
    out[list(minutes)] = True
    return out


def at(minute: int) -> pd.Timestamp:
    return TIMES[minute]


def test_runs_of_flagged_points_are_events():
    events = flagged_events(TIMES, flags(1, 2, 3, 6, 7, 20), ZERO)
    assert events == [(at(1), at(3)), (at(6), at(7)), (at(20), at(20))]
    assert flagged_events(TIMES, flags(), ZERO) == []
    assert flagged_events(TIMES.to_numpy(), flags(0, 99), ZERO) == [
        (at(0), at(0)),
        (at(99), at(99)),
    ]


def test_runs_closer_than_the_merge_gap_are_one_event():
    # Gaps: 3 -> 6 is 3 minutes, 7 -> 20 is 13 minutes.
    marks = flags(1, 2, 3, 6, 7, 20)
    assert flagged_events(TIMES, marks, 4 * MINUTE) == [(at(1), at(7)), (at(20), at(20))]
    assert len(flagged_events(TIMES, marks, 3 * MINUTE)) == 3  # not closer than: kept apart
    assert flagged_events(TIMES, marks, pd.Timedelta("1h")) == [(at(1), at(20))]


def test_flags_must_match_the_timestamps():
    with pytest.raises(ValueError, match="flags"):
        flagged_events(TIMES, np.zeros(3, dtype=bool), ZERO)


def test_incidents_are_counted_once_with_their_delays():
    labels = [(at(10), at(12)), (at(30), at(31)), (at(50), at(50))]
    # 8: early but within the 2-minute tolerance; 11: inside; 33: two minutes late;
    # nothing near 50; 70: a false alert.
    result = event_scores(TIMES, flags(8, 11, 33, 70), labels, 2 * MINUTE, ZERO)
    assert (result.detected, result.missed, result.false_events) == (2, 1, 1)
    assert result.precision == pytest.approx(3 / 4)
    assert result.recall == pytest.approx(2 / 3)
    assert result.f1 == pytest.approx(2 * (3 / 4) * (2 / 3) / (3 / 4 + 2 / 3))
    assert result.delays == [-2 * MINUTE, 3 * MINUTE]
    assert result.outcomes == [-2 * MINUTE, 3 * MINUTE, None]  # one per label, in order


def test_an_alert_outside_the_tolerance_misses():
    result = event_scores(TIMES, flags(7), [(at(10), at(12))], 2 * MINUTE, ZERO)
    assert (result.detected, result.missed, result.false_events) == (0, 1, 1)
    assert result.precision == 0.0 and result.recall == 0.0 and result.f1 == 0.0


def test_one_long_event_can_detect_two_incidents():
    labels = [(at(10), at(10)), (at(20), at(20))]
    result = event_scores(TIMES, flags(*range(5, 25)), labels, ZERO, ZERO)
    assert (result.detected, result.false_events, result.precision) == (2, 0, 1.0)
    assert result.delays == [ZERO, ZERO]


def test_a_merged_event_that_bridges_the_window_dates_the_alert_at_its_start():
    result = event_scores(TIMES, flags(5, 15), [(at(10), at(10))], MINUTE, pd.Timedelta("20min"))
    assert result.detected == 1
    assert result.delays == [-MINUTE]


def test_nothing_flagged_leaves_precision_undefined():
    result = event_scores(TIMES, flags(), [(at(10), at(12))], MINUTE, ZERO)
    assert math.isnan(result.precision) and result.f1 == 0.0  # nothing found: F1 is 0
    assert (result.recall, result.detected, result.missed, result.delays) == (0.0, 0, 1, [])


def test_no_incident_leaves_recall_undefined():
    result = event_scores(TIMES, flags(3, 40), [], MINUTE, ZERO)
    assert math.isnan(result.recall) and math.isnan(result.f1)
    assert (result.precision, result.false_events, result.detected) == (0.0, 2, 0)


def test_labels_may_be_numpy_datetimes():
    stamps = TIMES.to_numpy()
    result = event_scores(stamps, flags(10), [(stamps[10], stamps[10])], ZERO, ZERO)
    assert (result.precision, result.recall, result.delays) == (1.0, 1.0, [ZERO])


def test_time_zone_aware_series_and_labels_are_compared_in_utc():
    times = pd.date_range("2026-01-01", periods=100, freq="5min", tz="UTC")
    flags = np.zeros(100, dtype=bool)
    flags[50] = True
    label = [(times[49].tz_convert("Europe/Paris"), times[52])]
    aware = event_scores(times, flags, label, pd.Timedelta("10min"), pd.Timedelta("10min"))
    naive = event_scores(
        times.tz_localize(None), flags, label, pd.Timedelta("10min"), pd.Timedelta("10min")
    )
    assert aware.detected == naive.detected == 1
    assert aware.delays == naive.delays == [pd.Timedelta("5min")]
