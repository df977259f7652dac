"""The supervised detector: calibrated, compiled equal to the libraries, explained exactly."""

from __future__ import annotations

import numpy as np
import pytest

from anomaly_detector.detectors.gradient_boosting import GradientBoostingDetector


def _labelled(n=1200, classes=2, seed=0):
    rng = np.random.default_rng(seed)
    inputs = rng.normal(size=(n, 4))
    signal = inputs[:, 0] + 0.5 * inputs[:, 1] + rng.normal(scale=0.5, size=n)
    cuts = [1.2] if classes == 2 else [0.8, 1.6]
    return inputs, np.digitize(signal, cuts)


@pytest.mark.parametrize("classes", [2, 3])
def test_compiled_probabilities_equal_the_libraries_and_sum_to_one(classes):
    inputs, labels = _labelled(classes=classes)
    detector = GradientBoostingDetector(max_iter=30)
    training_scores = detector.fit(inputs, labels)
    assert training_scores.shape == (len(inputs),) and np.all(
        (training_scores >= 0) & (training_scores <= 1)
    )
    compiled = detector.compile()
    reference = detector.probabilities(inputs[:200])
    assert reference.shape == (200, classes)
    np.testing.assert_allclose(compiled.probabilities_batch(inputs[:200]), reference, atol=1e-12)
    for row in inputs[:20]:
        np.testing.assert_allclose(
            compiled.probabilities_row(row), detector.probabilities(row[None])[0], atol=1e-12
        )
    np.testing.assert_allclose(reference.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(
        compiled.score_batch(inputs[:50]), detector.score(inputs[:50]), atol=1e-12
    )


def test_probabilities_are_calibrated_on_held_out_rows():
    inputs, labels = _labelled(n=4000)
    detector = GradientBoostingDetector(max_iter=50)
    detector.fit(inputs[:3000], labels[:3000])
    p = detector.probabilities(inputs[3000:])[:, 1]
    truth = labels[3000:] == 1
    for low, high in ((0.0, 0.2), (0.2, 0.8), (0.8, 1.0)):
        at = (p >= low) & (p < high)
        assert abs(truth[at].mean() - p[at].mean()) < 0.08  # reliability within 8 points


@pytest.mark.parametrize("classes", [2, 3])
def test_explanation_adds_up_to_the_calibrated_logit(classes):
    inputs, labels = _labelled(classes=classes)
    detector = GradientBoostingDetector(max_iter=30)
    detector.fit(inputs, labels)
    explainer = detector.explainer()
    for row in np.random.default_rng(3).normal(scale=1.5, size=(20, 4)):
        probabilities = detector.probabilities(row[None])[0]
        output = 0 if classes == 2 else int(np.argmax(probabilities))
        base, phi, value = explainer.explain_row(row, output)
        assert abs(base + phi.sum() - value) < 1e-6
        if classes == 2:
            assert abs(1 / (1 + np.exp(-value)) - probabilities[1]) < 1e-9


def test_refuses_missing_labels_and_classes_too_rare():
    inputs, labels = _labelled()
    with pytest.raises(ValueError, match="needs labels"):
        GradientBoostingDetector().fit(inputs)
    labels = np.zeros(len(inputs), dtype=int)
    labels[0] = 1
    with pytest.raises(ValueError, match="at least 2 labelled rows"):
        GradientBoostingDetector().fit(inputs, labels)
    with pytest.raises(ValueError, match="class_weight must be"):
        GradientBoostingDetector(class_weight="heavy").fit(*_labelled())
