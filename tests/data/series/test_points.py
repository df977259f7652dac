"""timestamp,value files: parsed, put on a grid, and repaired or refused with a sentence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from anomaly_detector.data.series.grid import MIN_POINTS
from anomaly_detector.data.series.points import read_points
from anomaly_detector.errors import InputError


def write(path: Path, times, values, header: str = "timestamp,value") -> Path:
    lines = [header] + [f"{t},{v}" for t, v in zip(times, values, strict=True)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_iso_timestamps_make_a_regular_series(tmp_path: Path) -> None:
    times = pd.date_range("2026-01-01", periods=50, freq="5min", tz="UTC")
    series = read_points(write(tmp_path / "s.csv", times.strftime("%Y-%m-%dT%H:%M:%SZ"), range(50)))
    assert series.step == pd.Timedelta("5min")
    assert len(series) == 50 and series.repairs == []
    np.testing.assert_array_equal(series.values, np.arange(50.0))
    assert series.inputs()[1, 0] - series.inputs()[0, 0] == 300.0


@pytest.mark.parametrize("scale", [1, 1000])
def test_epoch_seconds_and_milliseconds_are_both_read(tmp_path: Path, scale: int) -> None:
    times = (1_759_999_980 + 60 * np.arange(30)) * scale
    series = read_points(write(tmp_path / "s.csv", times, np.ones(30)))
    assert series.timestamps[0] == pd.Timestamp(1_759_999_980, unit="s", tz="UTC")
    assert series.step == pd.Timedelta("1min")


def test_unsorted_rows_duplicates_and_gaps_are_repaired_and_noted(tmp_path: Path) -> None:
    times = list(pd.date_range("2026-01-01", periods=40, freq="1min", tz="UTC").astype(str))
    values = list(range(40))
    del times[10:13], values[10:13]  # a gap of three windows
    times.append(times[5])  # a duplicate of window 5
    values.append(105)
    times[0], times[1] = times[1], times[0]  # out of order
    series = read_points(write(tmp_path / "s.csv", times, values))
    assert len(series) == 40
    assert np.isnan(series.values[10:13]).all()
    assert series.values[5] == (5 + 105) / 2
    notes = " ".join(series.repairs)
    assert "sorted" in notes and "averaged" in notes and "3 missing window(s)" in notes


def test_bad_timestamps_name_the_row(tmp_path: Path) -> None:
    times = ["2026-01-01T00:00:00Z"] * 5 + ["yesterday"] + ["2026-01-01T00:10:00Z"] * 10
    with pytest.raises(InputError, match="column 'timestamp' on data row 6 holds 'yesterday'"):
        read_points(write(tmp_path / "s.csv", times, range(16)))
    times[6] = ""
    with pytest.raises(InputError, match="column 'timestamp' on data row 6 is empty"):
        read_points(write(tmp_path / "s.csv", times[:5] + times[6:], range(15)))


def test_bad_values_and_missing_columns_name_what_was_expected(tmp_path: Path) -> None:
    times = pd.date_range("2026-01-01", periods=20, freq="1min", tz="UTC").astype(str)
    values = ["1"] * 19 + ["fast"]
    with pytest.raises(InputError, match="'fast' on data row 20 is not a number"):
        read_points(write(tmp_path / "s.csv", times, values))
    with pytest.raises(InputError, match="'inf' on data row 3 is not a number"):
        read_points(write(tmp_path / "i.csv", times, ["1", "2", "inf"] + ["1"] * 17))
    path = tmp_path / "w.csv"
    path.write_text("timestamp,a,b\n" + "".join(f"{t},1,2\n" for t in times))
    with pytest.raises(InputError, match="expected columns timestamp,value; found timestamp, a, b"):
        read_points(path)
    assert len(read_points(path, value_column="b")) == 20


def test_too_few_points_and_mostly_missing_series_are_refused(tmp_path: Path) -> None:
    times = pd.date_range("2026-01-01", periods=MIN_POINTS - 1, freq="1min", tz="UTC")
    with pytest.raises(InputError, match=f"a series needs at least {MIN_POINTS}"):
        read_points(write(tmp_path / "s.csv", times.astype(str), range(MIN_POINTS - 1)))
    sparse = pd.DatetimeIndex(
        list(pd.date_range("2026-01-01", periods=12, freq="1min", tz="UTC"))
        + [pd.Timestamp("2026-01-02", tz="UTC")]
    )
    with pytest.raises(InputError, match="windows of 1min have no point"):
        read_points(write(tmp_path / "s.csv", sparse.astype(str), range(13)))
