"""Why a row got its score: per-feature contributions that add up, and a sentence.

Every explanation has ``base_value + sum(contributions) == value`` (to float
rounding), where ``value`` is a model output named in ``output``:

* tree models, exactly (``detectors.trees``: path-dependent TreeSHAP). The
  gradient-boosted classifier explains its calibrated log-odds (two classes) or the
  predicted class's calibrated logit (more), whose sigmoid / softmax is the
  probability served; the Isolation Forest explains minus the mean path length,
  with ``score_samples = -2 ** (value / c(max_samples))``. ``base_value`` is the
  model's expected output over the training rows.
* every other detector: baseline Shapley values (Sundararajan and Najmi, 2020, "The
  many Shapley values for model explanation") of the detector's raw score, against
  the *typical training row* (each feature's median, or most frequent category):
  ``base_value`` is that row's raw score. Exact, by enumerating all 2^d mixes of the
  row and the typical row, up to ``EXACT_MAX_FEATURES`` features; beyond, averaged
  over ``PERMUTATIONS`` random orders (antithetic pairs), which keeps the sum exact.
  ``shap``'s KernelExplainer estimates the same values by regression, without the
  exact sum and at far more scoring calls, hence this module.

Positive contributions push towards *anomalous* (or towards the explained class).
Contributions are per raw feature, in the order clients send them: the
preprocessing maps each feature to exactly one model input.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from anomaly_detector.errors import InputError

EXACT_MAX_FEATURES = 10
PERMUTATIONS = 32
# The sentence names features until they account for this share of the push.
SENTENCE_SHARE = 0.8
SENTENCE_MAX_FEATURES = 3


@dataclass
class Explanation:
    """One row's explanation (see the module)."""

    output: str
    value: float
    base_value: float
    contributions: dict[str, float]
    features: list[dict[str, Any]] = field(default_factory=list)
    sentence: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "output": self.output,
            "value": self.value,
            "base_value": self.base_value,
            "contributions": self.contributions,
            "features": self.features,
            "sentence": self.sentence,
        }


def baseline_shapley(score, row: np.ndarray, baseline: np.ndarray, seed: int = 0) -> np.ndarray:
    """Shapley values of ``score`` (a batch function) at ``row`` against ``baseline``.

    Player i "present" means input i takes the row's value, absent the baseline's.
    Exact for up to ``EXACT_MAX_FEATURES`` inputs: one batch of 2^d mixes.
    """
    d = len(row)
    if d <= EXACT_MAX_FEATURES:
        masks = np.array(list(itertools.product((False, True), repeat=d)), dtype=bool)
        mixes = np.where(masks, row, baseline)
        values = np.asarray(score(mixes), dtype=np.float64)
        index = masks @ (1 << np.arange(d)[::-1])  # row of each mask in ``values``
        lookup = np.empty(len(values))
        lookup[index] = values
        size = masks.sum(axis=1)
        weights = np.array(
            [math.factorial(k) * math.factorial(d - k - 1) / math.factorial(d) for k in range(d)]
        )
        phi = np.zeros(d)
        for i in range(d):
            bit = 1 << (d - 1 - i)
            without = ~masks[:, i]
            phi[i] = np.sum(
                weights[size[without]] * (lookup[index[without] | bit] - lookup[index[without]])
            )
        return phi
    rng = np.random.default_rng(seed)
    orders = [rng.permutation(d) for _ in range(PERMUTATIONS // 2)]
    orders += [order[::-1] for order in orders]
    mixes = []
    for order in orders:
        current = baseline.copy()
        mixes.append(current.copy())
        for i in order:
            current[i] = row[i]
            mixes.append(current.copy())
    values = np.asarray(score(np.array(mixes)), dtype=np.float64).reshape(len(orders), d + 1)
    phi = np.zeros(d)
    for o, order in enumerate(orders):
        phi[order] += np.diff(values[o])
    return phi / len(orders)


def describe_features(
    names: list[str],
    raw_row: list[Any],
    contributions: np.ndarray,
    stats: dict[str, dict[str, Any]],
) -> list[dict[str, Any]]:
    """Per feature, largest push first: its value, what training saw, its contribution."""
    items = []
    for name, value, contribution in zip(names, raw_row, contributions, strict=True):
        stat = stats.get(name, {})
        item: dict[str, Any] = {"name": name, "value": value, "contribution": float(contribution)}
        if "median" in stat:
            item["training_median"] = stat["median"]
            if stat.get("q01") is not None:
                item["training_range"] = [stat["q01"], stat["q99"]]
        elif "mode" in stat:
            item["training_mode"] = stat["mode"]
        items.append(item)
    return sorted(items, key=lambda item: -abs(item["contribution"]))


def sentence(lead: str, features: list[dict[str, Any]]) -> str:
    """``flagged mainly because auth_failures = 57 (training median 1) and ...``.

    ``lead`` opens the sentence (``flagged mainly because``); the features named are
    the largest positive contributions, until they make most of the push.
    """
    pushing = [f for f in features if f["contribution"] > 0]
    total = sum(f["contribution"] for f in pushing)
    if not pushing or total <= 0:
        return (
            f"{lead.split(' mainly')[0].split(';')[0]}: no feature stands out from the typical row"
        )
    named, share = [], 0.0
    for item in pushing[:SENTENCE_MAX_FEATURES]:
        named.append(item)
        share += item["contribution"] / total
        if share >= SENTENCE_SHARE:
            break
    parts = []
    for i, item in enumerate(named):
        usual = item.get("training_median", item.get("training_mode"))
        label = "training median" if "training_median" in item else "usually"
        if i and "training_median" in item:
            label = "median"
        shown = _shown(item["value"])
        parts.append(
            f"{item['name']} = {shown}" + ("" if usual is None else f" ({label} {_shown(usual)})")
        )
    joined = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return f"{lead} {joined}"


def _shown(value: Any) -> str:
    if value is None:
        return "missing"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def typical_row(schema, stats: dict[str, dict[str, Any]]) -> list[Any]:
    """The row of training medians and most frequent categories (the explanation baseline).

    Raises:
        InputError: the bundle has no training statistics (trained before they existed).
    """
    if not stats:
        raise InputError(
            "invalid_request",
            "this model has no training statistics to explain against; retrain it "
            "with this version (anomaly-detector train)",
        )
    row = []
    for feature in schema.features:
        stat = stats.get(feature.name, {})
        row.append(stat.get("mode") if feature.is_categorical else stat.get("median"))
    return row
