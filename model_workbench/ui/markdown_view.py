"""A Hub model card (Markdown) as safe HTML for the page.

The card is rendered with the ``markdown`` package where the environment already has it (tensorboard
and other packages pull it in; WebUI's own requirements do not), else with the small renderer below,
which knows the common part of what model cards use: headings, paragraphs, lists, fenced code, quotes,
rules, and inline code, emphasis, links and images. Either way the result goes through the same
sanitiser as Civitai's descriptions, so nothing the card contains can run in the page.
"""

from __future__ import annotations

import html
import importlib.util
import re

from model_workbench.huggingface.responses import strip_front_matter
from model_workbench.ui.sanitize import sanitize_html

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_LIST_ITEM = re.compile(r"^\s*(?:([-*+])|(\d+)[.)])\s+(.*)$")
_RULE = re.compile(r"^\s*(?:-\s*){3,}$|^\s*(?:\*\s*){3,}$|^\s*(?:_\s*){3,}$")
_INLINE_CODE = re.compile(r"`([^`]+)`")
_IMAGE = re.compile(r"!\[([^\]]*)\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_LINK = re.compile(r"\[([^\]]+)\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_AUTOLINK = re.compile(r"&lt;(https?://[^&\s]+)&gt;")  # matched after escaping
_BOLD = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_ITALIC = re.compile(r"(?<![\w*])([*_])(?=\S)(.+?)(?<=\S)\1(?![\w*])")


def _has_markdown_package() -> bool:
    return importlib.util.find_spec("markdown") is not None


def card_html(markdown_text: str | None, base_url: str = "") -> str:
    """The card as sanitised HTML; relative image and link targets are made absolute against ``base_url``
    (the repo's ``resolve/<revision>/`` URL), so the pictures a card shows from its own repo load."""
    text = strip_front_matter(markdown_text or "").strip()  # the card data is shown on its own
    if not text:
        return ""
    if _has_markdown_package():
        import markdown

        rendered = markdown.markdown(text, extensions=["tables", "fenced_code"], output_format="html")
    else:
        rendered = render_markdown(text)
    return sanitize_html(_absolute_targets(rendered, base_url))


def _absolute_targets(fragment: str, base_url: str) -> str:
    if not base_url:
        return fragment
    base = base_url.rstrip("/") + "/"

    def fix(match: re.Match[str]) -> str:
        attr, quote, target = match.group(1), match.group(2), match.group(3)
        if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:|^//|^#", target):
            return match.group(0)
        return f"{attr}={quote}{base}{target.lstrip('./')}{quote}"

    return re.sub(r"\b(src|href)=([\"'])(.*?)\2", fix, fragment)


def _inline(text: str) -> str:
    """One line's inline Markdown as HTML (the text escaped first; code spans kept verbatim)."""
    codes: list[str] = []

    def keep_code(match: re.Match[str]) -> str:
        codes.append(f"<code>{html.escape(match.group(1))}</code>")
        return f"\x00{len(codes) - 1}\x00"

    out = html.escape(_INLINE_CODE.sub(keep_code, text), quote=True)
    out = _IMAGE.sub(lambda m: f'<img src="{m.group(2)}" alt="{m.group(1)}">', out)
    out = _LINK.sub(lambda m: f'<a href="{m.group(2)}">{m.group(1)}</a>', out)
    out = _AUTOLINK.sub(lambda m: f'<a href="{m.group(1)}">{m.group(1)}</a>', out)
    out = _BOLD.sub(r"<strong>\2</strong>", out)
    out = _ITALIC.sub(r"<em>\2</em>", out)
    return re.sub("\x00(\\d+)\x00", lambda m: codes[int(m.group(1))], out)


def render_markdown(text: str) -> str:
    """The common subset of Markdown as HTML (unsanitised: :func:`card_html` sanitises it)."""
    out: list[str] = []
    paragraph: list[str] = []
    list_tag: str | None = None
    lines = text.replace("\r\n", "\n").split("\n")

    def flush() -> None:
        nonlocal list_tag
        if paragraph:
            out.append("<p>" + "<br>".join(_inline(p) for p in paragraph) + "</p>")
            paragraph.clear()
        if list_tag:
            out.append(f"</{list_tag}>")
            list_tag = None

    i = 0
    while i < len(lines):
        line = lines[i]
        if line.lstrip().startswith(("```", "~~~")):
            flush()
            fence = line.lstrip()[:3]
            code = []
            i += 1
            while i < len(lines) and not lines[i].lstrip().startswith(fence):
                code.append(lines[i])
                i += 1
            out.append(f"<pre><code>{html.escape(chr(10).join(code))}</code></pre>")
        elif not line.strip():
            flush()
        elif _RULE.match(line):
            flush()
            out.append("<hr>")
        elif heading := _HEADING.match(line):
            flush()
            level = len(heading.group(1))
            out.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
        elif item := _LIST_ITEM.match(line):
            tag = "ol" if item.group(2) else "ul"
            if paragraph or list_tag != tag:
                flush()
                out.append(f"<{tag}>")
                list_tag = tag
            out.append(f"<li>{_inline(item.group(3))}</li>")
        elif line.lstrip().startswith(">"):
            flush()
            out.append(f"<blockquote>{_inline(line.lstrip()[1:].strip())}</blockquote>")
        elif line.lstrip().startswith("<") and not paragraph:
            flush()
            out.append(line)  # raw HTML, as Markdown allows (the sanitiser decides what stays)
        else:
            if list_tag:
                flush()
            paragraph.append(line.strip())
        i += 1
    flush()
    return "\n".join(out)
