"""Tests for the synthetic API-traffic generator."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pandas.api import types as ptypes

from anomaly_detector.data.synthetic import traffic as datagen
from anomaly_detector.data.synthetic.traffic_behaviour import MIN_REQUESTS_FOR_P95

LABELS = [datagen.LABEL_COLUMN, datagen.ANOMALY_TYPE_COLUMN]
ALL_COLUMNS = [*datagen.ID_COLUMNS, *datagen.FEATURE_COLUMNS, *LABELS]
INT_COLUMNS = ["hour_of_day", "bytes_in", "bytes_out", "distinct_endpoints", "auth_failures"]
FLOAT_COLUMNS = ["request_rate", "error_ratio", "latency_p50_ms", "latency_p95_ms"]
HEAVY_TAILED = [
    "request_rate",
    "latency_p50_ms",
    "latency_p95_ms",
    "bytes_in",
    "bytes_out",
    "distinct_endpoints",
    "auth_failures",
]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return datagen.write_default_dataset(tmp_path_factory.mktemp("data") / "nested" / "dir")


@pytest.fixture(scope="module")
def train(dataset: tuple[Path, Path]) -> pd.DataFrame:
    return pd.read_csv(dataset[0])


@pytest.fixture(scope="module")
def test_df(dataset: tuple[Path, Path]) -> pd.DataFrame:
    return pd.read_csv(dataset[1])


def test_same_seed_gives_identical_bytes(dataset: tuple[Path, Path], tmp_path: Path) -> None:
    again = datagen.write_default_dataset(tmp_path)
    for first, second in zip(dataset, again, strict=True):
        assert first.read_bytes() == second.read_bytes()


def test_different_seed_gives_different_data(tmp_path: Path) -> None:
    a = datagen.write_default_dataset(tmp_path / "a", seed=1, train_rows=2000, test_rows=500)
    b = datagen.write_default_dataset(tmp_path / "b", seed=2, train_rows=2000, test_rows=500)
    assert a[0].read_bytes() != b[0].read_bytes()
    assert a[1].read_bytes() != b[1].read_bytes()


def test_generate_traffic_is_deterministic_and_sized() -> None:
    a = datagen.generate_traffic(1234, 0.07, seed=5)
    b = datagen.generate_traffic(1234, 0.07, seed=5)
    pd.testing.assert_frame_equal(a, b)
    assert len(a) == 1234
    assert not a.equals(datagen.generate_traffic(1234, 0.07, seed=6))


def test_train_is_unlabelled_and_test_is_labelled(train: pd.DataFrame, test_df: pd.DataFrame):
    assert list(train.columns) == [*datagen.ID_COLUMNS, *datagen.FEATURE_COLUMNS]
    assert list(test_df.columns) == ALL_COLUMNS
    assert (len(train), len(test_df)) == (20_000, 5_000)


def test_schema_and_dtypes(test_df: pd.DataFrame) -> None:
    frame = datagen.generate_traffic(500, 0.1)
    for df in (frame, test_df):
        assert list(df.columns) == ALL_COLUMNS
        for col in INT_COLUMNS + [datagen.LABEL_COLUMN]:
            assert ptypes.is_integer_dtype(df[col]), col
        for col in FLOAT_COLUMNS:
            assert ptypes.is_float_dtype(df[col]), col
        for col in ["client_id", "window_start", "client_type", datagen.ANOMALY_TYPE_COLUMN]:
            assert ptypes.is_string_dtype(df[col]) or df[col].dtype == object, col
        assert set(df["client_type"]) <= set(datagen.CLIENT_TYPES)
        assert set(df[datagen.ANOMALY_TYPE_COLUMN]) <= {"none", *datagen.ANOMALY_TYPES}
        assert df["client_id"].str.fullmatch(r"c-\d{5}").all()


def test_clients_repeat_across_windows(train: pd.DataFrame) -> None:
    per_client = train["client_id"].value_counts()
    assert 100 <= len(per_client) <= 1000
    assert per_client.median() >= 10
    assert not train.duplicated(list(datagen.ID_COLUMNS)).any()
    # A client keeps its type over time.
    assert (train.groupby("client_id")["client_type"].nunique() == 1).all()


@pytest.mark.parametrize("which", ["train", "test"])
def test_value_ranges(which: str, train: pd.DataFrame, test_df: pd.DataFrame) -> None:
    df = train if which == "train" else test_df
    assert df["error_ratio"].between(0, 1).all()
    assert (df["request_rate"] > 0).all()
    assert (df["latency_p50_ms"] > 0).all()
    both = df["latency_p95_ms"].notna()
    assert (df.loc[both, "latency_p95_ms"] >= df.loc[both, "latency_p50_ms"]).all()
    for col in ["bytes_in", "bytes_out", "auth_failures"]:
        assert (df[col] >= 0).all(), col
    assert (df["distinct_endpoints"] >= 1).all()
    # Counts cannot exceed the requests in the 5-minute window.
    n_requests = df["request_rate"] * datagen.WINDOW_MINUTES
    assert (df["distinct_endpoints"] <= n_requests.round() + 1e-9).all()
    # error_ratio is rounded to 4 decimals, so allow that much slack on the error count.
    errors_upper = (df["error_ratio"] + 5e-5) * n_requests.round()
    assert (df["auth_failures"] <= errors_upper + 1e-6).all()
    # Heavy tails: bytes span many orders of magnitude and reach 1e8+.
    assert df["bytes_out"].max() >= 1e8
    assert df["bytes_out"].quantile(0.99) > 20 * df["bytes_out"].median()
    assert df["request_rate"].quantile(0.99) > 10 * df["request_rate"].median()


def test_timestamps_are_utc_windows_matching_hour(train: pd.DataFrame, test_df: pd.DataFrame):
    for df in (train, test_df):
        assert df["window_start"].str.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:00Z").all()
        ts = pd.to_datetime(df["window_start"], utc=True)
        assert (ts.dt.hour == df["hour_of_day"]).all()
        assert (ts.dt.minute % 5 == 0).all()
        assert ts.is_monotonic_increasing
        assert df["hour_of_day"].nunique() == 24  # spans at least a full day
    train_ts = pd.to_datetime(train["window_start"], utc=True)
    test_ts = pd.to_datetime(test_df["window_start"], utc=True)
    assert test_ts.min() > train_ts.max()
    assert train_ts.min() == pd.Timestamp("2026-11-01T00:00:00Z")


@pytest.mark.parametrize(("n_rows", "contamination"), [(1000, 0.03), (5000, 0.1), (333, 0.2)])
def test_contamination_fraction_and_mix(n_rows: int, contamination: float) -> None:
    df = datagen.generate_traffic(n_rows, contamination, seed=11)
    expected = round(n_rows * contamination)
    assert df[datagen.LABEL_COLUMN].sum() == expected
    assert ((df[datagen.ANOMALY_TYPE_COLUMN] != "none") == df[datagen.LABEL_COLUMN].eq(1)).all()
    counts = df.loc[df[datagen.LABEL_COLUMN] == 1, datagen.ANOMALY_TYPE_COLUMN].value_counts()
    assert set(counts.index) == set(datagen.ANOMALY_TYPES)
    assert counts.max() - counts.min() <= 1


def test_test_csv_has_every_anomaly_type(test_df: pd.DataFrame) -> None:
    assert test_df[datagen.LABEL_COLUMN].mean() == pytest.approx(0.10, abs=0.005)
    present = set(test_df.loc[test_df[datagen.LABEL_COLUMN] == 1, datagen.ANOMALY_TYPE_COLUMN])
    assert present == set(datagen.ANOMALY_TYPES)


def test_missing_p95_is_rare_and_only_for_quiet_windows(train: pd.DataFrame) -> None:
    missing = train["latency_p95_ms"].isna()
    assert 0.003 <= missing.mean() <= 0.03
    n_requests = (train["request_rate"] * datagen.WINDOW_MINUTES).round()
    assert (n_requests[missing] < MIN_REQUESTS_FOR_P95).all()
    assert n_requests[~missing].min() >= MIN_REQUESTS_FOR_P95
    assert train.drop(columns="latency_p95_ms").notna().all().all()


def _by_type(df: pd.DataFrame) -> dict[str, pd.DataFrame]:
    return {k: g for k, g in df.groupby(datagen.ANOMALY_TYPE_COLUMN)}


def test_anomaly_signatures(test_df: pd.DataFrame) -> None:
    df = test_df.assign(
        out_per_request=test_df["bytes_out"] / (test_df["request_rate"] * datagen.WINDOW_MINUTES),
        # Compare latency with what is usual for the same client type.
        p50_vs_type=test_df["latency_p50_ms"]
        / test_df["client_type"].map(
            test_df[test_df[datagen.LABEL_COLUMN] == 0]
            .groupby("client_type")["latency_p50_ms"]
            .median()
        ),
    )
    g = _by_type(df)
    normal = g["none"]
    med = normal.median(numeric_only=True)

    cs = g["credential_stuffing"].median(numeric_only=True)
    assert cs["auth_failures"] >= 20 * max(med["auth_failures"], 1)
    assert cs["error_ratio"] >= 10 * med["error_ratio"]
    assert cs["distinct_endpoints"] <= 2

    sc = g["scraping"].median(numeric_only=True)
    assert sc["distinct_endpoints"] >= 5 * med["distinct_endpoints"]
    assert sc["request_rate"] > med["request_rate"]

    ex = g["data_exfiltration"]
    assert ex["out_per_request"].median() >= 10 * med["out_per_request"]
    assert ex["hour_of_day"].isin([22, 23, 0, 1, 2, 3, 4, 5]).all()
    assert ex["request_rate"].median() <= 2 * med["request_rate"]

    # Bursts are relative to the client's own usual rate, not the global one.
    client_rate = normal.groupby("client_id")["request_rate"].median()
    burst = g["request_burst"]
    ratio = burst["request_rate"] / burst["client_id"].map(client_rate)
    assert ratio.dropna().median() >= 8

    bd = g["backend_degradation"].median(numeric_only=True)
    assert bd["p50_vs_type"] >= 3
    assert bd["latency_p95_ms"] >= 3 * med["latency_p95_ms"]
    assert bd["error_ratio"] >= 5 * med["error_ratio"]


def _features(df: pd.DataFrame) -> pd.DataFrame:
    x = df[list(datagen.FEATURE_COLUMNS)].copy()
    x["latency_p95_ms"] = x["latency_p95_ms"].fillna(x["latency_p50_ms"])
    x[HEAVY_TAILED] = np.log1p(x[HEAVY_TAILED])
    return pd.get_dummies(x, columns=["client_type"], dtype=float)


def test_isolation_forest_separates_anomalies_but_not_perfectly(
    train: pd.DataFrame, test_df: pd.DataFrame
) -> None:
    from sklearn.ensemble import IsolationForest
    from sklearn.metrics import roc_auc_score

    x_train = _features(train)
    x_test = _features(test_df).reindex(columns=x_train.columns, fill_value=0.0)
    model = IsolationForest(n_estimators=100, random_state=0).fit(x_train)
    auc = roc_auc_score(test_df[datagen.LABEL_COLUMN], -model.score_samples(x_test))
    assert auc >= 0.85
    assert auc < 0.99  # some injected cases are meant to be subtle


@pytest.mark.parametrize("anomaly_type", [None, *datagen.ANOMALY_TYPES])
def test_sample_rows(anomaly_type: str | None) -> None:
    rows = datagen.sample_rows(np.random.default_rng(3), 200, anomaly_type)
    again = datagen.sample_rows(np.random.default_rng(3), 200, anomaly_type)
    pd.testing.assert_frame_equal(rows, again)
    assert list(rows.columns) == ALL_COLUMNS
    assert len(rows) == 200
    assert (rows[datagen.ANOMALY_TYPE_COLUMN] == (anomaly_type or "none")).all()
    assert (rows[datagen.LABEL_COLUMN] == int(anomaly_type is not None)).all()
    ts = pd.to_datetime(rows["window_start"], utc=True)
    assert (ts.dt.hour == rows["hour_of_day"]).all()


def test_sample_rows_fixed_hour_and_signature() -> None:
    rng = np.random.default_rng(8)
    normal = datagen.sample_rows(rng, 300, hour_of_day=13)
    burst = datagen.sample_rows(rng, 300, "request_burst", hour_of_day=13)
    assert (normal["hour_of_day"] == 13).all() and (burst["hour_of_day"] == 13).all()
    assert burst["request_rate"].median() >= 5 * normal["request_rate"].median()
    assert datagen.sample_rows(rng, 0).columns.tolist() == ALL_COLUMNS


def test_invalid_arguments() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError):
        datagen.sample_rows(rng, 5, "ddos")
    with pytest.raises(ValueError):
        datagen.sample_rows(rng, 5, hour_of_day=24)
    with pytest.raises(ValueError):
        datagen.generate_traffic(10, 1.5)


def test_writes_are_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    train_path, test_path = datagen.write_default_dataset(tmp_path, train_rows=500, test_rows=200)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["test.csv", "train.csv"]
    # Readable by other users: the notebook container runs as a non-root user.
    assert train_path.stat().st_mode & 0o777 == 0o644
    before = train_path.read_bytes()

    def failing_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    from anomaly_detector import files

    monkeypatch.setattr(files.os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        datagen.write_default_dataset(tmp_path, seed=9, train_rows=500, test_rows=200)
    # The old file is untouched and no temp file is left behind.
    assert train_path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["test.csv", "train.csv"]
    assert not [p for p in os.listdir(tmp_path) if re.search(r"\.tmp$", p)]
