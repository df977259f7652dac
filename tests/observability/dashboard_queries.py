"""Every PromQL query of the committed Grafana dashboards, ready to send to Prometheus.

Grafana expands its variables before a query reaches Prometheus; this module does
the same so that tests can check the queries statically (tests/observability) or
evaluate them against a live Prometheus (integration tests)::

    import sys; sys.path.insert(0, str(REPO_ROOT / "tests" / "observability"))
    from dashboard_queries import grafana_queries

    for q in grafana_queries(job="anomaly-detector", instance="127.0.0.1:8000"):
        response = httpx.get(f"{prom}/api/v1/query", params={"query": q.expr})

Variables expanded: ``$job`` / ``$instance`` / ``$series`` (also ``${job}`` and
``${job:regex}``), ``$__rate_interval``, ``$__interval``, ``$__interval_ms``,
``$__range``, ``$__range_s`` and ``$__range_ms``. Any other ``$`` left in a query is
an error, so a new, unsupported variable fails loudly instead of producing an invalid
query.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

REPO_ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS_DIR = REPO_ROOT / "grafana" / "dashboards"

_VARIABLE = re.compile(r"\$(?:\{(?P<braced>\w+)(?::\w+)?\}|(?P<plain>\w+))")


class DashboardQuery(NamedTuple):
    """One query: the dashboard uid, the panel (or annotation) title and the expanded expr."""

    uid: str
    panel: str
    expr: str


def _duration_seconds(duration: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
    total = 0.0
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)", duration)
    if not parts or "".join(n + u for n, u in parts) != duration:
        raise ValueError(f"not a Prometheus duration: {duration!r}")
    for number, unit in parts:
        total += float(number) * units[unit]
    return total


def substitute(
    expr: str,
    *,
    job: str = ".*",
    instance: str = ".*",
    series: str = ".*",
    rate_interval: str = "1m",
    interval: str = "15s",
    range_: str = "1h",
) -> str:
    """Expand the Grafana variables of one expression.

    ``job``, ``instance`` and ``series`` (the series dashboard's watched series) are
    inserted as given (they sit inside ``=~"..."`` matchers, so they are regular
    expressions: ``".*"`` stands for "All", which is the dashboards' ``allValue``).
    Durations are Prometheus durations.
    """
    values = {
        "job": job,
        "instance": instance,
        "series": series,
        "__rate_interval": rate_interval,
        "__interval": interval,
        "__interval_ms": str(int(_duration_seconds(interval) * 1000)),
        "__range": range_,
        "__range_s": str(int(_duration_seconds(range_))),
        "__range_ms": str(int(_duration_seconds(range_) * 1000)),
    }

    def replace(match: re.Match[str]) -> str:
        name = match.group("braced") or match.group("plain")
        if name not in values:
            raise ValueError(f"unsupported Grafana variable ${name} in {expr!r}")
        return values[name]

    expanded = _VARIABLE.sub(replace, expr)
    if "$" in expanded:
        raise ValueError(f"unexpanded variable left in {expanded!r}")
    return expanded


def load_dashboards(dashboards_dir: Path = DASHBOARDS_DIR) -> dict[Path, dict]:
    """Every dashboard JSON file of ``dashboards_dir``, parsed, by path."""
    return {
        path: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(dashboards_dir.glob("*.json"))
    }


def iter_panels(panels: list[dict]) -> Iterator[dict]:
    """All panels, including those nested in collapsed rows."""
    for panel in panels:
        yield panel
        yield from iter_panels(panel.get("panels", []))


def grafana_queries(
    job: str = ".*",
    instance: str = ".*",
    *,
    series: str = ".*",
    rate_interval: str = "1m",
    interval: str = "15s",
    range_: str = "1h",
    include_annotations: bool = True,
    dashboards_dir: Path = DASHBOARDS_DIR,
) -> list[DashboardQuery]:
    """Every (dashboard uid, panel title, expanded expr) of every committed dashboard.

    Hidden targets are included (they are still meant to be valid). Annotation
    queries are included with the panel title ``"annotation: <name>"`` unless
    ``include_annotations`` is false. Template-variable queries (``label_values``)
    are Grafana syntax, not PromQL, and are left out.
    """
    kwargs = {
        "job": job,
        "instance": instance,
        "series": series,
        "rate_interval": rate_interval,
        "interval": interval,
        "range_": range_,
    }
    queries: list[DashboardQuery] = []
    for dashboard in load_dashboards(dashboards_dir).values():
        uid = dashboard["uid"]
        for panel in iter_panels(dashboard.get("panels", [])):
            for target in panel.get("targets", []):
                if target.get("expr"):
                    queries.append(
                        DashboardQuery(uid, panel["title"], substitute(target["expr"], **kwargs))
                    )
        if include_annotations:
            for annotation in dashboard.get("annotations", {}).get("list", []):
                if annotation.get("expr"):
                    queries.append(
                        DashboardQuery(
                            uid,
                            f"annotation: {annotation['name']}",
                            substitute(annotation["expr"], **kwargs),
                        )
                    )
    return queries
