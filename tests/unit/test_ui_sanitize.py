"""The description sanitiser against a list of XSS payloads, and what it must keep."""

from __future__ import annotations

import re

import pytest

from model_workbench.ui.sanitize import html_to_text, sanitize_html

XSS_PAYLOADS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    "<img src=\"javascript:alert(1)\">",
    "<img src=\"data:image/svg+xml;base64,PHN2Zz4=\">",
    "<a href=\"javascript:alert(1)\">x</a>",
    "<a href=\"JaVaScRiPt:alert(1)\">x</a>",
    "<a href=\"java\tscript:alert(1)\">x</a>",
    "<a href=\"&#106;avascript:alert(1)\">x</a>",
    "<a href=\" javascript:alert(1)\">x</a>",
    "<a href=\"vbscript:msgbox(1)\">x</a>",
    "<a href=\"data:text/html,<script>alert(1)</script>\">x</a>",
    "<iframe src=\"https://evil.example\"></iframe>",
    "<svg onload=alert(1)><script>alert(1)</script></svg>",
    "<math><mtext><script>alert(1)</script></mtext></math>",
    "<body onload=alert(1)>",
    "<div style=\"background:url(javascript:alert(1))\">x</div>",
    "<p onclick=\"alert(1)\" onmouseover=alert(1)>x</p>",
    "<object data=\"x.swf\"></object><embed src=x.swf>",
    "<form action=\"https://evil.example\"><input name=a><button>go</button></form>",
    "<style>body{display:none}</style>",
    "<!--<script>alert(1)</script>-->",
    "<img src=x:alert(1) onerror=eval(src)>",
    "<a href=x onfocus=alert(1) autofocus>x</a>",
    "\"><script>alert(1)</script>",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "<details open ontoggle=alert(1)>",
    "<meta http-equiv=\"refresh\" content=\"0;url=javascript:alert(1)\">",
    "<base href=\"javascript:alert(1)//\">",
    "<link rel=stylesheet href=\"https://evil.example/x.css\">",
    "<video><source onerror=alert(1)></video>",
    "<img src=\"https://ok.example/a.png\" onerror=\"alert(1)\">",
    "<a href=\"//evil.example/x\">protocol-relative</a>",
    "<p>unterminated <b>bold <i>italic",
    "<textarea><script>alert(1)</script></textarea>",
]

DANGEROUS = re.compile(r"(?i)<\s*(script|iframe|object|embed|svg|math|style|form|input|meta|base|link|body|video|"
                       r"source|details|textarea)\b|\son\w+\s*=|javascript:|vbscript:|data:|style\s*=")


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_no_payload_survives(payload):
    clean = sanitize_html(payload)
    assert not DANGEROUS.search(clean), clean
    # Whatever remains is balanced markup from the allowlist.
    tags = re.findall(r"</?([a-z0-9]+)", clean)
    assert set(tags) <= {"a", "b", "i", "p", "img", "div", "br"}


def test_ordinary_description_formatting_is_kept():
    description = ('<h2>Usage</h2><p>Use <strong>trigger</strong> at <em>0.8</em>.<br>'
                   '<a href="https://civitai.com/models/1">More</a></p><ul><li>one</li></ul>'
                   '<img src="https://image.civitai.com/x.jpeg" alt="sample">')
    clean = sanitize_html(description)
    assert "<h2>Usage</h2>" in clean and "<strong>trigger</strong>" in clean and "<li>one</li>" in clean
    assert '<a href="https://civitai.com/models/1" target="_blank" rel="noopener noreferrer nofollow">More</a>' in clean
    assert '<img src="https://image.civitai.com/x.jpeg" alt="sample" loading="lazy"' in clean


def test_text_is_escaped_and_output_well_nested():
    assert sanitize_html("1 < 2 & <b>3 > 2</b>") == "1 &lt; 2 &amp; <b>3 &gt; 2</b>"
    assert sanitize_html("<p>a <b>b</p> c") == "<p>a <b>b</b></p> c"
    assert sanitize_html("<p>open") == "<p>open</p>"
    assert sanitize_html(None) == ""


def test_attribute_values_are_re_escaped():
    clean = sanitize_html('<a href="https://x.example/?a=1&b=&quot;2&quot;" title="&lt;b&gt;">x</a>')
    assert 'href="https://x.example/?a=1&amp;b=&quot;2&quot;"' in clean
    assert 'title="&lt;b&gt;"' in clean


def test_html_to_text_keeps_paragraphs_and_drops_markup():
    text = html_to_text("<p>First &amp; best</p><p>Second<br>line</p><script>bad()</script><ul><li>a</li></ul>")
    assert text == "First & best\nSecond\nline\na"
