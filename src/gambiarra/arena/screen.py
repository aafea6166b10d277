"""ArenaScreen: what the organiser's big screen shows, printed in the terminal."""

from __future__ import annotations

import sys
from typing import TextIO

import structlog

from gambiarra.adapters.console import clean
from gambiarra.adapters.screen_buffer import SCREEN_ERRORS, point_at_devnull
from gambiarra.arena.records import Entry, RoundRecord
from gambiarra.arena.world import World
from gambiarra.config import Settings

__all__ = ["ArenaScreen"]


class ArenaScreen:
    """Prints the text as the arena receives it, then the arena's own figures."""

    def __init__(self, out: TextIO | None = None) -> None:
        self._out = out if out is not None else sys.stdout
        self._lost = False
        self._mid_line = False
        self._nickname = "você"

    def opened(self, url: str, settings: Settings) -> None:
        self._nickname = settings.nickname  # a failed round has no recorded nickname
        self._write(
            f"🏟  arena de ensaio em {url} · {settings.nickname} joga com "
            f"{settings.model} ({settings.runner})\n"
        )

    def round_started(self, record: RoundRecord) -> None:
        self._write(f"\n📺 telão da arena — rodada {record.index}: {record.challenge['prompt']}\n")

    def token(self, participant_id: str, text: str) -> None:
        self._write(clean(text))

    def round_done(self, record: RoundRecord, entry: Entry) -> None:
        m = record.measured(entry.participant_id)
        first = "—" if m.first_token_ms is None else f"{m.first_token_ms} ms"
        who = entry.recorded.nickname if entry.recorded is not None else self._nickname
        lines = [
            "",
            f"📋 a arena registrou de {clean(who)}:",
            f"   texto recebido: {len(entry.text)} caracteres em {m.tokens} tokens",
            f"   1º token em {first} · {m.tokens_per_second:.1f} tokens/s (medidos pela arena)",
        ]
        if entry.complete is not None:
            c = entry.complete
            client_first = c.get("latency_ms_first_token", "—")
            lines.append(
                f"   o cliente informou: {c['tokens']} tokens · 1º token em {client_first} ms · "
                f"duração {c['duration_ms'] / 1000:.2f} s · {c['model_info']['name']} "
                f"({c['model_info']['runner']})"
            )
        lines.extend(f"   erro: {clean(e['message'])}" for e in entry.errors)
        if entry.dropped:
            lines.append(f"   ⚠ {entry.dropped} tokens descartados por seq fora de ordem")
        self._write("\n".join(lines) + "\n")

    def note(self, line: str) -> None:
        """A line of the client's own (the live page's address), on a line of its own."""
        self._write(("\n" if self._mid_line else "") + clean(line) + "\n")

    def close(self) -> None:
        """End a half-written answer line, so whatever is printed next starts clean."""
        if self._mid_line:
            self._write("\n")

    def _write(self, text: str) -> None:
        # `practice | head -2`: a closed stdout ends the show, not the rehearsal.
        if self._lost:
            return
        try:
            self._out.write(text)
            self._out.flush()
            self._mid_line = not text.endswith("\n")
        except SCREEN_ERRORS as exc:
            self._lost = True
            structlog.get_logger("gambiarra.practice").warning(
                "screen_lost", error=type(exc).__name__
            )
            point_at_devnull(self._out)

    def finished(self, rounds: int) -> None:
        self._write(
            f"\n✓ ensaio concluído: {rounds} rodada(s) jogada(s) e registradas pela arena\n"
        )

    def world_opened(self, url: str, settings: Settings, world: World) -> None:
        self._write(
            f"🌍 mundo de ensaio em {url}: {world.width}×{world.height}, "
            f"{len(world.food)} comidas · {settings.nickname} joga com {settings.model} "
            f"({settings.runner}) · estratégia {settings.strategy}\n"
        )

    def world_done(self, world: World, participant_id: str) -> None:
        avatar = world.last_avatar(participant_id)  # it left the world when the agent quit
        if avatar is None:
            self._write("🏁 o agente não chegou a entrar no mundo\n")
            return
        self._write(
            # The arena's own final tally: it includes the last move, which the
            # client's summary (the last radar it read) cannot know yet.
            f"🏁 placar final da arena: {avatar.score} comida(s) em {avatar.pulse} pulsos · "
            f"{avatar.accepted} ações aceitas, {avatar.ignored} ignoradas\n"
        )
