"""``serve``, ``score`` and ``stack``: the model over HTTP, over a CSV, and the native stack."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from anomaly_detector.cli.options import fail, output_path, writing
from anomaly_detector.settings import DEFAULT_MODEL_PATH


def serve(
    host: Annotated[str | None, typer.Option(help="Interface (default HOST or 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default PORT or 8000).")] = None,
    model: Annotated[Path | None, typer.Option(help="Model bundle (default MODEL_PATH).")] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Worker processes (default WORKERS or 1); above 1, metrics are aggregated "
            "across them (PROMETHEUS_MULTIPROC_DIR) and there is no readiness-first drain delay.",
        ),
    ] = None,
) -> None:
    """Serve the model over HTTP (FastAPI on uvicorn)."""
    from anomaly_detector.cli.options import settings as read_settings
    from anomaly_detector.serving.logs import configure_logging
    from anomaly_detector.serving.server import serve as run_server
    from anomaly_detector.serving.server import serve_workers

    settings = read_settings(host=host, port=port, model_path=model, workers=workers)
    configure_logging(settings.log_level)
    if settings.workers > 1:
        serve_workers(settings, settings.workers)
    else:
        run_server(settings)


def score(
    data: Annotated[Path, typer.Option(help="CSV to score.")],
    out: Annotated[Path, typer.Option(help="CSV to write: input columns + scores.")],
    model: Annotated[Path, typer.Option(help="Model bundle.")] = DEFAULT_MODEL_PATH,
    chunk_rows: Annotated[int, typer.Option(min=1, help="Rows per chunk.")] = 100_000,
    explain: Annotated[
        str | None,
        typer.Option(
            help="Add explanation and top_contributions columns: 'anomalies' (flagged rows) "
            "or 'all' (1 to 20 ms a row)."
        ),
    ] = None,
) -> None:
    """Score a CSV in chunks (memory stays flat), adding anomaly_score and is_inlier."""
    from anomaly_detector.batch.csv_scoring import score_csv
    from anomaly_detector.detectors import registry
    from anomaly_detector.errors import BundleError, InputError

    registry.load_plugins()
    output_path(out, data, model)
    try:
        with writing(out):
            rows = score_csv(
                data, out, model, chunk_rows=chunk_rows, progress=sys.stderr, explain=explain
            )
    except (BundleError, InputError) as exc:
        fail(exc.message)
    typer.echo(f"scored {rows} rows into {out}")


def stack(
    port: Annotated[int, typer.Option(help="API port.")] = 8000,
    model: Annotated[Path, typer.Option(help="Model bundle.")] = DEFAULT_MODEL_PATH,
) -> None:
    """Run the API with Prometheus, Alertmanager and Grafana (when installed) natively."""
    from anomaly_detector.devtools.stack import run_stack

    raise typer.Exit(code=run_stack(Path.cwd(), port, model))
