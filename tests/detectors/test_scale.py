"""The training-percentile scale every uncalibrated detector's raw score is mapped onto."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anomaly_detector.detectors.scale import PercentileScale


def _training(kind: str, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return {
        "normal": rng.normal(size=5_000),
        "heavy": rng.pareto(1.5, size=5_000),
        "discrete": rng.integers(0, 4, size=3_000).astype(float),
        "constant": np.full(500, 2.5),
    }[kind]


@pytest.mark.parametrize("kind", ["normal", "heavy", "discrete", "constant"])
def test_scores_are_the_training_percentile_in_zero_one(kind):
    training = _training(kind)
    scale = PercentileScale.fit(training)
    scores = scale.apply(training)
    assert np.all((scores >= 0) & (scores < 1))
    if kind in ("normal", "heavy"):  # continuous: about c of training rows lie above 1 - c
        for share in (0.01, 0.03, 0.1):
            assert (scores > 1 - share).mean() == pytest.approx(share, abs=0.002)


def test_the_map_is_monotone_so_rankings_are_the_raw_scores():
    scale = PercentileScale.fit(_training("heavy"))
    raw = np.sort(np.random.default_rng(1).pareto(1.2, size=20_000) * 3)
    assert np.all(np.diff(scale.apply(raw)) >= 0)


def test_rows_beyond_training_stay_ordered_instead_of_tying_at_one():
    training = _training("normal")
    scale = PercentileScale.fit(training)
    far = training.max() + np.array([0.1, 0.5, 1.0, 2.0])
    scores = scale.apply(far)
    assert np.all(np.diff(scores) > 0) and np.all(scores < 1)
    assert scores[0] > 0.999


def test_a_tied_raw_score_takes_the_share_of_rows_at_most_that_high():
    training = _training("discrete")
    scale = PercentileScale.fit(training)
    for value in (0.0, 1.0, 2.0):
        share = (training <= value).mean()
        # The grid has a level every 0.1%: the share is known to within one step.
        assert scale.apply(np.array([value]))[0] == pytest.approx(share, abs=2e-3)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=40))
def test_one_row_equals_the_batch_path_to_the_bit(values):
    scale = PercentileScale.fit(_training("heavy"))
    probe = np.array(values + list(scale.raw[:5]) + [float(scale.raw[-1])])
    batch = scale.apply(probe)
    assert [scale.apply_one(float(v)) for v in probe] == batch.tolist()


def test_state_round_trip_and_refusing_nothing_to_fit():
    scale = PercentileScale.fit(_training("normal"))
    again = PercentileScale.from_state(scale.state())
    probe = np.linspace(-5, 8, 50)
    np.testing.assert_array_equal(again.apply(probe), scale.apply(probe))
    with pytest.raises(ValueError, match="no finite training scores"):
        PercentileScale.fit(np.array([np.nan, np.inf]))
