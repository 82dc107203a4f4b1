"""Compliance reports (HTML, PDF, JSON) and Prometheus metrics from the store."""
