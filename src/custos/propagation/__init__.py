"""Propagation: the worker that carries a case's secret to every target."""
