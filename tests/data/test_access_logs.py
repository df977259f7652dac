"""The access-log dataset: deterministic, seasonal, and every labelled incident visible."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from anomaly_detector.data.synthetic.access_log_incidents import INCIDENT_KINDS
from anomaly_detector.data.synthetic.access_logs import (
    LOG_COLUMNS,
    NOISY_ENDPOINT,
    generate_access_logs,
    write_access_logs,
)

DAYS = 14
START = pd.Timestamp("2026-10-05T00:00:00Z")
WEEK = pd.Timedelta(days=7)


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    log, incidents = generate_access_logs(days=DAYS, seed=42)
    return log, incidents, pd.to_datetime(log["timestamp"])


def _window(data, endpoint: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    log, _, ts = data
    rows = (ts >= start) & (ts < end)
    if endpoint != "*":
        rows &= log["endpoint"] == endpoint
    return log[rows]


def _now_and_week_before(data, incident) -> tuple[pd.DataFrame, pd.DataFrame]:
    start, end = pd.Timestamp(incident.start), pd.Timestamp(incident.end)
    return (
        _window(data, incident.endpoint, start, end),
        _window(data, incident.endpoint, start - WEEK, end - WEEK),
    )


def _of_kind(incidents: pd.DataFrame, kind: str):
    rows = list(incidents[incidents["kind"] == kind].itertuples())
    assert rows, f"no {kind} to check"
    return rows


def test_same_seed_same_log_other_seed_other_log():
    first = generate_access_logs(days=8, seed=3, mean_requests_per_second=0.05)
    again = generate_access_logs(days=8, seed=3, mean_requests_per_second=0.05)
    other = generate_access_logs(days=8, seed=4, mean_requests_per_second=0.05)
    pd.testing.assert_frame_equal(first[0], again[0])
    pd.testing.assert_frame_equal(first[1], again[1])
    assert not first[0].equals(other[0]) and not first[1].equals(other[1])


def test_columns_types_and_values_look_like_a_gateway_log(data):
    log, _, ts = data
    assert list(log.columns) == list(LOG_COLUMNS)
    assert all(pd.api.types.is_string_dtype(log[c]) for c in ("timestamp", "method", "endpoint"))
    assert all(pd.api.types.is_integer_dtype(log[c]) for c in ("status_code", "size"))
    assert pd.api.types.is_float_dtype(log["response_time"])
    assert log["timestamp"].str.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z").all()
    assert ts.is_monotonic_increasing
    assert ts.min() >= START and ts.max() < START + pd.Timedelta(days=DAYS)
    assert set(log["method"]) == {"GET", "POST", "PUT", "DELETE"}
    assert log["endpoint"].nunique() == 5
    shares = log["status_code"].value_counts(normalize=True)
    assert shares[200] + shares[201] > 0.85
    assert {304, 400, 401, 404, 500, 502, 503} <= set(shares.index)
    assert (log["size"] >= 0).all() and (log["response_time"] > 0).all()
    assert (log["response_time"] == log["response_time"].round(3)).all()
    # Endpoint-specific mixes: payments mostly create, search mostly reads.
    by_endpoint = log.groupby("endpoint")["method"].value_counts(normalize=True)
    assert by_endpoint["/api/payments", "POST"] > 0.5 and by_endpoint["/api/search", "GET"] > 0.85


def test_enough_requests_per_endpoint_and_window_for_a_p95(data):
    log, _, ts = data
    counts = log.groupby([log["endpoint"], ts.dt.floor("5min")]).size()
    assert counts.groupby(level=0).mean().min() >= 20


def test_incidents_after_the_first_week_apart_and_per_kind(data):
    _, incidents, _ = data
    assert list(incidents.columns) == ["start", "end", "endpoint", "metric", "kind"]
    starts, ends = pd.to_datetime(incidents["start"]), pd.to_datetime(incidents["end"])
    assert starts.is_monotonic_increasing and (ends > starts).all()
    assert starts.min() >= START + WEEK and ends.max() <= START + pd.Timedelta(days=DAYS)
    assert (starts.iloc[1:].to_numpy() - ends.iloc[:-1].to_numpy() >= pd.Timedelta(hours=6)).all()
    assert incidents["kind"].value_counts().to_dict() == dict.fromkeys(INCIDENT_KINDS, 1)
    assert NOISY_ENDPOINT not in set(incidents["endpoint"])
    metric = {kind: spec[0] for kind, spec in INCIDENT_KINDS.items()}
    assert (incidents["metric"] == incidents["kind"].map(metric)).all()
    # Four weeks: about two of each kind.
    _, month = generate_access_logs(days=28, seed=42, mean_requests_per_second=0.01)
    assert month["kind"].value_counts().to_dict() == dict.fromkeys(INCIDENT_KINDS, 2)


def test_latency_spikes_and_degradations_show_in_p95(data):
    _, incidents, _ = data
    for spike in _of_kind(incidents, "latency_spike"):
        now, _ = _now_and_week_before(data, spike)
        # The reference is the hour around the same window a week earlier: more requests.
        mid = pd.Timestamp(spike.start) - WEEK
        hour = _window(
            data, spike.endpoint, mid - pd.Timedelta(minutes=30), mid + pd.Timedelta(minutes=30)
        )
        assert now["response_time"].quantile(0.95) > 3 * hour["response_time"].quantile(0.95)
    for slow in _of_kind(incidents, "degradation"):
        end, half_hour = pd.Timestamp(slow.end), pd.Timedelta(minutes=30)
        peak = _window(data, slow.endpoint, end - half_hour, end)["response_time"].median()
        after = _window(data, slow.endpoint, end, end + half_hour)["response_time"].median()
        ref = _window(data, slow.endpoint, end - WEEK - half_hour, end - WEEK)
        assert peak > 1.8 * ref["response_time"].median()
        assert after < peak / 1.6  # the recovery is abrupt


def test_level_shift_persists_after_its_labelled_two_hours(data):
    _, incidents, _ = data
    for shift in _of_kind(incidents, "level_shift"):
        start, end = pd.Timestamp(shift.start), pd.Timestamp(shift.end)
        assert end - start == pd.Timedelta(hours=2)
        now, before = _now_and_week_before(data, shift)
        assert now["response_time"].median() > 1.3 * before["response_time"].median()
        later = _window(data, shift.endpoint, end, end + pd.Timedelta(hours=12))
        ref = _window(data, shift.endpoint, end - WEEK, end - WEEK + pd.Timedelta(hours=12))
        assert later["response_time"].median() > 1.3 * ref["response_time"].median()


def test_error_bursts_and_traffic_drops_show_in_their_metric(data):
    log, incidents, ts = data
    for burst in _of_kind(incidents, "error_burst"):
        now, _ = _now_and_week_before(data, burst)
        assert (now["status_code"] >= 500).mean() > 0.15
    inside = np.zeros(len(log), dtype=bool)
    for inc in incidents.itertuples():
        inside |= ((ts >= pd.Timestamp(inc.start)) & (ts < pd.Timestamp(inc.end))).to_numpy()
    assert (log.loc[~inside, "status_code"] >= 500).mean() < 0.03
    for drop in _of_kind(incidents, "traffic_drop"):
        now, before = _now_and_week_before(data, drop)
        assert len(now) < 0.4 * len(before)


def test_daily_and_weekly_seasonality(data):
    log, _, ts = data
    weekday = ts.dt.day_of_week < 5
    for endpoint in log["endpoint"].unique():
        mine = weekday & (log["endpoint"] == endpoint)
        assert (mine & (ts.dt.hour == 14)).sum() > 2 * (mine & (ts.dt.hour == 3)).sum()
    per_day = ts.dt.floor("D").value_counts()
    assert (
        per_day[per_day.index.day_of_week >= 5].mean()
        < 0.8 * per_day[per_day.index.day_of_week < 5].mean()
    )
    # Busier is a little slower: the business-hours p95 is above the night one.
    orders = log[(log["endpoint"] == "/api/orders") & weekday & (ts < START + WEEK)]
    hours = ts[orders.index].dt.hour
    latency = orders["response_time"]
    assert latency[hours.between(10, 16)].quantile(0.95) > 1.1 * latency[
        hours.between(1, 4)
    ].quantile(0.95)


def test_noisy_endpoint_is_bursty_and_heavy_tailed(data):
    log, _, ts = data
    latency = log.groupby("endpoint")["response_time"]
    tail = latency.quantile(0.99) / latency.median()
    assert (
        tail.idxmax() == NOISY_ENDPOINT
        and tail[NOISY_ENDPOINT] > 2 * tail.drop(NOISY_ENDPOINT).max()
    )
    minutes = log.groupby([log["endpoint"], ts.dt.floor("min")]).size().unstack(0).fillna(0)
    dispersion = minutes.var() / minutes.mean()  # 1 would be a plain Poisson process
    assert dispersion.idxmax() == NOISY_ENDPOINT


def test_written_csvs_round_trip_and_are_byte_identical(tmp_path):
    log_path, incidents_path = write_access_logs(tmp_path / "a" / "data", seed=5, days=8)
    assert (log_path.name, incidents_path.name) == ("access_log.csv", "access_log_incidents.csv")
    log, incidents = generate_access_logs(days=8, seed=5)
    pd.testing.assert_frame_equal(pd.read_csv(log_path), log)
    pd.testing.assert_frame_equal(pd.read_csv(incidents_path), incidents)
    assert not list(log_path.parent.glob(".*.tmp"))
    again, _ = write_access_logs(tmp_path / "b", seed=5, days=8)
    assert again.read_bytes() == log_path.read_bytes()
