"""Scoring routes: one row and a batch."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from starlette.responses import Response

from anomaly_detector.errors import InputError
from anomaly_detector.serving.api.contract import (
    ERROR_RESPONSES,
    BatchPredictionRequest,
    BatchPredictionResponse,
    PredictionRequest,
    PredictionResponse,
    request_body_doc,
)
from anomaly_detector.serving.api.deps import MetricsDep, ModelDep, SettingsDep
from anomaly_detector.serving.api.errors import ApiError
from anomaly_detector.serving.api.parsing import parse_batch, parse_prediction, read_json_object
from anomaly_detector.serving.api.responses import json_response
from anomaly_detector.serving.loader import LoadedModel
from anomaly_detector.serving.metrics import Metrics

router = APIRouter(tags=["prediction"])

# Batches at least this large are validated and scored off the event loop so
# they do not stall other requests; the compiled kernel releases the GIL.
THREAD_ROWS = 1_000


@router.post(
    "/prediction",
    response_model=PredictionResponse,
    response_model_exclude_none=True,
    responses=ERROR_RESPONSES,
    openapi_extra=request_body_doc(PredictionRequest),
    summary="Score one feature vector",
)
async def predict(request: Request, model: ModelDep, metrics: MetricsDep) -> Response:
    """Is this row an inlier? Optionally with its anomaly score."""
    # Normally served by the fast lane (api/fast_lane.py) before routing; this
    # route documents the endpoint and serves it when the fast lane is off.
    return json_response(predict_one(await read_json_object(request), model, metrics))


def predict_one(payload: dict, model: LoadedModel, metrics: Metrics) -> dict:
    """The response body for one ``POST /prediction`` payload (raises ``ApiError``)."""
    row, (with_score, with_raw, with_explanation) = parse_prediction(payload, model.bundle.schema)
    prediction = model.scorer.predict_one(row)
    metrics.observe_score(prediction.anomaly_score, prediction.is_inlier, endpoint="prediction")
    body = {"is_inlier": prediction.is_inlier, "model_version": model.version}
    if with_score or prediction.label is not None:
        body["anomaly_score"] = prediction.anomaly_score
    if with_raw:
        body["raw_score"] = prediction.raw_score
    if prediction.label is not None:
        metrics.observe_labels(prediction.label, endpoint="prediction")
        body["label"] = prediction.label
        body["confidence"] = prediction.confidence
        body["probabilities"] = dict(zip(model.scorer.classes, prediction.probabilities.tolist(),
                                         strict=True))  # fmt: skip
    if with_explanation:
        body["explanation"] = explain(model, row, prediction)
    return body


def explain(model: LoadedModel, row, prediction) -> dict:
    """One row's explanation as JSON, or an ``ApiError`` saying why there is none."""
    try:
        return model.scorer.explain(row, prediction).to_dict()
    except InputError as exc:
        raise ApiError.from_input_error(exc) from None


@router.post(
    "/predictions",
    response_model=BatchPredictionResponse,
    response_model_exclude_none=True,
    responses=ERROR_RESPONSES,
    openapi_extra=request_body_doc(BatchPredictionRequest),
    summary="Score a batch of rows",
)
async def predict_batch(
    request: Request, model: ModelDep, metrics: MetricsDep, settings: SettingsDep
) -> Response:
    """Score up to MAX_BATCH_ROWS rows; the response is columnar."""
    payload = await read_json_object(request)
    schema = model.bundle.schema

    def validate_and_score():
        rows, extras = parse_batch(payload, schema, settings.max_batch_rows)
        if extras[2] and len(rows) > settings.max_explain_rows:
            raise ApiError(
                413,
                "batch_too_large",
                f"explain is limited to {settings.max_explain_rows} rows per request "
                f"(MAX_EXPLAIN_ROWS); the batch has {len(rows)}",
            )
        prediction = model.scorer.predict_rows(rows)
        explanations = None
        if extras[2]:
            explanations = [explain(model, row, prediction.row(i)) for i, row in enumerate(rows)]
        return rows, extras, prediction, explanations

    items = payload.get("feature_vectors") or payload.get("features")
    if isinstance(items, list) and len(items) >= THREAD_ROWS:
        # Validating and scoring thousands of rows would stall the event loop;
        # in a thread, other requests (and fast 503s) keep being answered.
        rows, extras, prediction, explanations = await asyncio.to_thread(validate_and_score)
    else:
        rows, extras, prediction, explanations = validate_and_score()
    with_score, with_raw, _ = extras
    metrics.observe_scores(prediction.anomaly_score, prediction.is_inlier, endpoint="predictions")
    request.state.rows = len(rows)
    body = {
        "model_version": model.version,
        "count": len(rows),
        "is_inlier": prediction.is_inlier,
    }
    if with_score or prediction.label is not None:
        body["anomaly_score"] = prediction.anomaly_score
    if with_raw:
        body["raw_score"] = prediction.raw_score
    if prediction.label is not None:
        metrics.observe_labels(prediction.label, endpoint="predictions")
        body["label"] = prediction.label.tolist()
        body["confidence"] = prediction.confidence
        body["probabilities"] = {
            name: prediction.probabilities[:, i].tolist()
            for i, name in enumerate(model.scorer.classes)
        }
    if explanations is not None:
        body["explanations"] = explanations
    return json_response(body)
