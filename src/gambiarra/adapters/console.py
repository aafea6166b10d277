"""ConsoleView: the participant's terminal as plain lines: the answer as it
streams, the model's reasoning apart, one summary line per round, and one line
per state change.

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

from gambiarra.domain.events import GenerationRequest, Outcome, RoundEnded
from gambiarra.domain.metrics import ModelFigures
from gambiarra.domain.world.agent import AgentSummary, PulseReport

__all__ = [
    "ConsoleView",
    "clean",
    "colors_allowed",
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
    m = ended.metrics
    first = "—" if m.first_token_ms is None else f"{m.first_token_ms} ms"
    figures = (
        f"{m.tokens} tokens · 1º token em {first} · "
        f"{m.tokens_per_second:.1f} tokens/s · {m.duration_ms / 1000:.2f} s"
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
    if m.tokens == 0 and ended.reasoning:
        line += (
            f" — resposta vazia: o modelo gastou o orçamento pensando ({ended.reasoning} "
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


def pulse_line(report: PulseReport) -> str:
    """One line per radar pulse: what the model saw, chose, said, and how long it took."""
    say = f" «{clean(report.say)}»" if report.say else ""
    off = " (fora do formato)" if report.fallback else ""
    return (
        f"📡 #{report.pulse} {clean(report.radar)} → {report.direction}{say} "
        f"({report.took:.1f} s){off}"
    )


def world_summary_line(summary: AgentSummary) -> str:
    # One score only: the arena's own, from its latest perception.
    return (
        f"🌍 mundo: {summary.pulses} pulsos respondidos · placar da arena {summary.score} · "
        f"decisão média {summary.average_decision:.1f} s · {summary.fallbacks} fora do "
        f"formato MOVE · {summary.errors} erros do modelo"
    )


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

    def round_started(self, request: GenerationRequest) -> None:
        self._line(f"▶ rodada {request.round}: {clean(request.prompt)}")

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

    def round_ended(self, ended: RoundEnded) -> None:
        self._line(summary_line(ended))

    def status(self, event: str, text: str) -> None:
        self._line(clean(text))

    def pulse(self, report: PulseReport) -> None:
        self._line(pulse_line(report))

    def world_summary(self, summary: AgentSummary) -> None:
        self._line(world_summary_line(summary))

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
