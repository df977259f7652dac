"""Batch jobs: files scored through the same ``Scorer`` as the service."""
