"""Training results for people (the CLI's summary) and for tools (``--json``)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from anomaly_detector.training.train import TrainResult

_SHOWN_METRICS = ("roc_auc", "pr_auc", "precision", "recall", "f1", "alert_rate", "macro_f1",
                  "accuracy", "brier", "expected_calibration_error")  # fmt: skip


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
    if len(meta.get("classes") or ()) > 2:
        lines.append(
            "decision: the most probable class; anomaly_score is 1 - P("
            f"{meta['classes'][0]!r}), above {meta['threshold']} for {alert_rate:.2%} of rows"
        )
    else:
        lines.append(
            f"threshold (anomaly score above it is an anomaly): {meta['threshold']:.4f}, "
            f"flagging {alert_rate:.2%} of the training rows"
        )
    if result.label_rule:
        lines.append(f"labels: {result.label_rule}")
    if meta.get("classes"):
        lines.append("classes (normal first): " + ", ".join(meta["classes"]))
    for split, metrics in result.evaluation.items():
        parts = [
            f"{key}={metrics[key]:.3f}" for key in _SHOWN_METRICS if metrics.get(key) is not None
        ]
        if "anomalies" in metrics:
            counted = f"{metrics['rows']} rows, {metrics['anomalies']} anomalies"
        else:
            counted = f"{metrics['rows']} rows"
        lines.append(f"evaluation on {split} ({counted}): " + " ".join(parts))
    if meta.get("thresholds"):
        lines.extend(threshold_lines(meta["thresholds"]))
    lines.extend(f"warning: {warning}" for warning in result.warnings)
    return "\n".join(lines)


def threshold_lines(thresholds: dict[str, Any]) -> list[str]:
    """The threshold table and recommendations, as the CLI prints them."""
    chosen = thresholds["chosen_on"]
    weights = thresholds.get("class_weights")
    apply = "  apply one with: anomaly-detector threshold --model PATH --use NAME"
    if "table" not in thresholds:  # multi-class: the decision is the per-class rule
        return [
            f"cost-aware class weights (class_weights), chosen on {chosen['split']} "
            f"({chosen['rows']} rows): {[round(w, 3) for w in weights['class_weights']]} -> "
            f"macro-F1 {weights['macro_f1']:.3f} (plain argmax {weights['argmax_macro_f1']:.3f})",
            apply,
        ]
    objectives = thresholds["objectives"]
    reported = thresholds.get("reported_on")
    lines = [
        f"thresholds, chosen on {chosen.get('split', 'labelled rows')} ({chosen['rows']} rows, "
        f"{chosen['anomalies']} anomalies)" + (f", reported on {reported}:" if reported else ":"),
        "  threshold  precision  recall     f1  alert_rate",
    ]
    for row in thresholds["table"]:
        lines.append(
            f"  {row['threshold']:9.4f}  {row['precision']:9.3f}  {row['recall']:6.3f}  "
            f"{row['f1']:5.3f}  {row['alert_rate']:10.3%}"
        )
    names = {
        "best_f1": "best F1",
        "within_budget": f"best recall within {objectives['alert_budget']:.0%} alerts",
        "min_precision": f"best recall at precision >= {objectives['min_precision']:.2f}",
        "default": "baseline: current threshold",
        "training_rate": "baseline: cut at the training anomaly rate",
    }
    for group in ("recommendations", "baselines"):
        for name, entry in thresholds[group].items():
            if entry is None:
                lines.append(f"  {names[name]}: none reaches it")
                continue
            shown = entry.get("report", entry)
            lines.append(
                f"  {names[name]} ({name}): threshold {entry['threshold']:.4f} -> "
                f"precision {shown['precision']:.3f}, recall {shown['recall']:.3f}, "
                f"F1 {shown['f1']:.3f}, alerts {shown['alert_rate']:.2%}"
            )
    lines.append(apply)
    return lines


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
        "thresholds": result.bundle.metadata.get("thresholds"),
        "classes": result.bundle.metadata.get("classes"),
        "warnings": result.warnings,
    }
