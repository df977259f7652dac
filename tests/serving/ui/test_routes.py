"""The web page's routes (serving/api/routes/ui.py) through the app: what a person sees and
the API's rules (validation messages, keys, limits, metrics, logs) applied to the page."""

from __future__ import annotations

import base64
import io
import logging

import pandas as pd
import pytest

from anomaly_detector.bundle.io import save_bundle
from anomaly_detector.serving.ui.pages import CONTENT_SECURITY_POLICY, shown
from factories import labelled_traffic, numeric_frame, train_small
from html_page import Page


def _form(values: dict) -> dict[str, str]:
    """The form fields a browser posts for ``values`` (None: left empty)."""
    return {f"f:{name}": "" if value is None else str(value) for name, value in values.items()}


def _example(client) -> dict:
    return client.app.state.store.current.bundle.metadata["examples"]["anomaly"]["features"]


def _sample(client, name, **labels) -> float:
    return client.app.state.metrics.registry.get_sample_value(name, labels) or 0.0


def test_the_root_sends_people_to_the_page(ui_client):
    response = ui_client().get("/", follow_redirects=False)
    assert response.status_code == 307 and response.headers["location"] == "/ui"


def test_the_page_shows_the_unsupervised_model_and_a_form_from_its_schema(ui_client):
    client = ui_client()
    response = client.get("/ui")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    bundle = client.app.state.store.current.bundle
    stats, example = bundle.metadata["feature_stats"], _example(client)
    page = Page(response.text)
    assert page.text("model-version") == bundle.version
    assert "isolation_forest" in page.text("card-heading") + response.text
    assert page.find_all("button", data_fill="typical")
    assert "from the test data" in page.find_all("button", data_fill="anomaly")[0].text
    for index, feature in enumerate(bundle.schema.features):
        (control,) = page.find_all(name=f"f:{feature.name}")
        assert control.get("id") == f"input-{index}"
        if feature.is_categorical:
            assert control.tag == "select"
            options = [o.get("value") for o in page.find_all("option")]
            assert set(feature.categories) <= set(options)
            assert control.get("data-typical") == stats[feature.name]["mode"]
        else:
            assert control.tag == "input" and control.get("inputmode") == "decimal"
            assert control.get("placeholder") == shown(stats[feature.name]["median"], 6)
            assert float(control.get("data-typical")) == stats[feature.name]["median"]
            hint = page.text(f"hint-{index}")
            assert shown(stats[feature.name]["q01"]) in hint
            assert shown(stats[feature.name]["q99"]) in hint
        expected = example[feature.name]
        given = control.get("data-anomaly")
        assert (given == "" if expected is None else given == str(expected) or
                float(given) == expected)  # fmt: skip


def test_the_model_card_lists_features_figures_thresholds_and_links(ui_client):
    client = ui_client(ui_prometheus_url="http://127.0.0.1:9090", ui_grafana_url="")
    page = Page(client.get("/ui").text)
    bundle = client.app.state.store.current.bundle
    features = page.by_id("features-table").text
    for feature in bundle.schema.features:
        assert feature.name in features
    assert "browser (" in features and "heavy-tailed" in features
    evaluation = page.by_id("evaluation-table").text
    test_figures = bundle.metadata["evaluation"]["test"]
    assert "ROC-AUC" in evaluation and shown(test_figures["roc_auc"]) in evaluation
    thresholds = page.by_id("thresholds-table").text
    assert "best F1" in thresholds and "(in use)" in thresholds
    best = bundle.metadata["thresholds"]["recommendations"]["best_f1"]["threshold"]
    assert shown(best) in thresholds
    links = {a.text: a.get("href") for a in page.find_all("a")}
    assert links["API docs"] == "/docs" and links["Prometheus"] == "http://127.0.0.1:9090"
    assert "Grafana" not in links


def test_the_page_shows_a_classifier_with_its_classes_and_class_figures(ui_client):
    client = ui_client("priority")
    response = client.get("/ui")
    bundle = client.app.state.store.current.bundle
    assert "Classifier" in response.text and "gradient_boosting" in response.text
    for name in bundle.classes:
        assert name in response.text
    assert "By class, on the" in response.text and "Class weights" in response.text


def test_every_control_has_a_label_and_results_are_announced(ui_client):
    page = Page(ui_client("supervised").get("/ui").text)
    labelled = {label.get("for") for label in page.find_all("label")}
    controls = [e for e in page.elements if e.tag in ("input", "select")]
    assert controls and all(c.get("id") in labelled for c in controls)
    for control in controls:
        for described_by in (control.get("aria-describedby") or "").split():
            page.by_id(described_by)
    for region in ("result", "batch-result"):
        assert page.by_id(region).get("aria-live") == "polite"


@pytest.mark.parametrize("kind", ["unsupervised", "supervised"])
def test_the_fragment_answers_what_the_json_api_answers(ui_client, kind):
    client = ui_client(kind)
    example = _example(client)
    body = {"features": example, "score": True, "explain": True}
    api = client.post("/prediction", json=body).json()
    response = client.post("/ui/score", data=_form(example))
    assert response.status_code == 200
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    page = Page(response.text)
    assert page.text("decision").startswith("Normal" if api["is_inlier"] else "Anomalous")
    assert page.text("anomaly-score") == shown(api["anomaly_score"])
    assert page.text("sentence") == api["explanation"]["sentence"]
    contributions = page.find_all("table", class_="contributions")[0].text
    for name, value in api["explanation"]["contributions"].items():
        assert f"{name} " in contributions and f"{value:+.3g}" in contributions
    fill = page.find_all("rect", class_="fill")[0]
    threshold = client.app.state.store.current.bundle.threshold
    assert float(fill.get("width")) == pytest.approx(300 * api["anomaly_score"], abs=0.01)
    assert float(page.find_all("line", class_="threshold")[0].get("x1")) == pytest.approx(
        300 * threshold, abs=0.01
    )
    if kind == "supervised":
        assert api["label"] in page.text("decision")
        table = page.find_all("table", class_="probabilities")[0].text
        for name, probability in api["probabilities"].items():
            assert f"{name} {100 * probability:.1f}%" in table
    else:
        assert not page.find_all("table", class_="probabilities")
    # The fields come back as typed, with no error.
    assert all(not e.text for e in page.elements if e.get("class") == "field-error")
    assert _sample(client, "anomaly_detector_predictions_total", outcome="anomaly" if not
                   api["is_inlier"] else "inlier", endpoint="ui") == 1  # fmt: skip


@pytest.mark.parametrize(
    ("bad", "reason"), [("12 kB", "non_numeric"), ("1e999", "non_finite"), ("nan", "non_finite")]
)
def test_a_bad_value_gets_the_api_message_next_to_its_field(ui_client, bad, reason):
    client = ui_client()
    values = {**_example(client), "request_rate": bad}
    response = client.post("/ui/score", data=_form(values))
    assert response.status_code == 422
    page = Page(response.text)
    message = page.text("refusal-detail")
    if reason == "non_numeric":  # what the JSON API says for the same text
        api = client.post("/prediction", json={"features": values})
        assert api.status_code == 422 and api.json()["detail"] == message
    assert "'request_rate'" in message
    index = client.app.state.store.current.bundle.schema.names.index("request_rate")
    field = page.by_id(f"field-{index}")
    assert field.get("hx-swap-oob") == "true" and "invalid" in field.get("class")
    assert page.text(f"error-{index}") == message
    (control,) = page.find_all(name="f:request_rate")
    assert control.get("aria-invalid") == "true" and control.get("value") == bad
    others = [e for e in page.elements if e.get("class") == "field-error" and e.text]
    assert len(others) == 1
    assert _sample(client, "anomaly_detector_rejected_requests_total", reason=reason) >= 1
    assert _sample(client, "anomaly_detector_predictions_total", outcome="inlier",
                   endpoint="ui") == 0  # fmt: skip


def test_a_missing_field_gets_the_api_message(ui_client):
    client = ui_client()
    values = _example(client)
    del values["bytes_out"]
    response = client.post("/ui/score", data=_form(values))
    api = client.post("/prediction", json={"features": values})
    assert response.status_code == 422 == api.status_code
    assert Page(response.text).text("refusal-detail") == api.json()["detail"]
    assert "hx-swap-oob" not in response.text  # another form: no field to mark


def test_empty_fields_are_missing_values_imputed_as_in_the_api(ui_client):
    client = ui_client()
    names = client.app.state.store.current.bundle.schema.names
    response = client.post("/ui/score", data=_form(dict.fromkeys(names)))
    api = client.post("/prediction", json={"features": dict.fromkeys(names), "score": True})
    assert response.status_code == 200
    assert Page(response.text).text("anomaly-score") == shown(api.json()["anomaly_score"])


def test_a_hot_swapped_model_shows_its_schema_on_the_next_render(ui_client, tmp_path):
    client = ui_client()
    before = client.get("/ui").text
    assert 'name="f:client_type"' in before
    old_form = _form(_example(client))
    new = train_small(numeric_frame(n_rows=300), seed=5).bundle
    save_bundle(new, tmp_path / "models")
    assert client.app.state.store.reload("test", allow_schema_change=True).loaded
    page = Page(client.get("/ui").text)
    assert page.text("model-version") == new.version
    names = [e.get("name") for e in page.find_all("input")]
    assert [name for name in names if name and name.startswith("f:")] == [
        "f:x0", "f:x1", "f:x2"
    ]  # fmt: skip
    assert 'name="f:client_type"' not in page.html
    # A form rendered for the old model is refused with the API's message.
    stale = client.post("/ui/score", data=old_form)
    assert stale.status_code == 422 and "unknown feature(s)" in stale.text


def test_no_model_yet_is_said_on_the_page(ui_client, tmp_path):
    client = ui_client(model_path=tmp_path / "none" / "model.joblib")
    response = client.get("/ui")
    assert response.status_code == 503 and "no valid model is loaded yet" in response.text
    assert client.post("/ui/score", data={}).json()["reason"] == "no_model"


def test_api_keys_guard_the_fragments_and_the_page_asks_for_one(ui_client):
    client = ui_client(api_keys="key-one")
    bundle = client.app.state.store.current.bundle
    page = client.get("/ui")
    assert page.status_code == 200 and 'id="api-key"' in page.text
    assert bundle.version not in page.text  # nothing about the model without a key
    assert Page(page.text).by_id("api-key").get("name") is None  # never in a URL or form
    example = _form(_example(client))
    upload = {"file": ("rows.csv", b"a,b\n1,2\n", "text/csv")}
    fragments = (
        ("GET", "/ui/model", {}),
        ("POST", "/ui/score", {"data": example}),
        ("POST", "/ui/batch", {"files": upload}),
    )
    for method, path, options in fragments:
        refused = client.request(method, path, **options)
        assert refused.status_code == 401 and refused.json()["reason"] == "unauthorized", path
        wrong = client.request(method, path, headers={"X-API-Key": "nope"}, **options)
        assert wrong.status_code == 401, path
    headers = {"X-API-Key": "key-one"}
    section = client.get("/ui/model", headers=headers)
    assert section.status_code == 200 and bundle.version in section.text
    assert client.post("/ui/score", data=example, headers=headers).status_code == 200
    assert client.get("/ui/static/htmx.min.js").status_code == 200
    assert _sample(client, "anomaly_detector_rejected_requests_total", reason="unauthorized") == 6


def _csv(rows: int, seed: int = 9) -> bytes:
    return labelled_traffic(n_rows=rows, seed=seed).to_csv(index=False).encode()


@pytest.mark.parametrize("kind", ["unsupervised", "supervised"])
def test_an_upload_is_summarised_and_its_download_matches_the_cli(ui_client, kind, tmp_path):
    client = ui_client(kind)
    data = _csv(400)
    response = client.post("/ui/batch", files={"file": ("my rows.csv", data, "text/csv")})
    assert response.status_code == 200
    frame = pd.read_csv(io.BytesIO(data))
    features = frame[client.app.state.store.current.bundle.schema.names]
    rows = features.astype(object).where(features.notna(), None).to_dict("records")
    api = client.post("/predictions", json={"features": rows}).json()
    anomalies = api["is_inlier"].count(False)
    page = Page(response.text)
    assert page.text("batch-rows") == "400" and page.text("batch-anomalies") == str(anomalies)
    bars = page.find_all("rect", class_="bin") + page.find_all("rect", class_="bin above")
    assert sum(int(b.text.rsplit(": ", 1)[1].split()[0]) for b in bars) == 400
    (button,) = page.find_all("button", id="download")
    assert button.get("data-filename") == "my_rows-scored.csv"
    from anomaly_detector.batch.csv_scoring import score_csv

    (tmp_path / "in.csv").write_bytes(data)
    score_csv(tmp_path / "in.csv", tmp_path / "out.csv", client.app.state.settings.model_path)
    # The download the fragment carries is the CLI's file, byte for byte.
    assert base64.b64decode(button.get("data-csv")) == (tmp_path / "out.csv").read_bytes()
    # Scored once: the summary and its download count the rows once.
    assert _sample(client, "anomaly_detector_predictions_total", outcome="anomaly",
                   endpoint="ui") == anomalies  # fmt: skip


def test_uploads_keep_the_row_and_body_limits_of_the_api(ui_client):
    client = ui_client(max_batch_rows=100, max_body_bytes=20_000)
    too_many = client.post("/ui/batch", files={"file": ("big.csv", _csv(101), "text/csv")})
    assert too_many.status_code == 413
    assert "big.csv has 101 rows; the limit is 100 (MAX_BATCH_ROWS)" in too_many.text
    too_big = client.post("/ui/batch", files={"file": ("huge.csv", _csv(400), "text/csv")})
    assert too_big.status_code == 413 and too_big.json()["reason"] == "body_too_large"
    assert (
        _sample(client, "anomaly_detector_rejected_requests_total", reason="batch_too_large") == 1
    )
    assert _sample(client, "anomaly_detector_rejected_requests_total", reason="body_too_large") == 1


@pytest.mark.parametrize(
    ("content", "status", "words"),
    [
        (b"", 422, "is empty"),
        (b"client_type,hour_of_day\n", 422, "has no rows"),
        (b"a,b\n1,2\n", 422, "the data has no column(s) 'client_type'"),
        (b'x,"unclosed\n1,2\n', 422, "cannot read bad.csv as CSV"),
    ],
)
def test_a_bad_upload_is_refused_with_a_sentence(ui_client, content, status, words):
    response = ui_client().post("/ui/batch", files={"file": ("bad.csv", content, "text/csv")})
    assert response.status_code == status
    assert words in Page(response.text).text("batch-refusal")


def test_every_answer_obeys_the_content_security_policy(ui_client):
    client = ui_client("supervised")
    assert (
        "'unsafe-inline'" not in CONTENT_SECURITY_POLICY and "http" not in CONTENT_SECURITY_POLICY
    )
    assert CONTENT_SECURITY_POLICY.startswith("default-src 'self'")
    example = _form(_example(client))
    answers = [
        client.get("/ui"),
        client.get("/ui/model"),
        client.post("/ui/score", data=example),
        client.post("/ui/score", data={**example, "f:error_ratio": "x"}),
        client.post("/ui/batch", files={"file": ("a.csv", _csv(50), "text/csv")}),
    ]
    for answer in answers:
        assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert answer.headers["x-content-type-options"] == "nosniff"
        page = Page(answer.text)
        # What the policy would block: inline script, inline style, other origins.
        assert all(s.get("src", "").startswith("/ui/static/") for s in page.find_all("script"))
        assert not [e for e in page.elements if "style" in e.attrs or e.tag == "style"]
        assert not [e for e in page.elements if e.tag != "a" and any(
            value.startswith(("http:", "https:", "//")) for value in e.attrs.values())]  # fmt: skip
        assert not [e for e in page.elements if any(name.startswith("on") for name in e.attrs)]


def test_page_requests_are_counted_by_route_template(ui_client):
    client = ui_client()
    client.get("/ui")
    client.get("/ui/static/ui.css")
    client.get("/ui/static/no-such-file.js")
    client.post("/ui/score", data=_form(_example(client)))

    def requests(route, method, status):
        return _sample(client, "http_requests_total", route=route, method=method, status=status)

    assert requests("/ui", "GET", "200") == 1
    assert requests("/ui/static/{name}", "GET", "200") == 1
    assert requests("/ui/static/{name}", "GET", "404") == 1
    assert requests("/ui/score", "POST", "200") == 1


def test_static_files_are_served_and_revalidated(ui_client):
    client = ui_client()
    first = client.get("/ui/static/htmx.min.js")
    assert first.status_code == 200 and first.headers["content-type"].startswith("text/javascript")
    again = client.get("/ui/static/htmx.min.js", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and not again.content


def test_no_feature_value_reaches_the_logs(ui_client, caplog):
    client = ui_client()
    values = {**_example(client), "request_rate": 4242.4242, "client_type": "zq-secret-client"}
    caplog.set_level(logging.DEBUG)
    assert client.post("/ui/score", data=_form(values)).status_code == 200
    assert (
        client.post("/ui/score", data={**_form(values), "f:bytes_out": "77xq"}).status_code == 422
    )
    upload = labelled_traffic(n_rows=30, seed=2).assign(client_type="zq-secret-client")
    assert client.post(
        "/ui/batch", files={"file": ("f.csv", upload.to_csv(index=False))}
    ).is_success
    records = [r for r in caplog.records if r.name.startswith("anomaly_detector")]
    assert {getattr(r, "route", None) for r in records} >= {"/ui/score", "/ui/batch"}
    logged = " ".join(f"{r.getMessage()} {vars(r)}" for r in records)
    for secret in ("4242.4242", "zq-secret-client", "77xq"):
        assert secret not in logged


def test_an_upload_says_which_cells_were_no_numbers_and_refuses_a_huge_header(ui_client):
    client = ui_client()
    frame = labelled_traffic(n_rows=30, seed=9)
    frame["hour_of_day"] = frame["hour_of_day"].astype(object)
    frame.loc[[4, 7], "hour_of_day"] = ["abc", "noon"]
    data = frame.to_csv(index=False).encode()
    response = client.post("/ui/batch", files={"file": ("rows.csv", data, "text/csv")})
    assert response.status_code == 200
    (note,) = Page(response.text).find_all("p", class_="note batch-note")
    assert (
        note.text == "2 cell(s) of hour_of_day were not numbers (first: 'abc'); scored as missing"
    )
    wide = (",".join(f"c{i}" for i in range(5000)) + "\n").encode()
    response = client.post("/ui/batch", files={"file": ("wide.csv", wide, "text/csv")})
    assert response.status_code == 422
    assert "5,000 columns" in Page(response.text).text("batch-refusal")
