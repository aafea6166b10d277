"""ConsoleView: the participant's terminal: the answer as it streams, one
summary line per round, and one line per state change.

Prompts and model output are untrusted text: escape sequences and control
characters are stripped before they reach the terminal (newline and tab stay).
"""

from __future__ import annotations

import re
import sys
from typing import TextIO

from gambiarra.domain.events import GenerationRequest, Outcome, RoundEnded

__all__ = ["ConsoleView", "SilentView", "clean", "summary_line"]

# CSI / OSC / other ESC sequences first, then any C0/C1 control but \t and \n.
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI ... final byte
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC ... BEL or ST
    r"|\x1b[@-Z\\-_]"  # two-byte escapes
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]"
)


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
    }[ended.outcome].format(r=ended.round)
    return f"{label}: {figures}"


class ConsoleView:
    """Writes to a text stream (stdout by default)."""

    def __init__(self, out: TextIO | None = None) -> None:
        self._out = out if out is not None else sys.stdout
        self._mid_line = False

    def round_started(self, request: GenerationRequest) -> None:
        self._line(f"▶ rodada {request.round}: {clean(request.prompt)}")

    def token(self, text: str) -> None:
        text = clean(text)
        self._out.write(text)
        self._out.flush()
        self._mid_line = not text.endswith("\n") if text else self._mid_line

    def round_ended(self, ended: RoundEnded) -> None:
        self._line(summary_line(ended))

    def status(self, text: str) -> None:
        self._line(clean(text))

    def _line(self, text: str) -> None:
        if self._mid_line:
            self._out.write("\n")
            self._mid_line = False
        self._out.write(text + "\n")
        self._out.flush()


class SilentView:
    """Shows nothing: for when something else owns the terminal (practice, swarm)."""

    def round_started(self, request: GenerationRequest) -> None:
        pass

    def token(self, text: str) -> None:
        pass

    def round_ended(self, ended: RoundEnded) -> None:
        pass

    def status(self, text: str) -> None:
        pass
