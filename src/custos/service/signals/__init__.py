"""Signals: what raises or lowers trust in a request: risk context gathered for
the risk engine, outside signals (SIM swap, incidents), fraud flags and
repudiation, and the throttles that hold across processes."""
