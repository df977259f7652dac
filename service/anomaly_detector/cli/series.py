"""``series detect | forecast | evaluate | watch``: anomalies and forecasts of time series."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from anomaly_detector.cli.options import fail, output_path, unit_interval, writing
from anomaly_detector.cli.series_options import (
    DataOption,
    DetectorOption,
    EndpointOption,
    MetricOption,
    ParamOption,
    ValueColumnOption,
    WindowOption,
    load_series_or_fail,
    series_detector_or_fail,
)

app = typer.Typer(
    help="Time series: detect anomalies in and forecast access logs or timestamp,value CSVs, "
    "evaluate against labels, and watch Prometheus live.",
    no_args_is_help=True,
)


def detect(
    data: DataOption,
    endpoint: EndpointOption = None,
    window: WindowOption = None,
    metric: MetricOption = None,
    value_column: ValueColumnOption = None,
    detector: DetectorOption = None,
    param: ParamOption = None,
    threshold: Annotated[
        float | None,
        typer.Option(
            help="Flag points scoring at least this (default: the detector's; 0.7 for the "
            "default ensemble, 0.75 for a single detector).",
            callback=unit_interval,
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="CSV to write (default: <data>-anomalies.csv here).")
    ] = None,
    chart: Annotated[
        Path | None, typer.Option(help="HTML chart to write (default: beside --out).")
    ] = None,
    labels: Annotated[
        Path | None, typer.Option(help="Labelled incidents to shade on the chart.")
    ] = None,
) -> None:
    """Score every point causally; write timestamp, value, forecast, bounds, anomaly_score,
    is_anomaly (full precision) and a self-contained HTML chart."""
    from anomaly_detector.data.series.grid import step_text
    from anomaly_detector.errors import InputError
    from anomaly_detector.timeseries import chart as charts
    from anomaly_detector.timeseries.detection import detect as run_detection
    from anomaly_detector.timeseries.labels import read_labels

    if labels is not None and not labels.is_file():
        fail(f"--labels file {labels} does not exist")
    out = output_path(out or Path(f"{data.stem}-anomalies.csv"), data, labels)
    if chart is None:
        chart = out.with_name(f"{out.stem}{'-chart' if out.suffix == '.html' else ''}.html")
    output_path(chart, data, labels, out, option="--chart")
    series = load_series_or_fail(data, endpoint, window, metric, value_column)
    model = series_detector_or_fail(detector, param)
    try:
        shaded = read_labels(labels, endpoint, series.metric) if labels else []
        table = run_detection(series, model, threshold)
    except InputError as exc:
        fail(exc.message)
    with writing(out):
        table.to_csv(out, index=False, date_format="%Y-%m-%dT%H:%M:%SZ")
    with writing(chart):
        charts.write_chart(table, chart, f"{series.name}: {model.name}", shaded)
    flagged = int(table["is_anomaly"].sum())
    typer.echo(
        f"{len(table)} windows of {step_text(series.step)} ({series.name}); {flagged} anomalous; "
        f"wrote {out} and {chart}"
    )


def forecast(
    data: DataOption,
    horizon: Annotated[str, typer.Option(help="How far ahead: 1h, 30min, 1d...")] = "1h",
    endpoint: EndpointOption = None,
    window: WindowOption = None,
    metric: MetricOption = None,
    value_column: ValueColumnOption = None,
    detector: DetectorOption = None,
    param: ParamOption = None,
    out: Annotated[
        Path | None, typer.Option(help="CSV to write (default: <data>-forecast.csv here).")
    ] = None,
) -> None:
    """Forecast the windows after the last point, with the 95% band."""
    import pandas as pd

    from anomaly_detector.data.series.grid import step_text
    from anomaly_detector.detectors import registry
    from anomaly_detector.errors import InputError
    from anomaly_detector.timeseries.forecasting import forecast as run_forecast
    from anomaly_detector.timeseries.forecasting import horizon_points

    out = output_path(out or Path(f"{data.stem}-forecast.csv"), data)
    series = load_series_or_fail(data, endpoint, window, metric, value_column)
    try:
        steps = horizon_points(horizon, series.step)
    except ValueError as exc:
        fail(f"--horizon: {exc}")
    model = series_detector_or_fail(detector or registry.DEFAULT_SERIES_FORECASTER, param)
    try:
        table = run_forecast(series, model, steps)
    except InputError as exc:
        fail(exc.message)
    with writing(out):
        table.to_csv(out, index=False, date_format="%Y-%m-%dT%H:%M:%SZ")
    last = pd.Timestamp(table["timestamp"].iloc[-1])
    typer.echo(f"{steps} windows of {step_text(series.step)} forecast up to {last}; wrote {out}")


def evaluate(
    data: DataOption,
    labels: Annotated[
        Path,
        typer.Option(
            help="Incidents: start,end (optional endpoint, metric) or timestamp CSV.",
            show_default=False,
        ),
    ],
    endpoint: EndpointOption = None,
    window: WindowOption = None,
    metric: Annotated[
        str | None,
        typer.Option(help="Access logs: one metric (default: p95, error_ratio and requests)."),
    ] = None,
    value_column: ValueColumnOption = None,
    detector: DetectorOption = None,
    param: ParamOption = None,
    threshold: Annotated[
        float | None,
        typer.Option(
            help="Operating threshold for event scores (default: the detector's).",
            callback=unit_interval,
        ),
    ] = None,
    tolerance: Annotated[
        str, typer.Option(help="An alert this close to an incident still counts.")
    ] = "15min",
    merge_gap: Annotated[
        str, typer.Option(help="Flagged runs closer than this are one alert.")
    ] = "30min",
    out: Annotated[Path | None, typer.Option(help="Per-series results CSV to write.")] = None,
) -> None:
    """NAB window scores (standard, low-FP, low-FN profiles) and event-level precision /
    recall of a detector against labelled incidents. An access log is evaluated on every
    endpoint (and all requests) for p95, error ratio and request count unless narrowed."""
    import pandas as pd

    from anomaly_detector.data.series.grid import duration
    from anomaly_detector.errors import InputError
    from anomaly_detector.timeseries.evaluation import evaluate as run_evaluation
    from anomaly_detector.timeseries.evaluation import file_cases

    gaps = []
    for option, text in (("--tolerance", tolerance), ("--merge-gap", merge_gap)):
        try:
            gap = duration(text)
        except ValueError:
            gap = None
        if gap is None or gap < pd.Timedelta(0):
            fail(f"{option} must be a duration of at least 0 such as 15min; got {text!r}")
        gaps.append(gap)
    for option, path in (("--data", data), ("--labels", labels)):
        if not path.is_file():
            fail(f"{option} file {path} does not exist")
    if out is not None:
        output_path(out, data, labels)
    try:
        cases = file_cases(data, labels, endpoint, window, metric, value_column)
    except InputError as exc:
        fail(exc.message)
    if not any(case.labels for case in cases):
        fail(f"no incident in {labels} falls on the series of {data}; check endpoint and "
             "metric columns and the time range")  # fmt: skip
    model = series_detector_or_fail(detector, param)
    try:
        result = run_evaluation(
            cases, lambda: series_detector_or_fail(detector, param), threshold, gaps[0], gaps[1]
        )
    except InputError as exc:
        fail(exc.message)
    typer.echo(f"{model.name} on {len(cases)} series of {data}, "
               f"{sum(len(c.labels) for c in cases)} labelled incident(s)")  # fmt: skip
    for name, scores in result.nab.items():
        typer.echo(
            f"  NAB {name:<14} {scores['score']:7.2f}  (threshold {scores['threshold']:.6g})"
        )
    for tag, scores, at in (
        ("NAB standard threshold", result.events_at_nab, result.nab["standard"]["threshold"]),
        ("operating threshold", result.events_at_threshold, result.threshold),
    ):
        typer.echo(
            f"  events at the {tag} {at:.6g}: precision {scores.precision:.3f}, recall "
            f"{scores.recall:.3f}, F1 {scores.f1:.3f} ({scores.detected} detected, "
            f"{scores.missed} missed, {scores.false_events} false alert(s))"
        )
    _echo_incidents(result.incidents, result.threshold)
    if out is not None:
        with writing(out):
            result.per_series.to_csv(out, index=False, float_format="%.17g")
        typer.echo(f"wrote {out}")


SHOWN_INCIDENTS = 40


def _echo_incidents(incidents, threshold: float) -> None:
    """Each labelled incident and what the operating threshold made of it."""
    typer.echo(f"  incidents at the operating threshold {threshold:.6g}:")
    width = max(len(name) for name in incidents["series"])
    ordered = incidents.sort_values(["start", "series"], kind="stable")
    for row in ordered.head(SHOWN_INCIDENTS).itertuples():
        span = f"{row.start:%Y-%m-%d %H:%M} to {row.end:%Y-%m-%d %H:%M}"
        if not row.detected:
            outcome = "missed"
        elif row.delay_minutes < 0:
            outcome = f"detected {-row.delay_minutes:.0f} min before its start"
        else:
            outcome = f"detected {row.delay_minutes:.0f} min after its start"
        typer.echo(f"    {row.series:<{width}}  {span}  {outcome}")
    if len(incidents) > SHOWN_INCIDENTS:
        typer.echo(f"    ... and {len(incidents) - SHOWN_INCIDENTS} more")


def watch(
    prometheus_url: Annotated[
        str | None, typer.Option(help="Prometheus to query (default: WATCH_PROMETHEUS_URL).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port of /metrics (default: WATCH_PORT).")
    ] = None,
    host: Annotated[str | None, typer.Option(help="Interface to bind (default: HOST).")] = None,
) -> None:
    """Watch the service's p95 latency, request rate and error ratio (plus WATCH_QUERIES) in
    Prometheus; export value, forecast, band, anomaly score and flag on /metrics."""
    import uvicorn

    from anomaly_detector.cli.options import settings as read_settings
    from anomaly_detector.errors import InputError
    from anomaly_detector.monitor.app import create_app
    from anomaly_detector.serving.logs import configure_logging

    settings = read_settings(watch_prometheus_url=prometheus_url, watch_port=port, host=host)
    configure_logging(settings.log_level)
    try:
        app = create_app(settings)
    except InputError as exc:
        fail(exc.message)
    typer.echo(
        f"watching {settings.watch_prometheus_url} every {settings.watch_interval_seconds:g}s; "
        f"metrics on http://{settings.host}:{settings.watch_port}/metrics"
    )
    uvicorn.run(app, host=settings.host, port=settings.watch_port, log_level="warning")
