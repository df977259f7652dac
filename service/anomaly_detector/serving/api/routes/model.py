"""What model is serving."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

from anomaly_detector.serving.api.contract import ERROR_RESPONSES, ModelInformation
from anomaly_detector.serving.api.deps import ModelDep
from anomaly_detector.serving.api.responses import json_response
from anomaly_detector.serving.loader import LoadedModel

router = APIRouter(tags=["model"])


def model_information(model: LoadedModel) -> dict[str, Any]:
    """The bundle's metadata plus live facts: detector, decision, file hash, scorer path."""
    bundle = model.bundle
    detector = bundle.detector.describe()
    return {
        **bundle.metadata,
        "version": bundle.version,
        "task": bundle.task,
        "detector": bundle.detector_name,
        "params": detector["params"],
        "score": {
            "range": detector["score_range"],
            "meaning": detector["score_meaning"],
            "raw_meaning": detector["raw_score_meaning"],
            "scaled": bundle.scale is not None,
        },
        "threshold": bundle.threshold,
        "decision": bundle.decision.to_dict(),
        "features": bundle.schema.to_dict(),
        "ignored_columns": sorted(bundle.schema.ignored),
        "sha256": model.sha256,
        "checksum_verified": model.checksum_verified,
        "fast_path": model.scorer.fast_path,
        "fast_path_fallback_reason": model.scorer.fallback_reason,
        "loaded_at": model.loaded_at,
        "path": str(model.path),
    }


@router.get(
    "/model_information",
    response_model=ModelInformation,
    responses={503: ERROR_RESPONSES[503]},
    summary="Metadata of the serving model",
)
async def get_model_information(model: ModelDep) -> Response:
    """Version, features, threshold, training facts, evaluation and estimator parameters."""
    return json_response(model_information(model))
