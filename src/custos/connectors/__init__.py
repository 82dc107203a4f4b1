"""Connectors: one module per kind of directory, behind the SPI in ``spi.py``."""
