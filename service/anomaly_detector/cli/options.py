"""What the commands share: failing with a sentence, output paths, detector parameters."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import typer

from anomaly_detector.detectors import registry


def fail(message: str) -> NoReturn:
    """Print ``error: message`` in red on stderr and exit with status 2."""
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=2)


def output_path(path: Path, *inputs: Path | None, option: str = "--out") -> Path:
    """``path`` checked before any work: a file (its folder is created), not an input.

    Writing a result over the data it came from would lose the data; a folder or an
    unwritable place would fail only after the work is done.
    """
    if path.is_dir():
        fail(f"{option} {path} is a folder; name a file to write")
    for source in inputs:
        if source is not None and path.exists() and source.exists() and path.samefile(source):
            fail(f"{option} {path} is also an input; name another file so the input is kept")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fail(f"cannot create the folder of {option} {path}: {exc.strerror or exc}")
    return path


@contextmanager
def writing(path: Path) -> Iterator[None]:
    """Turn a failed write of ``path`` into one ``error:`` line instead of a traceback."""
    try:
        yield
    except OSError as exc:
        fail(f"cannot write {path}: {exc.strerror or exc}")


def unit_interval(value: float | None) -> float | None:
    """A typer callback for thresholds: an anomaly score from 0 to 1 (NaN is refused)."""
    if value is not None and not (math.isfinite(value) and 0 <= value <= 1):
        raise typer.BadParameter(f"a threshold is an anomaly score from 0 to 1; got {value}")
    return value


def settings(**overrides: Any):
    """The one ``Settings`` object, its validation errors as one ``error:`` line each."""
    from pydantic import ValidationError

    from anomaly_detector.settings import Settings

    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        problems = [
            f"{'.'.join(map(str, e['loc'])).upper() or 'settings'}: {e['msg']} "
            f"(got {e.get('input')!r})"
            for e in exc.errors()
        ]
        fail("invalid settings: " + "; ".join(problems))


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
