"""PageState: what the live page shows, built from session events, and what each page lacks.

No I/O here. The web view feeds events in (``apply``, ``add_text``) from its
own task and asks, for each connected page, for the one update that brings
that page up to date (``update``): a page that fell behind gets one bigger
update, never a queue of small ones, so a slow browser costs no memory.

Model output and arena text are untrusted. Drawings leave this module only
through ``sanitize_svg``; everything else leaves as JSON strings, which the
page sets with ``textContent`` (never as HTML). The Portuguese lines are the
console's own (``EventLines``, ``summary_line``).
"""

from __future__ import annotations

import datetime
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from gambiarra.adapters.console import EventLines, summary_line
from gambiarra.adapters.history_store import HistoryEntry, public_url
from gambiarra.domain.events import Outcome
from gambiarra.domain.svg import extract_svg
from gambiarra.domain.svg_sanitize import sanitize_svg
from gambiarra.events import (
    Connected,
    Connecting,
    Disconnected,
    DrawingRound,
    Pulse,
    Reasoning,
    Retrying,
    RoundEnded,
    RoundStarted,
    SessionEnded,
    SessionEvent,
    SessionReplaced,
    Tokens,
    WorldSummary,
)

# ~64 KB of SVG sanitises in ~50 ms here; 2 MB in ~0.8 s: a pause the arena link would feel.
LIVE_DRAWING_CHARS = 64 * 1024
DRAWING_CHARS = 512 * 1024

__all__ = ["HISTORY_LIMIT", "PageState", "Seen", "drawing_of", "history_item"]

LINES_LIMIT = 60  # state lines a page keeps
PULSES_LIMIT = 40  # world decisions a page keeps
HISTORY_LIMIT = 20  # rounds in the page's history
HISTORY_TEXT_LIMIT = 20_000  # characters of an answer shown in the history

# Slots that belong to the current round: a new round starts them over.
_ROUND_SLOTS = ("round", "count", "svg", "figures")
_GLOBAL_SLOTS = ("link", "score", "history")


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def drawing_of(answer: str, svg: str | None = None) -> str | None:
    """The answer's drawing, closed if cut and sanitised; None when there is none."""
    source = svg if svg is not None else extract_svg(answer)
    if source is None:
        return None
    return sanitize_svg(source) or None


def history_item(entry: HistoryEntry) -> dict[str, Any]:
    """One stored round as the page shows it: figures in the console's words, drawing clean."""
    try:
        outcome = Outcome(entry.outcome)
    except ValueError:
        outcome = Outcome.FAILED
    ended = RoundEnded(
        round=entry.round,
        outcome=outcome,
        tokens=entry.tokens,
        first_token_ms=entry.first_token_ms,
        duration_ms=entry.duration_ms,
        tokens_per_second=entry.tokens_per_second,
        error=entry.error,
    )
    return {
        "id": entry.id,
        "played_at": entry.played_at,
        "round": entry.round,
        "prompt": entry.prompt,
        "answer": _shortened(entry.answer),
        "model": entry.model,
        "outcome": entry.outcome,
        "summary": summary_line(ended),
        "svg": drawing_of(entry.answer, entry.svg),
        "this_session": False,
    }


def _shortened(text: str) -> str:
    return text if len(text) <= HISTORY_TEXT_LIMIT else text[:HISTORY_TEXT_LIMIT] + "…"


@dataclass(slots=True)
class Seen:
    """What one page was sent so far: slot versions, text offsets, list totals."""

    epoch: int = -1  # the round the page shows (PageState's counter)
    versions: dict[str, int] = field(default_factory=dict)
    answer: int = 0
    reasoning: int = 0
    lines: int = 0
    pulses: int = 0


class PageState:
    """The page's content: the current round, the link, the world, the history.

    Args:
        model: the model's name, for this session's rounds in the history.
        past: rounds played before this session (newest first), as ``history_item``.
        clock: wall time as ISO 8601, for this session's rounds.
    """

    def __init__(
        self,
        model: str = "",
        past: Iterable[dict[str, Any]] = (),
        clock: Callable[[], str] = _now,
    ) -> None:
        self.version = 0  # bumped by every change: pages compare nothing else
        self._model = model
        self._clock = clock
        self._lines_of = EventLines()
        self._slots: dict[str, tuple[int, Any]] = {}
        self._epoch = 0
        self._answer = ""
        self._reasoning = ""
        self._count = 0
        self._drawing = False  # the arena said so, or the answer opened an <svg
        self._drawn_at = 0  # answer length when the drawing was last sanitised
        self._lines: deque[str] = deque(maxlen=LINES_LIMIT)
        self._lines_total = 0
        self._pulses: deque[dict[str, Any]] = deque(maxlen=PULSES_LIMIT)
        self._pulses_total = 0
        self._session: list[dict[str, Any]] = []  # this session's rounds, newest first
        self._past = list(past)[:HISTORY_LIMIT]
        self._set("link", {"state": "starting", "text": ""})
        self._set("history", 0)

    # ------------------------------------------------------------ in

    def apply(self, event: SessionEvent) -> None:
        """One session event (answer text may also come as ``Tokens``/``Reasoning``)."""
        if isinstance(event, Tokens):
            self.add_text(event.text, reasoning=False, count=event.count)
            return
        if isinstance(event, Reasoning):
            self.add_text(event.text, reasoning=True)
            return
        if isinstance(event, Connecting):  # a page may be open to the network
            event = Connecting(url=public_url(event.url), nickname=event.nickname)
        if isinstance(event, RoundStarted):
            self._start(event)
        elif isinstance(event, DrawingRound) and self._current_round() == event.round:
            self._drawing = True
            self._set("round", {**self._slots["round"][1], "drawing": True})
        elif isinstance(event, RoundEnded):
            self._end(event)
        elif isinstance(event, Pulse):
            self._pulse(event)
        elif isinstance(event, WorldSummary):
            self._set("score", event.score)
        line = self._lines_of.line(event)  # once: it remembers what it said
        link = _link_state(event)
        if link is not None:
            self._set("link", {"state": link, "text": line or ""})
        if line is not None and not isinstance(event, Pulse):  # pulses have their own list
            self._lines.append(line)
            self._lines_total += 1
            self._bump()

    def add_text(self, text: str, *, reasoning: bool, count: int = 1) -> None:
        """Answer text (``count`` model tokens) or reasoning of the current round."""
        if not text:
            return
        if reasoning:
            self._reasoning += text
        else:
            self._answer += text
            self._count += count
            self._set("count", self._count)
            if not self._drawing and "<svg" in self._answer[-len(text) - 4 :].lower():
                self._drawing = True
        self._bump()

    @property
    def drawing_stale(self) -> bool:
        """The drawing grew since it was last sanitised."""
        return self._drawing and self._drawn_at != len(self._answer)

    def refresh_drawing(self, *, final: bool = False) -> None:
        """Sanitise the drawing as it stands (the view paces this: it costs a parse).

        The parse runs on the loop that carries the arena link, so a drawing
        past ``LIVE_DRAWING_CHARS`` is drawn once, when the round ends, and one
        past ``DRAWING_CHARS`` not at all.
        """
        if not self.drawing_stale:
            return
        size = len(self._answer)
        if size > (DRAWING_CHARS if final else LIVE_DRAWING_CHARS):
            return
        self._drawn_at = len(self._answer)
        svg = drawing_of(self._answer)
        if svg is not None and svg != self._slot("svg"):
            self._set("svg", svg)

    # ------------------------------------------------------------ out

    def update(self, seen: Seen) -> dict[str, Any] | None:
        """What the page that has ``seen`` lacks, as one JSON-able dict (None: nothing).

        ``seen`` is brought up to date. Keys: ``reset`` (a new round: clear it),
        the slots (``round``, ``count``, ``svg``, ``figures``, ``link``,
        ``score``, ``history``: replace), ``answer``/``reasoning`` (append),
        ``lines``/``pulses`` (append).
        """
        out: dict[str, Any] = {}
        if seen.epoch != self._epoch:
            out["reset"] = True
            seen.epoch, seen.answer, seen.reasoning = self._epoch, 0, 0
            for name in _ROUND_SLOTS:
                seen.versions.pop(name, None)
        for name in (*_ROUND_SLOTS, *_GLOBAL_SLOTS):
            version, value = self._slots.get(name, (0, None))
            if version != seen.versions.get(name, 0):
                seen.versions[name] = version
                out[name] = value
        if len(self._answer) > seen.answer:
            out["answer"] = self._answer[seen.answer :]
            seen.answer = len(self._answer)
        if len(self._reasoning) > seen.reasoning:
            out["reasoning"] = self._reasoning[seen.reasoning :]
            seen.reasoning = len(self._reasoning)
        if self._lines_total > seen.lines:
            out["lines"] = _tail(self._lines, self._lines_total - seen.lines)
            seen.lines = self._lines_total
        if self._pulses_total > seen.pulses:
            out["pulses"] = _tail(self._pulses, self._pulses_total - seen.pulses)
            seen.pulses = self._pulses_total
        return out or None

    def history(self) -> list[dict[str, Any]]:
        """The page's history: this session's rounds, then earlier ones, newest first."""
        return (self._session + self._past)[:HISTORY_LIMIT]

    # ------------------------------------------------------------ internals

    def _start(self, event: RoundStarted) -> None:
        self._epoch += 1
        self._answer, self._reasoning, self._count = "", "", 0
        self._drawing, self._drawn_at = False, 0
        for name in _ROUND_SLOTS:
            self._slots.pop(name, None)
        self._set("round", {"round": event.round, "prompt": event.prompt, "drawing": False})

    def _end(self, event: RoundEnded) -> None:
        figures = {
            "outcome": event.outcome.value,
            "tokens": event.tokens,
            "first_token_ms": event.first_token_ms,
            "tokens_per_second": round(event.tokens_per_second, 1),
            "duration_ms": event.duration_ms,
            "summary": summary_line(event),
        }
        self._set("figures", figures)
        if self._current_round() != event.round:
            return  # no RoundStarted seen for it: nothing to keep
        self.refresh_drawing(final=True)
        self._session.insert(
            0,
            {
                "id": None,
                "played_at": self._clock(),
                "round": event.round,
                "prompt": self._slots["round"][1]["prompt"],
                "answer": _shortened(self._answer),
                "model": self._model,
                "outcome": event.outcome.value,
                "summary": figures["summary"],
                "svg": self._slot("svg") if self._drawing else None,
                "this_session": True,
            },
        )
        del self._session[HISTORY_LIMIT:]
        self._set("history", self._slots["history"][1] + 1)

    def _pulse(self, event: Pulse) -> None:
        self._pulses.append(
            {
                "pulse": event.pulse,
                "radar": event.radar,
                "direction": event.direction,
                "say": event.say,
                "took_s": round(event.took_s, 1),
                "fallback": event.fallback,
                "score": event.score,
            }
        )
        self._pulses_total += 1
        self._set("score", event.score)

    def _current_round(self) -> int | None:
        current = self._slot("round")
        return None if current is None else int(current["round"])

    def _slot(self, name: str) -> Any:
        return self._slots.get(name, (0, None))[1]

    def _set(self, name: str, value: Any) -> None:
        self._bump()
        self._slots[name] = (self.version, value)

    def _bump(self) -> None:
        self.version += 1


def _tail(items: deque[Any], count: int) -> list[Any]:
    """The last ``count`` items (fewer when older ones already left the deque)."""
    kept = list(items)
    return kept[max(0, len(kept) - count) :]


def _link_state(event: SessionEvent) -> str | None:
    """The link light the page shows: connecting, connected, disconnected, retrying, ended."""
    match event:
        case Connecting():
            return "connecting"
        case Connected():
            return "connected"
        case Disconnected():
            return "disconnected"
        case Retrying() | SessionReplaced():
            return "retrying"
        case SessionEnded():
            return "ended"
    return None
