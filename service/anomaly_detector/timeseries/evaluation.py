"""How well a series detector finds labelled incidents, over one series or a corpus.

What ``series evaluate`` prints and the time-series benchmark reports, computed one
way: each series is scored by ``detection.detect`` (the same causal path as
``series detect``; the watcher runs the same kernel on Prometheus series, on a linear
scale since their sources declare no transform), then

* NAB window scores under the paper's three profiles, each at the threshold that
  maximises it over the whole corpus (``nab_sweep``), as NAB reports detectors;
* event-level precision, recall and F1 (``events``) at the NAB standard profile's
  threshold, and at the threshold a user would run with (the detector's default, or
  the one given), since an optimised threshold is a ceiling no live system knows.

A *corpus* is a list of ``Case``: a series with the incidents that apply to it. An
access log gives one case per (endpoint, metric) pair, so an incident on one
endpoint's latency counts on that endpoint's p95 and on the overall p95, not on
another endpoint's request rate.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from anomaly_detector.data.series import access_log
from anomaly_detector.data.series.grid import Series, parse_step
from anomaly_detector.detectors.series.base import SeriesDetector
from anomaly_detector.timeseries import events, nab_sweep
from anomaly_detector.timeseries.detection import detect
from anomaly_detector.timeseries.labels import (
    METRIC_FAMILY,
    Label,
    read_label_table,
    read_labels,
    select_labels,
)
from anomaly_detector.timeseries.sources import DEFAULT_LOG_WINDOW, header, load_series

# The access-log metrics an evaluation covers by default: one per incident family.
DEFAULT_METRICS = ("p95", "error_ratio", "requests")
# An alert within this of an incident's start or end still counts for it.
DEFAULT_TOLERANCE = pd.Timedelta("15min")
# Flagged runs closer than this are one alert (an alerting rule's hold-down).
DEFAULT_MERGE_GAP = pd.Timedelta("30min")


@dataclass(frozen=True)
class Case:
    """One series and the labelled incidents that apply to it."""

    series: Series
    labels: list[Label]
    family: str = ""


@dataclass(frozen=True)
class Scored:
    """A case with its per-point detection table."""

    case: Case
    table: pd.DataFrame


@dataclass(frozen=True)
class Evaluation:
    """NAB scores per profile, event scores at two thresholds, and per-series rows."""

    detector: str
    nab: dict[str, dict[str, float]]
    threshold: float
    events_at_nab: events.EventScores
    events_at_threshold: events.EventScores
    per_series: pd.DataFrame
    # One row per labelled incident: its series and bounds, and whether (and how long
    # after its start) an alert found it at the operating threshold.
    incidents: pd.DataFrame

    def summary(self) -> dict[str, float]:
        """The headline figures, flat (for tables and JSON)."""
        row = {f"nab_{name}": result["score"] for name, result in self.nab.items()}
        row["nab_threshold"] = self.nab["standard"]["threshold"]
        for tag, scores in (("nab", self.events_at_nab), ("t", self.events_at_threshold)):
            row[f"precision_{tag}"] = scores.precision
            row[f"recall_{tag}"] = scores.recall
            row[f"f1_{tag}"] = scores.f1
            row[f"false_events_{tag}"] = scores.false_events
        row["threshold"] = self.threshold
        return row


def within(series: Series, labels: Sequence[Label]) -> list[Label]:
    """The labels that overlap the series' time span (the others no detector could see)."""
    first, last = series.timestamps[0], series.timestamps[-1]
    return [
        (start, end) for start, end in labels if pd.Timestamp(end) >= first
        and pd.Timestamp(start) <= last
    ]  # fmt: skip


def access_log_cases(
    path: str | Path,
    labels: str | Path | None,
    window: str | pd.Timedelta | None = None,
    metrics: Sequence[str] = DEFAULT_METRICS,
    endpoints: Sequence[str] | None = None,
) -> list[Case]:
    """One case per (endpoint, metric) of an access log: the whole service and each endpoint.

    Args:
        path: the access-log CSV.
        labels: incidents with ``endpoint`` and ``metric`` columns (or None: no labels).
        window: aggregation window (5 minutes by default).
        metrics: access-log metrics to evaluate.
        endpoints: endpoints to cover (default: ``*`` and every endpoint in the log).
    """
    step = parse_step(window or DEFAULT_LOG_WINDOW)
    table = access_log.aggregate(path, step)
    chosen = list(endpoints) if endpoints else access_log.endpoints(table)
    incidents = read_label_table(labels) if labels else None
    cases = []
    for endpoint in chosen:
        for metric in metrics:
            series = access_log.select(table, endpoint, metric, step, str(path))
            applying = (
                within(series, select_labels(incidents, endpoint, metric))
                if incidents is not None
                else []
            )
            cases.append(Case(series, applying, METRIC_FAMILY.get(metric, metric)))
    return cases


def file_cases(
    path: str | Path,
    labels: str | Path | None,
    endpoint: str | None = None,
    window: str | None = None,
    metric: str | None = None,
    value_column: str | None = None,
) -> list[Case]:
    """The cases of one file: every default series of an access log unless narrowed by
    ``endpoint`` or ``metric``, else the one series ``series detect`` would read."""
    if access_log.is_access_log(header(Path(path))):
        return access_log_cases(
            path,
            labels,
            window,
            metrics=[metric] if metric else DEFAULT_METRICS,
            endpoints=[endpoint] if endpoint else None,
        )
    series = load_series(path, endpoint, window, metric, value_column)
    return [Case(series, within(series, read_labels(labels)) if labels else [], "value")]


def score_cases(cases: Sequence[Case], make_detector: Callable[[], SeriesDetector]) -> list[Scored]:
    """Every case scored causally by a fresh detector."""
    return [Scored(case, detect(case.series, make_detector())) for case in cases]


def _nab_file(scored: Scored) -> nab_sweep.SeriesFile:
    times = np.asarray(scored.table["timestamp"].dt.tz_localize(None), dtype="datetime64[ns]")
    return times, scored.table["anomaly_score"].to_numpy(np.float64), scored.case.labels


def _flags(scored: Scored, threshold: float) -> np.ndarray:
    scores = scored.table["anomaly_score"].to_numpy(np.float64)
    return np.nan_to_num(scores, nan=-math.inf) >= threshold


def _event_scores(
    scored: Sequence[Scored], threshold: float, tolerance: pd.Timedelta, merge_gap: pd.Timedelta
) -> tuple[events.EventScores, list[events.EventScores]]:
    """Pooled and per-series event scores at ``threshold``."""
    each = [
        events.event_scores(
            s.table["timestamp"].dt.tz_localize(None),
            _flags(s, threshold),
            s.case.labels,
            tolerance,
            merge_gap,
        )
        for s in scored
    ]
    return pool(each), each


def pool(parts: Sequence[events.EventScores]) -> events.EventScores:
    """Event scores of several series counted together (micro-averaged)."""
    detected = sum(p.detected for p in parts)
    missed = sum(p.missed for p in parts)
    false_events = sum(p.false_events for p in parts)
    alerts = sum(p.alerts for p in parts)
    precision = (alerts - false_events) / alerts if alerts else math.nan
    recall = detected / (detected + missed) if detected + missed else math.nan
    outcomes = [o for p in parts for o in p.outcomes]
    return events.EventScores(
        precision, recall, events.f1(precision, recall), detected, missed, false_events,
        alerts, outcomes,
    )  # fmt: skip


def evaluate(
    cases: Sequence[Case],
    make_detector: Callable[[], SeriesDetector],
    threshold: float | None = None,
    tolerance: pd.Timedelta = DEFAULT_TOLERANCE,
    merge_gap: pd.Timedelta = DEFAULT_MERGE_GAP,
    scored: Sequence[Scored] | None = None,
) -> Evaluation:
    """Score ``cases`` and evaluate them against their labels.

    Args:
        cases: the corpus; at least one case needs a label for NAB scores.
        make_detector: a fresh, unfitted detector per case.
        threshold: the operating threshold for the second set of event scores (the
            detector's default when None).
        tolerance: how far outside an incident an alert still counts.
        merge_gap: flagged runs closer than this are one alert.
        scored: the cases already scored (skips scoring; must match ``cases``).
    """
    scored = list(scored) if scored is not None else score_cases(cases, make_detector)
    probe = make_detector()
    threshold = probe.default_threshold if threshold is None else float(threshold)
    files = [_nab_file(s) for s in scored]
    nab = nab_sweep.profile_scores(files)
    nab_threshold = nab["standard"]["threshold"]
    at_nab, each_nab = _event_scores(scored, nab_threshold, tolerance, merge_gap)
    at_threshold, each = _event_scores(scored, threshold, tolerance, merge_gap)
    rows, incidents = [], []
    for s, file, e_nab, e in zip(scored, files, each_nab, each, strict=True):
        for (start, end), outcome in zip(s.case.labels, e.outcomes, strict=True):
            incidents.append({
                "series": s.case.series.name, "start": pd.Timestamp(start),
                "end": pd.Timestamp(end), "detected": outcome is not None,
                "delay_minutes": math.nan if outcome is None else outcome / pd.Timedelta("1min"),
            })  # fmt: skip
        standard = nab_sweep.sweep(
            [file], nab_sweep.PROFILES["standard"], np.array([nab_threshold])
        )[0] if not math.isnan(nab_threshold) else math.nan  # fmt: skip
        rows.append(
            {
                "series": s.case.series.name,
                "family": s.case.family,
                "points": len(s.table),
                "incidents": len(s.case.labels),
                "nab_standard": standard,
                "detected": e_nab.detected,
                "missed": e_nab.missed,
                "false_events": e_nab.false_events,
                "flagged_at_threshold": int(_flags(s, threshold).sum()),
                "detected_at_threshold": e.detected,
                "false_events_at_threshold": e.false_events,
            }
        )
    incidents_table = pd.DataFrame(
        incidents, columns=["series", "start", "end", "detected", "delay_minutes"]
    )
    return Evaluation(
        probe.name, nab, threshold, at_nab, at_threshold, pd.DataFrame(rows), incidents_table
    )
