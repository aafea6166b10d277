"""ConsoleView: the participant's terminal as plain lines: the answer as it
streams, the model's reasoning apart, one summary line per round, and one line
per state change.

Rule 1: this is the one module that turns session events into Portuguese for
the screen (``EventLines``); the core and the other views deal in events.

Prompts, model output and arena messages are untrusted text: escape sequences
and control characters are stripped before they reach the terminal (newline
and tab stay).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from typing import TextIO

from gambiarra.domain.events import Outcome
from gambiarra.domain.metrics import ModelFigures
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

__all__ = [
    "ConsoleView",
    "EventLines",
    "clean",
    "colors_allowed",
    "hand_back_line",
    "loaded_line",
    "model_figures",
    "pulse_line",
    "summary_line",
    "world_summary_line",
]

# CSI / OSC / other ESC sequences first, then any C0/C1 control but \t and \n.
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI ... final byte
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC ... BEL or ST
    r"|\x1b[@-Z\\-_]"  # two-byte escapes
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]"
)
DIM, RESET = "\x1b[2m", "\x1b[0m"


def colors_allowed(environ: Mapping[str, str] | None = None) -> bool:
    """False when ``NO_COLOR`` is set to anything but the empty string (no-color.org)."""
    return not (os.environ if environ is None else environ).get("NO_COLOR")


def clean(text: str) -> str:
    """Remove terminal escape sequences and control characters."""
    return _ESCAPES.sub("", text)


def summary_line(ended: RoundEnded) -> str:
    """One line a participant reads at a glance, in Portuguese."""
    first = "—" if ended.first_token_ms is None else f"{ended.first_token_ms} ms"
    figures = (
        f"{ended.tokens} tokens · 1º token em {first} · "
        f"{ended.tokens_per_second:.1f} tokens/s · {ended.duration_ms / 1000:.2f} s"
    )
    if ended.outcome is Outcome.FAILED:
        return f"✗ rodada {ended.round} falhou: {clean(ended.error or '')} ({figures})"
    label = {
        Outcome.FINISHED: "✓ rodada {r}",
        Outcome.DEADLINE: "⏱ rodada {r} (prazo esgotado)",
        Outcome.SUPERSEDED: "↷ rodada {r} (encerrada por um novo desafio)",
        Outcome.UNDELIVERED: (
            "✂ rodada {r} (cortada: a conexão ficou fora tempo demais e não cabia mais nada)"
        ),
    }[ended.outcome].format(r=ended.round)
    line = f"{label}: {figures}"
    own = model_figures(ended.model)
    if own is not None:
        line += f" · {own}"
    if ended.drawing_closed:
        line += " · desenho fechado no </svg>"
    if ended.tokens == 0 and ended.reasoning_pieces:
        line += (
            f" — resposta vazia: o modelo gastou o orçamento pensando ({ended.reasoning_pieces} "
            "pedaços de raciocínio); aumente max-tokens ou use --no-think"
        )
    return line


# A load this long means the model was not resident when the challenge came.
LOAD_NOTICE_MS = 500


def model_figures(figures: ModelFigures | None) -> str | None:
    """The model server's own figures: where the time before the first token went."""
    if figures is None:
        return None
    parts = []
    if figures.load_ms is not None and figures.load_ms >= 100:
        parts.append(f"carga {figures.load_ms / 1000:.1f} s")
    if figures.prompt_ms is not None:
        parts.append(f"prompt {figures.prompt_ms} ms")
    if not parts:
        return None
    text = "modelo: " + ", ".join(parts)
    if figures.load_ms is not None and figures.load_ms >= LOAD_NOTICE_MS:
        text += " (o 1º token esperou o modelo carregar)"
    return text


def pulse_line(pulse: Pulse) -> str:
    """One line per radar pulse: what the model saw, chose, said, and how long it took."""
    say = f" «{clean(pulse.say)}»" if pulse.say else ""
    off = " (fora do formato)" if pulse.fallback else ""
    return (
        f"📡 #{pulse.pulse} {clean(pulse.radar)} → {pulse.direction}{say} "
        f"({pulse.took_s:.1f} s){off}"
    )


def world_summary_line(summary: WorldSummary) -> str:
    # One score only: the arena's own, from its latest perception.
    return (
        f"🌍 mundo: {summary.pulses} pulsos respondidos · placar da arena {summary.score} · "
        f"decisão média {summary.average_decision_s:.1f} s · {summary.fallbacks} fora do "
        f"formato MOVE · {summary.errors} erros do modelo"
    )


def loaded_line(loaded: ModelLoaded) -> str:
    if loaded.was_loaded:
        return f"✓ o modelo já estava carregado (respondeu em {loaded.seconds:.1f} s)"
    return f"✓ modelo carregado em {loaded.seconds:.1f} s"


def hand_back_line(result: HandBack) -> str | None:
    return {
        HandBack.UNLOADED: "modelo descarregado: ele não estava carregado antes do cliente",
        HandBack.SERVER_DEFAULT: (
            "o servidor do modelo volta a descarregar o modelo no tempo padrão dele"
        ),
        HandBack.KEPT_PINNED: "o modelo continua carregado, como você tinha deixado",
        HandBack.AS_ASKED: "o modelo fica carregado pelo tempo de --keep-alive",
    }.get(result)


def _answer_recorded(recorded: AnswerRecorded) -> str:
    if recorded.exact:
        return f"✓ a arena registrou a rodada {recorded.round} ({recorded.chars} caracteres)"
    return (
        f"⚠ a arena registrou a rodada {recorded.round} com um texto diferente do "
        f"enviado ({recorded.chars} caracteres)"
    )


def _arena_warned(warned: ArenaWarned) -> str:
    text = warned.message or warned.code or "erro sem detalhe"
    if warned.our_bug:
        return f"a arena rejeitou uma mensagem nossa ({text}): avise quem mantém o cliente"
    return f"a arena avisou: {text}"


def _connected(connected: Connected) -> str:
    if connected.first:
        waiting = "entrando no mundo 2-D" if connected.joining_world else "aguardando o desafio"
        return f"✓ registrado na arena; {waiting}..."
    resent = f" ({connected.resent} mensagem(ns) guardada(s) reenviada(s))"
    return "✓ de volta à arena" + (resent if connected.resent else "")


def _web_view_started(started: WebViewStarted) -> str:
    line = f"🌐 página ao vivo em {started.url}"
    return line if started.loopback else line + " (aberta também a outras máquinas da rede)"


def _drawing_open(open_: DrawingOpen) -> str:
    what = "o desenho ainda está aberto" if open_.started else "o desenho nem começou"
    return f"⚠ faltam {open_.tokens_left} tokens e {what}: o que couber vai para a arena"


class EventLines:
    """The Portuguese line for each event, or None for events without one.

    Stateful in one way: a link reason already on screen is not repeated, so a
    run of retries for the same cause reads ``↻ tentando de novo em 1.0 s``.
    Lines are cleaned of escape sequences (they carry outside text).
    """

    def __init__(self) -> None:
        self._last_reason: str | None = None

    def line(self, event: SessionEvent) -> str | None:
        text = self._text(event)
        return None if text is None else clean(text)

    def _text(self, event: SessionEvent) -> str | None:
        match event:
            case Connected():
                self._last_reason = None
                return _connected(event)
            case Disconnected(reason=reason, generating=generating):
                self._last_reason = reason
                kept = "; o modelo continua e os tokens ficam guardados" if generating else ""
                return f"⚠ {reason}{kept}"
            case Retrying(delay_s=delay, reason=reason):
                wait = f"tentando de novo em {delay:.1f} s"
                if reason == self._last_reason:
                    return f"↻ {wait}"
                self._last_reason = reason
                return f"⚠ {reason}; {wait}"
            case RoundStarted(round=round_, prompt=prompt):
                return f"▶ rodada {round_}: {prompt}"
            case RoundEnded():
                return summary_line(event)
            case CheckingModel(model=model, runner=runner):
                return f"verificando o modelo {model} ({runner})..."
            case LoadingModel(model=model):
                return f"carregando o modelo {model} (pode levar até um minuto)..."
            case ModelLoaded():
                return loaded_line(event)
            case ModelReleased(hand_back=hand_back):
                return hand_back_line(hand_back)
            case Connecting(url=url, nickname=nickname):
                return f"conectando em {url} como {nickname}..."
            case SessionReplaced():
                return "a organização abriu uma nova sessão; reconectando"
            case ArenaWarned():
                return _arena_warned(event)
            case LateJoin(round=round_, left_ms=left_ms):
                return f"entrando na rodada {round_} já em andamento; faltam {left_ms / 1000:.0f} s"
            case DrawingRound():
                return "🎨 rodada de desenho: a resposta termina no </svg>"
            case DrawingOpen():
                return _drawing_open(event)
            case AnswerRecorded():
                return _answer_recorded(event)
            case WorldStopped():
                return "o mundo 2-D está parado; aguardando a organização"
            case TemplateWarning(message=message):
                return f"⚠ {message}"
            case Pulse():
                return pulse_line(event)
            case WorldSummary():
                return world_summary_line(event)
            case Skipped(lines=lines):
                return f"⚠ {lines} linha(s) de estado omitida(s): a tela não acompanhou"
            case WebViewStarted():
                return _web_view_started(event)
            case WebViewFailed(host=host, reason=reason):
                return (
                    f"⚠ a página ao vivo não abriu em {host} ({reason}); confira --web-host "
                    "(o jogo segue sem ela)"
                )
        return None  # text events are drawn as they stream; SessionEnded says nothing


class ConsoleView:
    """Writes plain lines to a text stream (stdout by default).

    Args:
        out: where to write.
        dim: also show reasoning dimmed with an ANSI attribute (terminals
            only, and never under ``NO_COLOR``); it is always marked with 💭.
    """

    tick_interval: float | None = None

    def __init__(self, out: TextIO | None = None, dim: bool = False) -> None:
        self._out = out if out is not None else sys.stdout
        self._dim = dim and colors_allowed()
        self._lines = EventLines()
        self._mid_line = False
        self._thinking = False

    async def run(self) -> None:
        pass  # draws inline; BufferedView takes it off the event loop

    def close(self) -> None:
        """End a dimmed reasoning and a partial line, so the shell prompt starts clean."""
        if not (self._thinking or self._mid_line):
            return  # nothing left open: closing twice writes nothing
        if self._thinking:
            self._end_thinking()
        self._line_break()
        self._out.flush()

    def token(self, text: str, count: int = 1) -> None:
        if self._thinking:
            self._end_thinking()
        self._write(clean(text))

    def reasoning(self, text: str) -> None:
        if not self._thinking:
            self._thinking = True
            self._line_break()
            self._out.write(DIM + "💭 " if self._dim else "💭 ")
        self._write(clean(text))

    def show(self, event: SessionEvent) -> None:
        if isinstance(event, Tokens):
            self.token(event.text, event.count)
        elif isinstance(event, Reasoning):
            self.reasoning(event.text)
        else:
            line = self._lines.line(event)
            if line is not None:
                self._line(line)

    def tick(self) -> None:
        pass

    def _end_thinking(self) -> None:
        self._thinking = False
        if self._dim:
            self._out.write(RESET)
        self._line_break()

    def _write(self, text: str) -> None:
        if text:
            self._out.write(text)
            self._out.flush()
            self._mid_line = not text.endswith("\n")

    def _line_break(self) -> None:
        if self._mid_line:
            self._out.write("\n")
            self._mid_line = False

    def _line(self, text: str) -> None:
        if self._thinking:
            self._end_thinking()
        self._line_break()
        self._out.write(text + "\n")
        self._out.flush()
