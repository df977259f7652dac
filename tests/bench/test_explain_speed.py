"""Smoke run of make bench's explanation-latency table: a row per model type, real figures."""

from __future__ import annotations

import explain_speed
from anomaly_detector.detectors import registry


def test_every_model_type_gets_scoring_and_explanation_latency(capsys):
    assert explain_speed.main(["--rows", "1500", "--probes", "2"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ")][1:]
    names = [row.strip("|").split("|")[0].strip() for row in rows]
    assert names[: len(registry.trainable())] == registry.trainable()
    assert sum(name.startswith("gradient_boosting") for name in names) == 2
    for row in rows:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        score_us, explain_us = (float(c.replace(",", "")) for c in cells[2:4])
        assert 0 < score_us < explain_us, row  # an explanation scores many mixes of the row
