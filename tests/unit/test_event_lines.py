"""The console's words for each event: every event has a line or is silent on purpose."""

from __future__ import annotations

import typing

import pytest

from gambiarra.adapters.console import EventLines
from gambiarra.domain.events import Outcome
from gambiarra.events import (
    AnswerRecorded,
    ArenaWarned,
    CheckingModel,
    Connected,
    Connecting,
    Disconnected,
    DrawingOpen,
    DrawingRound,
    LateJoin,
    LoadingModel,
    ModelLoaded,
    ModelReleased,
    Pulse,
    Reasoning,
    Retrying,
    RoundEnded,
    RoundStarted,
    SessionEnded,
    SessionEvent,
    SessionReplaced,
    Skipped,
    TemplateWarning,
    Tokens,
    WebViewFailed,
    WebViewStarted,
    WorldStopped,
    WorldSummary,
)
from gambiarra.ports import HandBack

# One example of each event, with the line the participant reads (None: no line).
EXAMPLES: list[tuple[SessionEvent, str | None]] = [
    (CheckingModel(model="qwen3:4b", runner="ollama"), "verificando o modelo qwen3:4b (ollama)..."),
    (LoadingModel(model="qwen3:4b"), "carregando o modelo qwen3:4b (pode levar até um minuto)..."),
    (ModelLoaded(seconds=3.14, was_loaded=False), "✓ modelo carregado em 3.1 s"),
    (ModelReleased(hand_back=HandBack.AS_ASKED),
     "o modelo fica carregado pelo tempo de --keep-alive"),
    (ModelReleased(hand_back=HandBack.UNTOUCHED), None),
    (Connecting(url="ws://arena/ws", nickname="Ana"), "conectando em ws://arena/ws como Ana..."),
    (Connected(first=True), "✓ registrado na arena; aguardando o desafio..."),
    (Disconnected(reason="a conexão com a arena caiu (código 1001)"),
     "⚠ a conexão com a arena caiu (código 1001)"),
    (Retrying(delay_s=0.5, attempt=1, reason="a arena está ocupada (HTTP 503)"),
     "⚠ a arena está ocupada (HTTP 503); tentando de novo em 0.5 s"),
    (SessionReplaced(), "a organização abriu uma nova sessão; reconectando"),
    (ArenaWarned(message="No active session"), "a arena avisou: No active session"),
    (LateJoin(round=3, left_ms=27_400), "entrando na rodada 3 já em andamento; faltam 27 s"),
    (RoundStarted(round=3, prompt="Um haicai", max_tokens=9, temperature=0.5),
     "▶ rodada 3: Um haicai"),
    (DrawingRound(round=3), "🎨 rodada de desenho: a resposta termina no </svg>"),
    (Tokens(round=3, text="Era"), None),
    (Reasoning(round=3, text="hmm"), None),
    (DrawingOpen(round=3, tokens_left=4, started=False),
     "⚠ faltam 4 tokens e o desenho nem começou: o que couber vai para a arena"),
    (RoundEnded(round=3, outcome=Outcome.DEADLINE, tokens=9, first_token_ms=None,
                duration_ms=1500, tokens_per_second=0.0),
     "⏱ rodada 3 (prazo esgotado): 9 tokens · 1º token em — · 0.0 tokens/s · 1.50 s"),
    (AnswerRecorded(round=3, chars=412, exact=True),
     "✓ a arena registrou a rodada 3 (412 caracteres)"),
    (WorldStopped(), "o mundo 2-D está parado; aguardando a organização"),
    (TemplateWarning(message="o modelo não tinha {{radar}}"), "⚠ o modelo não tinha {{radar}}"),
    (Pulse(pulse=7, radar="comida a NE (perto)", direction="NE", say="indo", took_s=0.84,
           fallback=False, score=2),
     "📡 #7 comida a NE (perto) → NE «indo» (0.8 s)"),
    (WorldSummary(pulses=4, score=2, average_decision_s=0.5, fallbacks=1, errors=0),
     "🌍 mundo: 4 pulsos respondidos · placar da arena 2 · decisão média 0.5 s · 1 fora do "
     "formato MOVE · 0 erros do modelo"),
    (Skipped(lines=3), "⚠ 3 linha(s) de estado omitida(s): a tela não acompanhou"),
    (WebViewStarted(url="http://127.0.0.1:8123/"), "🌐 página ao vivo em http://127.0.0.1:8123/"),
    (WebViewStarted(url="http://127.0.0.1:8123/", loopback=False),
     "🌐 página ao vivo em http://127.0.0.1:8123/ (aberta também a outras máquinas da rede)"),
    (WebViewFailed(host="10.9.9.9", reason="Cannot assign requested address"),
     "⚠ a página ao vivo não abriu em 10.9.9.9 (Cannot assign requested address); confira "
     "--web-host (o jogo segue sem ela)"),
    (SessionEnded(exit_code=0), None),
]  # fmt: skip


def test_every_kind_of_event_has_an_example() -> None:
    assert {type(event) for event, _ in EXAMPLES} == set(typing.get_args(SessionEvent))


@pytest.mark.parametrize(("event", "line"), EXAMPLES)
def test_each_event_reads_as_the_participant_has_always_read_it(
    event: SessionEvent, line: str | None
) -> None:
    assert EventLines().line(event) == line


def test_a_reason_already_on_screen_is_not_repeated_until_the_link_is_back() -> None:
    lines = EventLines()
    said = [
        lines.line(event)
        for event in (
            Disconnected(reason="caiu", generating=True),
            Retrying(delay_s=0.25, attempt=1, reason="caiu"),
            Retrying(delay_s=0.5, attempt=2, reason="recusou"),
            Retrying(delay_s=1.0, attempt=3, reason="recusou"),
            Connected(first=False, resent=2),
            Retrying(delay_s=0.25, attempt=1, reason="caiu"),
        )
    ]
    assert said == [
        "⚠ caiu; o modelo continua e os tokens ficam guardados",
        "↻ tentando de novo em 0.2 s",
        "⚠ recusou; tentando de novo em 0.5 s",
        "↻ tentando de novo em 1.0 s",
        "✓ de volta à arena (2 mensagem(ns) guardada(s) reenviada(s))",
        "⚠ caiu; tentando de novo em 0.2 s",
    ]


def test_the_arenas_complaint_about_our_message_asks_for_a_bug_report() -> None:
    line = EventLines().line(ArenaWarned(message="Invalid message format", our_bug=True))
    assert line == (
        "a arena rejeitou uma mensagem nossa (Invalid message format): avise quem mantém o cliente"
    )


def test_outside_text_reaches_the_screen_without_escape_sequences() -> None:
    line = EventLines().line(ArenaWarned(message="oi\x1b[2J\x1b]0;titulo\x07!"))
    assert line == "a arena avisou: oi!"
