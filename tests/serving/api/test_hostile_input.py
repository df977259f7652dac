"""Hostile and malformed requests: each gets a 4xx with a JSON reason, never a 5xx.

Every case runs on the fast lane and through FastAPI routing (the ``client``
fixture), and every refused prediction input moves
``anomaly_detector_rejected_requests_total{reason}``.
"""

from __future__ import annotations

import asyncio
import json
from typing import NamedTuple

import pytest

from anomaly_detector.serving.api.contract import FEATURES_EXAMPLE, VECTOR_EXAMPLE
from anomaly_detector.serving.api.errors import MAX_DETAIL_CHARS
from factories import write_bundle

JSON = "application/json"
REJECTED = "anomaly_detector_rejected_requests_total"
# An error body stays small whatever the request held.
MAX_ERROR_BODY_BYTES = MAX_DETAIL_CHARS * 4 + 200


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """One small model for the whole module: these tests never change it."""
    return write_bundle(tmp_path_factory.mktemp("models"), seed=11)


def _json(value) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()


def _vector_with(literal: str, position: int = 1) -> bytes:
    values = [json.dumps(v) for v in VECTOR_EXAMPLE]
    values[position] = literal
    return f'{{"feature_vector": [{", ".join(values)}]}}'.encode()


def _features_with(literal: str, name: str = "request_rate") -> bytes:
    values = [f"{json.dumps(k)}: {json.dumps(v)}" for k, v in FEATURES_EXAMPLE.items()]
    values[list(FEATURES_EXAMPLE).index(name)] = f"{json.dumps(name)}: {literal}"
    return f'{{"features": {{{", ".join(values)}}}}}'.encode()


HUGE_INTEGER = "1" + "0" * 400  # 10**400: beyond double range
VERY_LONG_INTEGER = "9" * 100_000
DEEP = 100_000


class Hostile(NamedTuple):
    """A request body the service must refuse, and how."""

    id: str
    path: str
    body: bytes
    status: int
    reason: str
    content_type: str | None = JSON


VECTOR_BODY = _json({"feature_vector": VECTOR_EXAMPLE})
INVALID_UTF8 = b'{"feature_vector": ["\xff\xfe", 14, 1, 1, 1, 1, 1, 1, 1, 1]}'
NAN_BATCH = b'{"feature_vectors": [["mobile", NaN, 1, 1, 1, 1, 1, 1, 1, 1]]}'
BROKEN_WITH_INF_LETTERS = b'{"features": {"client_type": "info", "x": "NaN"},}'
MULTIPART = b'--b\r\nContent-Disposition: form-data; name="score"\r\n\r\ntrue\r\n--b--\r\n'
LAST_KEY_INVALID = b'{"feature_vector": ' + VECTOR_BODY[19:-1] + b', "feature_vector": [1]}'

# One request a line reads better than the formatter's columns.
# fmt: off
REFUSED = [
    # Nesting: orjson stops at 1,024 levels, whatever the body holds after.
    Hostile("deep-array", "/prediction", b"[" * DEEP, 422, "invalid_json"),
    Hostile("deep-object", "/prediction", b'{"a":' * DEEP, 422, "invalid_json"),
    Hostile("deep-in-vector", "/prediction", b'{"feature_vector": ' + b"[" * DEEP, 422,
            "invalid_json"),
    Hostile("deep-closed", "/prediction", b"[" * 2000 + b"]" * 2000, 422, "invalid_json"),
    Hostile("deep-batch", "/predictions", b'{"features": ' + b"[" * DEEP, 422, "invalid_json"),
    Hostile("nested-value", "/prediction", _vector_with("[" * 100 + "]" * 100), 422,
            "non_numeric"),
    # Numbers beyond double range, and the literals of non-finite floats.
    Hostile("1e309-vector", "/prediction", _vector_with("1e309"), 422, "non_finite"),
    Hostile("-1e309-features", "/prediction", _features_with("-1e309"), 422, "non_finite"),
    Hostile("NaN-vector", "/prediction", _vector_with("NaN"), 422, "non_finite"),
    Hostile("Infinity-vector", "/prediction", _vector_with("Infinity"), 422, "non_finite"),
    Hostile("-Infinity-vector", "/prediction", _vector_with("-Infinity"), 422, "non_finite"),
    Hostile("NaN-features", "/prediction", _features_with("NaN"), 422, "non_finite"),
    Hostile("Infinity-features", "/prediction", _features_with("Infinity"), 422, "non_finite"),
    Hostile("-Infinity-features", "/prediction", _features_with("-Infinity"), 422, "non_finite"),
    Hostile("nan-lowercase", "/prediction", _vector_with("nan"), 422, "non_finite"),
    Hostile("-inf-lowercase", "/prediction", _vector_with("-inf"), 422, "non_finite"),
    Hostile("NaN-batch", "/predictions", NAN_BATCH, 422, "non_finite"),
    Hostile("NaN-categorical", "/prediction", _vector_with("NaN", 0), 422, "non_finite"),
    Hostile("10**400", "/prediction", _vector_with(HUGE_INTEGER), 422, "non_finite"),
    Hostile("-10**400-features", "/prediction", _features_with("-" + HUGE_INTEGER), 422,
            "non_finite"),
    Hostile("100k-digits", "/prediction", _vector_with(VERY_LONG_INTEGER), 422, "non_finite"),
    Hostile("10**400-categorical", "/prediction", _vector_with(HUGE_INTEGER, 0), 422,
            "non_finite"),
    # A number where the model expects category text, naming no category: a client bug.
    Hostile("number-categorical", "/prediction", _vector_with("1e308", 0), 422,
            "invalid_category"),
    # The letters of a non-finite literal elsewhere in a broken body: plain invalid JSON.
    Hostile("info-trailing-comma", "/prediction", BROKEN_WITH_INF_LETTERS, 422, "invalid_json"),
    # Content types other than JSON.
    Hostile("text-plain", "/prediction", VECTOR_BODY, 415, "unsupported_media_type",
            "text/plain"),
    Hostile("multipart", "/prediction", MULTIPART, 415, "unsupported_media_type",
            "multipart/form-data; boundary=b"),
    Hostile("form", "/predictions", b"score=true", 415, "unsupported_media_type",
            "application/x-www-form-urlencoded"),
    Hostile("json-suffix", "/prediction", VECTOR_BODY, 415, "unsupported_media_type",
            "application/vnd.api+json"),
    Hostile("no-content-type", "/predictions", b"{}", 415, "unsupported_media_type", None),
    # Bodies that are not JSON text.
    Hostile("empty", "/prediction", b"", 422, "invalid_json"),
    Hostile("empty-batch-body", "/predictions", b"", 422, "invalid_json"),
    Hostile("whitespace", "/prediction", b" \t\r\n  \n", 422, "invalid_json"),
    Hostile("invalid-utf8", "/prediction", INVALID_UTF8, 422, "invalid_json"),
    Hostile("overlong-utf8", "/predictions", b'{"features": [{"\xc0\xaf": 1}]}', 422,
            "invalid_json"),
    Hostile("utf16", "/prediction", VECTOR_BODY.decode().encode("utf-16"), 422, "invalid_json"),
    Hostile("utf8-bom", "/prediction", b"\xef\xbb\xbf" + VECTOR_BODY, 422, "invalid_json"),
    Hostile("lone-surrogate", "/prediction", _vector_with('"\\ud800"', 0), 422, "invalid_json"),
    # Sizes: long vectors, many keys, long names.
    Hostile("100k-vector", "/prediction", _json({"feature_vector": [1.0] * 100_000}), 422,
            "wrong_length"),
    Hostile("100k-vector-batch", "/predictions", _json({"feature_vectors": [[0] * 100_000]}),
            422, "wrong_length"),
    Hostile("100k-features", "/prediction", _json({"features": {f"f{i}": i for i in
            range(100_000)}}), 422, "unknown_feature"),
    Hostile("100k-top-level-keys", "/prediction", _json({f"k{i}": i for i in range(100_000)}),
            422, "invalid_request"),
    Hostile("1MB-feature-name", "/prediction", _json({"features": {"x" * 1_000_000: 1}}), 422,
            "unknown_feature"),
    Hostile("1MB-as-number", "/prediction", _vector_with(json.dumps("1" * 1_000_000)), 422,
            "non_numeric"),
    # Shapes: duplicate keys (the last one wins, as in Python's json), null, arrays, flags.
    Hostile("duplicate-key", "/prediction", LAST_KEY_INVALID, 422, "wrong_length"),
    Hostile("null", "/prediction", b"null", 422, "invalid_request"),
    Hostile("top-level-array", "/prediction", _json([VECTOR_EXAMPLE]), 422, "invalid_request"),
    Hostile("top-level-array-batch", "/predictions", _json([[VECTOR_EXAMPLE]]), 422,
            "invalid_request"),
    Hostile("top-level-string", "/prediction", b'"feature_vector"', 422, "invalid_request"),
    Hostile("top-level-number", "/predictions", b"42", 422, "invalid_request"),
    Hostile("score-string", "/prediction", VECTOR_BODY[:-1] + b', "score": "true"}', 422,
            "invalid_request"),
    Hostile("score-number", "/prediction", VECTOR_BODY[:-1] + b', "score": 1}', 422,
            "invalid_request"),
    Hostile("score-null", "/prediction", VECTOR_BODY[:-1] + b', "score": null}', 422,
            "invalid_request"),
    Hostile("batch-of-nulls", "/predictions", b'{"features": [null]}', 422, "invalid_request"),
    # Batch sizes.
    Hostile("empty-batch", "/predictions", b'{"features": []}', 422, "empty_batch"),
    Hostile("1M-rows", "/predictions", _json({"feature_vectors": [[]] * 1_000_000}), 413,
            "batch_too_large"),
    Hostile("10001-rows", "/predictions", _json({"feature_vectors": [VECTOR_EXAMPLE] * 10_001}),
            413, "batch_too_large"),
]
# fmt: on

UNICODE_NAMES = [
    "\u202eevil\u202c",  # right-to-left override
    "مرحبا",  # Arabic, right to left
    "שלום",  # Hebrew
    "🦄💥",  # emoji outside the BMP
    "a\x00b",  # NUL
    "\ufeff",  # byte-order mark as a name
    "",  # empty name
]


def _post(client, path: str, body: bytes, content_type: str | None = JSON):
    headers = {"Content-Type": content_type} if content_type is not None else {}
    return client.post(path, content=body, headers=headers)


def assert_refused(response, status: int, reason: str) -> dict:
    """A JSON ``{"detail", "reason"}`` answer with this status, small whatever came in."""
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"] == JSON
    assert len(response.content) <= MAX_ERROR_BODY_BYTES
    body = response.json()
    assert set(body) == {"detail", "reason"}
    assert body["reason"] == reason, body
    assert isinstance(body["detail"], str) and body["detail"]
    return body


def rejected(client, reason: str) -> float:
    registry = client.app.state.metrics.registry
    return registry.get_sample_value(REJECTED, {"reason": reason}) or 0.0


def rejected_total(client) -> float:
    registry = client.app.state.metrics.registry
    return sum(
        sample.value
        for family in registry.collect()
        for sample in family.samples
        if sample.name == REJECTED
    )


@pytest.mark.parametrize("case", REFUSED, ids=[case.id for case in REFUSED])
def test_hostile_body_is_refused_with_a_reason(client, case):
    response = _post(client, case.path, case.body, case.content_type)
    assert_refused(response, case.status, case.reason)
    assert rejected(client, case.reason) == 1
    assert rejected_total(client) == 1


@pytest.mark.parametrize(
    ("body", "named"),
    [(b"null", "null"), (b"[1]", "an array"), (b'"x"', "a string"), (b"4.5", "a number"),
     (b"true", "boolean")],
)  # fmt: skip
def test_a_body_that_is_no_object_is_named_as_json_names_it(client, body, named):
    detail = assert_refused(_post(client, "/prediction", body, JSON), 422, "invalid_request")
    assert detail["detail"] == f"expected a JSON object, got {named}"


@pytest.mark.parametrize(
    "name", UNICODE_NAMES, ids=["rtl-override", "arabic", "hebrew", "emoji", "nul", "bom", "empty"]
)
@pytest.mark.parametrize("path", ["/prediction", "/predictions"])
def test_unicode_feature_names_are_named_back(client, path, name):
    features = {**FEATURES_EXAMPLE, name: 1}
    body = {"features": features if path == "/prediction" else [features]}
    detail = assert_refused(_post(client, path, _json(body)), 422, "unknown_feature")["detail"]
    assert repr(name) in detail
    assert rejected(client, "unknown_feature") == 1


@pytest.mark.parametrize(
    "content_type",
    ["application/json; charset=utf-8", "application/json;charset=UTF-8", "Application/JSON"],
)
def test_json_with_parameters_or_any_case_is_accepted(client, content_type):
    response = _post(client, "/prediction", _json({"feature_vector": VECTOR_EXAMPLE}), content_type)
    assert response.status_code == 200, response.text
    assert rejected_total(client) == 0


@pytest.mark.parametrize(
    "body",
    [
        _vector_with("1e308"),
        _vector_with("-1.7976931348623157e308"),
        _vector_with("5e-324"),
        _features_with("1e308"),
        _vector_with("9" * 300),  # a long integer still inside double range
        _vector_with('"1e308"', 0),  # a number written as text: an unseen category
    ],
    ids=["1e308", "min-double", "denormal", "1e308-features", "300-digit-integer", "categorical"],
)
def test_extreme_finite_numbers_are_scored(client, body):
    response = _post(client, "/prediction", body[:-1] + b', "score": true}')
    assert response.status_code == 200, response.text
    assert 0.0 < response.json()["anomaly_score"] <= 1.0


@pytest.mark.parametrize("path", ["/prediction", "/predictions"])
def test_a_1mb_categorical_value_is_an_unseen_category(client, path):
    vector = ["x" * 1_000_000, *VECTOR_EXAMPLE[1:]]
    body = {"feature_vector": vector} if path == "/prediction" else {"feature_vectors": [vector]}
    response = _post(client, path, _json(body))
    assert response.status_code == 200, response.text[:500]


def test_duplicate_keys_last_one_wins(client):
    body = b'{"feature_vector": [1], "score": false, "feature_vector": ' + _json(VECTOR_EXAMPLE)
    response = _post(client, "/prediction", body + b', "score": true}')
    assert response.status_code == 200
    assert "anomaly_score" in response.json()


@pytest.mark.parametrize("lane", [True, False], ids=["fast-lane", "routed"])
def test_bodies_over_the_limit_are_413(make_client, lane):
    client = make_client(fast_lane=lane, max_body_bytes=1024)
    big = _json({"feature_vectors": [VECTOR_EXAMPLE] * 50})

    def chunks():
        for start in range(0, len(big), 256):
            yield big[start : start + 256]

    for path in ("/prediction", "/predictions"):
        assert_refused(_post(client, path, big), 413, "body_too_large")
        # Without Content-Length, the limit holds while reading.
        assert_refused(_post(client, path, chunks()), 413, "body_too_large")
    assert rejected(client, "body_too_large") == 4


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("GET", "/prediction", "POST"),
        ("PUT", "/prediction", "POST"),
        ("DELETE", "/prediction", "POST"),
        ("PATCH", "/predictions", "POST"),
        ("OPTIONS", "/predictions", "POST"),
        ("GET", "/predictions", "POST"),
        ("POST", "/model_information", "GET"),
        ("POST", "/healthz", "GET"),
        ("GET", "/admin/reload", "POST"),
    ],
)
def test_methods_not_allowed_are_405_json(client, method, path, allow):
    response = client.request(method, path)
    assert_refused(response, 405, "http_error")
    assert response.headers["allow"] == allow
    assert response.json()["detail"] == f"{method} is not allowed on {path}; use {allow}"
    # Not a refused prediction input: the rejected-requests counter stays still.
    assert rejected_total(client) == 0


@pytest.mark.parametrize(
    "path",
    [
        "/%00",
        "/prediction%00",
        "/..%2F..%2Fetc%2Fpasswd",
        "/%ff%fe%fd",
        "/%E2%80%AEnoitciderp",
        "/🦄",
        "/PREDICTION",
        "/prediction;jsessionid=1",
        "/predictions/../admin",
        "/" + "a" * 10_000,
        "/model_information/%0d%0aSet-Cookie:x=1",
    ],
)
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_unknown_paths_with_odd_characters_are_404_json(client, method, path):
    response = client.request(method, path, content=b"{}", headers={"Content-Type": JSON})
    assert_refused(response, 404, "http_error")
    assert "set-cookie" not in response.headers
    assert rejected_total(client) == 0


async def _raw_request(app, method: str, path: str, headers: list, body: bytes):
    """One ASGI exchange with headers no HTTP client would send; (status, headers, body)."""
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    sent = []

    async def receive():
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode("utf-8", "surrogateescape"),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("203.0.113.9", 40000),
        "server": ("testserver", 80),
    }
    await app(scope, receive, send)
    start = sent[0]
    return start["status"], dict(start["headers"]), b"".join(m.get("body", b"") for m in sent[1:])


JSON_HEADER = (b"content-type", JSON.encode())


@pytest.mark.parametrize(
    ("headers", "status", "reason"),
    [
        ([JSON_HEADER, (b"content-length", b"abc")], 422, "wrong_length"),
        ([JSON_HEADER, (b"content-length", b"-5")], 422, "wrong_length"),
        ([JSON_HEADER, (b"content-length", b"9" * 40)], 413, "body_too_large"),
        ([(b"content-type", b"\xff\xfe\x00")], 415, "unsupported_media_type"),
        ([], 415, "unsupported_media_type"),
    ],
    ids=["length-not-a-number", "negative-length", "40-digit-length", "binary-type", "no-headers"],
)
def test_malformed_headers_are_refused(client, headers, status, reason):
    status_code, response_headers, body = asyncio.run(
        _raw_request(client.app, "POST", "/prediction", headers, b'{"feature_vector": [1]}')
    )
    assert status_code == status
    assert response_headers[b"content-type"] == b"application/json"
    assert json.loads(body)["reason"] == reason
    assert rejected(client, reason) == 1


def test_two_content_types_are_read_alike(make_client):
    headers = [JSON_HEADER, (b"content-type", b"text/plain")]
    statuses = set()
    for lane in (True, False):
        client = make_client(fast_lane=lane)
        status, _, _ = asyncio.run(
            _raw_request(client.app, "POST", "/prediction", headers, _json({"feature_vector": [1]}))
        )
        statuses.add(status)
    assert len(statuses) == 1


@pytest.mark.parametrize("path", ["/\udcff\udcfe", "/prediction\x00", "/\u202e", "/ "])
def test_raw_paths_no_client_would_send_are_404(client, path):
    status, _, body = asyncio.run(_raw_request(client.app, "GET", path, [], b""))
    assert status == 404
    assert json.loads(body)["reason"] == "http_error"
