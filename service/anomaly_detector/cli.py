"""Command line: ``anomaly-detector generate-data | train | serve | score``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    help="Anomaly Detector: train Isolation Forests on CSV data and serve them over HTTP.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _fail(message: str) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=2)


def _max_samples(value: str | None) -> int | float | str | None:
    if value is None or value == "auto":
        return value
    try:
        return int(value)
    except ValueError:
        pass
    try:
        return float(value)
    except ValueError:
        _fail(f"--max-samples must be 'auto', an integer or a fraction, got {value!r}")
    return None


def _contamination(value: str | None) -> float | str | None:
    if value is None or value == "auto":
        return value
    try:
        fraction = float(value)
    except ValueError:
        fraction = -1.0
    if not 0 < fraction <= 0.5:
        _fail(f"--contamination must be 'auto' or a fraction in (0, 0.5], got {value!r}")
    return fraction


@app.command("generate-data")
def generate_data(
    out: Annotated[Path, typer.Option(help="Folder for train.csv and test.csv.")] = Path(
        "jupyter/data"
    ),
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same files.")] = 42,
    train_rows: Annotated[int, typer.Option(help="Rows in train.csv.")] = 20_000,
    test_rows: Annotated[int, typer.Option(help="Rows in test.csv.")] = 5_000,
) -> None:
    """Write the default synthetic API-traffic dataset (unlabelled train, labelled test)."""
    from anomaly_detector.datagen import write_default_dataset

    train_path, test_path = write_default_dataset(out, seed, train_rows, test_rows)
    typer.echo(f"wrote {train_path} ({train_rows} rows) and {test_path} ({test_rows} rows)")


@app.command()
def train(
    data: Annotated[Path, typer.Option(help="Training CSV.")],
    out: Annotated[Path, typer.Option(help="Folder for model.joblib and model.json.")] = Path(
        "models"
    ),
    label_column: Annotated[
        str | None, typer.Option(help="Column with true labels: never a feature, used to evaluate.")
    ] = None,
    anomaly_label: Annotated[
        str | None, typer.Option(help="Label value meaning anomalous (inferred when omitted).")
    ] = None,
    features: Annotated[
        str | None, typer.Option(help="Comma-separated feature columns (default: detected).")
    ] = None,
    n_estimators: Annotated[int | None, typer.Option(min=1, help="Trees (default 100).")] = None,
    max_samples: Annotated[
        str | None, typer.Option(help="Rows per tree: 'auto' (256), a count or a fraction.")
    ] = None,
    contamination: Annotated[
        str | None,
        typer.Option(help="Expected anomaly share, sets the threshold: 'auto' or e.g. 0.03."),
    ] = None,
    max_features: Annotated[
        float | None, typer.Option(min=0.0, max=1.0, help="Share of features per tree.")
    ] = None,
    random_state: Annotated[int, typer.Option(help="Seed; same data and seed, same scores.")] = 42,
    test: Annotated[Path | None, typer.Option(help="Labelled hold-out CSV to evaluate on.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
    format: Annotated[
        str,
        typer.Option(help="'joblib' (model.joblib, a pickle) or 'skops' (model.skops, no code)."),
    ] = "joblib",
) -> None:
    """Train a model bundle from any CSV and write it atomically to OUT."""
    from anomaly_detector.bundle import save_bundle
    from anomaly_detector.schema import InputError
    from anomaly_detector.training import (
        TrainConfig,
        describe,
        read_csv,
        training_summary,
    )
    from anomaly_detector.training import (
        train as train_model,
    )

    if format not in ("joblib", "skops"):
        _fail(f"--format must be 'joblib' or 'skops', got {format!r}")
    config = TrainConfig(
        n_estimators=n_estimators,
        max_samples=_max_samples(max_samples),
        contamination=_contamination(contamination),
        max_features=max_features,
        random_state=random_state,
        label_column=label_column,
        anomaly_label=anomaly_label,
        features=[f.strip() for f in features.split(",") if f.strip()] if features else None,
    )
    try:
        frame = read_csv(data)
        typer.echo(
            f"training on {len(frame)} rows x {frame.shape[1]} columns from {data}", err=True
        )
        test_frame = read_csv(test) if test else None
        result = train_model(frame, config, test_frame=test_frame, source=str(data))
    except InputError as exc:
        _fail(exc.message)
        return
    except ValueError as exc:  # invalid estimator parameters from scikit-learn
        _fail(str(exc))
        return
    try:
        model_path, metadata_path = save_bundle(result.bundle, out, format=format)
    except OSError as exc:
        _fail(f"cannot write the model to {out}: {exc}")
        return
    if as_json:
        typer.echo(json.dumps(training_summary(result), indent=2, default=str))
    else:
        typer.echo(describe(result))
        typer.echo(f"wrote {model_path} and {metadata_path}")


@app.command()
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
    from anomaly_detector.logs import configure_logging
    from anomaly_detector.server import serve as run_server
    from anomaly_detector.server import serve_workers
    from anomaly_detector.settings import Settings

    overrides = {
        k: v
        for k, v in {"host": host, "port": port, "model_path": model, "workers": workers}.items()
        if v is not None
    }
    settings = Settings(**overrides)
    configure_logging(settings.log_level)
    if settings.workers > 1:
        serve_workers(settings, settings.workers)
    else:
        run_server(settings)


@app.command()
def score(
    data: Annotated[Path, typer.Option(help="CSV to score.")],
    out: Annotated[Path, typer.Option(help="CSV to write: input columns + scores.")],
    model: Annotated[Path, typer.Option(help="Model bundle.")] = Path("models/model.joblib"),
    chunk_rows: Annotated[int, typer.Option(min=1, help="Rows per chunk.")] = 100_000,
) -> None:
    """Score a CSV in chunks (memory stays flat), adding anomaly_score and is_inlier."""
    from anomaly_detector.batch import score_csv
    from anomaly_detector.bundle import BundleError
    from anomaly_detector.schema import InputError

    try:
        rows = score_csv(data, out, model, chunk_rows=chunk_rows, progress=sys.stderr)
    except (BundleError, InputError) as exc:
        _fail(getattr(exc, "message", str(exc)))
        return
    typer.echo(f"scored {rows} rows into {out}")


@app.command()
def stack(
    port: Annotated[int, typer.Option(help="API port.")] = 8000,
    model: Annotated[Path, typer.Option(help="Model bundle.")] = Path("models/model.joblib"),
) -> None:
    """Run the API with Prometheus, Alertmanager and Grafana (when installed) natively."""
    from anomaly_detector.stack import run_stack

    raise typer.Exit(code=run_stack(Path.cwd(), port, model))


@app.command()
def simulate(
    url: Annotated[str, typer.Option(help="Base URL of the service.")] = "http://127.0.0.1:8000",
    rate: Annotated[float, typer.Option(min=0.1, help="Requests per second.")] = 50.0,
    duration: Annotated[float, typer.Option(min=1, help="Seconds to run.")] = 300.0,
    burst_every: Annotated[float, typer.Option(help="Seconds between attack bursts.")] = 60.0,
    burst_seconds: Annotated[float, typer.Option(help="Length of each burst.")] = 20.0,
    burst_share: Annotated[float, typer.Option(help="Share of anomalies in a burst.")] = 0.5,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Send realistic traffic from the data generator, with periodic attack bursts."""
    import asyncio

    import httpx

    from anomaly_detector.simulate import simulate as run

    try:
        summary = asyncio.run(
            run(url, rate, duration, burst_every, burst_seconds, burst_share,
                seed=seed, progress=sys.stdout)
        )  # fmt: skip
    except httpx.HTTPError as exc:
        _fail(f"cannot reach the service at {url}: {exc}")
        return
    except ValueError as exc:
        _fail(str(exc))
        return
    if summary.transport_errors:
        raise typer.Exit(code=1)


if __name__ == "__main__":  # pragma: no cover - python -m anomaly_detector.cli
    app()
