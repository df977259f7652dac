"""The catalog of registered detectors: storage, lookups and plugin loading.

It imports no detector, so a detector that is built from others (the ensemble)
can look its members up here. ``registry`` fills it with the built-in detectors
and is what the rest of the package imports.
"""

from __future__ import annotations

import importlib
import logging
import os
from importlib.metadata import entry_points
from typing import Any

from anomaly_detector.detectors.base import Detector
from anomaly_detector.errors import InputError
from anomaly_detector.settings import Settings

log = logging.getLogger(__name__)

PLUGINS_VARIABLE = "DETECTOR_PLUGINS"
ENTRY_POINT_GROUP = "anomaly_detector.detectors"

_registered: dict[str, type[Detector]] = {}
_plugins_loaded = False


def register(cls: type[Detector]) -> type[Detector]:
    """Make ``cls`` available by ``cls.name`` (usable as a class decorator).

    Raises:
        ValueError: another class is registered under the same name.
    """
    existing = _registered.get(cls.name)
    if existing is not None and existing is not cls:
        raise ValueError(f"detector name {cls.name!r} is taken by {existing.__qualname__}")
    _registered[cls.name] = cls
    return cls


def _configured_plugins() -> str:
    """``DETECTOR_PLUGINS`` as the service reads it: the environment, else ``.env``."""
    try:
        return Settings().detector_plugins
    except ValueError:  # another setting is invalid: that is the service's error to report
        return os.environ.get(PLUGINS_VARIABLE, "")


def unregister(name: str) -> None:
    """Forget the detector registered as ``name`` (for a plugin reloaded in a notebook)."""
    _registered.pop(name, None)


def load_plugins(modules: str | None = None) -> None:
    """Import the plugin modules (``modules``, else ``DETECTOR_PLUGINS``) and entry points.

    Raises:
        ImportError: a listed module cannot be imported (the message names it).
    """
    global _plugins_loaded
    listed = _configured_plugins() if modules is None else modules
    for module in (name.strip() for name in listed.split(",")):
        if module:
            try:
                importlib.import_module(module)
            except ImportError as exc:
                raise ImportError(
                    f"detector plugin {module!r} (from {PLUGINS_VARIABLE}) cannot be "
                    f"imported: {exc}"
                ) from exc
    if not _plugins_loaded:
        _plugins_loaded = True
        for entry in entry_points(group=ENTRY_POINT_GROUP):
            try:
                entry.load()
            except Exception:  # one broken third-party plugin must not stop the service
                log.exception("detector entry point %s failed to load", entry.name)


def registered() -> dict[str, type[Detector]]:
    """Every detector by name, plugins included, in registration order."""
    if not _plugins_loaded:
        load_plugins()
    return dict(_registered)


def detector_class(name: str) -> type[Detector]:
    """The class registered as ``name``.

    Raises:
        InputError: unknown name; the message lists the known ones.
    """
    classes = registered()
    if name not in classes:
        raise InputError(
            "unknown_detector",
            f"unknown detector {name!r}; available: {', '.join(classes)} "
            f"(a plugin detector needs its module in {PLUGINS_VARIABLE})",
        )
    return classes[name]


def build_detector(name: str, **params: Any) -> Detector:
    """A fresh, unfitted detector with its defaults overridden by ``params``.

    Raises:
        InputError: unknown detector or parameter name.
    """
    try:
        return detector_class(name)(**params)
    except ValueError as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError("invalid_request", str(exc)) from exc


def trainable(task: str | None = "unsupervised") -> list[str]:
    """Names of the detectors ``train`` can fit for ``task`` (None: any; adoption-only ones
    left out)."""
    return [
        name
        for name, cls in registered().items()
        if not cls.adopts_any and (task is None or cls.task == task)
    ]


def adopting_class(estimator: Any) -> type[Detector] | None:
    """The detector class that wraps this fitted library estimator, or None.

    Specific classes are asked first; the catch-all (``adopts_any``) last.
    """
    classes = sorted(registered().values(), key=lambda cls: cls.adopts_any)
    return next((cls for cls in classes if cls.adopts(estimator)), None)


def score_buckets() -> tuple[float, ...]:
    """Bucket bounds of the score histogram: every registered detector's, merged.

    One fixed set for the life of the process, so a hot swap between detectors
    never changes a histogram's buckets (with several workers, it cannot).
    """
    bounds = {float(b) for cls in registered().values() for b in cls.score_buckets}
    return tuple(sorted(bounds))


def skops_types() -> tuple[str, ...]:
    """Library types the registered detectors' fitted state may hold (skops allow-list)."""
    return tuple(sorted({t for cls in registered().values() for t in cls.skops_types}))
