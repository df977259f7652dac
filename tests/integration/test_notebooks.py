"""Both notebooks, executed headlessly against a real service on small parameters.

The train notebook must publish a new bundle that the running service swaps to,
choose a threshold at least as good as the default in F1, and save its plotly
figures. Notebooks run from the repository's files without being saved back.
"""

import json
from pathlib import Path

import httpx
import nbclient
import nbformat
import pytest

from anomaly_detector.bundle import METADATA_FILENAME
from anomaly_detector.datagen import write_default_dataset
from anomaly_detector.training import read_csv
from factories import write_bundle
from live import LiveServer

pytestmark = pytest.mark.integration

JUPYTER = Path(__file__).resolve().parents[2] / "jupyter"


def run_notebook(name: str, parameters: dict, workdir: Path) -> nbformat.NotebookNode:
    """Execute ``jupyter/<name>`` with its ``parameters`` cell replaced; return the result."""
    notebook = nbformat.read(JUPYTER / name, as_version=4)
    tagged = [c for c in notebook.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{name} needs exactly one cell tagged 'parameters'"
    tagged[0].source = "\n".join(f"{key} = {value!r}" for key, value in parameters.items())
    client = nbclient.NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}
    )
    client.execute()
    return notebook


@pytest.fixture
def data_dir(tmp_path):
    write_default_dataset(tmp_path / "data", train_rows=3000, test_rows=1500)
    return tmp_path / "data"


def test_explore_notebook_runs_and_plots(data_dir, tmp_path):
    notebook = run_notebook(
        "explore.ipynb", {"DATA_DIR": str(data_dir), "SAMPLE_ROWS": 1500}, tmp_path
    )
    images = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if "image/png" in output.get("data", {})
    ]
    assert len(images) >= 5


def test_train_notebook_publishes_and_the_service_swaps(data_dir, tmp_path):
    models = tmp_path / "models"
    first, model_path = write_bundle(
        models, frame=read_csv(data_dir / "train.csv"), n_estimators=20
    )
    figures = tmp_path / "figures"
    with LiveServer(model_path, tmp_path / "server.log") as server:
        run_notebook(
            "train.ipynb",
            {
                "DATA_DIR": str(data_dir),
                "MODELS_DIR": str(models),
                "SERVICE_URL": server.url,
                "N_ESTIMATORS": 30,
                "MAX_SAMPLES": "auto",
                "CONTAMINATION": 0.03,
                "TRAIN_ROWS": 2000,
                "FIGURES_DIR": str(figures),
                "PUBLISH": True,
                "REQUIRE_SERVICE": True,
            },
            tmp_path,
        )
        summary = json.loads((figures / "summary.json").read_text())
        served = httpx.get(server.url + "/model_information").json()

    # A new bundle was published and the service swapped to it.
    assert summary["version"] != first.version
    assert summary["served_version"] == summary["version"] == served["version"]
    metadata = json.loads((models / METADATA_FILENAME).read_text())
    assert metadata["version"] == summary["version"]
    # The chosen threshold is in the bundle and used by the service, and it is no worse.
    assert served["threshold"] == pytest.approx(summary["recommended_threshold"])
    assert metadata["threshold"] == pytest.approx(summary["recommended_threshold"])
    assert summary["recommended_f1"] >= summary["default_f1"]
    # The decision-boundary figures were rendered to HTML.
    pages = sorted(figures.glob("boundary_*.html")) + [figures / "pca.html"]
    assert len(pages) == 4
    for page in pages:
        text = page.read_text()
        assert len(text) > 5_000 and "Plotly.newPlot" in text, page.name
        trace = '"type":"scatter"' if page.name == "pca.html" else '"type":"contour"'
        assert trace in text, page.name
    assert (figures / "plotly.min.js").stat().st_size > 1_000_000
