"""Command line: ``anomaly-detector generate-data | init | train | detectors | threshold |
serve | score | stack | simulate | series``. Each module holds a group of commands; this one
assembles them."""

from __future__ import annotations

import typer

from anomaly_detector.cli import data, dev, series, serving, training

app = typer.Typer(
    help="Anomaly Detector: train anomaly detectors on CSV data and serve them over HTTP.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command("generate-data")(data.generate_data)
app.command("init")(data.init)
app.command()(training.train)
app.command()(training.detectors)
app.command()(training.threshold)
app.command()(serving.serve)
app.command()(serving.score)
app.command()(serving.stack)
app.command()(dev.simulate)
app.add_typer(series.app, name="series")
series.app.command()(series.detect)
series.app.command()(series.forecast)
series.app.command()(series.evaluate)
series.app.command()(series.watch)
