"""Smoke runs of ``make bench-timeseries`` and the time-series speed table of ``make bench``."""

from __future__ import annotations

import pytest

import timeseries
import timeseries_speed
from anomaly_detector.detectors import registry


def _table(text: str, heading: str) -> dict[str, list[str]]:
    """{first cell: other cells} of the first markdown table under ``heading``."""
    section = text.split(f"## {heading}", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|") and "---" not in line]
    rows = rows[: next((i for i, r in enumerate(rows[1:], 1) if r.startswith("| detector")), None)]
    cells = [[cell.strip() for cell in row.strip("|").split("|")] for row in rows]
    return {row[0]: row[1:] for row in cells[1:]}


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> str:
    out = tmp_path_factory.mktemp("timeseries") / "results-timeseries.md"
    assert (
        timeseries.main(
            [
                "--seeds",
                "3",
                "--holdout-seeds",
                "4",
                "--days",
                "16",
                "--shape-seeds",
                "1",
                "--out",
                str(out),
            ]
        )  # fmt: skip
        == 0
    )
    return out.read_text()


def test_every_detector_gets_nab_scores_under_the_three_profiles(report):
    table = _table(report, "NAB scores")
    assert set(table) == set(timeseries.DETECTORS)
    for name, cells in table.items():
        scores = [float(c) for c in cells[:3]]
        assert all(-1e6 < s <= 100.0 for s in scores), (name, cells)
        assert 0.0 <= float(cells[3]) <= 1.0  # the standard profile's threshold


def test_event_scores_are_shares_and_the_default_threshold_is_the_detectors(report):
    table = _table(report, "Event-level precision and recall")
    default = table["series_ensemble (default)"]
    threshold = registry.detector_class(registry.DEFAULT_SERIES_DETECTOR).default_threshold
    assert float(default[4]) == pytest.approx(threshold)
    for cells in table.values():
        for share in (cells[1], cells[5]):  # recall at both thresholds
            assert 0.0 <= float(share) <= 1.0


def test_forecasts_compare_every_model_with_seasonal_naive(report):
    table = _table(report, "Forecasts")
    assert set(table) == set(timeseries.FORECASTERS)
    assert float(table["seasonal_naive"][-1]) == pytest.approx(1.0)
    for cells in table.values():
        assert 0.5 <= float(cells[1]) <= 1.0  # coverage of the 95% band
    assert "MASE is" in report and "covers" in report
    # The bar, on this short log too: at least 10% under seasonal naive's MASE,
    # and the 95% band covering 92% to 98% of points.
    assert float(table["forecaster"][-1]) <= 0.9
    assert 0.92 <= float(table["forecaster"][1]) <= 0.98


def test_speed_table_has_a_row_per_series_detector(capsys):
    assert timeseries_speed.main(["--days", "3", "--series", "3", "--calls", "50"]) == 0
    text = capsys.readouterr().out
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    assert len(rows) == len(registry.trainable("timeseries"))
    for row in rows:
        median, p99, seconds = (float(c) for c in row.strip("|").split("|")[1:4])
        assert 0 < median <= p99 and seconds > 0


def test_the_default_is_also_reported_on_held_out_logs(report):
    table = _table(report, "Held out")
    assert set(table) == {"series_ensemble (default)", "windowed_gaussian", "seasonal_naive"}
    for cells in table.values():
        assert float(cells[0]) <= 100.0 and 0.0 <= float(cells[6]) <= 1.0


def test_other_shapes_score_every_detector_on_every_shape(report):
    table = _table(report, "Other shapes")
    assert set(table) == set(timeseries.DETECTORS)
    header = report.split("## Other shapes", 1)[1].split("| detector", 1)[1].split("\n", 1)[0]
    columns = [cell.strip() for cell in header.split("|") if cell.strip()]
    assert columns == ["NAB standard", "NAB low FP", "NAB low FN", *timeseries.SHAPES]
    scores = {name: float(cells[0]) for name, cells in table.items()}
    # The defaults were chosen on access logs; on these shapes the default still leads
    # NAB's own baseline by a wide margin (78 against 3 over five seeds).
    assert scores["series_ensemble (default)"] > scores["windowed_gaussian"] + 30
