"""A message skeleton (``batch_messages.Skeleton``: a template rendered once for a
batch's shared values, each message's own values filled in) gives exactly what
Jinja gives for the same values (R-22: the notice sent is the notice rendered),
escaping in the HTML part only; templates that use a per-message value other
than as a bare ``{{ name }}`` are rendered by Jinja for each message instead."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from jinja2 import DictLoader, Environment, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from custos.notify import batch_messages, messages

VALUES = [
    {"a": "plain", "b": "x"},
    {"a": "<b>&amp; \"q\" 'o'", "b": "{0} {{ b }} {a} }{"},
    {"a": "Zoë 李\u2028\U0001f600", "b": ""},
    {"a": "\x00 0 \x00", "b": "\x001\x00"},
    {"a": Markup("<i>&amp;</i>"), "b": "&#34;&lt;"},  # Markup: not escaped again
]

#: Templates a skeleton fills in itself, with braces, raw blocks and NULs.
EXACT = {
    "_base.html": "<title>{{ title }}</title>{% block body %}{% endblock %}{ }}",
    "repudiated.html": (
        '{% extends "_base.html" %}{% block body %}<a href="{{ a }}">{ {{ b }} }'
        "{% if kind == 'x' %}{{ a }}{% else %}-{% endif %}{% raw %}{{ a }}{% endraw %}"
        "{% for i in range(n) %}[{{ b }}]{% endfor %}{% endblock %}"
    ),
    "repudiated.txt": "{{ a }} {{ b }} {{ kind }} {{ n }}\n{% include '_part.txt' %}",
    "_part.txt": "part {{ a }}}}{",
}

#: Templates that use a per-message value otherwise: Jinja renders each message.
OTHER = {
    "filter": "{{ a|upper }}",
    "test": "{% if a %}yes{% endif %}{{ a }}",
    "compare": "{% if a == 'plain' %}p{% endif %}",
    "concat": "{{ a ~ b }}",
    "filter block": "{% filter upper %}{{ a }}{% endfilter %}",
    "autoescape block": "{% autoescape false %}{{ a }}{% endautoescape %}",
    "set": "{% set a = 'mine' %}{{ a }}",
    "loop": "{% for a in [1, 2] %}{{ a }}{% endfor %}",
    "macro": "{% macro m(a) %}{{ a }}{% endmacro %}{{ m(b) }}",
    "include by name": "{% include which %}",
    "macro named so": "{% macro a() %}m{% endmacro %}{{ a }}",
    "import as": "{% import '_macros.html' as a %}{{ a }}",
    "from import as": "{% from '_macros.html' import x as a %}{{ a }}",
    "from import": "{% from '_macros.html' import a %}{{ a }}",
    "included filter": "{% include '_upper.html' %}",
}


@pytest.fixture
def templates(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """The ``repudiated`` kind's templates replaced by the test's own."""
    found: dict[str, str] = {
        "_upper.html": "{{ a|upper }}",
        "_plain.html": "{{ a }}",
        "_macros.html": "{% macro x() %}x{% endmacro %}{% macro a() %}y{% endmacro %}",
    }
    env = Environment(
        loader=DictLoader(found),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )
    monkeypatch.setattr(messages, "environment", lambda: env)
    batch_messages._bare_outputs_only.cache_clear()
    yield found
    batch_messages._bare_outputs_only.cache_clear()


def test_a_skeleton_gives_what_jinja_gives_for_bare_outputs(templates: dict[str, str]) -> None:
    templates.update(EXACT)
    fixed = {"kind": "x", "n": 2}
    skeleton = batch_messages.Skeleton("repudiated", "Subject <&>", fixed, ("a", "b"))
    assert skeleton.fills_in_itself
    for values in VALUES:
        expected = messages.render("repudiated", "Subject <&>", {**fixed, **values})
        assert skeleton.render(values) == expected


@pytest.mark.parametrize("source", list(OTHER.values()), ids=list(OTHER))
def test_a_skeleton_leaves_any_other_use_of_a_value_to_jinja(
    templates: dict[str, str], source: str
) -> None:
    templates.update({"repudiated.html": source, "repudiated.txt": "{{ a }}"})
    fixed = {"which": "_plain.html"}
    skeleton = batch_messages.Skeleton("repudiated", "S", fixed, ("a", "b"))
    assert not skeleton.fills_in_itself
    for values in VALUES:
        expected = messages.render("repudiated", "S", {**fixed, **values})
        assert skeleton.render(values) == expected


@pytest.mark.parametrize("kind", ["\x000\x00", ["\x000\x00"]], ids=["nul", "list"])
def test_a_shared_value_with_a_nul_is_left_to_jinja(
    templates: dict[str, str], kind: object
) -> None:
    """A NUL in a shared value could read as a hole, and so could one inside a
    list: Jinja renders each message."""
    templates.update(EXACT)
    fixed = {"kind": kind, "n": 1}
    skeleton = batch_messages.Skeleton("repudiated", "S", fixed, ("a", "b"))
    assert not skeleton.fills_in_itself
    for values in VALUES:
        assert skeleton.render(values) == messages.render("repudiated", "S", {**fixed, **values})


@pytest.mark.parametrize(
    "value", ["", "plain", "&<>'\"", "&amp;&#39;", "é\u2028\U0001f600<", Markup("<b>")]
)
def test_html_values_are_escaped_as_markupsafe_escapes_them(value: str) -> None:
    assert batch_messages._escaped(value) == escape(value)


def test_a_skeleton_refuses_what_render_refuses() -> None:
    """R-23: the names are checked as ``render`` checks them."""
    with pytest.raises(ValueError, match="may not carry"):
        batch_messages.Skeleton("repudiated", "S", {}, ("new_password",))
    with pytest.raises(ValueError, match="may not appear"):
        batch_messages.Skeleton("recovery_notice", "S", {"code": "1"}, ())
    with pytest.raises(ValueError, match="unknown message kind"):
        batch_messages.Skeleton("nope", "S", {}, ())


def test_the_recovery_notice_templates_are_filled_in_without_jinja() -> None:
    """The worker's notices take the fast path (else the batch gains nothing)."""
    notices = batch_messages.RecoveryNotices(
        event="completed", at=datetime(2026, 1, 1, tzinfo=UTC), expires_days=7
    )
    assert notices._skeleton.fills_in_itself
