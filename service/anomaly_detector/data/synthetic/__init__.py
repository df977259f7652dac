"""Deterministic generated datasets: the same seed gives byte-identical files."""
