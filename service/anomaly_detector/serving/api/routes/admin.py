"""Operator actions, behind the admin token (and absent when none is configured)."""

from __future__ import annotations

import asyncio
import hmac

from fastapi import APIRouter, Header, Request
from starlette.responses import Response

from anomaly_detector.serving.api.contract import ERROR_RESPONSES, ErrorResponse, ReloadResponse
from anomaly_detector.serving.api.deps import SettingsDep, StoreDep
from anomaly_detector.serving.api.errors import ApiError, Unauthorized
from anomaly_detector.serving.api.responses import json_response

router = APIRouter(tags=["admin"])


def check_admin(settings, authorization: str | None) -> None:
    token = settings.admin_token.get_secret_value() if settings.admin_token else ""
    if not token:
        raise ApiError(404, "unauthorized", "admin endpoints are disabled (ADMIN_TOKEN is unset)")
    scheme, _, given = (authorization or "").partition(" ")
    # compare_digest: the time taken does not reveal how much of the token matched.
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), token.encode()):
        raise Unauthorized(
            "missing or wrong admin token (send Authorization: Bearer <ADMIN_TOKEN>)",
            scheme="Bearer",
        )


@router.post(
    "/admin/reload",
    response_model=ReloadResponse,
    responses={
        401: {"model": ErrorResponse},
        404: {"model": ErrorResponse, "description": "ADMIN_TOKEN is unset."},
        409: {"model": ReloadResponse, "description": "The file was refused."},
        413: ERROR_RESPONSES[413],
        # Declared so OpenAPI shows our error body, not FastAPI's HTTPValidationError.
        422: {"model": ErrorResponse, "description": "allow_schema_change is not a boolean."},
    },
    summary="Reload the model file now",
)
async def reload_model(
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    allow_schema_change: bool = False,
    authorization: str | None = Header(None),
) -> Response:
    """Load MODEL_PATH now; a refused file leaves the serving model in place (409)."""
    check_admin(settings, authorization)
    result = await asyncio.to_thread(store.reload, "admin request", allow_schema_change)
    return json_response(
        {
            "loaded": result.loaded,
            "version": result.version,
            "previous_version": result.previous_version,
            "message": result.message,
        },
        status_code=200 if result.loaded else 409,
    )
