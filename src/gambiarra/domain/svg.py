"""Find the SVG drawing in a model's answer, and close it if the model stopped mid-way.

The arena has "SVG rounds" whose prompt asks for a drawing. Models wrap it in
prose or code fences, and a round that hit its token budget ends mid-tag.
``extract_svg`` returns a well-formed document in every case it can: a
trailing partial tag or attribute is dropped and open elements are closed in
order. ``SvgWatch`` follows an answer piece by piece, so that the round can
stop the model right after its ``</svg>``.
"""

from __future__ import annotations

import re

__all__ = ["SvgWatch", "extract_svg"]

_START = re.compile(r"<svg\b", re.IGNORECASE)
_END = re.compile(r"</svg\s*>", re.IGNORECASE)
# Markup tokens: comments, CDATA, declarations / processing instructions, tags.
_TOKEN = re.compile(
    r"<!--.*?-->|<!\[CDATA\[.*?\]\]>|<[!?][^>]*>|<(/?)([A-Za-z_][\w:.-]*)([^<>]*?)(/?)>",
    re.DOTALL,
)


# Text kept from earlier pieces, so a tag split across pieces is still found.
# "</svg>" needs 6 characters; the rest allows whitespace before its ">".
_CARRY = 32


class SvgWatch:
    """Follows an answer piece by piece: has the drawing opened, and where did it close?

    Only the last ``_CARRY`` characters are kept, whatever the answer's length.
    """

    def __init__(self) -> None:
        self.opened = False
        self.closed = False
        self._carry = ""

    def feed(self, piece: str) -> int | None:
        """Take the next piece; the offset in it just past the ``</svg>`` that closes the
        drawing, the first time the drawing closes, else None."""
        if self.closed:
            return None
        window = self._carry + piece
        start = 0
        if not self.opened:
            opening = _START.search(window)
            if opening is None:
                self._carry = window[-_CARRY:]
                return None
            self.opened, start = True, opening.end()
        end = _END.search(window, start)
        if end is None:
            self._carry = window[-_CARRY:]
            return None
        self.closed = True
        # The carry was searched before, so the match ends inside this piece.
        return end.end() - len(self._carry)


def extract_svg(answer: str) -> str | None:
    """The first ``<svg>`` drawing in the answer, completed if truncated; None if absent."""
    start = _START.search(answer)
    if start is None:
        return None
    end = _END.search(answer, start.end())
    if end is not None:
        return answer[start.start() : end.end()]
    return _close(answer[start.start() :])


def _close(fragment: str) -> str | None:
    open_tags: list[str] = []
    kept = 0
    for match in _TOKEN.finditer(fragment):
        closing, name, _, self_closing = match.groups()
        kept = match.end()
        if name is None or self_closing:
            continue
        if closing:
            if name in open_tags:
                del open_tags[len(open_tags) - 1 - open_tags[::-1].index(name) :]
        else:
            open_tags.append(name)
    if not kept:
        return None  # the model stopped inside the <svg ...> tag itself: nothing to draw
    body = fragment[:kept] + _text_tail(fragment[kept:])
    return body + "".join(f"</{name}>" for name in reversed(open_tags))


def _text_tail(rest: str) -> str:
    """Text after the last whole tag, minus any tag the model had only begun."""
    cut = rest.find("<")
    return rest if cut < 0 else rest[:cut]
