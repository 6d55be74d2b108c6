"""The report as one self-contained HTML page: inline CSS, figures and thumbnails as data URIs.

Every piece of text passes through :func:`escape` unless it was built here as
:class:`Markup`, so a label called ``<script>`` is shown as text. As a second line of
defence the page carries a Content-Security-Policy that allows no script and no
network access at all: it opens offline in any browser and cannot call home.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Callable
from typing import Any

import pandas as pd

from study_app.report.document import Document, Figure, Gallery, GalleryItem, Section, Table

CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #222; margin: 0 auto; \
max-width: 1180px; padding: 0 24px 48px; }
h1 { font-size: 26px; margin: 24px 0 4px; } \
h2 { font-size: 20px; border-bottom: 2px solid #0072B2; padding-bottom: 4px; margin-top: 36px; }
h3 { font-size: 15px; margin: 18px 0 6px; } .generated { color: #666; margin: 0 0 12px; }
nav ol { columns: 3; margin: 8px 0 0; padding-left: 20px; } nav a { color: #0072B2; text-decoration: none; }
.scroll { overflow-x: auto; max-height: 560px; overflow-y: auto; border: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 12.5px; width: 100%; }
th { position: sticky; top: 0; background: #f0f4f8; text-align: left; font-weight: 600; }
th, td { padding: 3px 8px; border-bottom: 1px solid #e6e6e6; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tbody tr:nth-child(even) { background: #fafafa; }
.note { color: #555; font-size: 12.5px; margin: 4px 0 0; }
figure { margin: 12px 0 20px; } figure.plot img { max-width: 100%; height: auto; }
figcaption { color: #555; font-size: 12.5px; }
.gallery { display: grid; grid-template-columns: repeat(auto-fill, minmax(190px, 1fr)); gap: 12px; }
.thumb { margin: 0; border: 1px solid #ddd; border-radius: 4px; padding: 8px; background: #fff; }
.thumb img, .thumb .missing { display: block; width: 128px; height: 128px; object-fit: contain; \
image-rendering: pixelated; margin: 0 auto 6px; background: #f4f4f4; }
.thumb .missing { font-size: 11px; color: #888; overflow: hidden; }
.thumb dl { margin: 0; font-size: 12px; } .thumb dt { font-weight: 600; color: #555; } \
.thumb dd { margin: 0 0 2px; overflow-wrap: anywhere; }
"""
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
_NUMERIC = re.compile(r"^[-+\[]?\d[\d.,\s%e+-]*(\]| pp)?(\s*%)?$")


class Markup(str):
    """Text that is already HTML (built by this module), never escaped again."""


def escape(value: object) -> Markup:
    return value if isinstance(value, Markup) else Markup(html.escape(str(value), quote=True))


def tag(name: str, *children: object, **attributes: str) -> Markup:
    """``<name attributes>children</name>``; children and attribute values are escaped."""
    attrs = "".join(f' {key.rstrip("_").replace("_", "-")}="{escape(value)}"' for key, value in attributes.items())
    return Markup(f"<{name}{attrs}>" + "".join(escape(child) for child in children) + f"</{name}>")


def data_uri(content: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(content).decode('ascii')}"


def _cell(value: str, numeric: bool) -> Markup:
    return tag("td", value, class_="num") if numeric and _NUMERIC.match(value) else tag("td", value)


def _table(block: Table) -> Markup:
    shown: pd.DataFrame = block.shown
    head = tag("thead", tag("tr", *(tag("th", title) for title in shown.columns)))
    body = tag(
        "tbody", *(tag("tr", *(_cell(value, block.numeric) for value in row)) for row in shown.itertuples(index=False))
    )
    note = f"{block.note} " if block.note else ""
    return tag(
        "figure",
        tag("h3", block.title),
        tag("div", tag("table", head, body), class_="scroll"),
        tag(
            "p",
            f"{note}All {len(block.data)} rows: ",
            tag("a", f"tables/{block.name}.csv", href=f"tables/{block.name}.csv"),
            class_="note",
        ),
        class_="table",
    )


def _figure(block: Figure) -> Markup:
    image = Markup(f'<img src="{escape(data_uri(block.svg, "image/svg+xml"))}" alt="{escape(block.title)}">')
    return tag("figure", tag("h3", block.title), image, tag("figcaption", block.caption), class_="plot")


def _thumb(item: GalleryItem) -> Markup:
    if item.thumbnail is not None:
        picture = Markup(f'<img src="{escape(data_uri(item.thumbnail, "image/png"))}" alt="{escape(item.image_id)}">')
    else:
        picture = tag("div", item.problem, class_="missing")
    facts = [("image", item.image_id), ("truth", item.truth), ("annotators", item.humans), ("model", item.model)]
    return tag(
        "figure",
        picture,
        tag("dl", *(Markup(tag("dt", key) + tag("dd", value)) for key, value in facts)),
        class_="thumb",
    )


def _gallery(block: Gallery) -> Markup:
    content = (
        tag("div", *(_thumb(item) for item in block.items), class_="gallery")
        if block.items
        else tag("p", "No such images.", class_="note")
    )
    return tag("figure", tag("h3", block.title), content, tag("figcaption", block.caption))


def _section(section: Section) -> Markup:
    render: dict[type, Callable[[Any], Markup]] = {Table: _table, Figure: _figure, Gallery: _gallery}
    blocks = [render[type(block)](block) for block in section.blocks]
    return tag("section", tag("h2", section.title), tag("p", section.intro), *blocks, id=section.key)


def render_html(document: Document) -> str:
    """The whole page as text."""
    contents = tag("nav", tag("ol", *(tag("li", tag("a", s.title, href=f"#{s.key}")) for s in document.sections)))
    head = tag(
        "head",
        Markup('<meta charset="utf-8">'),
        Markup(f'<meta http-equiv="Content-Security-Policy" content="{escape(CSP)}">'),
        Markup('<meta name="viewport" content="width=device-width, initial-scale=1">'),
        tag("title", document.title),
        tag("style", Markup(CSS)),
    )
    body = tag(
        "body",
        tag(
            "header",
            tag("h1", document.title),
            tag("p", f"Generated {document.generated_at}", class_="generated"),
            contents,
        ),
        *(_section(section) for section in document.sections),
    )
    return "<!DOCTYPE html>\n" + tag("html", head, body, lang="en") + "\n"
