"""Reading the report's HTML back: tables by title, as lists of {column: text} rows."""

from __future__ import annotations

from html.parser import HTMLParser


class _Tables(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[dict[str, str]]] = {}
        self.title = ""
        self.header: list[str] = []
        self.row: list[str] | None = None
        self.text: list[str] | None = None
        self.in_h3 = False

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag == "h3":
            self.in_h3, self.title = True, ""
        elif tag == "table":
            self.header = []
        elif tag == "tr":
            self.row = []
        elif tag in ("td", "th"):
            self.text = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "h3":
            self.in_h3 = False
        elif tag in ("td", "th") and self.text is not None and self.row is not None:
            self.row.append("".join(self.text))
            self.text = None
        elif tag == "tr" and self.row is not None:
            if not self.header:
                self.header = self.row
            else:
                self.tables.setdefault(self.title, []).append(dict(zip(self.header, self.row)))
            self.row = None

    def handle_data(self, data: str) -> None:
        if self.in_h3:
            self.title += data
        if self.text is not None:
            self.text.append(data)


def html_tables(page: str) -> dict[str, list[dict[str, str]]]:
    """Title of each table (its h3) -> rows; cell text is unescaped, as a reader sees it."""
    parser = _Tables()
    parser.feed(page)
    return parser.tables
