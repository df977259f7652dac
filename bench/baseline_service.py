"""The straightforward implementation, kept as the reference point for ``make bench``.

Same request/response contract as ``POST /prediction``, written the usual way:
a pydantic model, scikit-learn ``predict`` and ``score_samples`` per request,
prometheus-client counters. Its model is a bundle exported as a plain pipeline
(``bundle.export.sklearn_pipeline``, as ``serving.prepare`` writes it). Run with
``MODEL_PATH=baseline.joblib uvicorn baseline_service:app``.
"""

from __future__ import annotations

import os

import joblib
from fastapi import FastAPI, Response
from prometheus_client import Counter, Histogram, generate_latest
from pydantic import BaseModel

payload = joblib.load(os.environ["MODEL_PATH"])
pipeline = payload["pipeline"]
feature_names = payload["names"]
version = payload["version"]

REQUESTS = Counter("baseline_requests_total", "Requests", ["status"])
LATENCY = Histogram("baseline_request_duration_seconds", "Latency")

app = FastAPI()


class PredictionRequest(BaseModel):
    feature_vector: list[float | str | None]
    score: bool = False


@app.post("/prediction")
def predict(request: PredictionRequest):
    import pandas as pd

    with LATENCY.time():
        frame = pd.DataFrame([request.feature_vector], columns=feature_names)
        is_inlier = bool(pipeline.predict(frame)[0] == 1)
        body = {"is_inlier": is_inlier, "model_version": version}
        if request.score:
            body["anomaly_score"] = float(-pipeline.score_samples(frame)[0])
        REQUESTS.labels(status="200").inc()
        return body


@app.get("/metrics")
def metrics():
    return Response(generate_latest(), media_type="text/plain")
