"""SVG drawings found in answers, completed when the model stopped mid-way."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from gambiarra.domain.svg import SvgWatch, extract_svg


def test_a_whole_drawing_is_cut_out_of_the_prose_around_it() -> None:
    answer = 'Aqui está:\n```svg\n<svg viewBox="0 0 9 9"><circle r="2"/></svg>\n```\nGostou?'
    assert extract_svg(answer) == '<svg viewBox="0 0 9 9"><circle r="2"/></svg>'


@pytest.mark.parametrize(
    ("truncated", "closed"),
    [
        ('<svg><g><rect x="1"/><circle cx="5', '<svg><g><rect x="1"/></g></svg>'),
        ("<svg><g><text>olá mun", "<svg><g><text>olá mun</text></g></svg>"),
        ("<svg><g></g><path d='M0 0'", "<svg><g></g></svg>"),
        ("<svg><!-- nota --><g>", "<svg><!-- nota --><g></g></svg>"),
        (
            "<svg><defs><linearGradient id='a'><stop/></linearGradient",
            "<svg><defs><linearGradient id='a'><stop/></linearGradient></defs></svg>",
        ),
    ],
)  # fmt: skip
def test_a_truncated_drawing_is_closed_properly(truncated: str, closed: str) -> None:
    result = extract_svg("Desenho: " + truncated)
    assert result == closed
    ET.fromstring(result)  # well-formed XML


def test_no_drawing_or_only_half_an_opening_tag_gives_none() -> None:
    assert extract_svg("só texto, sem desenho") is None
    assert extract_svg('<svg xmlns="http://www.w3.org/2000/sv') is None


def watch_all(*pieces: str) -> tuple[SvgWatch, list[int | None]]:
    watch = SvgWatch()
    return watch, [watch.feed(p) for p in pieces]


@pytest.mark.parametrize(
    ("pieces", "cut"),
    [
        (["<svg>", "<g/>", "</svg>", " fim"], [None, None, 6, None]),
        (["<svg><g/></s", "vg> fim"], [None, 3]),
        (["<", "/", "s", "v", "g", ">"], [None] * 6),  # no opening: nothing closes
        (["<sv", "g><g/><", "/SVG  >!"], [None, None, 7]),
        (["texto <svg", ">", "</svg>"], [None, None, 6]),
    ],
)
def test_the_watch_finds_where_the_drawing_closes_however_it_is_split(
    pieces: list[str], cut: list[int | None]
) -> None:
    _, found = watch_all(*pieces)
    assert found == cut


def test_the_watch_reports_the_close_once_and_remembers_the_opening() -> None:
    watch, found = watch_all("a <svg>", "</svg>", "<svg></svg>")
    assert found == [None, 6, None]
    assert watch.opened
    assert watch.closed


def test_the_watch_keeps_only_a_short_tail_of_a_long_answer() -> None:
    watch = SvgWatch()
    watch.feed("<svg>")
    for _ in range(10_000):
        assert watch.feed("<rect/>" * 10) is None
    assert len(watch._carry) <= 32
    assert watch.feed("</svg>") == 6
