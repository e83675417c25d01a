"""A report as a list of blocks, rendered to Markdown and to one self-contained HTML file.

Blocks: headings, paragraphs, bullet lists, tables (cells escaped once, by
:func:`mijabench.markdown.table` or Jinja2's autoescape), images (linked from Markdown, inlined as
data URIs in HTML) and raw HTML fragments that Markdown replaces by a note. Also the number
formats every report table uses.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pandas as pd
from jinja2 import Environment

from mijabench import markdown as md


def pct(x) -> str:
    return "–" if x is None or pd.isna(x) else f"{100 * x:.1f}%"


def ci(row: dict) -> str:
    """``rate [low, high]`` in percent from a record with dr, ci_low, ci_high."""
    if row.get("dr") is None or pd.isna(row.get("dr")):
        return "–"
    if row.get("ci_low") is None or pd.isna(row.get("ci_low")):
        return pct(row["dr"])
    return f"{pct(row['dr'])} [{100 * row['ci_low']:.1f}, {100 * row['ci_high']:.1f}]"


def pts(x) -> str:
    return "–" if x is None or pd.isna(x) else f"{100 * x:+.1f}".replace("-", "−")


def n_(x) -> str:
    return "–" if x is None or pd.isna(x) else f"{int(x):,}"


class Doc:
    def __init__(self):
        self.blocks: list[tuple] = []

    def h(self, level: int, text: str):
        self.blocks.append(("h", level, text))

    def p(self, text: str):
        self.blocks.append(("p", text))

    def ul(self, items: list[str]):
        if items:
            self.blocks.append(("ul", items))

    def table(self, headers: list[str], rows: list[list], note: str = ""):
        if rows:
            self.blocks.append(("table", headers, [[str(c) for c in r] for r in rows], note))
        else:
            self.blocks.append(("p", "_No rows._"))

    def img(self, rel: str, alt: str):
        self.blocks.append(("img", rel, alt))

    def raw(self, html, markdown_note: str):
        """An HTML fragment (already safe markup) that Markdown replaces by ``markdown_note``."""
        self.blocks.append(("raw", html, markdown_note))

    def markdown(self) -> str:
        out = []
        for b in self.blocks:
            if b[0] == "h":
                out.append(f"{'#' * b[1]} {b[2]}")
            elif b[0] == "p":
                out.append(b[1])
            elif b[0] == "ul":
                out.append("\n".join(f"- {item}" for item in b[1]))
            elif b[0] == "table":
                out.append(md.table(b[1], b[2]) + (f"\n\n{b[3]}" if b[3] else ""))
            elif b[0] == "img":
                out.append(f"![{b[2]}]({b[1]})")
            elif b[0] == "raw":
                out.append(b[2])
        return "\n\n".join(out) + "\n"

    def html(self, title: str, out_dir: Path, css: str = "") -> str:
        blocks = []
        for b in self.blocks:
            if b[0] == "img":
                data = base64.b64encode((out_dir / b[1]).read_bytes()).decode("ascii")
                blocks.append(("img", f"data:image/png;base64,{data}", b[2]))
            else:
                blocks.append(b)
        from markupsafe import Markup
        return _HTML.render(title=title, blocks=blocks, css=Markup(css))  # our own stylesheet


# Markdown emphasis in paragraphs becomes <strong>/<code> after escaping (the text is ours).
def _inline(text: str):
    from markupsafe import Markup, escape

    out, parts = [], str(escape(text)).split("**")
    for i, part in enumerate(parts):
        ticks = part.split("`")
        part = "".join(f"<code>{t}</code>" if j % 2 else t for j, t in enumerate(ticks))
        out.append(f"<strong>{part}</strong>" if i % 2 else part)
    html = "".join(out)
    if len(html) > 2 and html.startswith("_") and html.endswith("_"):  # a whole-line _note_
        html = f"<em>{html[1:-1]}</em>"
    return Markup(html)


_ENV = Environment(autoescape=True)
_ENV.filters["inline"] = _inline
_HTML = _ENV.from_string("""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title>
<style>
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1200px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
table{border-collapse:collapse;margin:.6em 0 1.2em;font-size:.88em}
th,td{border:1px solid #ddd;padding:.25em .6em;text-align:left}th{background:#f3f3f3}
tr:nth-child(even) td{background:#fafafa}img{max-width:100%;border:1px solid #eee;margin:.5em 0}
.note{color:#555;font-size:.85em}h1{font-size:1.6em}h2{margin-top:1.8em;border-bottom:1px solid #ddd}
{{ css }}
</style></head><body>
{% for b in blocks %}
{% if b[0] == "h" %}<h{{ b[1] }}>{{ b[2] }}</h{{ b[1] }}>
{% elif b[0] == "p" %}<p>{{ b[1] | inline }}</p>
{% elif b[0] == "ul" %}<ul>{% for item in b[1] %}<li>{{ item | inline }}</li>{% endfor %}</ul>
{% elif b[0] == "table" %}<table><thead><tr>{% for h in b[1] %}<th>{{ h }}</th>{% endfor %}</tr></thead>
<tbody>{% for row in b[2] %}<tr>{% for c in row %}<td>{{ c }}</td>{% endfor %}</tr>{% endfor %}</tbody></table>
{% if b[3] %}<p class="note">{{ b[3] | inline }}</p>{% endif %}
{% elif b[0] == "img" %}<img src="{{ b[1] }}" alt="{{ b[2] }}">
{% elif b[0] == "raw" %}{{ b[1] }}
{% endif %}
{% endfor %}
</body></html>
""")
