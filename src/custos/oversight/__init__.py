"""Oversight of the operators themselves (docs/oversight.md): every refusal
recorded (R-36), per-operator baselines and anomalies. Pure: no I/O here; the
service layer (``custos.service.oversight``) reads the store and writes the
ledger."""
