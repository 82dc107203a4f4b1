"""The ``custos`` command line (Typer + Rich)."""
