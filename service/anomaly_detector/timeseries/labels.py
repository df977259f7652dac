"""Labelled anomalies: a CSV of incidents (``start,end``) or of points (``timestamp``).

Optional ``endpoint`` and ``metric`` columns say which series an incident belongs to
(the generated access log's ``access_log_incidents.csv`` has both). For a series of
endpoint E, the incidents of E and of every endpoint (``*``) count; the metric of
an incident (``response_time``, ``error_ratio``, ``request_rate``) covers the
series metrics in ``METRIC_FAMILY``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from anomaly_detector.data.reading import existing_file, read_csv
from anomaly_detector.data.series.grid import parse_timestamps
from anomaly_detector.errors import InputError

ALL_ENDPOINTS = "*"
METRIC_FAMILY = {
    "p50": "response_time", "p95": "response_time", "p99": "response_time",
    "mean": "response_time", "error_ratio": "error_ratio", "error_ratio_4xx": "error_ratio",
    "error_ratio_5xx": "error_ratio", "requests": "request_rate", "bytes": "request_rate",
}  # fmt: skip

Label = tuple[pd.Timestamp, pd.Timestamp]


def read_label_table(path: str | Path) -> pd.DataFrame:
    """Every label of ``path``: ``start``, ``end`` (UTC) and its ``endpoint`` and ``metric``
    columns when it has them, checked once for all the series they will be matched to.

    Args:
        path: a CSV with ``start`` and ``end`` columns, or one ``timestamp`` column.
    """
    path = existing_file(path)
    frame = read_csv(path)
    if {"start", "end"} <= set(frame.columns):
        starts = parse_timestamps(frame["start"], str(path))
        ends = parse_timestamps(frame["end"], str(path))
    elif "timestamp" in frame.columns:
        starts = ends = parse_timestamps(frame["timestamp"], str(path))
    else:
        raise InputError(
            "invalid_request",
            f"{path}: labels need start,end columns (incidents) or a timestamp column "
            f"(points); found {', '.join(map(str, frame.columns))}",
        )
    if (ends < starts).any():
        row = int((ends < starts).argmax())
        raise InputError(
            "invalid_request", f"{path}: label on data row {row + 1} ends before it starts"
        )
    table = pd.DataFrame({"start": starts, "end": ends})
    for column in ("endpoint", "metric"):
        if column in frame.columns:
            table[column] = frame[column].astype(str).to_numpy()
    return table


def select_labels(
    table: pd.DataFrame, endpoint: str | None = None, metric: str | None = None
) -> list[Label]:
    """The (start, end) of each label of ``table`` that applies to the chosen series.

    Args:
        table: labels as ``read_label_table`` returns them.
        endpoint: the series' endpoint (None or ``*``: the whole service).
        metric: the series' metric (an access-log metric, or None: every label).
    """
    keep = pd.Series(True, index=table.index)
    if "endpoint" in table.columns:
        keep &= table["endpoint"].isin({endpoint or ALL_ENDPOINTS, ALL_ENDPOINTS})
    if "metric" in table.columns and metric is not None:
        keep &= table["metric"] == METRIC_FAMILY.get(metric, metric)
    chosen = table[keep.to_numpy()]
    return list(zip(chosen["start"], chosen["end"], strict=True))


def read_labels(
    path: str | Path, endpoint: str | None = None, metric: str | None = None
) -> list[Label]:
    """The (start, end) of each labelled anomaly in ``path`` that applies to the chosen
    series (``read_label_table``, then ``select_labels``)."""
    return select_labels(read_label_table(path), endpoint, metric)
