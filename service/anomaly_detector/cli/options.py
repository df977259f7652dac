"""What the commands share: failing with a sentence, and reading detector parameters."""

from __future__ import annotations

from typing import Any, NoReturn

import typer

from anomaly_detector.detectors import registry


def fail(message: str) -> NoReturn:
    """Print ``error: message`` in red on stderr and exit with status 2."""
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=2)


def detector_params(detector: str, assignments: list[str], shortcuts: dict[str, Any]) -> dict:
    """Parameters from ``--param key=value`` items and shortcut flags, parsed per the registry.

    Args:
        detector: the chosen detector's name.
        assignments: ``key=value`` texts.
        shortcuts: ``{param: value or None}`` from flags such as ``--n-estimators``.
    """
    try:
        cls = registry.detector_class(detector)
    except ValueError as exc:
        fail(str(exc))
    known = {param.name: param for param in cls.params}
    params: dict[str, Any] = {}
    for assignment in assignments:
        key, sep, text = assignment.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            fail(f"--param takes key=value, got {assignment!r}")
        if key not in known:
            fail(f"{detector} has no parameter {key!r}; it takes: {', '.join(known) or 'none'}")
        try:
            params[key] = known[key].parse(text.strip())
        except ValueError as exc:
            fail(f"--param {key}: {exc}")
    for key, value in shortcuts.items():
        if value is None:
            continue
        if key not in known:
            takers = [
                name
                for name in registry.trainable()
                if key in {param.name for param in registry.detector_class(name).params}
            ]
            hint = f"; add --detector {takers[0]}" if len(takers) == 1 else ""
            fail(f"--{key.replace('_', '-')} does not apply to {detector}{hint} "
                 "(see: anomaly-detector detectors)")  # fmt: skip
        params.setdefault(key, value)
    return params
