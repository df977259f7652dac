"""The notebooks run headless, end to end: explore, then train and publish to a real service.

Each notebook is read from jupyter/, parameterised in memory and executed by nbclient in a
temporary working directory; nothing is saved back and nothing is written into the
repository's jupyter/ or models/ folders.
"""

from __future__ import annotations

import ast
import json
import sys
from contextlib import contextmanager
from pathlib import Path

import httpx
import nbclient
import nbformat
import pytest
from ipykernel.kernelspec import install as install_kernelspec
from nbformat.v4 import new_code_cell

from anomaly_detector.bundle.io import load_bundle
from anomaly_detector.data.reading import read_csv
from anomaly_detector.data.synthetic.access_logs import write_access_logs
from anomaly_detector.data.synthetic.alerts import write_alerts
from anomaly_detector.data.synthetic.traffic import write_default_dataset
from anomaly_detector.detectors import registry
from factories import write_bundle
from live import LiveServer, free_port

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
JUPYTER_DIR = REPO / "jupyter"
ROW_OF_TRAFFIC = ["mobile", 14, 42.5, 0.01, 38.0, 95.0, 20480, 512000, 6, 0]
TRAIN_PARAMETERS = {"N_ESTIMATORS": 30, "TRAIN_ROWS": 2_500, "REQUIRE_SERVICE": True}
# What a notebook knows at the end, printed as JSON by a cell the test appends.
EXPLORE_PROBE = """
import json, sys
print(json.dumps({"executable": sys.executable, "rows": len(train)}))
"""
TRAIN_PROBE = """
import json, sys
print(json.dumps({
    "executable": sys.executable,
    "default_threshold": default_threshold,
    "default_f1": default_f1,
    "recommended_threshold": recommended_threshold,
    "recommended_f1": recommended_f1,
    "published_version": published_version,
    "compared": {name: row["pr_auc"] for name, row in comparison.iterrows()},
}))
"""


SERIES_PROBE = """
import json, sys
print(json.dumps({
    "executable": sys.executable,
    "default_nab": default_nab,
    "detectors": list(comparison.index),
    "flagged": int(table["is_anomaly"].sum()),
    "windows": len(table),
    "forecast_rows": len(ahead),
    "forecast_positive": bool((ahead["forecast"] > 0).all()),
}))
"""


SUPERVISED_PROBE = """
import json, sys
print(json.dumps({
    "executable": sys.executable,
    "macro_f1": test_metrics["macro_f1"],
    "explained": len(explained),
    "applied_threshold": applied_threshold,
    "published_version": published_version,
}))
"""


@pytest.fixture(scope="module", autouse=True)
def python3_kernel(tmp_path_factory):
    """Make kernel "python3" run this interpreter, whatever kernelspecs the machine has.

    A user-level python3 kernelspec (~/.local/share/jupyter) may point at another Python;
    a spec installed under a private prefix and listed first in JUPYTER_PATH wins over it.
    """
    prefix = tmp_path_factory.mktemp("kernel-prefix")
    install_kernelspec(kernel_name="python3", prefix=str(prefix))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JUPYTER_PATH", str(prefix / "share" / "jupyter"))
        yield


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("data")
    write_default_dataset(out, train_rows=3_000, test_rows=1_500)
    write_alerts(out, train_rows=2_000, test_rows=800)
    return out


@pytest.fixture(scope="module", autouse=True)
def repository_untouched():
    """Fail if running the notebooks wrote anything into the repository's folders."""

    def snapshot() -> dict[str, int]:
        paths = [*JUPYTER_DIR.rglob("*"), *(REPO / "models").rglob("*")]
        return {str(path): path.stat().st_mtime_ns for path in paths if path.exists()}

    before = snapshot()
    yield
    assert snapshot() == before


def parameterised(name: str, **parameters) -> nbformat.NotebookNode:
    """The notebook with ``parameters`` set after the defaults of its ``parameters`` cell."""
    notebook = nbformat.read(JUPYTER_DIR / name, as_version=4)
    cell = next(c for c in notebook.cells if "parameters" in c.metadata.get("tags", []))
    defined = {
        target.id
        for node in ast.parse(cell.source).body
        if isinstance(node, ast.Assign)
        for target in node.targets
    }
    unknown = set(parameters) - defined
    assert not unknown, f"{name} has no parameter(s) {unknown}; it has {sorted(defined)}"
    injected = "\n".join(f"{key} = {value!r}" for key, value in parameters.items())
    cell.source += f"\n\n# Injected by {Path(__file__).name}\n{injected}\n"
    return notebook


def execute(notebook: nbformat.NotebookNode, cwd: Path, probe: str) -> dict:
    """Run every cell plus ``probe`` (which prints one JSON line); return that JSON."""
    notebook.cells.append(new_code_cell(probe))
    client = nbclient.NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}
    )
    client.execute()
    return json.loads(notebook.cells[-1].outputs[-1]["text"])


def printed(notebook: nbformat.NotebookNode) -> str:
    return "".join(
        output.get("text", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
    )


@contextmanager
def serving_a_traffic_model(data_dir: Path, tmp_path: Path):
    """(first model, live server) for ``tmp_path/models``, where notebooks publish to."""
    initial, model_path = write_bundle(
        tmp_path / "models", seed=5, n_estimators=25, frame=read_csv(data_dir / "train.csv")
    )
    with LiveServer(model_path, tmp_path / "server.log") as server:
        yield initial, server


def test_explore_notebook_runs_on_a_sample(data_dir, tmp_path):
    notebook = parameterised("explore.ipynb", DATA_DIR=str(data_dir), SAMPLE_ROWS=1_000)

    probe = execute(notebook, tmp_path, EXPLORE_PROBE)

    assert probe == {"executable": sys.executable, "rows": 1_000}
    images = [
        output
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if "image/png" in output.get("data", {})
    ]
    assert len(images) >= 7


def test_train_notebook_publishes_a_model_the_service_swaps_to(data_dir, tmp_path):
    models_dir, figures_dir = tmp_path / "models", tmp_path / "figures"
    with serving_a_traffic_model(data_dir, tmp_path) as (initial, server):
        notebook = parameterised(
            "train.ipynb",
            DATA_DIR=str(data_dir),
            MODELS_DIR=str(models_dir),
            SERVICE_URL=server.url,
            FIGURES_DIR=str(figures_dir),
            **TRAIN_PARAMETERS,
        )
        probe = execute(notebook, tmp_path, TRAIN_PROBE)
        served = httpx.get(server.url + "/model_information", timeout=5).json()

    assert probe["executable"] == sys.executable
    assert set(probe["compared"]) == set(registry.trainable())
    assert all(0 < pr_auc <= 1 for pr_auc in probe["compared"].values())
    published = load_bundle(models_dir / "model.joblib")
    assert published.version == probe["published_version"] != initial.version
    assert served["version"] == published.version
    assert f"{initial.version} -> {published.version}" in printed(notebook)

    assert published.threshold == probe["recommended_threshold"] == served["threshold"]
    assert published.metadata["evaluation"]["test"]["threshold"] == published.threshold
    assert probe["recommended_f1"] >= probe["default_f1"] > 0
    assert published.threshold != probe["default_threshold"]

    figures = {path.name: path.stat().st_size for path in figures_dir.glob("*.html")}
    assert set(figures) == {
        "boundary_request_rate_auth_failures.html",
        "boundary_bytes_out_hour_of_day.html",
        "boundary_latency_p50_ms_error_ratio.html",
        "pca_projection.html",
        "detector_comparison.html",
    }
    assert all(size > 10_000 for size in figures.values()), figures
    assert "plotly" in (figures_dir / "pca_projection.html").read_text()


@pytest.mark.parametrize("require_service", [False, True])
def test_train_notebook_without_a_service(data_dir, tmp_path, require_service):
    models_dir = tmp_path / "models"
    notebook = parameterised(
        "train.ipynb",
        DATA_DIR=str(data_dir),
        MODELS_DIR=str(models_dir),
        SERVICE_URL=f"http://127.0.0.1:{free_port()}",
        # Comparing every detector is the other test's business: skipped here.
        **{**TRAIN_PARAMETERS, "REQUIRE_SERVICE": require_service, "COMPARE": ""},
    )

    if require_service:
        with pytest.raises(nbclient.exceptions.CellExecutionError, match="not reachable"):
            execute(notebook, tmp_path, TRAIN_PROBE)
        assert not (models_dir / "model.joblib").exists()
    else:
        probe = execute(notebook, tmp_path, TRAIN_PROBE)
        assert "is not reachable" in printed(notebook)
        assert load_bundle(models_dir / "model.joblib").version == probe["published_version"]


def test_supervised_notebook_explores_explains_and_publishes(data_dir, tmp_path):
    models_dir = tmp_path / "models"
    with serving_a_traffic_model(data_dir, tmp_path) as (initial, server):
        notebook = parameterised(
            "supervised.ipynb",
            DATA_DIR=str(data_dir),
            MODELS_DIR=str(models_dir),
            SERVICE_URL=server.url,
            MAX_ITER=30,
            EXPLAIN_ROWS=40,
            RECOMMENDATION="min_precision",
            REQUIRE_SERVICE=True,
        )
        probe = execute(notebook, tmp_path, SUPERVISED_PROBE)
        served = httpx.get(server.url + "/model_information", timeout=5).json()
        answer = httpx.post(
            server.url + "/prediction", json={"feature_vector": ROW_OF_TRAFFIC}, timeout=5
        ).json()

    assert probe["executable"] == sys.executable and probe["explained"] == 40
    assert 0.5 < probe["macro_f1"] <= 1
    assert served["version"] == probe["published_version"] != initial.version
    assert served["task"] == "supervised" and served["threshold"] == probe["applied_threshold"]
    assert set(answer) >= {"label", "confidence", "probabilities", "is_inlier"}
    images = [
        output
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if "image/png" in output.get("data", {})
    ]
    assert len(images) >= 5  # balance, distributions, correlations, calibration, contributions
    assert "mainly because" in printed(notebook)


def test_series_notebook_detects_compares_and_forecasts(tmp_path):
    data = tmp_path / "data"
    write_access_logs(data, seed=3, days=10)
    notebook = parameterised("series.ipynb", DATA_DIR=str(data), DAYS=10)

    probe = execute(notebook, tmp_path, SERIES_PROBE)

    assert probe["executable"] == sys.executable
    assert set(probe["detectors"]) == set(registry.trainable("timeseries"))
    assert probe["windows"] == 10 * 288 and probe["flagged"] < probe["windows"] // 50
    assert 0 < probe["default_nab"] <= 100
    assert probe["forecast_rows"] == 288 and probe["forecast_positive"]
    outputs = [o for cell in notebook.cells for o in cell.get("outputs", [])]
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 3
    assert any("application/vnd.plotly.v1+json" in o.get("data", {}) for o in outputs)
