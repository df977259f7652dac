"""The API's request and response shapes, for the OpenAPI documentation at ``/docs``.

The prediction routes parse bodies with orjson and validate them against the
model's feature schema (see ``api.parsing``); these models document the same
contract and are what schema-based clients and fuzzers read.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

FeatureValue = float | str | None

VECTOR_EXAMPLE = ["mobile", 14, 42.5, 0.01, 38.0, 95.0, 20480, 512000, 6, 0]
FEATURES_EXAMPLE = {
    "client_type": "mobile",
    "hour_of_day": 14,
    "request_rate": 42.5,
    "error_ratio": 0.01,
    "latency_p50_ms": 38.0,
    "latency_p95_ms": 95.0,
    "bytes_in": 20480,
    "bytes_out": 512000,
    "distinct_endpoints": 6,
    "auth_failures": 0,
}


class PredictionRequest(BaseModel):
    """One row: a positional ``feature_vector`` or a ``features`` object, not both."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"feature_vector": VECTOR_EXAMPLE, "score": True},
                {"features": FEATURES_EXAMPLE},
            ]
        },
    )
    feature_vector: list[FeatureValue] | None = Field(
        None,
        description="Values in the model's feature order (GET /model_information lists it). "
        "Numbers for numeric features, strings for categorical ones, null when unknown.",
    )
    features: dict[str, FeatureValue] | None = Field(
        None, description="Values by feature name; every feature must be present (null allowed)."
    )
    score: bool = Field(False, description="Include anomaly_score in the response.")
    raw_score: bool = Field(
        False, description="Include raw_score, the detector's own score before its scale."
    )
    explain: bool = Field(
        False,
        description="Include `explanation`: per-feature contributions that add up to the "
        "model's output, and a sentence. Costs about 1 to 20 ms; requests without it pay "
        "nothing.",
    )


class Explanation(BaseModel):
    output: str = Field(description="Which model output is explained.")
    value: float = Field(description="That output for this row: base_value + contributions.")
    base_value: float = Field(
        description="The output for a typical row (tree models: the expected output)."
    )
    contributions: dict[str, float] = Field(
        description="By feature: positive pushes towards anomalous (or the predicted class)."
    )
    features: list[dict] = Field(
        description="Per feature, largest push first: value, contribution, training median "
        "and 1%-99% range (or most frequent category)."
    )
    sentence: str = Field(description="The explanation in words, for a ticket or an alert.")


class PredictionResponse(BaseModel):
    is_inlier: bool = Field(description="False when the row is an anomaly.")
    model_version: str
    anomaly_score: float | None = Field(
        None,
        description="The served detector's anomaly score (its range and meaning are in "
        "GET /model_information under `score`); higher is more anomalous. "
        "Present when the request set score=true.",
    )
    raw_score: float | None = Field(
        None,
        description="The detector's own score before the bundle's scale (equal to "
        "anomaly_score for the Isolation Forest). Present when the request set raw_score=true.",
    )
    label: str | None = Field(None, description="Supervised models: the predicted class.")
    confidence: float | None = Field(
        None, description="Supervised models: the calibrated probability of `label`."
    )
    probabilities: dict[str, float] | None = Field(
        None, description="Supervised models: each class's calibrated probability."
    )
    explanation: Explanation | None = Field(None, description="When the request set explain.")


class BatchPredictionRequest(BaseModel):
    """Many rows: ``feature_vectors`` (list of vectors) or ``features`` (list of objects)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"feature_vectors": [VECTOR_EXAMPLE, VECTOR_EXAMPLE], "score": True}]
        },
    )
    feature_vectors: list[list[FeatureValue]] | None = None
    features: list[dict[str, FeatureValue]] | None = None
    score: bool = False
    raw_score: bool = False
    explain: bool = Field(
        False, description="Explain every row (at most MAX_EXPLAIN_ROWS rows per batch)."
    )


class BatchPredictionResponse(BaseModel):
    """Columnar results: element ``i`` of each list belongs to input row ``i``."""

    model_version: str
    count: int
    is_inlier: list[bool]
    anomaly_score: list[float] | None = None
    raw_score: list[float] | None = None
    label: list[str] | None = None
    confidence: list[float] | None = None
    probabilities: dict[str, list[float]] | None = None
    explanations: list[Explanation] | None = None


class ErrorResponse(BaseModel):
    detail: str = Field(description="What was expected and what came.")
    reason: str = Field(description="Machine-readable cause (a metrics label).")


class ModelInformation(BaseModel):
    model_config = ConfigDict(extra="allow")
    version: str
    detector: str
    threshold: float
    features: list[dict[str, Any]]
    params: dict[str, Any]
    fast_path: bool


class ReloadResponse(BaseModel):
    loaded: bool
    version: str | None
    previous_version: str | None
    message: str


class HealthResponse(BaseModel):
    status: str
    model_version: str | None = None
    detail: str | None = None


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    413: {"model": ErrorResponse, "description": "Body larger than MAX_BODY_BYTES."},
    415: {"model": ErrorResponse, "description": "Content-Type is not application/json."},
    422: {"model": ErrorResponse, "description": "Body does not fit the model's features."},
    503: {"model": ErrorResponse, "description": "No valid model is loaded yet."},
}


def request_body_doc(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` documenting a JSON body that the route parses itself."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema()}},
        }
    }
