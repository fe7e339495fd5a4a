"""Markdown to safe HTML: markdown-it-py renders, nh3 keeps only harmless tags."""

from __future__ import annotations

import functools
import sys
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

from markupsafe import Markup

if TYPE_CHECKING:
    from markdown_it import MarkdownIt

_TAGS = {"p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "del", "s",
         "code", "pre", "blockquote", "ul", "ol", "li", "a", "table", "thead", "tbody", "tr",
         "th", "td", "img"}
_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}, "ol": {"start"},
               "code": {"class"}, "th": {"align"}, "td": {"align"}}


class RenderCache:
    """Rendered Markdown by its source, within a budget of bytes; least recently used goes.

    Counted in bytes, not entries: a description may be 100,000 characters, and a
    cache of a few thousand such entries would hold most of a gigabyte.
    """

    ENTRY_OVERHEAD = 100  # the ordered dict's node and references, roughly

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._entries: OrderedDict[str, Markup] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, text: object) -> bool:
        return text in self._entries

    def render(self, text: str) -> Markup:
        """`render(text)`, from the cache when it was rendered lately."""
        with self._lock:
            html = self._entries.get(text)
            if html is not None:
                self._entries.move_to_end(text)
                return html
        html = render(text)
        cost = self._cost(text, html)
        if cost > self.max_bytes // 4:
            return html  # one entry may not push out most of the others
        with self._lock:
            if text not in self._entries:
                self._entries[text] = html
                self.bytes += cost
            while self.bytes > self.max_bytes:
                old_text, old_html = self._entries.popitem(last=False)
                self.bytes -= self._cost(old_text, old_html)
        return html

    def _cost(self, text: str, html: str) -> int:
        return sys.getsizeof(text) + sys.getsizeof(html) + self.ENTRY_OVERHEAD


@functools.cache
def _markdown() -> MarkdownIt:
    """The renderer, made (and markdown-it and nh3 imported, 2 MiB) when first needed:
    a server that only answers the API never loads them."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False, "linkify": False,
                                     "typographer": False}).enable(["table", "strikethrough"])


def render(text: str) -> Markup:
    """Render Markdown written by a user into HTML that is safe to embed in a page."""
    import nh3

    html = _markdown().render(_task_lists(text))
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
