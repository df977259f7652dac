"""Polling the model files and reloading when they change (runs as an asyncio task)."""

from __future__ import annotations

import asyncio
import logging

from anomaly_detector.serving.model_store import ModelStore

log = logging.getLogger("anomaly_detector.model")


async def watch(store: ModelStore, interval_seconds: float) -> None:
    """Every ``interval_seconds``, reload when the model file or model.json changed.

    A refused pair is retried only once one of the two files changes again. The
    load runs in a thread, so requests keep being served meanwhile.
    """
    while True:
        await asyncio.sleep(interval_seconds)
        try:
            if store.changed_on_disk():
                await asyncio.to_thread(store.reload, "file changed")
        except Exception:  # the watcher must outlive any single bad file
            log.exception("model watcher error")
