"""Smoke runs of ``make bench-quality`` and the per-detector speed table of ``make bench``."""

from __future__ import annotations

import re

import pytest

import detector_speed
import quality
from anomaly_detector.training import selection
from quality_data import suite


def _table(text: str, heading: str) -> dict[str, list[str]]:
    """{first cell: other cells} of the markdown table under ``heading``."""
    section = text.split(f"## {heading}", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|") and "---" not in line]
    cells = [[cell.strip() for cell in row.strip("|").split("|")] for row in rows]
    return {row[0]: row[1:] for row in cells[1:]}


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> str:
    out = tmp_path_factory.mktemp("quality") / "results-quality.md"
    assert quality.main(["--quick", "--seeds", "1", "--out", str(out)]) == 0
    return out.read_text()


def test_every_detector_and_auto_get_a_row_of_valid_figures(report):
    for heading in ("ROC-AUC", "PR-AUC"):
        table = _table(report, heading)
        assert set(quality.detectors()) | {selection.AUTO} <= set(table)
        for name, cells in table.items():
            values = [float(cell) for cell in cells[:4]]  # three datasets and the mean
            assert all(0.0 <= value <= 1.0 for value in values), (heading, name, cells)
            assert values[3] == pytest.approx(sum(values[:3]) / 3, abs=2e-3)


def test_pyod_agrees_where_the_algorithm_is_the_same(report):
    table = _table(report, "Side by side with PyOD")
    # Same forest (both are scikit-learn's, same seed) and PyOD's own HBOS rules.
    assert float(table["isolation_forest"][2]) == pytest.approx(1.0, abs=1e-3)
    assert float(table["hbos"][2]) == pytest.approx(1.0, abs=1e-3)
    assert table["autoencoder"][1] == "nan"  # no counterpart without a deep-learning runtime


def test_recall_per_attack_type_and_auto_choices_are_reported(report):
    recall = _table(report, "Recall per anomaly type on api_traffic")
    assert "data_exfiltration" in report and set(quality.detectors()) <= set(recall)
    assert all(0.0 <= float(v) <= 1.0 for cells in recall.values() for v in cells)
    choices = report.split("## What auto chose", 1)[1]
    assert len(re.findall(r"^\| \w+ \| 0 \| \w+", choices, flags=re.M)) == len(suite(0, True))


def test_the_full_suite_has_every_kind_of_dataset():
    names = [data.name for data in suite(0)]
    assert names == ["breast_cancer", "digits", "wine", "local", "global", "clustered",
                     "dependency", "api_traffic"]  # fmt: skip
    for data in suite(1):
        assert 0 < data.is_anomaly.mean() < 0.2 and len(data.frame) == len(data.is_anomaly)


def test_the_speed_table_has_a_row_per_detector(capsys):
    assert detector_speed.main(["--rows", "3000", "--detectors", "hbos,knn"]) == 0
    printed = capsys.readouterr().out
    rows = [line for line in printed.splitlines() if line.startswith("| hbos") or
            line.startswith("| knn")]  # fmt: skip
    assert len(rows) == 2
    for row in rows:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert float(cells[1]) > 0 and float(cells[2]) > 0  # train s, one row µs
        assert "met" in cells[4] or "missed" in cells[4]
