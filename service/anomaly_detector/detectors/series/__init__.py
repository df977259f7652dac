"""Time-series detectors and forecasters: one streaming kernel, four configurations."""
