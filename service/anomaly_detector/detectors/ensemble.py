"""A z-score ensemble of diverse detectors (Aggarwal and Sathe, "Outlier Ensembles", 2017).

No single detector wins on every dataset; averaging the standardized scores of a
few that fail differently (splits, densities, distances) is the robust choice
when no labels say which one fits. Each member is fitted on the same inputs; its
raw scores are standardized with the mean and standard deviation of its own
training scores, and the ensemble's raw score is the mean of those z-scores.

Deployable: the statistics are fixed at training time, so a row's score never
depends on the other rows of its batch (PyOD's ``combination.average`` of scores
standardized per call does). Members are stored as their name, parameters and
state, like any detector in a bundle.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from anomaly_detector.detectors import catalog
from anomaly_detector.detectors.base import Detector, Param

# The members with the best mean ROC-AUC of the combinations tried on make
# bench-quality's suite, and the best on its real (non-synthetic) datasets: global
# splits, local density and per-feature histograms fail on different anomalies.
DEFAULT_MEMBERS = "isolation_forest,lof,hbos"


def parse_members(text: str) -> str:
    """Comma-separated registered detector names, at least two, no ensemble among them."""
    names = [name.strip() for name in str(text).split(",") if name.strip()]
    if len(names) < 2:
        raise ValueError(f"an ensemble needs at least two members, got {text!r}")
    if "ensemble" in names:
        raise ValueError("an ensemble cannot hold another ensemble")
    return ",".join(names)


class EnsembleDetector(Detector):
    """The mean z-score of its members."""

    name = "ensemble"
    summary = (
        "z-score ensemble (default: isolation_forest, lof, hbos): the mean of each member's "
        "standardized score; the robust choice when no labels say which detector fits (the default)"
    )
    params = (
        Param("members", DEFAULT_MEMBERS, "comma-separated detectors to combine", parse_members),
    )
    raw_score_meaning = "mean over members of (raw score - training mean) / training std"
    search_space = (
        {},
        {"members": "isolation_forest,lof"},
        {"members": "isolation_forest,lof,copod"},
    )

    def fit(self, inputs: np.ndarray) -> np.ndarray:
        names = parse_members(self.hyperparameters["members"])
        members = [catalog.detector_class(name)() for name in names.split(",")]
        raw = np.vstack([np.asarray(m.fit(inputs), dtype=np.float64) for m in members])
        self.means_ = raw.mean(axis=1)
        stds = raw.std(axis=1)
        self.stds_ = np.where(stds > 0, stds, 1.0)
        self.members_ = [
            {"name": m.name, "params": dict(m.hyperparameters), "state": m.state()} for m in members
        ]
        self.n_features_in_ = int(np.asarray(inputs).shape[1])
        self._members = members
        return self._combine(raw)

    @classmethod
    def from_state(cls, params: Mapping[str, Any], state: Mapping[str, Any]) -> Detector:
        detector = super().from_state(params, state)
        detector._members = [
            catalog.detector_class(m["name"]).from_state(m["params"], m["state"])
            for m in detector.members_
        ]
        return detector

    def score(self, inputs: np.ndarray) -> np.ndarray:
        return self._combine(np.vstack([m.score(inputs) for m in self._members]))

    def compile(self) -> CompiledEnsemble | None:
        compiled = [m.compile() for m in self._members]
        if any(c is None for c in compiled):
            return None
        return CompiledEnsemble(compiled, self.means_, self.stds_)

    def _combine(self, raw: np.ndarray) -> np.ndarray:
        return ((raw - self.means_[:, None]) / self.stds_[:, None]).mean(axis=0)


class CompiledEnsemble:
    """The members' compiled forms and their training statistics."""

    def __init__(self, members: list, means: np.ndarray, stds: np.ndarray) -> None:
        self.members = members
        self.means = [float(m) for m in means]
        self.stds = [float(s) for s in stds]

    def score_batch(self, inputs: np.ndarray) -> np.ndarray:
        raw = np.vstack([member.score_batch(inputs) for member in self.members])
        means, stds = np.asarray(self.means)[:, None], np.asarray(self.stds)[:, None]
        return ((raw - means) / stds).mean(axis=0)

    def score_row(self, inputs: np.ndarray) -> float:
        total = 0.0
        for member, mean, std in zip(self.members, self.means, self.stds, strict=True):
            total += (member.score_row(inputs) - mean) / std
        return total / len(self.members)
