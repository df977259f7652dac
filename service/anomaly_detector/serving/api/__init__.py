"""The HTTP API: app factory, the ``POST /prediction`` fast lane, admission, routes."""
