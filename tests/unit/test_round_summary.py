"""The round summary line separates the model server's own figures from the client's."""

from __future__ import annotations

from typing import Any

from gambiarra.adapters.console import model_figures, summary_line
from gambiarra.domain.events import Outcome
from gambiarra.domain.metrics import ModelFigures
from gambiarra.events import RoundEnded

METRICS: dict[str, Any] = {
    "tokens": 9, "first_token_ms": 7420, "duration_ms": 7560, "tokens_per_second": 64.0,
}  # fmt: skip


def test_a_round_slowed_by_loading_says_so() -> None:
    figures = ModelFigures(load_ms=6934, prompt_ms=342)
    ended = RoundEnded(round=1, outcome=Outcome.FINISHED, **METRICS, model=figures)
    line = summary_line(ended)
    assert line.startswith("✓ rodada 1: 9 tokens · 1º token em 7420 ms")
    assert line.endswith(
        "· modelo: carga 6.9 s, prompt 342 ms (o 1º token esperou o modelo carregar)"
    )
    assert "\n" not in line


def test_a_warm_model_shows_only_its_prompt_time() -> None:
    assert model_figures(ModelFigures(load_ms=21, prompt_ms=41)) == "modelo: prompt 41 ms"
    assert model_figures(ModelFigures(prompt_ms=41, generation_ms=62)) == "modelo: prompt 41 ms"


def test_without_the_servers_figures_the_line_is_as_before() -> None:
    line = summary_line(RoundEnded(round=1, outcome=Outcome.FINISHED, **METRICS))
    assert "modelo:" not in line
    assert model_figures(None) is None
    assert model_figures(ModelFigures()) is None


def test_a_drawing_stopped_at_its_closing_tag_is_told() -> None:
    line = summary_line(
        RoundEnded(round=1, outcome=Outcome.FINISHED, **METRICS, drawing_closed=True)
    )
    assert line.endswith("· desenho fechado no </svg>")
