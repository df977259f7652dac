"""Time series: detection, forecasting and evaluation over regular series."""
