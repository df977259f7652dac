"""Reading the web page's HTML in tests: elements by tag, id and attributes, and their text."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

# HTML's void elements (SVG ones in these templates are closed explicitly).
_VOID = {"meta", "link", "input", "br", "img", "hr", "source", "wbr", "area", "col"}


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    text_parts: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.text_parts).split())

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.attrs.get(name, default)


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self._open: list[Element] = []

    def handle_starttag(self, tag, attrs):
        element = Element(tag, {name: value or "" for name, value in attrs})
        self.elements.append(element)
        if tag not in _VOID:
            self._open.append(element)

    def handle_startendtag(self, tag, attrs):
        self.elements.append(Element(tag, {name: value or "" for name, value in attrs}))

    def handle_endtag(self, tag):
        for index in range(len(self._open) - 1, -1, -1):
            if self._open[index].tag == tag:
                del self._open[index:]
                return

    def handle_data(self, data):
        for element in self._open:
            element.text_parts.append(data)


class Page:
    """Parsed HTML (a page or a fragment)."""

    def __init__(self, html: str) -> None:
        collector = _Collector()
        collector.feed(html)
        collector.close()
        self.html = html
        self.elements = collector.elements

    def find_all(self, tag: str | None = None, **attrs: str) -> list[Element]:
        """Elements of ``tag`` whose attributes equal ``attrs`` (``class_`` for class)."""
        wanted = {name.rstrip("_").replace("_", "-"): value for name, value in attrs.items()}
        return [
            e
            for e in self.elements
            if (tag is None or e.tag == tag)
            and all(e.attrs.get(name) == value for name, value in wanted.items())
        ]

    def by_id(self, element_id: str) -> Element:
        found = [e for e in self.elements if e.attrs.get("id") == element_id]
        assert len(found) == 1, f"{len(found)} elements with id {element_id!r}"
        return found[0]

    def text(self, element_id: str) -> str:
        return self.by_id(element_id).text
