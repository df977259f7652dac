"""Data before any model: the feature schema, column profiling, CSV reading, generators."""
