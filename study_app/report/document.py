"""The report as data: sections of tables, figures and galleries, before any rendering.

The HTML page, the Markdown file and the CSV/PNG/SVG files are all written from one
:class:`Document`, so they cannot disagree: a number appears in the HTML exactly when it
appears in the Markdown, and every shown table has its CSV. Renderers only escape and
lay out; they never compute or reformat numbers.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import pandas as pd


@dataclass(frozen=True)
class Table:
    """A table: ``data`` (every row, raw values) goes to CSV, ``shown`` (text) into the pages.

    ``shown`` may hold only some rows of ``data`` (e.g. the 20 most different of 1000
    classes) or a summary of them (4,950 annotator pairs by their spread); ``note`` then
    says so, and the page names the CSV.
    """

    name: str
    title: str
    data: pd.DataFrame
    shown: pd.DataFrame
    note: str = ""
    numeric: bool = True  # right-align cells that read as numbers


@dataclass(frozen=True)
class Figure:
    """One figure in both formats: SVG for the page (sharp at any zoom), PNG for Markdown."""

    name: str
    title: str
    caption: str
    svg: bytes
    png: bytes


@dataclass(frozen=True)
class GalleryItem:
    """One image with the ground truth and what each side answered."""

    image_id: str
    truth: str
    humans: str
    model: str
    thumbnail: bytes | None
    problem: str = ""

    @property
    def thumbnail_file(self) -> str:
        """Where the thumbnail is written, named by a hash: image ids may hold any character."""
        return f"thumbnails/{hashlib.sha256(self.image_id.encode()).hexdigest()[:16]}.png"


@dataclass(frozen=True)
class Gallery:
    """Thumbnails of images on which one side erred and the other did not."""

    name: str
    title: str
    caption: str
    items: tuple[GalleryItem, ...]


Block = Table | Figure | Gallery


@dataclass(frozen=True)
class Section:
    """A titled part of the report; ``key`` is its anchor in the page."""

    key: str
    title: str
    intro: str
    blocks: tuple[Block, ...] = field(default=())


@dataclass(frozen=True)
class Document:
    """The whole report; ``generated_at`` is the only part that changes between runs."""

    title: str
    generated_at: str
    sections: tuple[Section, ...]

    def blocks(self, kind: type) -> list:
        """Every block of one kind, in reading order (for writing the files)."""
        return [block for section in self.sections for block in section.blocks if isinstance(block, kind)]
