"""Training results for people (the CLI's summary) and for tools (``--json``)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from anomaly_detector.training.train import TrainResult

_SHOWN_METRICS = ("roc_auc", "pr_auc", "precision", "recall", "f1", "alert_rate")


def describe(result: TrainResult) -> str:
    """A human summary of a training run for the CLI and notebooks."""
    meta = result.bundle.metadata
    params = ", ".join(f"{k}={v}" for k, v in meta["params"].items())
    lines = [
        f"model version {meta['version']} ({meta['detector']}: {params}), "
        f"{meta['training']['rows']} training rows",
        "features: " + ", ".join(f"{f['name']} ({f['kind']})" for f in meta["features"]),
    ]
    for name, reason in result.profile.dropped.items():
        lines.append(f"dropped column {name!r}: {reason}")
    alert_rate = meta["reference_scores"]["alert_rate"]
    lines.append(
        f"threshold (anomaly score above it is an anomaly): {meta['threshold']:.4f}, "
        f"flagging {alert_rate:.2%} of the training rows"
    )
    if result.label_rule:
        lines.append(f"labels: {result.label_rule}")
    for split, metrics in result.evaluation.items():
        parts = [
            f"{key}={metrics[key]:.3f}" for key in _SHOWN_METRICS if metrics.get(key) is not None
        ]
        lines.append(
            f"evaluation on {split} ({metrics['rows']} rows, "
            f"{metrics['anomalies']} anomalies): " + " ".join(parts)
        )
    lines.extend(f"warning: {warning}" for warning in result.warnings)
    return "\n".join(lines)


def training_summary(result: TrainResult) -> dict[str, Any]:
    """Machine-readable summary (the CLI's ``--json`` output)."""
    return {
        "version": result.bundle.version,
        "detector": result.bundle.detector_name,
        "params": result.bundle.metadata["params"],
        "threshold": result.bundle.threshold,
        "dropped_columns": result.profile.dropped,
        "features": [asdict(f) for f in result.bundle.schema.features],
        "label_rule": result.label_rule,
        "evaluation": result.evaluation,
        "warnings": result.warnings,
    }
