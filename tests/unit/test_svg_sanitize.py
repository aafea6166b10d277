"""The SVG sanitiser: hostile drawings are neutralised, honest ones kept."""

from __future__ import annotations

import pytest

from gambiarra.domain.svg_sanitize import sanitize_svg

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
