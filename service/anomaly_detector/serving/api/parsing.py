"""Turning a raw request body into rows for the scorer, with precise errors.

Bodies are parsed with orjson, which refuses NaN, Infinity and out-of-range
numbers such as 1e999 as invalid JSON; those get their own reason
(``non_finite``) so clients learn what to fix.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request

from anomaly_detector.data.feature_schema import FeatureSchema
from anomaly_detector.errors import InputError
from anomaly_detector.serving.api.errors import ApiError

# The literals some encoders write for non-finite floats (NaN, Infinity, -inf, ...).
_NON_FINITE_LITERALS = ("nan", "inf")


def parse_json_body(body: bytes, content_type: str) -> dict[str, Any]:
    """The body as a JSON object, or an ``ApiError`` (415, 422) saying what is wrong."""
    if content_type != "application/json" and (
        content_type.split(";", 1)[0].strip().lower() != "application/json"
    ):
        raise ApiError(
            415,
            "unsupported_media_type",
            f"expected Content-Type: application/json, got {content_type or 'none'!r}",
        )
    if not body or body.isspace():
        raise ApiError(422, "invalid_json", "the request body is empty; expected a JSON object")
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        message = str(exc)
        if _is_non_finite(exc):
            raise ApiError(
                422,
                "non_finite",
                "NaN, Infinity and numbers beyond double range are not accepted; "
                "send finite numbers, or null for a missing value",
            ) from None
        raise ApiError(422, "invalid_json", f"the body is not valid JSON: {message}") from None
    if not isinstance(payload, dict):
        raise ApiError(422, "invalid_request", f"expected a JSON object, got {json_type(payload)}")
    return payload


def json_type(value: Any) -> str:
    """What JSON calls the type of a parsed value: null, boolean, number, string, array."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "a number"
    return {str: "a string", list: "an array", dict: "an object"}.get(type(value), "a value")


def _is_non_finite(exc: orjson.JSONDecodeError) -> bool:
    """Did parsing stop at a non-finite number, rather than at any other mistake?

    Looks at where parsing stopped, not for the letters anywhere in the body: a
    value such as "info" in an otherwise broken body is plain invalid JSON.
    """
    if "infinity" in exc.msg:  # a number beyond double range, such as 1e999
        return True
    at_error = exc.doc[exc.pos : exc.pos + 4].lstrip("+-")
    return at_error[:3].lower() in _NON_FINITE_LITERALS


async def read_json_object(request: Request) -> dict[str, Any]:
    """``parse_json_body`` of a Starlette request."""
    return parse_json_body(await request.body(), request.headers.get("content-type", ""))


def _check_keys(payload: dict[str, Any], allowed: tuple[str, ...]) -> None:
    extra = [key for key in payload if key not in allowed]
    if extra:
        raise ApiError(
            422,
            "invalid_request",
            f"unexpected field(s) {', '.join(map(repr, extra))}; allowed: {', '.join(allowed)}",
        )


# What a response includes besides the decision: ``anomaly_score``, ``raw_score``,
# ``explanation``.
Extras = tuple[bool, bool, bool]
_FLAGS = ("score", "raw_score", "explain")


def _extras(payload: dict[str, Any]) -> Extras:
    """The ``score``, ``raw_score`` and ``explain`` flags of a body."""
    flags = []
    for name in _FLAGS:
        value = payload.get(name, False)
        if not isinstance(value, bool):
            raise ApiError(422, "invalid_request", f"{name!r} must be true or false")
        flags.append(value)
    return flags[0], flags[1], flags[2]


def parse_prediction(payload: dict[str, Any], schema: FeatureSchema) -> tuple[list[Any], Extras]:
    """(row in schema order, response extras) from a ``POST /prediction`` body."""
    _check_keys(payload, ("feature_vector", "features", *_FLAGS))
    vector, named = payload.get("feature_vector"), payload.get("features")
    try:
        if vector is not None and named is None:
            if not isinstance(vector, list):
                raise InputError("invalid_request", "'feature_vector' must be a list of values")
            row = schema.row_from_vector(vector)
        elif named is not None and vector is None:
            if not isinstance(named, dict):
                raise InputError("invalid_request", "'features' must be an object of name: value")
            row = schema.row_from_mapping(named)
        else:
            raise InputError(
                "invalid_request",
                "send exactly one of 'feature_vector' (list in feature order: "
                f"{', '.join(schema.names)}) or 'features' (object by name)",
            )
    except InputError as exc:
        raise ApiError.from_input_error(exc) from None
    return row, _extras(payload)


def parse_batch(
    payload: dict[str, Any], schema: FeatureSchema, max_rows: int
) -> tuple[list[list[Any]], Extras]:
    """(rows in schema order, response extras) from a ``POST /predictions`` body."""
    _check_keys(payload, ("feature_vectors", "features", *_FLAGS))
    vectors, named = payload.get("feature_vectors"), payload.get("features")
    if (vectors is None) == (named is None):
        raise ApiError(
            422, "invalid_request", "send exactly one of 'feature_vectors' or 'features' (a list)"
        )
    items = vectors if vectors is not None else named
    if not isinstance(items, list):
        raise ApiError(422, "invalid_request", "the batch must be a JSON list")
    if not items:
        raise ApiError(422, "empty_batch", "the batch is empty; send at least one row")
    if len(items) > max_rows:
        raise ApiError(
            413,
            "batch_too_large",
            f"the batch has {len(items)} rows; the limit is {max_rows} (MAX_BATCH_ROWS)",
        )
    rows = []
    for index, item in enumerate(items):
        try:
            if vectors is not None:
                if not isinstance(item, list):
                    raise InputError("invalid_request", "each feature vector must be a list")
                rows.append(schema.row_from_vector(item))
            else:
                if not isinstance(item, dict):
                    raise InputError("invalid_request", "each features item must be an object")
                rows.append(schema.row_from_mapping(item))
        except InputError as exc:
            raise ApiError(422, exc.reason, f"row {index}: {exc.message}") from None
    return rows, _extras(payload)
