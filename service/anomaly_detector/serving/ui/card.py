"""The model card and the scoring form, from what ``GET /model_information`` says.

Both are built from that one dict on every render, so a hot-swapped model shows
its own features, ranges and figures on the next page load.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from anomaly_detector.serving.ui.pages import percent, shown

# Scalar figures of an evaluation split, in the order the card lists them.
METRICS = (
    ("rows", "rows"), ("anomalies", "anomalies"), ("accuracy", "accuracy"),
    ("macro_f1", "macro F1"), ("roc_auc", "ROC-AUC"), ("pr_auc", "PR-AUC"),
    ("precision", "precision"), ("recall", "recall"), ("f1", "F1"),
    ("alert_rate", "alert rate"), ("brier", "Brier score"), ("log_loss", "log loss"),
    ("expected_calibration_error", "calibration error (ECE)"),
)  # fmt: skip
KIND_LABELS = {
    "numeric": "number",
    "log_numeric": "number, heavy-tailed",
    "categorical": "category",
}
MAX_CATEGORIES_SHOWN = 8


def model_card(info: dict[str, Any], links: dict[str, str]) -> dict[str, Any]:
    """What the card shows: facts, features, evaluation, thresholds and links."""
    stats = info.get("feature_stats") or {}
    decision = info.get("decision") or {}
    training = info.get("training") or {}
    return {
        "version": info["version"],
        "task": info.get("task", "unsupervised"),
        "supervised": info.get("task") == "supervised",
        "detector": info["detector"],
        "params": info.get("params") or {},
        "classes": info.get("classes") or decision.get("classes"),
        "score_meaning": (info.get("score") or {}).get("meaning"),
        "threshold": info["threshold"],
        "contamination": decision.get("contamination"),
        "created_at": _when(info.get("created_at")),
        "training_rows": training.get("rows"),
        "source": training.get("source"),
        "label_column": training.get("label_column"),
        "fast_path": info.get("fast_path"),
        "features": [_feature_row(f, stats.get(f["name"], {})) for f in info["features"]],
        "evaluation": evaluation_table(info.get("evaluation") or {}),
        "class_report": class_report(info.get("evaluation") or {}, info.get("classes")),
        "thresholds": threshold_rows(info.get("thresholds") or {}, info["threshold"]),
        "threshold_sweep": (info.get("thresholds") or {}).get("table") or [],
        "thresholds_on": _chosen_on((info.get("thresholds") or {}).get("chosen_on") or {}),
        "class_weights": _class_weights(info),
        "links": links,
    }


def _when(created_at: str | None) -> str | None:
    """``2026-12-02 15:25 UTC`` from the ISO time training wrote (as it is if unparseable)."""
    try:
        created = datetime.fromisoformat(str(created_at))
    except ValueError:
        return created_at
    if created.tzinfo is not None:
        created = created.astimezone(timezone.utc)
    return created.strftime("%Y-%m-%d %H:%M") + (" UTC" if created.tzinfo else "")


def _feature_row(feature: dict[str, Any], stat: dict[str, Any]) -> dict[str, Any]:
    if feature["kind"] == "categorical":
        top = stat.get("top") or {}
        total = sum(top.values()) or 1
        names = list(top) or list(feature.get("categories", []))
        shown_names = [
            f"{name} ({percent(top[name] / total, 0)})" if name in top else name
            for name in names[:MAX_CATEGORIES_SHOWN]
        ]
        more = len(feature.get("categories", [])) - len(shown_names)
        training = ", ".join(shown_names) + (f" and {more} more" if more > 0 else "")
    elif stat.get("median") is not None:
        training = (
            f"median {shown(stat['median'])}; 1%–99%: {shown(stat.get('q01'))} to "
            f"{shown(stat.get('q99'))}"
        )
    else:
        training = "—"
    missing = stat.get("missing")
    return {
        "name": feature["name"],
        "kind": KIND_LABELS.get(feature["kind"], feature["kind"]),
        "training": training,
        "missing": percent(missing) if missing else None,
    }


def evaluation_table(evaluation: dict[str, dict]) -> dict[str, Any]:
    """``{"splits": [...], "rows": [(label, [value per split])]}`` of the scalar figures."""
    splits = [name for name, figures in evaluation.items() if isinstance(figures, dict)]
    rows = []
    for key, label in METRICS:
        values = [evaluation[split].get(key) for split in splits]
        if any(isinstance(v, int | float) for v in values):
            show = percent if key == "alert_rate" else shown
            rows.append((label, [show(v) for v in values]))
    return {"splits": splits, "rows": rows}


def class_report(evaluation: dict[str, dict], classes: list[str] | None) -> dict[str, Any]:
    """Per-class precision, recall, F1 and support on the test split, else validation."""
    for split in ("test", "validation"):
        report = (evaluation.get(split) or {}).get("classification_report")
        if report and classes:
            rows = [
                (name, *(shown(report[name].get(k)) for k in ("precision", "recall", "f1-score")),
                 shown(int(report[name].get("support", 0))))
                for name in classes if name in report
            ]  # fmt: skip
            return {"split": split, "rows": rows}
    return {}


def _objective_labels(objectives: dict[str, Any]) -> dict[str, str]:
    budget, floor = objectives.get("alert_budget"), objectives.get("min_precision")
    return {
        "best_f1": "best F1",
        "within_budget": f"most recall, ≤ {percent(budget, 0)} alerts" if budget else "budget",
        "min_precision": f"most recall, precision ≥ {shown(floor)}" if floor else "precision",
        "default": "default",
        "training_rate": "training anomaly rate",
    }


def threshold_rows(thresholds: dict[str, Any], current: float) -> list[dict[str, Any]]:
    """The recommended thresholds and baselines, each with its figures."""
    labels = _objective_labels(thresholds.get("objectives") or {})
    rows = []
    choices = {**thresholds.get("recommendations", {}), **thresholds.get("baselines", {})}
    for name, choice in choices.items():
        if not choice:
            continue
        rows.append(
            {
                "name": labels.get(name, name),
                "threshold": shown(choice["threshold"]),
                "current": abs(choice["threshold"] - current) < 1e-12,
                "figures": [shown(choice.get(k)) for k in ("precision", "recall", "f1")]
                + [percent(choice.get("alert_rate"))],
            }
        )
    return rows


def _chosen_on(chosen_on: dict[str, Any]) -> str | None:
    """Which rows the threshold figures are measured on, in words."""
    if not chosen_on.get("rows"):
        return None
    split = chosen_on.get("split")
    where = (
        "labelled rows"
        if not split
        else f"the {split}" + ("" if split.endswith("rows") else " rows")
    )
    anomalies = chosen_on.get("anomalies")
    counted = f" ({shown(chosen_on['rows'])} rows"
    return where + counted + (f", {shown(anomalies)} anomalous)" if anomalies is not None else ")")


def _class_weights(info: dict[str, Any]) -> list[tuple[str, str]]:
    rule = (info.get("thresholds") or {}).get("class_weights") or {}
    classes = info.get("classes") or []
    weights = rule.get("class_weights") or []
    return [(name, shown(weight)) for name, weight in zip(classes, weights, strict=False)]


def form_fields(info: dict[str, Any]) -> list[dict[str, Any]]:
    """One field per feature: its input, placeholder, hint and the values the fill buttons use."""
    stats = info.get("feature_stats") or {}
    example = ((info.get("examples") or {}).get("anomaly") or {}).get("features") or {}
    fields = []
    for index, feature in enumerate(info["features"]):
        stat = stats.get(feature["name"], {})
        categorical = feature["kind"] == "categorical"
        typical = stat.get("mode") if categorical else stat.get("median")
        if categorical:
            hint = f"usually {typical}" if typical is not None else "a category"
        elif stat.get("median") is not None:
            hint = f"training range {shown(stat.get('q01'))} to {shown(stat.get('q99'))}"
        else:
            hint = "a number"
        fields.append(
            {
                "index": index,
                "name": feature["name"],
                "kind": KIND_LABELS.get(feature["kind"], feature["kind"]),
                "categorical": categorical,
                "categories": list(feature.get("categories", [])),
                "placeholder": "" if categorical or typical is None else shown(typical, 6),
                "hint": hint + "; empty: missing",
                "typical": _field_text(typical) if stats else None,
                "anomaly": _field_text(example.get(feature["name"])) if example else None,
                "value": "",
                "error": None,
            }
        )
    return fields


def _field_text(value: Any) -> str:
    """A value as the form holds it (numbers in full precision, no thousands commas)."""
    if value is None:
        return ""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    return str(value)


SPLIT_WORDS = {"train": "labelled training", "validation": "validation", "test": "test"}


def example_source(info: dict[str, Any]) -> str | None:
    """Which data the anomaly example comes from (None: the bundle has none)."""
    example = (info.get("examples") or {}).get("anomaly")
    if not example:
        return None
    split = str(example.get("split", "test"))
    return SPLIT_WORDS.get(split, split)
