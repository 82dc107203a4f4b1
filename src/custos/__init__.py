"""Custos: a governed account-recovery control plane."""

__version__ = "0.1.0"
