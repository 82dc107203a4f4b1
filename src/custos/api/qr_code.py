"""QR codes for the subject's pages: an SVG ``data:`` URI (the pages' CSP allows
``img-src data:``), drawn in the answer that shows the secret once, so the
secret never travels anywhere else to be drawn."""

from __future__ import annotations

import segno


def svg_data_uri(text: str) -> str:
    """``text`` as a QR code (error correction M), dark on light with the quiet
    zone the standard asks for, as an SVG data URI."""
    code = segno.make(text, error="m", micro=False)
    return str(code.svg_data_uri(scale=4, border=4, dark="#000000", light="#ffffff"))
