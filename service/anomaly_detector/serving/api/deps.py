"""Dependencies shared by the routes, as ``Annotated`` aliases.

All are ``async def``: FastAPI runs plain ``def`` dependencies in a thread pool,
which for these one-line lookups cost more than the whole prediction.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from anomaly_detector.serving.api.errors import NoModel
from anomaly_detector.serving.loader import LoadedModel
from anomaly_detector.serving.metrics import Metrics
from anomaly_detector.serving.model_store import ModelStore
from anomaly_detector.settings import Settings


async def get_store(request: Request) -> ModelStore:
    return request.app.state.store


async def get_metrics(request: Request) -> Metrics:
    return request.app.state.metrics


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_model(request: Request) -> LoadedModel:
    """The model serving this request (taken once, so a swap cannot change it mid-request)."""
    model = request.app.state.store.current
    if model is None:
        raise NoModel()
    request.state.model_version = model.version
    return model


StoreDep = Annotated[ModelStore, Depends(get_store)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
ModelDep = Annotated[LoadedModel, Depends(get_model)]
