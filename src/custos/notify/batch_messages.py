"""Messages of one kind rendered for a whole batch: the templates run once for
the values the batch shares, each message filling in its own values as Jinja
would output them (:class:`Skeleton`); the worker's recovery notices
(:class:`RecoveryNotices`) are the one user. A message's bytes are exactly what
:func:`custos.notify.messages.render` gives for the same values."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import cache
from typing import Final

from jinja2 import nodes
from markupsafe import escape

from custos.notify import messages
from custos.notify.base import Message
from custos.notify.messages import (
    CHANNEL_LABELS,
    Rendered,
    check_names,
    message,
    recovery_subject,
    when,
)

#: What stands for slot ``n`` while a :class:`Skeleton` renders its template:
#: NUL never occurs in a template, and no escaping changes it.
_SLOT: Final = re.compile("\x00([0-9]+)\x00")

#: A rendered part as its text before the first hole, then (slot, text after).
_Pieces = tuple[str, tuple[tuple[int, str], ...]]


class Skeleton:
    """``kind`` rendered once for the values a batch of messages shares
    (``fixed``), with the per-message values (``slots``) left as holes, filled
    in by :meth:`render` as Jinja would output them: ``str(value)`` in the text
    part, ``markupsafe.escape(value)`` in the HTML part (autoescaped), so
    :meth:`render` gives exactly what :func:`render` gives for the same values,
    for a fraction of its cost (no Jinja context, no template run per message).

    That holds only when the templates output each slot as a bare ``{{ name }}``
    and use it nowhere else (no filter, test, comparison, loop or assignment of
    it, no ``{% filter %}`` or ``{% autoescape %}`` block around it, every
    extended or included template named by a constant and checked the same
    way): the templates' syntax trees are checked for that when the skeleton is
    built, and a skeleton of templates that fail the check renders each message
    with Jinja (:func:`render`)."""

    __slots__ = ("_context", "_html", "_kind", "_slots", "_subject", "_text")

    def __init__(
        self, kind: str, subject: str, fixed: Mapping[str, object], slots: Sequence[str]
    ) -> None:
        check_names(kind, [*fixed, *slots])
        self._kind, self._subject, self._slots = kind, subject, tuple(slots)
        self._context = dict(fixed)
        self._text: _Pieces | None = None
        self._html: _Pieces | None = None
        slotted = frozenset(self._slots)
        if _plain_values(subject, *fixed.values()) and all(
            _bare_outputs_only(f"{kind}.{ext}", slotted) for ext in ("txt", "html")
        ):
            holes = {name: f"\x00{n}\x00" for n, name in enumerate(self._slots)}
            rendered = messages.render(kind, subject, {**fixed, **holes})
            self._text = _pieces(rendered.text, len(self._slots))
            self._html = _pieces(rendered.html, len(self._slots))

    @property
    def fills_in_itself(self) -> bool:
        """Whether the templates passed the check (else Jinja renders each message)."""
        return self._text is not None and self._html is not None

    def render(self, values: Mapping[str, str]) -> Rendered:
        """The message of ``values`` (one for every slot): what :func:`render`
        gives for the fixed values and these."""
        if self._text is None or self._html is None:
            return messages.render(self._kind, self._subject, {**self._context, **values})
        plain = [str(values[name]) for name in self._slots]
        text = _filled(self._text, plain)
        html = _filled(self._html, [_escaped(values[name]) for name in self._slots])
        return Rendered(subject=self._subject, text=text, html=html)


def _escaped(value: str) -> str:
    """``markupsafe.escape(value)``, as Jinja's autoescape outputs it; for a
    plain ``str`` written as markupsafe's own pure-Python version does it
    (without building a ``Markup``)."""
    if type(value) is not str:
        return escape(value)
    return (
        value.replace("&", "&amp;")
        .replace(">", "&gt;")
        .replace("<", "&lt;")
        .replace("'", "&#39;")
        .replace('"', "&#34;")
    )


def _filled(pieces: _Pieces, values: Sequence[str]) -> str:
    first, rest = pieces
    out = [first]
    for slot, after in rest:
        out.append(values[slot])
        out.append(after)
    return "".join(out)


def _plain_values(*values: object) -> bool:
    """Whether the shared values are strings or numbers without a NUL (which
    could pass for a hole): anything else (a list, a NUL) is left to Jinja."""
    return all(isinstance(v, int) or (isinstance(v, str) and "\x00" not in v) for v in values)


def _pieces(rendered: str, slots: int) -> _Pieces | None:
    """``rendered`` cut at its slot holes; None if a NUL of it is not a hole."""
    parts = _SLOT.split(rendered)
    constants, holes = parts[::2], [int(h) for h in parts[1::2]]
    if any("\x00" in c for c in constants) or any(h >= slots for h in holes):
        return None
    return constants[0], tuple(zip(holes, constants[1:], strict=True))


#: Nodes that would change how a bare ``{{ name }}`` inside them is output.
_OUTPUT_CHANGERS: Final = (nodes.FilterBlock, nodes.EvalContextModifier)


def _names_bound(tree: nodes.Template) -> set[str]:
    """The names a template binds other than by a ``Name`` node: its macros
    and what it imports (``{% import ... as x %}``, ``{% from ... import x %}``)."""
    bound = {macro.name for macro in tree.find_all(nodes.Macro)}
    bound.update(imported.target for imported in tree.find_all(nodes.Import))
    for imported in tree.find_all(nodes.FromImport):
        for name in imported.names:
            bound.add(name if isinstance(name, str) else name[1])
    return bound


@cache
def _bare_outputs_only(name: str, slots: frozenset[str]) -> bool:
    """Whether template ``name`` (and every template it extends, includes or
    imports) outputs the variables ``slots`` only as bare ``{{ slot }}`` and
    uses them nowhere else (see :class:`Skeleton`). Cached: the templates never
    change while the process runs (``environment``)."""
    env = messages.environment()
    assert env.loader is not None
    tree = env.parse(env.loader.get_source(env, name)[0])
    bare = {
        id(node)
        for output in tree.find_all(nodes.Output)
        for node in output.nodes
        if isinstance(node, nodes.Name) and node.ctx == "load"
    }
    for node in tree.find_all(nodes.Name):
        if node.name in slots and id(node) not in bare:
            return False
    if slots and any(True for _ in tree.find_all(_OUTPUT_CHANGERS)):
        return False
    if not slots.isdisjoint(_names_bound(tree)):
        return False
    for ref in tree.find_all((nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)):
        target = getattr(ref, "template", None)
        if not isinstance(target, nodes.Const) or not isinstance(target.value, str):
            return False
        if not _bare_outputs_only(target.value, slots):
            return False
    return True


class RecoveryNotices:
    """:func:`recovery_notice` for a batch of cases with the same event, time
    and link lifetime (the worker's): the templates are rendered once for those
    (:class:`Skeleton`) and each case's notice fills in its own values. A
    notice's bytes are those :func:`recovery_notice` gives for the same inputs."""

    __slots__ = ("_skeleton",)

    def __init__(self, *, event: str, at: datetime, expires_days: int) -> None:
        self._skeleton = Skeleton(
            "recovery_notice",
            recovery_subject(event),
            {"event": event, "at": when(at), "expires_days": expires_days},
            ("case_id", "display_name", "channel", "repudiation_link"),
        )

    def messages(
        self,
        *,
        to: Sequence[str],
        case_id: str,
        display_name: str,
        channel: str,
        repudiation_link: str,
    ) -> list[Message]:
        """The notice of one case, to each address of ``to`` (rendered once:
        the address is not in the message's text)."""
        rendered = self._skeleton.render(
            {
                "case_id": case_id,
                "display_name": display_name,
                "channel": CHANNEL_LABELS.get(channel, channel),
                "repudiation_link": repudiation_link,
            }
        )
        return [message("recovery_notice", address, case_id, rendered) for address in to]
