"""Anomaly detectors: the protocol (``base``), the registry and one module per family.

Everything outside this package reaches a detector through ``registry``.
"""
