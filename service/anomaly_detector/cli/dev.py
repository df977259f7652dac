"""``simulate``: realistic traffic for a running service, for dashboards and alerts."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from anomaly_detector.cli.options import fail


def simulate(
    url: Annotated[str, typer.Option(help="Base URL of the service.")] = "http://127.0.0.1:8000",
    rate: Annotated[float, typer.Option(min=0.1, help="Requests per second.")] = 50.0,
    duration: Annotated[float, typer.Option(min=1, help="Seconds to run.")] = 300.0,
    burst_every: Annotated[float, typer.Option(help="Seconds between attack bursts.")] = 60.0,
    burst_seconds: Annotated[float, typer.Option(help="Length of each burst.")] = 20.0,
    burst_share: Annotated[float, typer.Option(help="Share of anomalies in a burst.")] = 0.5,
    burst_types: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated anomaly types the bursts take in turn "
            "(default: the most visible first)."
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Send realistic traffic from the data generator, with periodic attack bursts."""
    import asyncio

    import httpx

    from anomaly_detector.devtools.traffic_simulator import BURST_ORDER
    from anomaly_detector.devtools.traffic_simulator import simulate as run

    types = tuple(t.strip() for t in burst_types.split(",") if t.strip()) if burst_types else None
    try:
        summary = asyncio.run(
            run(url, rate, duration, burst_every, burst_seconds, burst_share,
                seed=seed, progress=sys.stdout, burst_types=types or BURST_ORDER)
        )  # fmt: skip
    except httpx.HTTPError as exc:
        fail(f"cannot reach the service at {url}: {exc}")
    except ValueError as exc:
        fail(str(exc))
    if summary.transport_errors:
        raise typer.Exit(code=1)
