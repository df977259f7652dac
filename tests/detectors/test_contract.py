"""What every trainable detector in the registry promises, checked for each one.

Trained through ``training.train`` on generated traffic (heavy tails, a categorical,
missing values), saved and loaded in both formats, scored through the ``Scorer``
the service uses. A detector added to the registry is held to all of this at once.
"""

from __future__ import annotations

import numpy as np
import pytest

from anomaly_detector.bundle.io import load_bundle, save_bundle
from anomaly_detector.detectors import registry
from anomaly_detector.scoring.canary import validate
from factories import traffic, train_small

DETECTORS = registry.trainable()
# Reference sets bounded below the training size, so that "does not grow" is visible.
BOUNDED = {"max_samples": 300}


def _params(name: str, **extra) -> dict:
    known = {p.name for p in registry.detector_class(name).params}
    return {k: v for k, v in {**BOUNDED, **extra}.items() if k in known}


def _train(name: str, rows: int = 1_200, seed: int = 0, **params):
    return train_small(frame=traffic(rows, seed=seed), seed=seed, detector=name,
                       params=_params(name, **params))  # fmt: skip


@pytest.fixture(scope="module", params=DETECTORS)
def trained(request):
    return request.param, _train(request.param)


def _probe(seed: int = 5):
    frame = traffic(300, seed=seed)
    frame.loc[frame.index[:20], "bytes_out"] *= 1_000  # far outside training
    frame.loc[frame.index[20:30], "client_type"] = "never-seen"
    frame.loc[frame.index[30:40], "latency_p95_ms"] = np.nan
    return frame


def test_the_canary_passes_and_the_scorer_is_compiled(trained):
    name, result = trained
    scorer = validate(result.bundle)
    assert scorer.fast_path, scorer.fallback_reason


def test_anomaly_scores_lie_in_the_declared_range_and_raw_scores_order_them(trained):
    name, result = trained
    prediction = validate(result.bundle).predict_frame(_probe())
    low, high = registry.detector_class(name).score_range
    assert np.all((prediction.anomaly_score >= low) & (prediction.anomaly_score <= high))
    if result.bundle.scale is not None:
        assert (low, high) == (0.0, 1.0)
        order = np.argsort(prediction.raw_score, kind="stable")
        assert np.all(np.diff(prediction.anomaly_score[order]) >= 0)


def test_compiled_scores_equal_the_fitting_libraries(trained):
    name, result = trained
    probe = _probe()
    prediction = validate(result.bundle).predict_frame(probe)
    reference = result.bundle.reference_raw_scores(probe)
    np.testing.assert_allclose(prediction.raw_score, reference, rtol=1e-9, atol=1e-12)


def test_a_rows_score_does_not_depend_on_its_batch(trained):
    name, result = trained
    scorer = validate(result.bundle)
    probe = _probe()
    rows = [result.bundle.schema.row_from_mapping(_clean(r)) for r in _records(probe)]
    alone = [scorer.predict_one(row).anomaly_score for row in rows[:25]]
    with_others = scorer.predict_rows(rows[:25][::-1] + rows[100:]).anomaly_score[:25][::-1]
    np.testing.assert_allclose(alone, with_others, rtol=0, atol=1e-12)


def test_what_a_row_is_scored_against_does_not_grow_with_the_training_rows(trained):
    name, _ = trained
    if name == "ensemble":
        pytest.skip("its members take their own defaults; each member is held to this itself")
    small, large = _train(name, rows=1_000), _train(name, rows=4_000)
    assert (
        _state_size(large.bundle.detector.state())
        <= 1.2 * _state_size(small.bundle.detector.state()) + 2_000
    )


@pytest.mark.parametrize("format", ["joblib", "skops"])
def test_saved_and_loaded_it_scores_the_same(trained, tmp_path, format):
    name, result = trained
    path, _ = save_bundle(result.bundle, tmp_path, format=format)
    loaded = load_bundle(path)
    probe = _probe()
    np.testing.assert_array_equal(
        validate(loaded).predict_frame(probe).anomaly_score,
        validate(result.bundle).predict_frame(probe).anomaly_score,
    )
    assert loaded.detector_name == name


def test_planted_anomalies_rank_above_normal_traffic(trained):
    """A smoke test of sense, not a quality figure (make bench-quality measures those)."""
    name, result = trained
    probe = _probe()
    scores = validate(result.bundle).predict_frame(probe).anomaly_score
    assert np.median(scores[:20]) > np.median(scores[40:])


def _records(frame):
    return frame[[c for c in frame.columns if c not in ("client_id", "window_start")]].to_dict(
        "records"
    )


def _clean(record: dict) -> dict:
    return {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in record.items()}


def _state_size(value) -> int:
    """Numbers held by a fitted state: arrays, nested dicts and lists, library estimators."""
    if isinstance(value, np.ndarray):
        return value.size
    if isinstance(value, dict):
        return sum(_state_size(v) for v in value.values())
    if isinstance(value, list | tuple):
        return sum(_state_size(v) for v in value)
    if hasattr(value, "__dict__"):
        return sum(_state_size(v) for v in vars(value).values())
    return 1
