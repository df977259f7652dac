"""The web page: a model card, a form to score one row, a CSV upload (``serving.ui``).

Server-rendered with htmx: the form and the upload post to fragment endpoints and
the page swaps the HTML answer in; an upload's answer carries its scored CSV, which
``static/ui.js`` saves as a file. The rules are the API's: the same admission
(keys, body limit, slots; the fragment paths are in ``PROTECTED_PATHS``), the same
validation and messages (``parse_prediction``), the same ``Scorer``, the same
metrics (by route template; scored rows under ``endpoint="ui"``). Refusals keep
the API's status (422, 413) and come as HTML fragments; ``static/ui.js`` swaps
them in, since htmx 2 swaps no 4xx answer by default.
"""

from __future__ import annotations

import asyncio
import base64
import io
import re
from typing import Any

import pandas as pd
from fastapi import APIRouter, Request
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.responses import RedirectResponse, Response

from anomaly_detector.data.feature_schema import unreadable_notes
from anomaly_detector.data.reading import csv_errors
from anomaly_detector.errors import InputError
from anomaly_detector.scoring.scored_frame import scored_frame, text_dtypes
from anomaly_detector.serving.api.deps import MetricsDep, ModelDep, SettingsDep, StoreDep
from anomaly_detector.serving.api.errors import ApiError, NoModel
from anomaly_detector.serving.api.parsing import parse_prediction
from anomaly_detector.serving.api.routes.model import model_information
from anomaly_detector.serving.loader import LoadedModel
from anomaly_detector.serving.ui import card, results
from anomaly_detector.serving.ui.pages import html_response, static_response
from anomaly_detector.settings import Settings

router = APIRouter(include_in_schema=False)
ENDPOINT = "ui"  # the endpoint label of rows scored by the page
# Columns an uploaded header may have: a wide file is refused before pandas parses it
# (200,000 columns took over the request deadline).
MAX_UPLOAD_COLUMNS = 2_000


def _links(settings: Settings) -> dict[str, str]:
    links = {"API docs": "/docs"}
    if settings.ui_prometheus_url:
        links["Prometheus"] = settings.ui_prometheus_url
    if settings.ui_grafana_url:
        links["Grafana"] = settings.ui_grafana_url
    return links


def _model_context(model: LoadedModel, settings: Settings) -> dict[str, Any]:
    info = model_information(model)
    return {
        "card": card.model_card(info, _links(settings)),
        "fields": card.form_fields(info),
        "example_split": card.example_source(info),
        "max_rows": settings.max_batch_rows,
        "max_megabytes": f"{settings.max_body_bytes / 1e6:.3g}",
    }


@router.get("/")
async def root() -> Response:
    return RedirectResponse("/ui", status_code=307)


@router.get("/ui")
async def page(store: StoreDep, settings: SettingsDep) -> Response:
    """The page; with API keys set, the model section loads once a key is given."""
    context: dict[str, Any] = {"links": _links(settings), "keys": bool(settings.api_key_set)}
    model = store.current
    if settings.api_key_set:
        return html_response("page.html", **context, model=False, no_model=None)
    if model is None:
        return html_response("page.html", 503, **context, model=False, no_model=NoModel().detail)
    return html_response(
        "page.html", **context, **_model_context(model, settings), model=True, no_model=None
    )


@router.get("/ui/model")
async def model_section(model: ModelDep, settings: SettingsDep) -> Response:
    """The model card and the forms, for a page that waited for its API key."""
    return html_response("model.html", **_model_context(model, settings))


@router.post("/ui/score")
async def score(request: Request, model: ModelDep, metrics: MetricsDep) -> Response:
    """One row from the form: decision, score against threshold, probabilities, explanation."""
    form = await request.form()
    info = model_information(model)
    fields = card.form_fields(info)
    submitted = {key: value for key, value in form.items() if isinstance(value, str)}
    for field in fields:
        field["value"] = submitted.get(results.FIELD_PREFIX + field["name"], "")
    # Fields are re-rendered (values kept, errors marked) only when the form is the
    # one of this model; after a hot swap the message says which names differ.
    same_form = {results.FIELD_PREFIX + f["name"] for f in fields} == {
        key for key in submitted if key.startswith(results.FIELD_PREFIX)
    }
    payload = {"features": results.form_features(submitted, model.bundle.schema), "score": True}
    try:
        row, _ = parse_prediction(payload, model.bundle.schema)
    except ApiError as error:
        request.app.state.admission.count(error)
        for field in fields:
            field["error"] = error.detail if field["name"] == error.feature else None
        return html_response("result.html", error.status_code, error=error, result=None,
                             fields=fields if same_form else [])  # fmt: skip
    body, unexplained = _answer(model, row, metrics)
    view = results.score_view(info, body, unexplained)
    return html_response("result.html", error=None, result=view,
                         fields=fields if same_form else [])  # fmt: skip


def _answer(model: LoadedModel, row: list, metrics) -> tuple[dict[str, Any], str | None]:
    """(what ``POST /prediction`` with score and explain answers, why there is no explanation)."""
    prediction = model.scorer.predict_one(row)
    metrics.observe_score(prediction.anomaly_score, prediction.is_inlier, endpoint=ENDPOINT)
    body: dict[str, Any] = {
        "is_inlier": prediction.is_inlier,
        "model_version": model.version,
        "anomaly_score": prediction.anomaly_score,
    }
    if prediction.label is not None:
        metrics.observe_labels(prediction.label, endpoint=ENDPOINT)
        probabilities = prediction.probabilities.tolist()
        body["label"] = prediction.label
        body["confidence"] = prediction.confidence
        body["probabilities"] = dict(zip(model.scorer.classes, probabilities, strict=True))
    try:
        body["explanation"] = model.scorer.explain(row, prediction).to_dict()
    except InputError as exc:  # the score stands; the page says why it is not explained
        return body, exc.message
    return body, None


async def _scored_upload(
    request: Request, model: LoadedModel, settings: Settings
) -> tuple[str, pd.DataFrame, Any, list[str]]:
    """(file name, scored frame, prediction, notes) of the uploaded CSV, within the API's
    limits; the notes say which cells were not numbers and were scored as missing.

    Raises:
        ApiError: no file, not CSV, over ``MAX_BATCH_ROWS``, or rows the model refuses.
    """
    form = await request.form()
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise ApiError(422, "invalid_request", "choose a CSV file to score")
    filename, data = upload.filename, await upload.read()
    if not data.strip():
        raise ApiError(422, "empty_batch", f"{filename} is empty; send a CSV with a header row")

    columns = data.split(b"\n", 1)[0].count(b",") + 1
    if columns > MAX_UPLOAD_COLUMNS:
        raise ApiError(
            422, "invalid_request", f"{filename} has {columns:,} columns in its "
            f"header; the page reads files of up to {MAX_UPLOAD_COLUMNS:,}",
        )  # fmt: skip
    notes: list[str] = []

    def score_file():
        try:
            with csv_errors(filename):
                frame = pd.read_csv(io.BytesIO(data), dtype=text_dtypes(model.bundle.schema),
                                    low_memory=False)  # fmt: skip
            if frame.empty:
                raise ApiError(422, "empty_batch", f"{filename} has no rows; send at least one")
            notes.extend(unreadable_notes(model.bundle.schema.unreadable_numbers(frame)))
            if len(frame) > settings.max_batch_rows:
                raise ApiError(413, "batch_too_large", f"{filename} has {len(frame)} rows; the "
                               f"limit is {settings.max_batch_rows} (MAX_BATCH_ROWS)")  # fmt: skip
            return scored_frame(model.scorer, frame)
        except InputError as exc:
            raise ApiError.from_input_error(exc) from None

    scored, prediction = await asyncio.to_thread(score_file)
    request.state.rows = len(scored)
    metrics = request.app.state.metrics
    metrics.observe_scores(prediction.anomaly_score, prediction.is_inlier, endpoint=ENDPOINT)
    if prediction.label is not None:
        metrics.observe_labels(prediction.label, endpoint=ENDPOINT)
    return filename, scored, prediction, notes


def _download_name(filename: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", filename.rsplit(".", 1)[0]).strip("._") or "scored"
    return f"{stem[:80]}-scored.csv"


@router.post("/ui/batch")
async def batch(request: Request, model: ModelDep, settings: SettingsDep) -> Response:
    """An uploaded CSV's summary (rows, anomalies, a histogram of scores) and its download.

    The scored CSV (the columns of ``anomaly-detector score``) rides in the fragment, so
    the download is the very rows the summary counts: scored once, counted once in the
    metrics, by the model that scored them, and the service keeps nothing between requests.
    """
    try:
        filename, scored, prediction, notes = await _scored_upload(request, model, settings)
    except ApiError as error:
        request.app.state.admission.count(error)
        return html_response("batch.html", error.status_code, error=error, summary=None)
    view = results.batch_view(model_information(model), prediction, filename,
                              _download_name(filename))  # fmt: skip
    view["notes"] = notes
    view["csv_base64"] = base64.b64encode(scored.to_csv(index=False).encode()).decode("ascii")
    return html_response("batch.html", error=None, summary=view)


@router.get("/ui/static/{name}")
async def static(name: str, request: Request) -> Response:
    """htmx, its licence, the page's script and style sheet (shipped in the package)."""
    response = static_response(name, request.headers.get("if-none-match"))
    if response is None:
        raise HTTPException(404, f"no static file {name!r}")
    return response
