"""Make a model's SVG safe to show in a browser: an allowlist, rebuilt from scratch.

Model output is untrusted. Rather than strip what is known to be dangerous,
the drawing is parsed leniently (models write broken markup) and written out
again with only allowed elements and attributes, every value escaped:

- no ``script``, ``foreignObject``, ``iframe``, ``image`` or anything not on
  the element list (their content is dropped with them);
- no event attributes (``onload``...) or anything not on the attribute list;
- no external references: ``href`` only to ``#fragment`` inside the drawing,
  and ``url(...)`` in attributes or ``style`` only to ``#fragment``;
- no ``style`` element; the ``style`` attribute keeps only declarations of
  the properties on the attribute list, without CSS escapes or ``image-set``.

The result is a standalone, well-formed ``<svg>`` document (or ``""`` when
nothing is left), so that a browser shows it as an image: ``xlink:href`` is
written as SVG 2's ``href``, a repeated attribute keeps its first value, and
characters XML forbids are dropped.
"""

from __future__ import annotations

import re
from html import escape
from html.parser import HTMLParser

__all__ = ["sanitize_svg"]

# SVG is case-sensitive; the HTML parser lowercases, so canonical names come back from here.
_ELEMENTS = {
    name.lower(): name
    for name in [
        "svg",
        "g",
        "defs",
        "symbol",
        "use",
        "title",
        "desc",
        "path",
        "rect",
        "circle",
        "ellipse",
        "line",
        "polyline",
        "polygon",
        "text",
        "tspan",
        "textPath",
        "linearGradient",
        "radialGradient",
        "stop",
        "clipPath",
        "mask",
        "pattern",
        "marker",
    ]
}
_ATTRIBUTES = {
    name.lower(): name
    for name in [
        "id",
        "class",
        "x",
        "y",
        "x1",
        "y1",
        "x2",
        "y2",
        "cx",
        "cy",
        "r",
        "rx",
        "ry",
        "width",
        "height",
        "d",
        "points",
        "transform",
        "viewBox",
        "preserveAspectRatio",
        "fill",
        "fill-opacity",
        "fill-rule",
        "stroke",
        "stroke-width",
        "stroke-opacity",
        "stroke-linecap",
        "stroke-linejoin",
        "stroke-dasharray",
        "stroke-dashoffset",
        "stroke-miterlimit",
        "opacity",
        "font-family",
        "font-size",
        "font-weight",
        "font-style",
        "text-anchor",
        "dominant-baseline",
        "letter-spacing",
        "offset",
        "stop-color",
        "stop-opacity",
        "gradientUnits",
        "gradientTransform",
        "spreadMethod",
        "fx",
        "fy",
        "patternUnits",
        "patternContentUnits",
        "clip-path",
        "clip-rule",
        "mask",
        "markerWidth",
        "markerHeight",
        "refX",
        "refY",
        "orient",
        "marker-start",
        "marker-mid",
        "marker-end",
        "visibility",
        "display",
        "xmlns",
        "version",
        "dx",
        "dy",
        "rotate",
        "startOffset",
        "href",
        "xlink:href",
        "style",
    ]
}
# Elements that have no children in a drawing: written self-closed whatever the input says.
_VOID = {"stop", "use", "path", "rect", "circle", "ellipse", "line", "polyline", "polygon"}
_TEXT = {"text", "tspan", "textPath", "title", "desc"}
_URL = re.compile(r"url\(\s*['\"]?\s*([^)'\"\s]*)", re.IGNORECASE)
# A backslash starts a CSS escape (``u\\72l(`` is ``url(``); image-set() and src() take URLs.
_UNSAFE_CSS = re.compile(
    r"expression|javascript:|@import|behavior|-moz-binding|image-set|\bsrc\s*\(|\\",
    re.IGNORECASE,
)
# What XML 1.0 forbids (a drawing with one of these does not render at all).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_SVG_NS = "http://www.w3.org/2000/svg"
_NOT_CSS = {"href", "xlink:href", "style", "xmlns", "id", "class"}  # attributes, not properties


def sanitize_svg(source: str) -> str:
    """The drawing rebuilt with allowed elements and attributes only (see module rules)."""
    builder = _Builder()
    builder.feed(source)
    builder.close()
    return builder.result()


def _safe_value(name: str, value: str) -> str | None:
    if name in ("href", "xlink:href"):
        return value if value.startswith("#") else None
    if name == "style":
        return _safe_style(value)
    if name == "xmlns":
        return _SVG_NS
    if any(not target.startswith("#") for target in _URL.findall(value)):
        return None  # url(http://...) would fetch from outside
    if _UNSAFE_CSS.search(value):
        return None
    return value


def _safe_style(style: str) -> str | None:
    kept = []
    for declaration in style.split(";"):
        prop, colon, value = declaration.partition(":")
        prop = prop.strip().lower()
        known = colon and prop in _ATTRIBUTES and prop not in _NOT_CSS
        if known and _safe_value(prop, value) is not None:
            kept.append(f"{prop}: {value.strip()}")
    return "; ".join(kept) or None


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._out: list[str] = []
        self._open: list[str] = []  # allowed elements open, innermost last
        self._skipping = 0  # depth inside a dropped element: its content goes too
        self._seen_svg = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, attrs, closed=False)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, attrs, closed=True)

    def handle_endtag(self, tag: str) -> None:
        if self._skipping:
            self._skipping -= 1
            return
        name = _ELEMENTS.get(tag)
        if name is not None and name in self._open:
            while self._open:
                inner = self._open.pop()
                self._out.append(f"</{inner}>")
                if inner == name:
                    break

    def handle_data(self, data: str) -> None:
        # Only text elements show text; anything else between shapes is noise (or
        # the tail of a tag cut off mid-way).
        if not self._skipping and self._open and self._open[-1] in _TEXT:
            self._out.append(escape(_NOT_XML.sub("", data), quote=False))

    def result(self) -> str:
        while self._open:
            self._out.append(f"</{self._open.pop()}>")
        return "".join(self._out) if self._seen_svg else ""

    def _start(self, tag: str, attrs: list[tuple[str, str | None]], *, closed: bool) -> None:
        name = _ELEMENTS.get(tag)
        if self._skipping or name is None:
            # A dropped element goes with everything inside it.
            self._skipping += 0 if closed else 1
            return
        if not self._open and (name != "svg" or self._seen_svg):
            return  # content outside the drawing is not shown, nor a second drawing
        self._seen_svg = True
        kept = []
        named: set[str] = set()
        for raw, value in attrs:
            # SVG 2's plain href needs no xlink namespace declaration.
            attribute = "href" if raw == "xlink:href" else _ATTRIBUTES.get(raw)
            if attribute is None or value is None or attribute in named:
                continue  # a repeated attribute would make the document ill-formed
            safe = _safe_value(attribute, _NOT_XML.sub("", value))
            if safe is not None:
                named.add(attribute)
                kept.append(f' {attribute}="{escape(safe, quote=True)}"')
        if name == "svg" and not any(a.startswith(" xmlns=") for a in kept):
            kept.insert(0, f' xmlns="{_SVG_NS}"')
        if closed or name in _VOID:  # a shape written HTML-style, without "/>"
            self._out.append(f"<{name}{''.join(kept)}/>")
        else:
            self._out.append(f"<{name}{''.join(kept)}>")
            self._open.append(name)
