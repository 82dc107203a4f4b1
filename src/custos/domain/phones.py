"""Phone numbers in E.164 form (``+`` then 7 to 15 digits, no leading zero), the
one spelling used to compare a number a carrier reports with the numbers
subjects keep on file. Pure: no I/O."""

from __future__ import annotations

import re
from typing import Final

#: What people write between digits: spaces, dashes, dots, brackets.
_SEPARATORS: Final = re.compile(r"[\s\-.()/]")
_E164: Final = re.compile(r"\+[1-9][0-9]{6,14}")


def e164(value: str) -> str | None:
    """``value`` as E.164 (separators dropped, a leading ``00`` read as ``+``),
    or None when it is not an international number."""
    compact = _SEPARATORS.sub("", value.strip())
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    return compact if _E164.fullmatch(compact) else None
