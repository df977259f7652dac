"""Access logs: aggregated into windows per endpoint, with the usual column variants."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from anomaly_detector.data.series import access_log
from anomaly_detector.data.synthetic.access_logs import generate_access_logs
from anomaly_detector.errors import InputError

STEP = pd.Timedelta("5min")


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> tuple[Path, pd.DataFrame, pd.DataFrame]:
    log, incidents = generate_access_logs(days=9, seed=7)
    path = tmp_path_factory.mktemp("logs") / "access_log.csv"
    log.to_csv(path, index=False)
    return path, log, incidents


def test_windows_count_every_request_overall_and_per_endpoint(generated) -> None:
    path, log, _ = generated
    table = access_log.aggregate(path, STEP)
    overall = table.loc[access_log.ALL_ENDPOINTS]
    assert overall["requests"].sum() == len(log)
    per_endpoint = table.drop(index=access_log.ALL_ENDPOINTS, level="endpoint")
    assert per_endpoint["requests"].sum() == len(log)
    assert set(access_log.endpoints(table)) == {"*", *log["endpoint"].unique()}
    assert len(overall) == 9 * 288  # every window of the nine days, none missing


def test_window_metrics_match_a_direct_computation(generated) -> None:
    path, log, _ = generated
    table = access_log.aggregate(path, STEP)
    stamps = pd.to_datetime(log["timestamp"], utc=True).dt.floor(STEP)
    counts = log.groupby([log["endpoint"], stamps]).size()
    endpoint, window = counts[counts >= access_log.MIN_RATIO_REQUESTS].index[100]
    rows = log[(stamps == window) & (log["endpoint"] == endpoint)]
    got = table.loc[(endpoint, window)]
    assert got["requests"] == len(rows)
    assert got["p95"] == pytest.approx(rows["response_time"].quantile(0.95))
    assert got["error_ratio_5xx"] == pytest.approx((rows["status_code"] >= 500).mean())
    assert got["bytes"] == rows["size"].sum()


def test_column_variants_and_seconds_are_understood(tmp_path: Path, generated) -> None:
    _, log, _ = generated
    variant = log.head(5000).rename(
        columns={"endpoint": "path", "status_code": "status", "size": "bytes",
                 "response_time": "request_time"}
    )  # fmt: skip
    variant["request_time"] = variant["request_time"] / 1000.0  # nginx: seconds
    variant["timestamp"] = pd.to_datetime(variant["timestamp"], utc=True).astype("int64") // 10**6
    path = tmp_path / "nginx.csv"
    variant.to_csv(path, index=False)
    assert access_log.is_access_log(list(variant.columns))
    original = tmp_path / "orig.csv"
    log.head(5000).to_csv(original, index=False)
    pd.testing.assert_series_equal(
        access_log.aggregate(path, STEP)["p95"], access_log.aggregate(original, STEP)["p95"]
    )


def test_select_names_what_exists(generated) -> None:
    path, _, _ = generated
    table = access_log.aggregate(path, STEP)
    series = access_log.select(table, None, "p95", STEP, "log")
    assert series.step == STEP and not np.isnan(series.values).all()
    assert series.metric == "p95" and series.name == "p95"
    with pytest.raises(InputError, match="metric must be one of"):
        access_log.select(table, None, "p42", STEP, "log")
    with pytest.raises(InputError, match="no endpoint '/nope'"):
        access_log.select(table, "/nope", "p95", STEP, "log")


def test_error_ratios_of_windows_with_few_requests_are_left_empty(generated) -> None:
    path, _, _ = generated
    table = access_log.aggregate(path, STEP)
    few = (table["requests"] > 0) & (table["requests"] < access_log.MIN_RATIO_REQUESTS)
    assert few.any()  # the generated night traffic of small endpoints
    for ratio in access_log.RATIOS:
        assert table.loc[few, ratio].isna().all()
        assert table.loc[~few & (table["requests"] > 0), ratio].notna().all()
    assert table.loc[few, "p95"].notna().all()  # latency is still measured
    series = access_log.select(table, "/api/reports", "error_ratio", STEP, "log")
    assert any("fewer than 10 requests" in note for note in series.repairs)


def test_latency_counts_and_bytes_suggest_a_log_scale_and_ratios_do_not(generated) -> None:
    path, _, _ = generated
    table = access_log.aggregate(path, STEP)
    for metric in access_log.METRICS:
        series = access_log.select(table, None, metric, STEP, "log")
        assert series.transform == ("none" if metric in access_log.RATIOS else "log"), metric
