"""What model is serving."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

from anomaly_detector.api.deps import ModelDep
from anomaly_detector.api.responses import json_response
from anomaly_detector.api.schemas import ERROR_RESPONSES, ModelInformation
from anomaly_detector.model_store import LoadedModel

router = APIRouter(tags=["model"])


def model_information(model: LoadedModel) -> dict[str, Any]:
    """The bundle's metadata plus live facts: estimator parameters, file hash, fast path."""
    bundle = model.bundle
    params = {key: _jsonable(value) for key, value in bundle.estimator.get_params().items()}
    return {
        **bundle.metadata,
        "version": bundle.version,
        "detector": bundle.detector,
        "threshold": bundle.threshold,
        "features": bundle.schema.to_dict(),
        "params": params,
        "sha256": model.sha256,
        "fast_path": model.scorer.fast_path,
        "fast_path_fallback_reason": model.scorer.fallback_reason,
        "loaded_at": model.loaded_at,
        "path": str(model.path),
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if hasattr(value, "item"):
        return value.item()
    return repr(value)


@router.get(
    "/model_information",
    response_model=ModelInformation,
    responses={503: ERROR_RESPONSES[503]},
    summary="Metadata of the serving model",
)
async def get_model_information(model: ModelDep) -> Response:
    """Version, features, threshold, training facts, evaluation and estimator parameters."""
    return json_response(model_information(model))
