"""The SVG sanitiser: hostile drawings are neutralised, honest ones kept."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gambiarra.domain.svg_sanitize import _ATTRIBUTES, _ELEMENTS, sanitize_svg

HOSTILE = [
    ("script element", '<svg><script>alert(1)</script><circle r="5"/></svg>', "alert"),
    ("event attribute", '<svg onload="alert(1)"><rect width="9"/></svg>', "onload"),
    ("event on a shape", '<svg><circle r="5" onclick="steal()"/></svg>', "steal"),
    (
        "foreignObject",
        "<svg><foreignObject><body><img src=x onerror=alert(1)></body></foreignObject></svg>",
        "onerror",
    ),
    ("external href", '<svg><use href="https://evil.test/x.svg#a"/></svg>', "evil.test"),
    ("xlink href", '<svg><use xlink:href="javascript:alert(1)"/></svg>', "javascript"),
    ("image", '<svg><image href="http://evil.test/p.png"/></svg>', "evil.test"),
    ("url() to outside", '<svg><rect fill="url(http://evil.test/#g)"/></svg>', "evil.test"),
    ("style element", "<svg><style>@import url(http://evil.test)</style></svg>", "evil.test"),
    ("style attribute", '<svg><rect style="fill:red;background:url(//evil.test)"/></svg>', "evil"),
    ("css expression", '<svg><rect style="width:expression(alert(1))"/></svg>', "expression"),
    ("iframe", '<svg><iframe src="http://evil.test"></iframe></svg>', "iframe"),
    ("text is text", "<svg><text>&lt;script&gt;alert(1)&lt;/script&gt;</text></svg>", "<script"),
    ("quote breaking", '<svg><rect id="a&quot; onload=&quot;x"/></svg>', '" onload="'),
    ("uppercase event", '<svg ONLOAD="alert(1)"><rect width="9"/></svg>', "alert"),
    ("css escape", r'<svg><rect style="fill:u\72l(http://evil.test/#a)"/></svg>', "evil.test"),
    ("escape in fill", r'<svg><rect fill="u\72l(http://evil.test/#a)"/></svg>', "evil.test"),
    ("entity-encoded url", '<svg><rect fill="&#117;rl(http://evil.test/#a)"/></svg>', "evil"),
    (
        "image-set",
        "<svg><rect style=\"fill:red;background:image-set('http://evil.test/x.png' 1x)\"/></svg>",
        "evil.test",
    ),
    ("css property off the list", "<svg><rect style=\"fill:red;content:'x'\"/></svg>", "content"),
    (
        "xml-stylesheet",
        '<?xml-stylesheet href="http://evil.test/s.css"?><svg><rect/></svg>',
        "evil",
    ),
    ("set onload", '<svg><set attributeName="onload" to="alert(1)"/><rect/></svg>', "alert"),
    (
        "animate a link",
        '<svg><a><animate attributeName="href" to="javascript:alert(1)"/></a><rect/></svg>',
        "javascript",
    ),
    ("data: href", '<svg><use href="data:image/svg+xml,&lt;svg onload=x&gt;"/></svg>', "data:"),
]


@pytest.mark.parametrize(("case", "svg", "banned"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_svg_is_neutralised(case: str, svg: str, banned: str) -> None:
    cleaned = sanitize_svg(svg)
    assert banned not in cleaned
    assert cleaned.startswith("<svg")
    assert cleaned.endswith("</svg>")


def test_an_honest_drawing_keeps_its_shapes_case_and_internal_references() -> None:
    drawing = (
        '<svg viewBox="0 0 10 10" width="100"><defs><linearGradient id="g">'
        '<stop offset="0" stop-color="#f00"/></linearGradient></defs>'
        '<rect width="10" height="10" fill="url(#g)"/><use href="#g"/>'
        '<text x="1" y="9">Olá 🤖 &amp; cia</text></svg>'
    )
    cleaned = sanitize_svg(drawing)
    for kept in ('viewBox="0 0 10 10"', "<linearGradient", 'fill="url(#g)"', 'href="#g"'):
        assert kept in cleaned
    assert "Olá 🤖 &amp; cia" in cleaned
    assert 'xmlns="http://www.w3.org/2000/svg"' in cleaned


def test_a_drawing_cut_mid_way_is_closed_and_prose_around_it_dropped() -> None:
    cleaned = sanitize_svg('Aqui está: <svg><g><circle r="3"/><path d="M0 0 L5')
    assert cleaned == ('<svg xmlns="http://www.w3.org/2000/svg"><g><circle r="3"/></g></svg>')


def test_no_svg_at_all_is_nothing() -> None:
    assert sanitize_svg("só texto <b>negrito</b>") == ""


# Drawings a browser would refuse to show at all if written back as they came.
ILL_FORMED = [
    ("xlink without its namespace", '<svg><circle id="c" r="5"/><use xlink:href="#c"/></svg>'),
    ("a repeated attribute", '<svg viewBox="0 0 1 1" viewbox="0 0 2 2"><rect x="1" x="2"/></svg>'),
    ("both hrefs", '<svg><use href="#a" xlink:href="#b"/></svg>'),
    ("control characters", '<svg><text x="1\x02">a\x01b</text></svg>'),
]


def well_formed(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    return root


@pytest.mark.parametrize(
    "svg",
    [h[1] for h in HOSTILE] + [i[1] for i in ILL_FORMED],
    ids=[*(h[0] for h in HOSTILE), *(i[0] for i in ILL_FORMED)],
)
def test_what_comes_out_is_a_well_formed_svg_document(svg: str) -> None:
    well_formed(sanitize_svg(svg))


def test_xlink_href_becomes_href_and_a_repeated_attribute_keeps_its_first_value() -> None:
    assert sanitize_svg(ILL_FORMED[0][1]).endswith('<use href="#c"/></svg>')
    assert 'viewBox="0 0 1 1"' in sanitize_svg(ILL_FORMED[1][1])
    assert '<rect x="1"/>' in sanitize_svg(ILL_FORMED[1][1])
    assert '<use href="#a"/>' in sanitize_svg(ILL_FORMED[2][1])
    assert '<text x="1">ab</text>' in sanitize_svg(ILL_FORMED[3][1])


# Pieces a model (or an attacker) might write, in any order, cut anywhere.
_PIECES = st.sampled_from(
    [
        "<svg>", '<svg viewBox="0 0 9 9">', "</svg>", "<g>", "</g>", '<rect width="3"/>',
        '<circle r="2" onload="x()">', "<script>alert(1)</script>", "<foreignObject>",
        "</foreignObject>", "<style>", "</style>", '<use xlink:href="#a"/>', '<use href="//x">',
        '<text style="fill:red;background:url(http://e)">', "</text>", "hi & <b>", "<", ">",
        '"', "'", "\x01", "<!-- c -->", "<![CDATA[x]]>", '<a href="javascript:x">', "</a>",
        '<path d="M0 0 L', '<image href="http://e/p.png"/>', "<SVG>", "<Rect/>", "&amp;", "&#",
    ]
)  # fmt: skip
_BANNED_ATTRIBUTES = {"onload", "onclick", "{http://www.w3.org/1999/xlink}href"}


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=30))
def test_any_mix_of_pieces_comes_out_well_formed_and_on_the_lists(pieces: list[str]) -> None:
    cleaned = sanitize_svg("".join(pieces))
    if not cleaned:
        return
    for element in well_formed(cleaned).iter():
        name = element.tag.rpartition("}")[2]
        assert name.lower() in _ELEMENTS
        for attribute, value in element.attrib.items():
            assert attribute not in _BANNED_ATTRIBUTES
            assert attribute.rpartition("}")[2].lower() in _ATTRIBUTES
            if attribute == "href":
                assert value.startswith("#")
            assert "://" not in value


def test_only_the_first_drawing_is_kept() -> None:
    cleaned = sanitize_svg('<svg><rect width="1"/></svg> e outro: <svg><circle r="1"/></svg>')
    assert cleaned == '<svg xmlns="http://www.w3.org/2000/svg"><rect width="1"/></svg>'
