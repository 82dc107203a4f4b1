"""Oversight services: refusals recorded (R-36), anomalies detected and alerted."""
