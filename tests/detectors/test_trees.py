"""Tree tables walk to the library's leaves, and TreeSHAP is exact and sums to the output."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier, IsolationForest
from sklearn.ensemble._iforest import _average_path_length

from anomaly_detector.detectors.trees import gradient_boosting_table, isolation_forest_table


def _data(n=1500, d=5, seed=0):
    rng = np.random.default_rng(seed)
    inputs = rng.normal(size=(n, d))
    labels = (inputs[:, 0] + inputs[:, 1] ** 2 > 1.2).astype(int)
    return inputs, labels


def test_forest_table_reproduces_score_samples_and_its_shap_sums_to_it():
    inputs, _ = _data()
    forest = IsolationForest(n_estimators=30, max_features=0.6, random_state=0).fit(inputs)
    table = isolation_forest_table(forest)
    c = _average_path_length([forest._max_samples])[0]
    sums = table.sums(inputs[:200])[:, 0]
    np.testing.assert_allclose(-(2 ** (sums / c)), forest.score_samples(inputs[:200]), atol=1e-12)
    base = table.expected()[0]
    for row in np.random.default_rng(1).normal(scale=2, size=(25, 5)):
        phi = table.shap(row)[0]
        assert abs(base + phi.sum() - table.sums(row[None])[0, 0]) < 1e-9


@pytest.mark.parametrize("n_classes", [2, 3])
def test_boosting_table_reproduces_decision_function_and_shap_sums_per_output(n_classes):
    inputs, labels = _data()
    if n_classes == 3:
        labels = np.digitize(inputs[:, 0], [-0.5, 0.5])
    model = HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(inputs, labels)
    table = gradient_boosting_table(model)
    margins = table.sums(inputs[:300]) + model._baseline_prediction.ravel()
    expected = model.decision_function(inputs[:300])
    np.testing.assert_allclose(margins, expected.reshape(len(margins), -1), atol=1e-12)
    base = table.expected() + model._baseline_prediction.ravel()
    for row in np.random.default_rng(2).normal(scale=2, size=(25, 5)):
        phi = table.shap(row)
        total = table.sums(row[None])[0] + model._baseline_prediction.ravel()
        np.testing.assert_allclose(base + phi.sum(axis=1), total, atol=1e-9)


def _conditional(table, root, row, present):
    """E[leaf value | features in ``present`` as in ``row``], following the training cover."""
    node = root
    if table.left[node] == -1:
        return table.value[node]
    left, right, feature = table.left[node], table.right[node], table.feature[node]
    if feature in present:
        goes_left = row[feature] <= table.threshold[node]
        return _conditional(table, left if goes_left else right, row, present)
    weighted = table.cover[left] * _conditional(table, left, row, present) + table.cover[
        right
    ] * _conditional(table, right, row, present)
    return weighted / table.cover[node]


def test_shap_values_are_the_shapley_values_of_the_path_dependent_game():
    """Brute force over every coalition, from the definition, on a small model."""
    inputs, labels = _data(d=4)
    model = HistGradientBoostingClassifier(max_iter=4, max_depth=3, random_state=0)
    table = gradient_boosting_table(model.fit(inputs, labels))
    d = 4
    for row in inputs[:3]:
        phi = np.zeros(d)
        for i in range(d):
            others = [j for j in range(d) if j != i]
            for k in range(d):
                for subset in itertools.combinations(others, k):
                    weight = math.factorial(k) * math.factorial(d - k - 1) / math.factorial(d)
                    gain = sum(
                        _conditional(table, r, row, {*subset, i})
                        - _conditional(table, r, row, set(subset))
                        for r in table.roots
                    )
                    phi[i] += weight * gain
        np.testing.assert_allclose(table.shap(row)[0], phi, atol=1e-10)


def test_native_categorical_splits_are_refused_clearly():
    inputs, labels = _data()
    inputs[:, 0] = np.floor(np.abs(inputs[:, 0]) * 2)
    model = HistGradientBoostingClassifier(max_iter=5, categorical_features=[0]).fit(inputs, labels)
    with pytest.raises(ValueError, match="native categorical"):
        gradient_boosting_table(model)
