"""What the page shows after scoring: form text as typed values, one row's answer, a file's summary.

Form fields arrive as text. ``form_features`` turns them into the values a JSON
client would send (numbers, strings, null), so the API's own validation checks
them and a bad value gets the API's message. The bars, the gauge and the histogram
are geometry for inline SVG: no script and no inline style draws them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from anomaly_detector.data.feature_schema import FeatureSchema
from anomaly_detector.serving.ui.pages import percent, shown

FIELD_PREFIX = "f:"
# What JSON calls a number, plus the words float() reads as NaN or infinity: those
# reach the schema as non-finite floats and are refused with the API's message.
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_NON_FINITE = re.compile(r"[+-]?(nan|inf|infinity)", re.IGNORECASE)
GAUGE_WIDTH = 300
BAR_WIDTH = 120
HISTOGRAM_BINS = 20
HISTOGRAM_WIDTH, HISTOGRAM_HEIGHT = 400, 120


def form_features(form: Mapping[str, str], schema: FeatureSchema) -> dict[str, Any]:
    """``{feature: value}`` of the form's ``f:<name>`` fields, typed as JSON would be.

    Empty means missing (null). Numeric features get a float when the text is a
    number and the text itself otherwise, which the schema refuses as non-numeric.
    Names the schema does not know (a model swapped since the page was rendered)
    are kept, so the schema names them in its message.
    """
    kinds = {feature.name: feature.is_categorical for feature in schema.features}
    values: dict[str, Any] = {}
    for key, raw in form.items():
        if not key.startswith(FIELD_PREFIX) or not isinstance(raw, str):
            continue
        name, text = key[len(FIELD_PREFIX) :], raw.strip()
        if not text:
            values[name] = None
        elif kinds.get(name, True) or not (_NUMBER.fullmatch(text) or _NON_FINITE.fullmatch(text)):
            values[name] = text
        else:
            values[name] = float(text)
    return values


def score_domain(info: dict[str, Any], *values: float) -> tuple[float, float]:
    """The span a gauge or histogram covers: the score range, or what training scored."""
    low, high = ((info.get("score") or {}).get("range") or [None, None])[:2]
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not (isinstance(low, int | float) and math.isfinite(low)):
        quantiles = (info.get("reference_scores") or {}).get("quantiles") or {}
        low = min([*quantiles.values(), *finite], default=0.0)
    if not (isinstance(high, int | float) and math.isfinite(high)):
        quantiles = (info.get("reference_scores") or {}).get("quantiles") or {}
        high = max([*quantiles.values(), *finite], default=1.0)
    low, high = min([low, *finite]), max([high, *finite])
    return (float(low), float(high)) if high > low else (float(low), float(low) + 1.0)


def _position(value: float, domain: tuple[float, float], width: float) -> float:
    low, high = domain
    return round(width * min(max((value - low) / (high - low), 0.0), 1.0), 2)


def score_view(
    info: dict[str, Any], body: dict[str, Any], explanation_error: str | None = None
) -> dict[str, Any]:
    """One row's answer (``body`` is what ``POST /prediction`` would return) for the template."""
    score, threshold = body["anomaly_score"], float(info["threshold"])
    domain = score_domain(info, score, threshold)
    view: dict[str, Any] = {
        "is_inlier": body["is_inlier"],
        "decision": "Normal" if body["is_inlier"] else "Anomalous",
        "model_version": body["model_version"],
        "score": shown(score), "threshold": shown(threshold),
        "gauge": {"width": GAUGE_WIDTH, "fill": _position(score, domain, GAUGE_WIDTH),
                  "threshold": _position(threshold, domain, GAUGE_WIDTH),
                  "low": shown(domain[0]), "high": shown(domain[1])},
        "label": body.get("label"), "confidence": percent(body.get("confidence")),
        "binary": len(body.get("probabilities") or ()) == 2, "bar_width": BAR_WIDTH,
        "probabilities": [
            {"name": name, "percent": percent(p), "width": round(BAR_WIDTH * p, 2),
             "chosen": name == body.get("label")}
            for name, p in (body.get("probabilities") or {}).items()
        ],
        "explanation": None, "explanation_error": explanation_error,
    }  # fmt: skip
    explained = body.get("explanation")
    if explained:
        view["explanation"] = _explanation_view(explained)
    return view


def _explanation_view(explained: dict[str, Any]) -> dict[str, Any]:
    features = explained["features"]
    largest = max((abs(f["contribution"]) for f in features), default=0.0) or 1.0
    half = BAR_WIDTH / 2
    rows = []
    for item in features:
        contribution = item["contribution"]
        length = round(half * abs(contribution) / largest, 2)
        usual = item.get("training_median", item.get("training_mode"))
        rows.append(
            {
                "name": item["name"],
                "value": shown(item["value"]) if item["value"] is not None else "missing",
                "usual": shown(usual),
                "contribution": f"{contribution:+.3g}",
                "x": half if contribution >= 0 else round(half - length, 2),
                "length": length,
                "direction": "up" if contribution >= 0 else "down",
            }
        )
    return {
        "sentence": explained["sentence"],
        "output": explained["output"],
        "value": shown(explained["value"]),
        "base_value": shown(explained["base_value"]),
        "rows": rows,
        "bar_width": BAR_WIDTH,
    }


def batch_view(
    info: dict[str, Any], prediction, filename: str, download_name: str
) -> dict[str, Any]:
    """A scored file's summary: rows, anomalies, labels and a histogram of the scores."""
    scores = np.asarray(prediction.anomaly_score, dtype=np.float64)
    threshold = float(info["threshold"])
    anomalies = int(np.count_nonzero(~np.asarray(prediction.is_inlier, dtype=bool)))
    finite = scores[np.isfinite(scores)]
    extremes = (float(finite.min()), float(finite.max())) if finite.size else ()
    domain = score_domain(info, *extremes, threshold)
    counts, edges = np.histogram(np.clip(finite, *domain), bins=HISTOGRAM_BINS, range=domain)
    tallest = max(int(counts.max()), 1)
    step = HISTOGRAM_WIDTH / HISTOGRAM_BINS
    bars = []
    for i, count in enumerate(counts.tolist()):
        height = round(HISTOGRAM_HEIGHT * count / tallest, 2)
        bars.append(
            {"x": round(i * step, 2), "width": round(step - 1, 2), "height": height,
             "y": round(HISTOGRAM_HEIGHT - height, 2), "count": count,
             "low": shown(float(edges[i])), "high": shown(float(edges[i + 1])),
             "above": float(edges[i]) >= threshold}
        )  # fmt: skip
    labels = []
    if prediction.label is not None:
        names, label_counts = np.unique(np.asarray(prediction.label, dtype=str), return_counts=True)
        labels = [(str(n), shown(int(c))) for n, c in zip(names, label_counts, strict=True)]
    return {
        "filename": filename, "download_name": download_name,
        "rows": shown(len(scores)), "anomalies": shown(anomalies),
        "share": percent(anomalies / len(scores)) if len(scores) else "—",
        "labels": labels, "model_version": info["version"], "threshold": shown(threshold),
        "histogram": {"bars": bars, "width": HISTOGRAM_WIDTH, "height": HISTOGRAM_HEIGHT,
                      "threshold": _position(threshold, domain, HISTOGRAM_WIDTH),
                      "low": shown(domain[0]), "high": shown(domain[1])},
    }  # fmt: skip
