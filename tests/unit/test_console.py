"""What the participant sees: safe text and the summary line."""

from __future__ import annotations

import io

import pytest

from gambiarra.adapters.console import ConsoleView, clean, summary_line
from gambiarra.domain.events import Outcome
from gambiarra.events import Connected, RoundEnded, RoundStarted


def ended(
    round_: int, outcome: Outcome, tokens: int, first: int | None, duration: int, rate: float,
    **extra: object,
) -> RoundEnded:  # fmt: skip
    return RoundEnded(
        round=round_, outcome=outcome, tokens=tokens, first_token_ms=first,
        duration_ms=duration, tokens_per_second=rate, **extra,  # type: ignore[arg-type]
    )  # fmt: skip


def test_clean_strips_escape_sequences_and_controls_but_keeps_newline_and_tab() -> None:
    hostile = "a\x1b[2J\x1b]0;title\x07b\x1b[31mc\x00\x08\r\td\ne\x9b"
    assert clean(hostile) == "abc\td\ne"


def test_summary_line_shows_tokens_first_token_rate_and_duration() -> None:
    assert summary_line(ended(1, Outcome.FINISHED, 187, 412, 5210, 38.97)) == (
        "✓ rodada 1: 187 tokens · 1º token em 412 ms · 39.0 tokens/s · 5.21 s"
    )


def test_failed_round_summary_carries_the_reason() -> None:
    line = summary_line(ended(2, Outcome.FAILED, 2, 10, 30, 0.0, error="boom"))
    assert line.startswith("✗ rodada 2 falhou: boom")


def test_view_streams_text_then_puts_the_summary_on_its_own_line() -> None:
    out = io.StringIO()
    view = ConsoleView(out)
    view.show(RoundStarted(round=1, prompt="p", max_tokens=10, temperature=0.5))
    view.token("Era")
    view.token(" uma\x1b[31m")
    view.show(ended(1, Outcome.FINISHED, 2, 1, 2, 1.0))
    lines = out.getvalue().splitlines()
    assert lines[1] == "Era uma"
    assert lines[2].startswith("✓ rodada 1")


def test_close_ends_a_partial_line_and_a_dimmed_thought_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    out = io.StringIO()
    view = ConsoleView(out, dim=True)
    view.reasoning("pensando")
    view.close()
    assert out.getvalue() == "\x1b[2m💭 pensando\x1b[0m\n"
    view.close()
    assert out.getvalue() == "\x1b[2m💭 pensando\x1b[0m\n"


def test_close_after_a_whole_line_writes_nothing() -> None:
    out = io.StringIO()
    view = ConsoleView(out)
    view.show(Connected(first=True))
    view.close()
    assert out.getvalue() == "✓ registrado na arena; aguardando o desafio...\n"


def test_no_color_turns_the_dim_reasoning_into_plain_text(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    out = io.StringIO()
    view = ConsoleView(out, dim=True)
    view.reasoning("pensando")
    view.token("Era")
    assert out.getvalue() == "💭 pensando\nEra"


def test_every_outcome_has_a_summary_line() -> None:
    """A round cut because the outbox filled is summed up like any other."""
    for outcome in Outcome:
        line = summary_line(ended(3, outcome, 5, 100, 1000, 5.6, error="x"))
        assert "rodada 3" in line
