"""What the ``series`` commands share: their options, and reading a series or a detector
with a bad value turned into one ``error:`` line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from anomaly_detector.cli.options import fail

DataOption = Annotated[
    Path, typer.Option(help="Access-log CSV, or any timestamp,value CSV.", show_default=False)
]
EndpointOption = Annotated[
    str | None, typer.Option(help="Access logs: endpoint to analyse (default: all requests).")
]
WindowOption = Annotated[
    str | None,
    typer.Option(help="Window of the series: 1min, 5min, 1h... (access logs: 5min; "
                 "timestamp,value: inferred)."),
]  # fmt: skip
MetricOption = Annotated[
    str | None,
    typer.Option(help="Access logs: requests, error_ratio, error_ratio_4xx, error_ratio_5xx, "
                 "p50, p95 (default), p99, mean or bytes."),
]  # fmt: skip
ValueColumnOption = Annotated[
    str | None,
    typer.Option(help="timestamp,value CSVs: the column to analyse (default: value, or the "
                 "only numeric column)."),
]  # fmt: skip
DetectorOption = Annotated[
    str | None, typer.Option(help="Series detector (see `anomaly-detector detectors`).")
]
ParamOption = Annotated[
    list[str] | None, typer.Option("--param", help="Detector parameter key=value (repeatable).")
]


def load_series_or_fail(
    data: Path,
    endpoint: str | None,
    window: str | None,
    metric: str | None,
    value_column: str | None,
):
    """The series a command analyses, its repairs printed as ``note:`` lines."""
    from anomaly_detector.errors import InputError
    from anomaly_detector.timeseries.sources import load_series

    try:
        series = load_series(data, endpoint, window, metric, value_column)
    except InputError as exc:
        fail(exc.message)
    for repair in series.repairs:
        typer.echo(f"note: {repair}", err=True)
    return series


def series_detector_or_fail(name: str | None, params: list[str] | None):
    """A series detector from ``--detector`` and ``--param`` (the default when None)."""
    from anomaly_detector.cli.options import detector_params
    from anomaly_detector.detectors import registry
    from anomaly_detector.errors import InputError
    from anomaly_detector.timeseries.detection import series_detector

    name = name or registry.DEFAULT_SERIES_DETECTOR
    if name not in registry.trainable("timeseries"):
        fail(f"series detectors are {', '.join(registry.trainable('timeseries'))}; got {name!r}")
    try:
        return series_detector(name, **detector_params(name, params or [], {}))
    except InputError as exc:
        fail(exc.message)
