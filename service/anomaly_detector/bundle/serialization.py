"""Model files as bytes: joblib (a pickle) or skops (an allow-list of types).

A pickle is code: ``joblib.load`` runs whatever the file names. skops rebuilds
only the types it knows (scikit-learn's estimators, numpy arrays) plus those in
``skops_trusted_types``. That list is built from this code (the base types below
and what each registered detector declares), never read from a file.
"""

from __future__ import annotations

import io
from typing import Any

import joblib

from anomaly_detector.detectors import registry
from anomaly_detector.errors import BundleError

MODEL_FILENAME = "model.joblib"
SKOPS_FILENAME = "model.skops"
# File name of the model file for each format.
FORMATS = {"joblib": MODEL_FILENAME, "skops": SKOPS_FILENAME}

# Types outside skops' own safe set that every bundle may hold; each is a plain
# data holder or a pure function, and nothing here runs code on load.
BASE_SKOPS_TYPES: tuple[str, ...] = (
    "anomaly_detector.preprocessing.signed_log1p",  # the log step of heavy-tailed features
    "numpy.dtype",  # OrdinalEncoder(dtype=np.float64)
)


def skops_trusted_types() -> tuple[str, ...]:
    """The base types plus those the registered detectors' fitted state needs."""
    return tuple(sorted({*BASE_SKOPS_TYPES, *registry.skops_types()}))


def _skops_io():
    try:
        import skops.io
    except ImportError as exc:  # pragma: no cover - skops is a dependency; this is the hint
        raise BundleError("model.skops files need the skops package (pip install skops)") from exc
    return skops.io


def dumps(payload: Any, format: str) -> bytes:
    """The bytes of a model file in ``format`` (``joblib`` or ``skops``)."""
    if format not in FORMATS:
        raise ValueError(f"unknown bundle format {format!r}; use one of: {', '.join(FORMATS)}")
    if format == "skops":
        return _skops_io().dumps(payload)
    buffer = io.BytesIO()
    joblib.dump(payload, buffer)
    return buffer.getvalue()


def _unreadable(name: str, exc: Exception) -> str:
    """Why a file is no model, short: a CSV unpickles into a garbled ``ModuleNotFoundError``."""
    detail = " ".join(f"{type(exc).__name__}: {exc}".split())
    detail = detail if len(detail) <= 120 else detail[:117] + "..."
    return (
        f"cannot read {name} as a model (expected a model.joblib or model.skops written by "
        f"`anomaly-detector train`; {detail})"
    )


def loads(data: bytes, name: str) -> Any:
    """The object in a model file's bytes; ``name`` ending in ``.skops`` selects skops.

    Raises:
        BundleError: unreadable (``invalid_bundle``), or a skops file holding types
            not on the allow-list (``untrusted_types``, the message names them).
    """
    if not name.endswith(".skops"):
        try:
            return joblib.load(io.BytesIO(data))
        except Exception as exc:  # unpickling raises anything from EOFError to ImportError
            raise BundleError(_unreadable(name, exc)) from exc
    skops_io = _skops_io()
    trusted = skops_trusted_types()
    try:
        found = skops_io.get_untrusted_types(data=data)
    except Exception as exc:  # a damaged zip raises anything from BadZipFile to KeyError
        raise BundleError(_unreadable(name, exc)) from exc
    untrusted = sorted(set(found) - set(trusted))
    if untrusted:
        raise BundleError(
            f"{name} holds types this service does not load: {', '.join(untrusted)}",
            reason="untrusted_types",
        )
    try:
        return skops_io.loads(data, trusted=list(trusted))
    except Exception as exc:  # same as above: the file is damaged
        raise BundleError(_unreadable(name, exc)) from exc
