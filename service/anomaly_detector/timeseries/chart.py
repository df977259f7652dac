"""A self-contained HTML chart of a detected series: values, forecast band, flagged points.

plotly's JavaScript is inlined (about 4.5 MB), so the file opens anywhere, offline,
without a CDN. Labelled incidents, when given, are shaded, so missed and false
detections are plain to see.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from anomaly_detector.files import atomic_write


def figure(table: pd.DataFrame, title: str, labels: Sequence[tuple[Any, Any]] = ()) -> Any:
    """The plotly figure of a ``detection.detect`` table."""
    import plotly.graph_objects as go

    fig = go.Figure()
    time = table["timestamp"]
    if table["upper"].notna().any():
        fig.add_trace(
            go.Scatter(x=time, y=table["upper"], line={"width": 0}, hoverinfo="skip",
                       showlegend=False, name="upper")
        )  # fmt: skip
        fig.add_trace(
            go.Scatter(x=time, y=table["lower"], line={"width": 0}, fill="tonexty",
                       fillcolor="rgba(99, 110, 250, 0.18)", name="band")
        )  # fmt: skip
        fig.add_trace(
            go.Scatter(x=time, y=table["forecast"], line={"width": 1, "dash": "dot",
                       "color": "rgb(99, 110, 250)"}, name="forecast")
        )  # fmt: skip
    fig.add_trace(
        go.Scatter(x=time, y=table["value"], line={"width": 1.2, "color": "rgb(40, 40, 40)"},
                   name="value")
    )  # fmt: skip
    flagged = table[table["is_anomaly"]]
    fig.add_trace(
        go.Scatter(
            x=flagged["timestamp"], y=flagged["value"], mode="markers", name="anomaly",
            marker={"color": "rgb(220, 40, 40)", "size": 7},
            customdata=flagged["anomaly_score"],
            hovertemplate="%{x}<br>value %{y}<br>score %{customdata:.6f}<extra></extra>",
        )
    )  # fmt: skip
    for start, end in labels:
        fig.add_vrect(x0=start, x1=end, fillcolor="rgba(255, 165, 0, 0.25)", line_width=0)
    fig.update_layout(
        title=title, hovermode="x unified", template="plotly_white",
        xaxis={"rangeslider": {"visible": True}},
        # Top right, clear of the title on the left.
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1},
    )  # fmt: skip
    return fig


def write_chart(
    table: pd.DataFrame, path: str | Path, title: str, labels: Sequence[tuple[Any, Any]] = ()
) -> Path:
    """Write the chart as one HTML file with plotly inlined; return its path."""
    path = Path(path)
    html = figure(table, title, labels).to_html(include_plotlyjs=True, full_html=True)
    atomic_write(path, lambda handle: handle.write(html), mode="w")
    return path
