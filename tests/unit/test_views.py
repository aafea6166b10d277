"""The views: JSON lines, the live status line, the archive, the fan-out, and closing."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import msgspec
import pytest

import gambiarra.events as gambiarra_events
from gambiarra.adapters.archive import ArchiveView
from gambiarra.adapters.console import (
    ConsoleView,
    colors_allowed,
    summary_line,
    world_summary_line,
)
from gambiarra.adapters.jsonlines import JsonLinesView
from gambiarra.adapters.live import LiveView
from gambiarra.adapters.views import MultiView
from gambiarra.domain.events import Outcome
from gambiarra.domain.metrics import ModelFigures
from gambiarra.events import (
    Connected,
    Disconnected,
    RoundEnded,
    RoundStarted,
    SessionEvent,
    WorldSummary,
)
from gambiarra.ports import HandBack

REQUEST = RoundStarted(
    round=3, prompt="Desenhe um gato", max_tokens=50, temperature=0.5, seed=9, deadline_at=100.0
)


def ended(
    round_: int = 3,
    tokens: int = 2,
    first: int | None = 120,
    outcome: Outcome = Outcome.FINISHED,
    error: str | None = None,
    reasoning_pieces: int = 0,
    model: ModelFigures | None = None,
) -> RoundEnded:
    return RoundEnded(
        round=round_, outcome=outcome, tokens=tokens, first_token_ms=first, duration_ms=900,
        tokens_per_second=12.5, error=error, reasoning_pieces=reasoning_pieces, model=model,
    )  # fmt: skip


DONE = ended()


def test_json_lines_batch_tokens_and_report_the_round() -> None:
    out = io.StringIO()
    view = JsonLinesView(out)
    view.show(Connected(first=True, session_id="s1"))
    view.show(REQUEST)
    view.reasoning("hmm")
    view.token("Miau")
    view.token(" miau")
    view.tick()
    view.token("!")
    view.show(DONE)
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [e["event"] for e in events] == [
        "connected", "round_started", "reasoning", "tokens", "tokens", "round_ended",
    ]  # fmt: skip
    assert events[0] == {
        "event": "connected", "first": True, "resent": 0, "session_id": "s1",
        "joining_world": False,
    }  # fmt: skip
    assert events[3] == {"event": "tokens", "round": 3, "text": "Miau miau", "count": 2}
    assert events[5]["first_token_ms"] == 120
    assert events[5]["outcome"] == "finished"


def test_json_lines_write_the_text_produced_before_any_other_event() -> None:
    out = io.StringIO()
    view = JsonLinesView(out)
    view.show(REQUEST)
    view.token("Era")
    view.show(Disconnected(reason="a conexão caiu", generating=True))  # no tick in between
    kinds = [json.loads(line)["event"] for line in out.getvalue().splitlines()]
    assert kinds == ["round_started", "tokens", "disconnected"]


def test_json_lines_decode_back_into_the_events_they_were() -> None:
    """A reader gets the typed events back: msgspec.json.decode(line, type=SessionEvent)."""
    shown: list[SessionEvent] = [
        REQUEST,
        ended(model=ModelFigures(load_ms=900, prompt_ms=40)),
        ended(outcome=Outcome.FAILED, tokens=0, first=None, error="boom"),
        gambiarra_events.ModelReleased(hand_back=HandBack.UNLOADED),
        WorldSummary(pulses=4, score=2, average_decision_s=0.5, fallbacks=1, errors=0),
    ]
    out = io.StringIO()
    view = JsonLinesView(out)
    for event in shown:
        view.show(event)
    lines = out.getvalue().splitlines()
    decoded = [msgspec.json.decode(line, type=SessionEvent) for line in lines]
    assert decoded == shown
    assert json.loads(lines[2])["error"] == "boom"


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_live_view_draws_a_status_line_at_most_every_interval() -> None:
    now = [10.0]
    out = FakeTerminal()
    view = LiveView(out, clock=lambda: now[0], size=lambda: os.terminal_size((80, 24)))
    view.show(REQUEST)
    drawn = out.getvalue().count("\x1b[24;1H")
    for _ in range(50):  # 50 tokens within the same instant: no redraw
        view.token("x")
    assert out.getvalue().count("\x1b[24;1H") == drawn
    now[0] += 0.11
    view.token("y")
    assert out.getvalue().count("\x1b[24;1H") == drawn + 1
    assert "x" * 50 + "y" in out.getvalue()  # the text itself is never held back
    assert "⏳ 51 tokens" in out.getvalue()
    assert "faltam 90 s" in out.getvalue()
    view.show(DONE)
    assert out.getvalue().count("\x1b[1;23r") == 1  # the bottom row was fenced off
    assert "\x1b[r" in out.getvalue()  # and given back


def test_console_view_shows_reasoning_apart_and_explains_an_empty_answer() -> None:
    out = io.StringIO()
    view = ConsoleView(out)
    view.show(REQUEST)
    view.reasoning("pensando")
    view.show(ended(tokens=0, first=None, reasoning_pieces=4))
    lines = out.getvalue().splitlines()
    assert lines[1] == "💭 pensando"
    assert "resposta vazia" in lines[2]
    assert "\x1b" not in out.getvalue()


def test_summary_mentions_the_thinking_only_when_the_answer_is_empty() -> None:
    assert "resposta vazia" not in summary_line(ended(tokens=3, reasoning_pieces=4))


def test_archive_keeps_the_round_and_a_closed_svg(tmp_path: Path) -> None:
    archive = ArchiveView(str(tmp_path / "rodadas"), "ollama", "llama3.1:8b", clock=lambda: 0.0)
    archive.show(REQUEST)
    for piece in ("Eis:", " <svg viewBox='0 0 9 9'><g>", "<circle r='3'/>", "<rect x='"):
        archive.token(piece)
    archive.reasoning("pensei")
    archive.show(DONE)
    (saved,) = sorted((tmp_path / "rodadas").glob("*.json"))
    record = json.loads(saved.read_text(encoding="utf-8"))
    assert saved.name.endswith("-rodada-0003.json")
    assert record["answer"] == "Eis: <svg viewBox='0 0 9 9'><g><circle r='3'/><rect x='"
    assert record["challenge"]["prompt"] == "Desenhe um gato"
    assert record["metrics"]["tokens"] == 2
    assert (record["runner"], record["model"], record["reasoning"]) == (
        "ollama",
        "llama3.1:8b",
        "pensei",
    )
    svg = saved.with_suffix(".svg").read_text(encoding="utf-8")
    assert svg == "<svg viewBox='0 0 9 9'><g><circle r='3'/></g></svg>"


def test_archive_names_sort_by_time_then_round(tmp_path: Path) -> None:
    times = iter([1_000.0, 1_000.0, 2_000.0])
    archive = ArchiveView(str(tmp_path), "mock", "mock", clock=lambda: next(times))
    for index in (9, 10, 2):
        archive.show(RoundStarted(round=index, prompt="p", max_tokens=5, temperature=0.1))
        archive.show(ended(round_=index, tokens=0, first=None))
    names = sorted(path.name for path in tmp_path.glob("*.json"))
    assert [name[-9:-5] for name in names] == ["0009", "0010", "0002"]


def test_multi_view_fans_out_in_order(tmp_path: Path) -> None:
    screen = io.StringIO()
    view = MultiView([ConsoleView(screen), ArchiveView(str(tmp_path), "mock", "mock")])
    view.show(REQUEST)
    view.token("oi")
    view.show(DONE)
    assert "oi" in screen.getvalue()
    assert len(list(tmp_path.glob("*.json"))) == 1


def live_view(out: io.StringIO, color: bool | None = None) -> LiveView:
    return LiveView(out, clock=lambda: 10.0, size=lambda: os.terminal_size((80, 24)), color=color)


def test_live_view_close_gives_the_terminal_back_mid_round() -> None:
    out = FakeTerminal()
    view = live_view(out, color=True)
    view.show(REQUEST)
    view.reasoning("hmm")  # dimmed, and never ended by a round_ended
    view.close()  # Ctrl-C mid-round
    text = out.getvalue()
    assert text.rindex("\x1b[r") > text.rindex("\x1b[1;23r")  # the region released
    assert text.rindex("\x1b[2K") > text.rindex("⏳")  # the status row cleared
    assert text.rindex("\x1b[0m") > text.rindex("\x1b[2m")  # the dim attribute ended
    assert text.endswith("\n")  # the shell prompt starts on a line of its own
    view.close()
    assert out.getvalue() == text


def test_no_color_means_no_dim_but_the_status_row_stays(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    out = FakeTerminal()
    view = live_view(out)
    view.show(REQUEST)
    view.reasoning("hmm")
    view.show(DONE)
    assert "\x1b[2m" not in out.getvalue()
    assert "\x1b[0m" not in out.getvalue()
    assert "💭 hmm" in out.getvalue()
    assert "\x1b[1;23r" in out.getvalue()  # cursor and region control are not colour


def test_an_empty_no_color_does_not_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "")
    assert colors_allowed()
    assert not colors_allowed({"NO_COLOR": "yes"})
    out = FakeTerminal()
    view = live_view(out)
    view.show(REQUEST)
    view.reasoning("hmm")
    assert "\x1b[2m💭 hmm" in out.getvalue()


def test_json_lines_count_merged_tokens_and_close_writes_what_was_batched() -> None:
    out = io.StringIO()
    view = JsonLinesView(out)
    view.show(REQUEST)
    view.token("Miau miau", 2)  # merged by a slow screen's buffer
    view.token("!")
    view.close()  # Ctrl-C mid-round: the text produced is still reported
    last = json.loads(out.getvalue().splitlines()[-1])
    assert last == {"event": "tokens", "round": 3, "text": "Miau miau!", "count": 3}
    view.close()
    assert len(out.getvalue().splitlines()) == 2


@pytest.mark.anyio
async def test_multi_view_runs_and_closes_every_view(tmp_path: Path) -> None:
    screen = io.StringIO()
    view = MultiView([ConsoleView(screen), ArchiveView(str(tmp_path), "mock", "mock")])
    await view.run()  # neither draws in a task of its own: returns at once
    view.token("oi")
    view.close()
    assert screen.getvalue() == "oi\n"


def test_world_summary_shows_one_score_the_arenas() -> None:
    summary = WorldSummary(pulses=4, score=2, average_decision_s=0.5, fallbacks=0, errors=0)
    line = world_summary_line(summary)
    assert "placar da arena 2" in line
    assert line.count("placar") == 1
