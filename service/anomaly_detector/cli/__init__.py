"""Command line: ``anomaly-detector generate-data | init | train | detectors | threshold |
serve | score | stack | simulate | series``. Each module holds a group of commands; this one
assembles them."""

from __future__ import annotations

import inspect
from collections.abc import Callable

import typer

from anomaly_detector.cli import data, dev, series, serving, training


def _command(group: typer.Typer, function: Callable, name: str | None = None) -> None:
    """Register ``function`` with its docstring reflowed: Rich keeps a docstring's line
    breaks, which the terminal then wraps again into ragged lines."""
    doc = inspect.cleandoc(function.__doc__ or "")
    paragraphs = (" ".join(p.split()) for p in doc.split("\n\n"))
    group.command(name, help="\n\n".join(paragraphs))(function)


app = typer.Typer(
    help="Anomaly Detector: train anomaly detectors on CSV data and serve them over HTTP.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
_command(app, data.generate_data, "generate-data")
_command(app, data.init, "init")
_command(app, training.train)
_command(app, training.detectors)
_command(app, training.threshold)
_command(app, serving.serve)
_command(app, serving.score)
_command(app, serving.stack)
_command(app, dev.simulate)
app.add_typer(series.app, name="series")
_command(series.app, series.detect)
_command(series.app, series.forecast)
_command(series.app, series.evaluate)
_command(series.app, series.watch)
