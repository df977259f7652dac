"""Publishing a bundle from a notebook: save it where the service watches, wait for the swap.

``save_bundle`` writes atomically, the service polls the file, validates the new
model and swaps it in; ``publish`` then waits until ``GET /model_information``
reports the new version. When the service is not reachable the model is still
saved (the service picks it up when it runs), unless ``require_service``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from anomaly_detector.bundle.io import save_bundle
from anomaly_detector.bundle.model import ModelBundle


def model_information(url: str) -> dict | None:
    """The service's model metadata; {} while it runs without a model; None if unreachable."""
    try:
        response = httpx.get(f"{url}/model_information", timeout=5)
    except httpx.TransportError:
        return None
    if response.status_code == 503:  # up, but no valid model loaded yet
        return {}
    response.raise_for_status()
    return response.json()


def publish(
    bundle: ModelBundle,
    models_dir: Path,
    service_url: str,
    *,
    timeout_seconds: float = 30,
    require_service: bool = False,
    say: Callable[[str], None] = print,
) -> str:
    """Save ``bundle`` into ``models_dir`` and wait for the service to serve it; its version.

    Raises:
        RuntimeError: ``require_service`` and the service is not reachable (nothing saved).
        TimeoutError: ``require_service`` and the service did not swap in time.
        PermissionError: the folder is not writable, with the command that fixes it.
    """
    before = model_information(service_url)
    if before is None:
        message = f"the service at {service_url} is not reachable, so nothing confirms the swap"
        if require_service:
            raise RuntimeError(message)
        say(f"WARNING: {message}.")
    elif before.get("features") not in (None, bundle.schema.to_dict()):
        say(
            "WARNING: this model's features differ from the serving model's; the service "
            "refuses it unless ALLOW_SCHEMA_CHANGE=true (or POST /admin/reload"
            "?allow_schema_change=true)."
        )
    try:
        model_path, _ = save_bundle(bundle, models_dir)
    except PermissionError as exc:
        raise PermissionError(
            f"cannot write the model into {models_dir.resolve()} ({exc.strerror}): this "
            f"notebook runs as uid {os.getuid()}; give it the folder, e.g. on the host: "
            f"sudo chown -R {os.getuid()} models"
        ) from None
    say(f"saved {model_path} (version {bundle.version}, threshold {bundle.threshold:.4f})")
    if before is None:
        return bundle.version
    old_version = before.get("version", "no model")
    deadline = time.monotonic() + timeout_seconds
    served = before
    while served.get("version") != bundle.version and time.monotonic() < deadline:
        time.sleep(0.5)
        served = model_information(service_url) or {}
    if served.get("version") == bundle.version:
        say(f"the service swapped models: {old_version} -> {served['version']}")
        say(f"threshold served: {served['threshold']:.4f}")
        return bundle.version
    message = (
        f"after {timeout_seconds} s the service still serves {served.get('version', 'no model')}. "
        f"Check its log for 'model refused' and that it watches {model_path.resolve()}"
    )
    if require_service:
        raise TimeoutError(message)
    say(f"WARNING: {message}")
    return bundle.version
