"""``generate-data`` and ``init``: the default dataset and the default model."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from anomaly_detector.cli.options import fail, writing
from anomaly_detector.settings import DEFAULT_MODEL_PATH

DEFAULT_DATA_DIR = Path("jupyter/data")
# How `init` trains the default model: the README's figures are for these.
DEFAULT_CONTAMINATION = 0.03


def generate_data(
    out: Annotated[
        Path, typer.Option(help="Folder for train.csv and test.csv.")
    ] = DEFAULT_DATA_DIR,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same files.")] = 42,
    train_rows: Annotated[int, typer.Option(help="Rows in train.csv.", min=100)] = 20_000,
    test_rows: Annotated[int, typer.Option(help="Rows in test.csv.", min=100)] = 5_000,
    access_log_days: Annotated[
        int, typer.Option(help="Days of access log (0: none; it takes a few seconds).", min=0)
    ] = 28,
) -> None:
    """Write the synthetic datasets: API traffic (unlabelled train.csv, labelled test.csv),
    security alerts with a priority label (alerts.csv, alerts_test.csv), and a four-week
    API access log with its labelled incidents (access_log.csv, access_log_incidents.csv)."""
    from anomaly_detector.data.synthetic.access_logs import write_access_logs
    from anomaly_detector.data.synthetic.alerts import write_alerts
    from anomaly_detector.data.synthetic.traffic import write_default_dataset

    if out.exists() and not out.is_dir():
        fail(f"--out {out} is a file; name a folder for the datasets")
    with writing(out):
        train_path, test_path = write_default_dataset(out, seed, train_rows, test_rows)
        typer.echo(f"wrote {train_path} ({train_rows} rows) and {test_path} ({test_rows} rows)")
        alerts_path, alerts_test_path = write_alerts(out, seed)
        typer.echo(f"wrote {alerts_path} and {alerts_test_path} (alerts labelled by priority)")
        if access_log_days == 0:
            return
        log_path, incidents_path = write_access_logs(out, seed, access_log_days)
        typer.echo(f"wrote {log_path} and {incidents_path} (access log with labelled incidents)")


def init(
    data_dir: Annotated[Path, typer.Option(help="Folder of train.csv and test.csv.")] = (
        DEFAULT_DATA_DIR
    ),
    out: Annotated[Path, typer.Option(help="Models folder.")] = DEFAULT_MODEL_PATH.parent,
    writable_by: Annotated[
        int | None,
        typer.Option(help="As root, give this uid the models folder (the Jupyter container's)."),
    ] = None,
) -> None:
    """Generate the default data and train the default model, each only when missing.

    What `make model` and the compose `model-init` service run, so a fresh clone
    serves a model on the first `make run` or `docker compose up`.
    """
    from anomaly_detector.bundle.io import MODEL_FILENAME, SKOPS_FILENAME
    from anomaly_detector.cli.training import train

    train_csv, test_csv = data_dir / "train.csv", data_dir / "test.csv"
    if not (train_csv.is_file() and test_csv.is_file()):
        generate_data(out=data_dir)
    if (out / MODEL_FILENAME).is_file() or (out / SKOPS_FILENAME).is_file():
        typer.echo(f"a model is already in {out}; leaving it")
    else:
        train(
            data=train_csv, out=out, test=test_csv, label_column="is_anomaly",
            contamination=str(DEFAULT_CONTAMINATION),
        )  # fmt: skip
    if writable_by is not None and os.geteuid() == 0:
        # The folder only: publishing renames new files into it.
        os.chown(out, writable_by, -1)
        typer.echo(f"{out} is now owned by uid {writable_by}")
