"""Serving: the model store and its watcher, metrics, logs, the HTTP API and the server."""
