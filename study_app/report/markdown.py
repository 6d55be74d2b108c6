"""The report as Markdown (``report.md``), for a repository, a wiki or a lab notebook.

Same document as the HTML page; figures and thumbnails are linked as the PNG files
written beside it. Text from the data (label names, rater ids, notes) is escaped for
both Markdown and the HTML that Markdown viewers let through, so it always reads as
the text it is.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

from study_app.report.document import Document, Figure, Gallery, Section, Table

_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


def escape(value: object) -> str:
    """One line of literal text: HTML entities, Markdown punctuation and newlines neutralised."""
    flat = " ".join(str(value).split())
    return _SPECIAL.sub(r"\\\1", html.escape(flat, quote=False))


def _rows(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _table(block: Table) -> list[str]:
    shown = block.shown
    body = _rows(
        [escape(c) for c in shown.columns], [[escape(v) for v in row] for row in shown.itertuples(index=False)]
    )
    note = f"{escape(block.note)} " if block.note else ""
    return [
        f"### {escape(block.title)}",
        "",
        *body,
        "",
        f"{note}All {len(block.data)} rows: [tables/{block.name}.csv](tables/{block.name}.csv)",
    ]


def _figure(block: Figure) -> list[str]:
    return [
        f"### {escape(block.title)}",
        "",
        f"![{escape(block.title)}](figures/{block.name}.png)",
        "",
        escape(block.caption),
    ]


def _gallery(block: Gallery) -> list[str]:
    lines = [f"### {escape(block.title)}", "", escape(block.caption), ""]
    if not block.items:
        return lines + ["No such images."]
    rows = [
        [
            f"![{escape(item.image_id)}]({item.thumbnail_file})"
            if item.thumbnail is not None
            else escape(item.problem),
            escape(item.image_id),
            escape(item.truth),
            escape(item.humans),
            escape(item.model),
        ]
        for item in block.items
    ]
    return lines + _rows(["image", "id", "truth", "annotators", "model"], rows)


def _section(section: Section) -> list[str]:
    render: dict[type, Callable[[Any], list[str]]] = {Table: _table, Figure: _figure, Gallery: _gallery}
    lines = [f"## {escape(section.title)}", "", escape(section.intro)]
    for block in section.blocks:
        lines += ["", *render[type(block)](block)]
    return lines + [""]


def render_markdown(document: Document) -> str:
    lines = [f"# {escape(document.title)}", "", f"Generated {escape(document.generated_at)}", ""]
    for section in document.sections:
        lines += _section(section)
    return "\n".join(lines)
