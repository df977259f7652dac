"""The series watcher: scores the service's own Prometheus series live and exports the result."""
