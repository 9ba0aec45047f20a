"""Sanitise remote HTML (Civitai model descriptions) before it reaches the page.

An allowlist, rebuilt from parsed tokens: only known-harmless tags and attributes survive, every
attribute value is re-escaped, links keep only http(s)/mailto targets and open in a new tab without
an opener, images only http(s). Scripts, styles, iframes, event handlers, ``javascript:`` and
``data:`` URLs, forms and comments are dropped. Text is always escaped, so nothing the parser lets
through can become markup. Pure stdlib (``html.parser``), no gradio.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "del", "div", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
    "i", "img", "li", "ol", "p", "pre", "s", "span", "strong", "sub", "sup", "table", "tbody", "td", "th",
    "thead", "tr", "u", "ul",
}
VOID_TAGS = {"br", "hr", "img"}
# Content of these is dropped entirely, not just the tags.
DROP_CONTENT_TAGS = {"script", "style", "iframe", "object", "embed", "noscript", "template", "svg", "math",
                     "textarea", "select", "title", "head"}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
    "abbr": {"title"},
}
URL_ATTRIBUTES = {"href", "src"}
SAFE_SCHEMES = {"a": {"http", "https", "mailto"}, "img": {"http", "https"}}
_CONTROL = re.compile(r"[\x00-\x20\x7f]+")


def _safe_url(tag: str, value: str) -> str | None:
    # Browsers ignore control characters and spaces inside a scheme ("java\tscript:"), so do we.
    compact = _CONTROL.sub("", value)
    scheme = urlsplit(compact).scheme.lower()
    if not scheme:
        return value if tag == "a" and not compact.startswith("//") else None
    return value if scheme in SAFE_SCHEMES.get(tag, set()) else None


class _Sanitiser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.open_tags: list[str] = []
        self.drop_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in DROP_CONTENT_TAGS:
            if tag not in VOID_TAGS:
                self.drop_depth += 1
            return
        if self.drop_depth or tag not in ALLOWED_TAGS:
            return
        kept = []
        allowed = ALLOWED_ATTRIBUTES.get(tag, set())
        for name, value in attrs:
            name = name.lower()
            if name not in allowed or value is None:
                continue
            if name in URL_ATTRIBUTES:
                value = _safe_url(tag, value)
                if value is None:
                    continue
            kept.append(f' {name}="{html.escape(value, quote=True)}"')
        if tag == "a":
            kept.append(' target="_blank" rel="noopener noreferrer nofollow"')
        if tag == "img":
            kept.append(' loading="lazy" referrerpolicy="no-referrer"')
        self.out.append(f"<{tag}{''.join(kept)}>")
        if tag not in VOID_TAGS:
            self.open_tags.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID_TAGS and tag in ALLOWED_TAGS and not self.drop_depth:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in DROP_CONTENT_TAGS:
            self.drop_depth = max(0, self.drop_depth - 1)
            return
        if self.drop_depth or tag not in self.open_tags:
            return
        # Close everything opened after it, so the output is always well nested.
        while self.open_tags:
            top = self.open_tags.pop()
            self.out.append(f"</{top}>")
            if top == tag:
                break

    def handle_data(self, data: str) -> None:
        if not self.drop_depth:
            self.out.append(html.escape(data, quote=False))

    def close_all(self) -> str:
        self.close()
        while self.open_tags:
            self.out.append(f"</{self.open_tags.pop()}>")
        return "".join(self.out)


def sanitize_html(fragment: str | None) -> str:
    """Safe HTML for a fragment of untrusted HTML (``""`` for None)."""
    if not fragment:
        return ""
    parser = _Sanitiser()
    parser.feed(fragment)
    return parser.close_all()


def html_to_text(fragment: str | None) -> str:
    """Plain text of an HTML fragment (for WebUI's description sidecar), paragraphs kept as lines."""
    if not fragment:
        return ""
    spaced = re.sub(r"(?i)<\s*(br|/p|/div|/li|/h[1-6]|/tr)\b[^>]*>", "\n", fragment)
    parser = _Sanitiser()
    parser.feed(spaced)
    text = re.sub(r"<[^>]+>", "", parser.close_all())
    text = html.unescape(text)
    lines = [line.strip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
