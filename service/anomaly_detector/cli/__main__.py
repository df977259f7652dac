"""``python -m anomaly_detector.cli``: the same commands as ``anomaly-detector``."""

from anomaly_detector.cli import app

app()
