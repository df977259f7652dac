"""Series sources: regular grids from timestamp,value files, access logs and Prometheus."""
