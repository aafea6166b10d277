"""PageState: session events in, one catch-up update per page out (no I/O, no clock)."""

from __future__ import annotations

from typing import Any

from gambiarra.adapters.history_store import HistoryEntry
from gambiarra.adapters.web.page_state import (
    HISTORY_LIMIT,
    LINES_LIMIT,
    PageState,
    Seen,
    history_item,
)
from gambiarra.domain.events import Outcome
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
    Tokens,
    WebViewStarted,
    WorldSummary,
)


def state(**kwargs: Any) -> PageState:
    return PageState(model="qwen3:4b", clock=lambda: "2026-11-25T20:00:00+00:00", **kwargs)


def started(round_: int = 1, prompt: str = "Desenhe um gato") -> RoundStarted:
    return RoundStarted(round=round_, prompt=prompt, max_tokens=400, temperature=0.8)


def ended(round_: int = 1, outcome: Outcome = Outcome.FINISHED) -> RoundEnded:
    return RoundEnded(
        round=round_,
        outcome=outcome,
        tokens=9,
        first_token_ms=120,
        duration_ms=1500,
        tokens_per_second=6.04,
    )


def test_a_new_page_gets_everything_at_once_then_nothing_until_something_changes() -> None:
    page = state()
    page.apply(Connected(first=True))
    page.apply(started())
    page.add_text("Era uma ", reasoning=False)
    page.add_text("vez", reasoning=False, count=2)
    seen = Seen()
    first = page.update(seen)
    assert first is not None
    assert first["reset"] is True
    assert first["round"] == {"round": 1, "prompt": "Desenhe um gato", "drawing": False}
    assert first["answer"] == "Era uma vez"
    assert first["count"] == 3
    assert first["link"] == {
        "state": "connected",
        "text": "✓ registrado na arena; aguardando o desafio...",
    }
    assert first["lines"] == [
        "✓ registrado na arena; aguardando o desafio...",
        "▶ rodada 1: Desenhe um gato",
    ]
    assert page.update(seen) is None


def test_text_is_sent_once_from_where_the_page_stopped() -> None:
    page = state()
    page.apply(started())
    seen = Seen()
    page.add_text("Era", reasoning=False)
    assert page.update(seen) == {
        "reset": True,
        "round": {"round": 1, "prompt": "Desenhe um gato", "drawing": False},
        "count": 1,
        "link": {"state": "starting", "text": ""},
        "history": 0,
        "answer": "Era",
        "lines": ["▶ rodada 1: Desenhe um gato"],
    }
    page.add_text(" uma", reasoning=False)
    page.apply(Reasoning(round=1, text="hmm"))
    assert page.update(seen) == {"count": 2, "answer": " uma", "reasoning": "hmm"}


def test_a_page_that_fell_behind_gets_one_update_with_all_it_missed() -> None:
    page = state()
    page.apply(started())
    seen = Seen()
    page.update(seen)
    for piece in ["a", "b", "c", "d"]:
        page.add_text(piece, reasoning=False)
    page.apply(Disconnected(reason="caiu", generating=True))
    page.apply(Connected(first=False))
    update = page.update(seen)
    assert update is not None
    assert update["answer"] == "abcd"
    assert update["link"]["state"] == "connected"
    assert update["lines"] == ["⚠ caiu; o modelo continua e os tokens ficam guardados",
                               "✓ de volta à arena"]  # fmt: skip


def test_only_the_latest_lines_wait_for_a_page_that_is_far_behind() -> None:
    page = state()
    seen = Seen()
    for attempt in range(LINES_LIMIT + 5):
        page.apply(Retrying(delay_s=1.0, attempt=attempt, reason=f"recusou {attempt}"))
    update = page.update(seen)
    assert update is not None
    assert len(update["lines"]) == LINES_LIMIT
    assert update["lines"][-1].startswith(f"⚠ recusou {LINES_LIMIT + 4}")
    assert update["link"]["state"] == "retrying"


def test_a_new_round_starts_the_page_over() -> None:
    page = state()
    page.apply(started(1))
    page.add_text("primeira", reasoning=False)
    page.apply(ended(1))
    seen = Seen()
    page.update(seen)
    page.apply(started(2, "Outro"))
    page.add_text("segunda", reasoning=False)
    update = page.update(seen)
    assert update is not None
    assert update["reset"] is True
    assert update["round"]["round"] == 2
    assert update["answer"] == "segunda"
    assert "figures" not in update  # the last round's figures went with it


def test_the_drawing_is_sent_sanitised_and_closed_once_per_refresh() -> None:
    page = state()
    page.apply(started())
    seen = Seen()
    page.update(seen)
    page.add_text("Aqui: <s", reasoning=False)
    page.add_text('vg onload="x()"><circle r="4" onclick="y()"/><rect wid', reasoning=False)
    page.refresh_drawing()
    update = page.update(seen)
    assert update is not None
    assert update["svg"] == '<svg xmlns="http://www.w3.org/2000/svg"><circle r="4"/></svg>'
    page.refresh_drawing()  # nothing new: nothing sent
    assert page.update(seen) is None
    page.add_text('th="2"/></svg>', reasoning=False)
    page.refresh_drawing()
    update = page.update(seen)
    assert update is not None
    assert update["svg"].endswith('<circle r="4"/><rect width="2"/></svg>')


def test_a_drawing_round_is_marked_and_a_page_joining_late_gets_the_drawing() -> None:
    page = state()
    page.apply(started(3))
    page.apply(DrawingRound(round=3))
    page.add_text('<svg><rect width="1"/>', reasoning=False)
    page.refresh_drawing()
    update = page.update(Seen())
    assert update is not None
    assert update["round"]["drawing"] is True
    assert update["svg"].startswith("<svg")


def test_an_ended_round_shows_its_figures_and_enters_the_history_with_its_drawing() -> None:
    page = state()
    page.apply(started())
    page.add_text('<svg><circle r="4"/></svg>', reasoning=False)
    page.apply(ended())
    update = page.update(Seen())
    assert update is not None
    assert update["figures"]["summary"] == (
        "✓ rodada 1: 9 tokens · 1º token em 120 ms · 6.0 tokens/s · 1.50 s"
    )
    assert update["history"] == 1
    [kept] = page.history()
    assert kept["prompt"] == "Desenhe um gato"
    assert kept["svg"] == '<svg xmlns="http://www.w3.org/2000/svg"><circle r="4"/></svg>'
    assert kept["this_session"] is True
    assert kept["model"] == "qwen3:4b"
    assert kept["played_at"] == "2026-11-25T20:00:00+00:00"


def test_the_history_puts_this_session_first_and_keeps_the_newest() -> None:
    past = [{"round": n, "this_session": False} for n in range(HISTORY_LIMIT)]
    page = state(past=past)
    page.apply(started(7))
    page.apply(ended(7))
    rounds = page.history()
    assert len(rounds) == HISTORY_LIMIT
    assert rounds[0]["round"] == 7
    assert rounds[1] == past[0]


def test_pulses_have_their_own_list_and_the_score_follows_the_arena() -> None:
    page = state()
    seen = Seen()
    page.apply(
        Pulse(pulse=7, radar="comida a NE", direction="NE", say="<b>indo</b>", took_s=0.84,
              fallback=False, score=2)
    )  # fmt: skip
    page.apply(WorldSummary(pulses=1, score=3, average_decision_s=0.8, fallbacks=0, errors=0))
    update = page.update(seen)
    assert update is not None
    assert update["pulses"] == [
        {"pulse": 7, "radar": "comida a NE", "direction": "NE", "say": "<b>indo</b>",
         "took_s": 0.8, "fallback": False, "score": 2}
    ]  # fmt: skip
    assert update["score"] == 3
    assert not any(line.startswith("📡") for line in update["lines"])


def test_tokens_as_events_count_like_tokens_told_directly() -> None:
    page = state()
    page.apply(started())
    page.apply(Tokens(round=1, text="abc", count=3))
    page.apply(WebViewStarted(url="http://127.0.0.1:8000/"))
    update = page.update(Seen())
    assert update is not None
    assert update["answer"] == "abc"
    assert update["count"] == 3
    assert update["lines"][-1] == "🌐 página ao vivo em http://127.0.0.1:8000/"


def test_a_stored_round_is_shown_with_its_drawing_clean_and_its_figures_in_words() -> None:
    entry = HistoryEntry(
        played_at="2026-11-20T20:00:00+00:00",
        arena_url="ws://arena/ws",
        round=4,
        prompt="Desenhe",
        answer="x",
        outcome="deadline",
        model="mock",
        runner="mock",
        tokens=12,
        duration_ms=900,
        svg='<svg onload="alert(1)"><script>alert(2)</script><rect width="3"/></svg>',
        id=9,
    )
    item = history_item(entry)
    assert item["svg"] == '<svg xmlns="http://www.w3.org/2000/svg"><rect width="3"/></svg>'
    assert item["summary"].startswith("⏱ rodada 4 (prazo esgotado): 12 tokens")
    assert item["id"] == 9
    assert item["this_session"] is False


def test_the_arena_address_is_shown_without_user_info() -> None:
    page = state()
    page.apply(Connecting(url="ws://ana:segredo@10.0.0.5:3000/ws?x=1", nickname="Ana"))
    update = page.update(Seen())
    assert update is not None
    assert update["lines"] == ["conectando em ws://10.0.0.5:3000/ws como Ana..."]
    assert update["link"]["state"] == "connecting"
