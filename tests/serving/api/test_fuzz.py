"""Property-based fuzzing of every operation in the OpenAPI schema, in process.

Schemathesis reads ``/openapi.json`` and generates requests from it, valid and
invalid, sent straight to the ASGI app. Every answer must be a non-5xx whose
status code, content type, headers and body are the ones the schema documents,
and input the schema rules out must be refused with a 4xx. Rows that fit the
model, with extreme but legal values, must be scored (200). Everything runs on
the fast lane and through FastAPI routing.

``FUZZ_EXAMPLES`` (default 20) sets the examples per operation and mode. Every
run ends with the line ``fuzz cases tried: N, 5xx: M`` (M leaves out the 503s
that the app without a model must answer); a long one::

    FUZZ_EXAMPLES=2000 .venv/bin/pytest tests/api/test_fuzz.py -q
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from anomaly_detector.serving.api.app import create_app
from anomaly_detector.settings import Settings
from factories import write_bundle

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "20"))
ADMIN_TOKEN = "fuzz-admin-token"
OPERATIONS = [
    "POST /prediction",
    "POST /predictions",
    "GET /model_information",
    "GET /metrics",
    "GET /healthz",
    "GET /readyz",
    "POST /admin/reload",
]
# Operations with a body, query or header to make invalid.
TAKING_INPUT = ["POST /prediction", "POST /predictions", "POST /admin/reload"]
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
FUZZ_SETTINGS = settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    derandomize=True,  # the same cases every run: a failure here is reproducible
    database=None,
    suppress_health_check=list(HealthCheck),
)


@dataclass
class FuzzTally:
    """Requests sent and server errors seen; a pytest plugin printing them at the end."""

    cases: int = 0
    server_errors: int = 0

    def count(self, status_code: int, expected: bool = False) -> None:
        self.cases += 1
        self.server_errors += status_code >= 500 and not expected

    def pytest_terminal_summary(self, terminalreporter) -> None:
        terminalreporter.write_line(f"fuzz cases tried: {self.cases}, 5xx: {self.server_errors}")


TALLY = FuzzTally()


@pytest.fixture(scope="module", autouse=True)
def report_tally(pytestconfig):
    # Test modules cannot define hooks; a plugin registered at run time can.
    if not pytestconfig.pluginmanager.is_registered(TALLY):
        pytestconfig.pluginmanager.register(TALLY, "fuzz-tally")


@pytest.fixture(scope="module")
def fuzz_model(tmp_path_factory):
    return write_bundle(tmp_path_factory.mktemp("fuzz-models"), seed=11)


@dataclass
class Target:
    """An app under fuzzing, through its own OpenAPI schema."""

    schema: schemathesis.BaseSchema
    has_model: bool

    def send_and_check(self, case, negative: bool = False):
        """Send ``case``, count it, and run the checks that fit this app."""
        response = case.call()
        expected_503 = not self.has_model and response.status_code == 503
        TALLY.count(response.status_code, expected=expected_503)
        checks = CHECKS if self.has_model else [only_no_model_503, *CHECKS[1:]]
        if negative:
            checks = [*checks, negative_data_rejection]
        case.validate_response(response, checks=checks)
        return response


def only_no_model_503(ctx, response, case):
    """Without a model, 503 is the documented answer; any other 5xx is a bug."""
    if response.status_code >= 500:
        assert response.status_code == 503, f"server error {response.status_code}"
        body = response.json()
        assert body.get("reason") == "no_model" or body.get("status") == "not ready", body


@pytest.fixture(scope="module")
def targets(fuzz_model):
    """Builds each configuration's app once; its lifespan starts on first use."""
    built = {}

    def get(config: str) -> Target:
        if config not in built:
            model_path = fuzz_model[1]
            if config == "no-model":
                model_path = model_path.parent / "absent" / "model.joblib"
            app_settings = Settings(
                model_path=model_path,
                fast_lane=config != "routed",
                admin_token=ADMIN_TOKEN,
                reload_interval_seconds=60,
                log_requests=False,
            )
            app = create_app(app_settings, registry=CollectorRegistry())
            schema = schemathesis.openapi.from_asgi("/openapi.json", app)
            built[config] = Target(schema, has_model=config != "no-model")
        return built[config]

    return get


@pytest.fixture(params=["fast-lane", "routed", "no-model"])
def target(request, targets) -> Target:
    """The fast lane, FastAPI routing, or a service with no model yet (503s)."""
    return targets(request.param)


@pytest.fixture(params=["fast-lane", "routed"])
def serving(request, targets) -> Target:
    """As ``target``, with a model loaded."""
    return targets(request.param)


def test_fuzz_covers_every_operation(target):
    labels = {result.ok().label for result in target.schema.get_all_operations()}
    assert labels == set(OPERATIONS), "add new operations to OPERATIONS so they are fuzzed"
    for label in set(OPERATIONS) - set(TAKING_INPUT):
        operation = target.schema.find_operation_by_label(label)
        assert not (operation.body or operation.query or operation.headers), label


@pytest.mark.parametrize("label", OPERATIONS)
def test_valid_requests_answer_as_documented(target, label):
    """Schema-valid requests: never a 5xx, and status, type, headers and body as documented."""
    operation = target.schema.find_operation_by_label(label)

    @FUZZ_SETTINGS
    @given(case=operation.as_strategy(GenerationMode.POSITIVE))
    def fuzz(case):
        target.send_and_check(case)

    fuzz()


@pytest.mark.parametrize("label", TAKING_INPUT)
def test_invalid_requests_are_refused_as_documented(target, label):
    """Requests the schema rules out get a documented 4xx, never a 5xx."""
    operation = target.schema.find_operation_by_label(label)

    @FUZZ_SETTINGS
    @given(case=operation.as_strategy(GenerationMode.NEGATIVE))
    def fuzz(case):
        target.send_and_check(case, negative=True)

    fuzz()


def model_values(schema):
    """Strategy: a value per feature that the model must score, extremes included."""
    number = st.floats(allow_nan=False, allow_infinity=False) | st.integers(
        min_value=-(10**300), max_value=10**300
    )

    def value(feature):
        if not feature.is_categorical:
            return st.none() | number
        # Seen categories, never-seen text of any script, or a number written as text
        # (a number itself is refused unless it spells a category).
        seen = st.sampled_from(feature.categories) if feature.categories else st.nothing()
        return st.none() | seen | st.text(max_size=50) | number.map(str)

    return st.tuples(*[value(feature) for feature in schema.features])


@pytest.mark.parametrize("label", ["POST /prediction", "POST /predictions"])
def test_rows_that_fit_the_model_are_scored(serving, fuzz_model, label):
    """Any row of the right shape and types is scored (200), however extreme its values."""
    feature_schema = fuzz_model[0].schema
    operation = serving.schema.find_operation_by_label(label)
    rows = model_values(feature_schema).map(list)

    @FUZZ_SETTINGS
    @given(rows=st.lists(rows, min_size=1, max_size=5), by_name=st.booleans(), score=st.booleans())
    def fuzz(rows, by_name, score):
        if by_name:
            named = [dict(zip(feature_schema.names, row, strict=True)) for row in rows]
            body = {"features": named[0] if label == "POST /prediction" else named}
        else:
            key = "feature_vector" if label == "POST /prediction" else "feature_vectors"
            body = {key: rows[0] if label == "POST /prediction" else rows}
        case = operation.Case(body={**body, "score": score}, media_type="application/json")
        response = serving.send_and_check(case)
        assert response.status_code == 200, response.text
        assert ("anomaly_score" in response.json()) == score

    fuzz()
