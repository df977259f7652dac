"""Anomaly Detector: observable anomaly detection for API traffic."""

__version__ = "0.1.0"
