"""HTML made safe: every value from a user, a function or a log is escaped on its way into a
page (`text`), and a page is assembled from `Html` fragments only. Scripts never build markup
from data: they set `textContent`."""

from __future__ import annotations

import html
from collections.abc import Iterable
from urllib.parse import quote


class Html(str):
    """Markup that is already safe (built here, from escaped parts)."""

    __slots__ = ()


def text(value: object) -> Html:
    """Any value as text inside an element or an attribute (quotes escaped too)."""
    if isinstance(value, Html):
        return value
    return Html(html.escape("" if value is None else str(value), quote=True))


def join(parts: Iterable[Html]) -> Html:
    return Html("".join(parts))


def tag(name: str, /, *children: object, **attributes: object) -> Html:
    """`<name attributes>children</name>`; `class_` for `class`, `data_x` for `data-x`;
    attributes set to None or False are left out, True is a bare attribute."""
    attrs = []
    for key, value in attributes.items():
        if value is None or value is False:
            continue
        attr = key.rstrip("_").replace("_", "-")
        attrs.append(f" {attr}" if value is True else f' {attr}="{text(value)}"')
    inner = "".join(text(c) for c in children)
    return Html(f"<{name}{''.join(attrs)}>{inner}</{name}>")


def void(name: str, /, **attributes: object) -> Html:
    return Html(tag(name, **attributes)[: -len(f"</{name}>")])


def path_part(value: str) -> str:
    """A name as one URL path segment."""
    return quote(value, safe="")


def table(headers: Iterable[str], rows: Iterable[Iterable[object]], **attributes: object) -> Html:
    head = tag("thead", tag("tr", join(tag("th", h) for h in headers)))
    body = tag("tbody", join(tag("tr", join(tag("td", c) for c in row)) for row in rows))
    return tag("table", head, body, **attributes)
