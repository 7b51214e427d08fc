"""A small Markdown-to-HTML converter for card ``Markdown`` components.

It covers what reports use (headings, paragraphs, lists, block quotes, fenced code, rules,
inline code, bold, italics, links) and escapes everything first: text in a card can never
inject markup. Links keep only web, mail and relative targets (no ``javascript:``).
"""

from __future__ import annotations

import re
from html import escape

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_BULLET = re.compile(r"^\s*[-*+]\s+(.*)$")
_NUMBERED = re.compile(r"^\s*\d+[.)]\s+(.*)$")
_RULE = re.compile(r"^\s*([-*_])(\s*\1){2,}\s*$")
_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")
_BOLD = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_ITALIC = re.compile(r"(?<![\w*])([*_])(?=\S)(.+?)(?<=\S)\1(?![\w*])")
_SAFE_URL = re.compile(r"^(https?://|mailto:|#|/|\./|\.\./|[\w\-./]+$)", re.IGNORECASE)


def markdown_html(text: str) -> str:
    """``text`` as HTML, every character of it escaped."""
    out: list[str] = []
    paragraph: list[str] = []
    items: list[str] = []
    list_tag = ""
    lines = text.splitlines()

    def flush() -> None:
        nonlocal list_tag
        if paragraph:
            out.append(f"<p>{inline(' '.join(paragraph))}</p>")
            paragraph.clear()
        if items:
            out.append(f"<{list_tag}>{''.join(f'<li>{i}</li>' for i in items)}</{list_tag}>")
            items.clear()
            list_tag = ""

    i = 0
    while i < len(lines):
        line = lines[i]
        if line.lstrip().startswith("```"):
            flush()
            code = []
            i += 1
            while i < len(lines) and not lines[i].lstrip().startswith("```"):
                code.append(lines[i])
                i += 1
            out.append(f"<pre><code>{escape(chr(10).join(code))}</code></pre>")
        elif not line.strip():
            flush()
        elif heading := _HEADING.match(line):
            flush()
            level = len(heading.group(1))
            out.append(f"<h{level}>{inline(heading.group(2))}</h{level}>")
        elif _RULE.match(line):
            flush()
            out.append("<hr>")
        elif line.lstrip().startswith(">"):
            flush()
            out.append(f"<blockquote>{inline(line.lstrip()[1:].strip())}</blockquote>")
        elif (item := _BULLET.match(line) or _NUMBERED.match(line)) is not None:
            tag = "ul" if _BULLET.match(line) else "ol"
            if paragraph or (items and tag != list_tag):
                flush()
            list_tag = tag
            items.append(inline(item.group(1)))
        else:
            if items:
                flush()
            paragraph.append(line.strip())
        i += 1
    flush()
    return "\n".join(out)


def inline(text: str) -> str:
    """One line's inline markup: code spans are kept verbatim, the rest is formatted."""
    parts = text.split("`")
    if len(parts) % 2 == 0:  # an unmatched backtick is text
        parts[-2:] = ["`".join(parts[-2:])]
    return "".join(
        f"<code>{escape(part)}</code>" if odd else _format(part)
        for odd, part in ((n % 2 == 1, p) for n, p in enumerate(parts))
    )


def _format(text: str) -> str:
    """Links, bold and italics; emphasis is read in the text and a link's label, never in
    its address (``http://a_b_c.com/_x_`` stays as written)."""
    html, out, at = escape(text), [], 0
    for match in _LINK.finditer(html):
        out.append(_emphasis(html[at : match.start()]))
        out.append(_link(match))
        at = match.end()
    out.append(_emphasis(html[at:]))
    return "".join(out)


def _emphasis(html: str) -> str:
    html = _BOLD.sub(r"<strong>\2</strong>", html)
    return _ITALIC.sub(r"<em>\2</em>", html)


def _link(match: re.Match[str]) -> str:
    label, url = _emphasis(match.group(1)), match.group(2)
    if not _SAFE_URL.match(url):
        return label
    return f'<a href="{url}">{label}</a>'
