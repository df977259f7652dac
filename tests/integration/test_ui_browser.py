"""The web page in a real browser: Debian's Chromium through Playwright, on a real uvicorn.

One browser for the module and one live service per model: an unsupervised forest
(no API key), a binary classifier behind an API key, and one for the hot swap.
Each test checks that the page never navigated (a marker set on ``window`` survives
every swap) and, on teardown, that no request left the loopback address and that
the Content-Security-Policy blocked nothing. Screenshots of each state go to
``$ARTIFACTS_DIR/ui`` (default ``tests/artifacts/ui``).
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pandas as pd
import pytest
from observability_tools import require_tool

from anomaly_detector.bundle.io import load_bundle, save_bundle
from anomaly_detector.data.synthetic.traffic import ANOMALY_TYPE_COLUMN, LABEL_COLUMN
from anomaly_detector.training.train import TrainConfig, train
from factories import labelled_traffic, numeric_frame, train_small, train_supervised_small
from live import LiveServer, wait_for

pytestmark = pytest.mark.integration
playwright_api = pytest.importorskip("playwright.sync_api")

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
API_KEY = "browser-test-key"
MARKER = "window.__samePage = 'still here'"
ARTIFACTS = Path(os.environ.get("ARTIFACTS_DIR", Path(__file__).resolve().parents[1] / "artifacts"))


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Model folders (``unsupervised``, ``supervised``, ``swapped``) and a CSV to upload."""
    root = tmp_path_factory.mktemp("ui-browser")
    frame = labelled_traffic(seed=5).drop(columns=[ANOMALY_TYPE_COLUMN])
    test = labelled_traffic(n_rows=800, seed=6).drop(columns=[ANOMALY_TYPE_COLUMN])
    params = {"n_estimators": 25, "random_state": 5}
    config = TrainConfig(detector="isolation_forest", params=params, contamination=0.05,
                         label_column=LABEL_COLUMN)  # fmt: skip
    bundles = {
        "unsupervised": train(frame.drop(columns=[LABEL_COLUMN]), config, test_frame=test).bundle,
        "supervised": train_supervised_small(seed=5).bundle,
        "swapped": train_small(numeric_frame(n_rows=300), seed=5).bundle,
    }
    folders = {}
    for kind, bundle in bundles.items():
        save_bundle(bundle, root / kind)
        folders[kind] = root / kind
    test.head(300).to_csv(root / "upload.csv", index=False)
    folders["upload"] = root / "upload.csv"
    return folders


@pytest.fixture(scope="module")
def browser():
    chromium = require_tool("chromium", "apt-get install chromium")
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium, headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def unsupervised(models, tmp_path_factory):
    log = tmp_path_factory.mktemp("logs") / "unsupervised.log"
    with LiveServer(models["unsupervised"] / "model.joblib", log) as server:
        yield server


@pytest.fixture(scope="module")
def supervised(models, tmp_path_factory):
    log = tmp_path_factory.mktemp("logs") / "supervised.log"
    with LiveServer(
        models["supervised"] / "model.joblib", log, env={"API_KEYS": API_KEY}
    ) as server:
        yield server


@pytest.fixture
def page(browser, request):
    """A fresh page; on teardown: every request stayed on loopback and the CSP blocked nothing."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    urls: list[str] = []
    console: list[str] = []
    context.on("request", lambda req: urls.append(req.url))
    page = context.new_page()
    page.on("console", lambda message: console.append(message.text))
    yield page
    context.close()
    hosts = {urlsplit(url.removeprefix("blob:")).hostname for url in urls}
    assert urls and hosts <= LOOPBACK, f"requests left the machine: {sorted(hosts - LOOPBACK)}"
    blocked = [text for text in console if "Content Security Policy" in text]
    assert not blocked, blocked


def _violations(page) -> list[tuple]:
    """What axe-core's WCAG 2.1 A and AA rules (labels, names, contrast, ARIA, language)
    find on the page as it is now: (rule, impact, the first few elements)."""
    from axe_playwright_python.sync_playwright import Axe

    options = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
               "resultTypes": ["violations"]}  # fmt: skip
    violations = Axe().run(page, options=options).response["violations"]
    return [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3]) for v in violations]


def _accessible(page, state: str) -> None:
    found = _violations(page)
    assert not found, f"{state}: {found}"


def _screenshot(page, name: str) -> None:
    folder = ARTIFACTS / "ui"
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def _open(page, server) -> None:
    page.goto(server.url + "/ui")
    page.evaluate(MARKER)


def _same_page(page, server) -> None:
    assert page.url == server.url + "/ui"
    assert page.evaluate("window.__samePage") == "still here"


def _field_values(page) -> dict:
    """The form as a JSON client would send it: what the page's fields hold now."""
    values = page.eval_on_selector_all(
        "#score-form [name^='f:']", "els => els.map(e => [e.name.slice(2), e.value])"
    )
    return {name: None if value == "" else value for name, value in values}


def _typed(values: dict, categorical: set[str]) -> dict:
    return {name: v if v is None or name in categorical else float(v) for name, v in values.items()}


def test_a_row_scored_by_hand_with_an_unsupervised_model(page, unsupervised):
    _open(page, unsupervised)
    assert page.get_by_role("heading", name="The model").is_visible()
    _accessible(page, "the page")
    _screenshot(page, "1-page")
    # The audit sees what it should: an input without a label, added here, is reported.
    page.evaluate("document.getElementById('score-form').append(document.createElement('input'))")
    assert [rule for rule, _, _ in _violations(page)] == ["label"]
    page.evaluate("document.querySelector('#score-form > input:last-child').remove()")
    page.get_by_role("button", name="Fill with an anomaly from the test data").click()
    values = _field_values(page)
    assert values["request_rate"] is not None
    # With the keyboard: Enter in a field submits the form, through htmx.
    page.locator("#input-2").press("Enter")
    page.wait_for_selector("#result #decision")
    _same_page(page, unsupervised)
    info = httpx.get(unsupervised.url + "/model_information").json()
    categorical = {f["name"] for f in info["features"] if f["kind"] == "categorical"}
    features = _typed(values, categorical)
    body = {"features": features, "score": True, "explain": True}
    api = httpx.post(unsupervised.url + "/prediction", json=body).json()
    assert page.locator("#decision").inner_text() == ("Normal" if api["is_inlier"] else "Anomalous")
    assert page.locator("#sentence").inner_text() == api["explanation"]["sentence"]
    assert page.locator("table.contributions tbody tr").count() == len(info["features"])
    _accessible(page, "a result")
    _screenshot(page, "2-unsupervised-result")


def test_a_bad_value_is_refused_next_to_its_field(page, unsupervised):
    _open(page, unsupervised)
    page.get_by_role("button", name="Fill with a typical row").click()
    page.get_by_label("request_rate").fill("12 kB")
    page.get_by_role("button", name="Score", exact=True).click()
    page.wait_for_selector("#refusal-detail")
    _same_page(page, unsupervised)
    message = page.locator("#refusal-detail").inner_text()
    info = httpx.get(unsupervised.url + "/model_information").json()
    categorical = {f["name"] for f in info["features"] if f["kind"] == "categorical"}
    features = {**_typed(_field_values(page) | {"request_rate": None}, categorical),
                "request_rate": "12 kB"}  # fmt: skip
    api = httpx.post(unsupervised.url + "/prediction", json={"features": features}).json()
    assert message == api["detail"]
    field = page.locator(".field.invalid")
    assert field.count() == 1 and field.locator(".field-error").inner_text() == message
    # The keyboard is taken to the field to fix.
    page.wait_for_function(
        "document.activeElement && document.activeElement.name === 'f:request_rate'"
    )
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"  # the focus is visible
    assert page.get_by_label("request_rate").input_value() == "12 kB"
    _accessible(page, "an inline error")
    _screenshot(page, "3-inline-error")


def test_a_supervised_model_behind_an_api_key(page, supervised):
    _open(page, supervised)
    assert page.locator("#api-key").is_visible()
    assert page.locator("#score-form").count() == 0
    _accessible(page, "the key prompt")
    page.locator("#api-key").fill("wrong-key")
    page.get_by_role("button", name="Use this key").click()
    page.wait_for_selector("#model-section .refusal")
    assert "missing or unknown API key" in page.locator("#model-section").inner_text()
    page.locator("#api-key").fill(API_KEY)
    page.get_by_role("button", name="Use this key").click()
    page.wait_for_selector("#score-form")
    assert "Classifier" in page.locator(".card").inner_text()
    page.get_by_role("button", name="Fill with an anomaly from the validation data").click()
    page.get_by_role("button", name="Score", exact=True).click()
    page.wait_for_selector("#result #decision")
    _same_page(page, supervised)
    decision = page.locator("#decision").inner_text()
    probabilities = page.locator("table.probabilities tbody tr")
    assert probabilities.count() == 2 and ("Anomalous: 1" in decision or "Normal: 0" in decision)
    assert page.locator("#sentence").inner_text()
    _accessible(page, "a supervised result")
    _screenshot(page, "4-supervised-result")


def test_a_csv_is_uploaded_summarised_and_downloaded_scored(page, unsupervised, models, tmp_path):
    _open(page, unsupervised)
    page.get_by_label("CSV file with the model's columns").set_input_files(str(models["upload"]))
    page.get_by_role("button", name="Score the file").click()
    page.wait_for_selector("#batch-summary")
    _same_page(page, unsupervised)
    assert page.locator("#batch-rows").inner_text() == "300"
    assert page.locator("svg.histogram rect").count() == 20
    posted: list[str] = []
    page.on("request", lambda req: posted.append(req.url) if req.method == "POST" else None)
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the scored CSV").click()
    assert download.value.suggested_filename == "upload-scored.csv"
    assert posted == []  # the file came with the summary: not uploaded or scored twice
    saved = tmp_path / "scored.csv"
    download.value.save_as(saved)
    scored = pd.read_csv(saved)
    assert len(scored) == 300 and {"anomaly_score", "is_inlier"} <= set(scored.columns)
    flagged = int((~scored["is_inlier"]).sum())
    assert page.locator("#batch-anomalies").inner_text() == str(flagged)
    _same_page(page, unsupervised)
    _accessible(page, "an upload's summary")
    _screenshot(page, "5-upload")


def test_the_page_shows_a_hot_swapped_schema_on_reload(page, models, tmp_path):
    served = tmp_path / "models"
    save_bundle(train_small(seed=2).bundle, served)
    env = {"ALLOW_SCHEMA_CHANGE": "true"}
    with LiveServer(served / "model.joblib", tmp_path / "server.log", env=env) as server:
        _open(page, server)
        assert page.locator("[name='f:client_type']").count() == 1
        swapped = load_bundle(models["swapped"] / "model.joblib")
        save_bundle(swapped, served)  # atomically, as training publishes
        readyz = server.url + "/readyz"
        wait_for(lambda: httpx.get(readyz).json()["model_version"] == swapped.version,
                 timeout=20, what="the swapped model")  # fmt: skip
        page.reload()
        names = page.eval_on_selector_all("#score-form [name^='f:']", "els => els.map(e => e.name)")
        assert names == ["f:x0", "f:x1", "f:x2"]
        assert page.locator("[name='f:client_type']").count() == 0
        _screenshot(page, "6-hot-swapped")
