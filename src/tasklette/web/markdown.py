"""Markdown to safe HTML: markdown-it-py renders, nh3 keeps only harmless tags."""

from __future__ import annotations

from functools import lru_cache

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}) \
    .enable(["table", "strikethrough"])

_TAGS = {"p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "del", "s",
         "code", "pre", "blockquote", "ul", "ol", "li", "a", "table", "thead", "tbody", "tr",
         "th", "td", "img"}
_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}, "ol": {"start"},
               "code": {"class"}, "th": {"align"}, "td": {"align"}}


@lru_cache(maxsize=4096)
def render(text: str) -> Markup:
    """Render Markdown written by a user into HTML that is safe to embed in a page."""
    html = _md.render(_task_lists(text))
    clean = nh3.clean(html, tags=_TAGS, attributes=_ATTRIBUTES,
                      url_schemes={"http", "https", "mailto"},
                      link_rel="noopener noreferrer nofollow")
    return Markup(clean)  # nh3 has sanitised it


def _task_lists(text: str) -> str:
    """GitHub-style `- [ ]` / `- [x]` items become disabled checkboxes."""
    lines = []
    for line in text.splitlines():
        stripped = line.lstrip()
        indent = line[: len(line) - len(stripped)]
        for marker in ("- [ ] ", "* [ ] ", "- [x] ", "* [x] ", "- [X] ", "* [X] "):
            if stripped.startswith(marker):
                checked = marker[3] in "xX"
                box = "\u2611" if checked else "\u2610"
                stripped = f"{marker[0]} {box} {stripped[len(marker):]}"
                break
        lines.append(indent + stripped)
    return "\n".join(lines)
