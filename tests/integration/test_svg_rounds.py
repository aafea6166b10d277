"""SVG rounds: the arena's HTTP side says ``svgMode``; the answer ends at ``</svg>``.

The challenge carries no SVG flag (protocol.md); the client looks the round
up on the arena's HTTP side right after the challenge. Here the practice
arena plays the WebSocket side and a small fake of that HTTP side (httpx
``MockTransport``, built from the practice arena's own records) says the
round is an SVG one.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import AsyncGenerator
from pathlib import Path

import anyio
import anyio.lowlevel
import httpx
import pytest
from dependency_injector import providers

from gambiarra.arena.server import PracticeArena
from gambiarra.domain.events import GenerationRequest
from gambiarra.ports import ModelDescription, TokenChunk
from tests.fakes import RecordingView
from tests.integration.conftest import fast_container, playing, settings_for

pytestmark = pytest.mark.anyio

PIECES = ["Aqui:", " <svg viewBox='0 0 9 9'>", "<circle r='2'/></s", "vg>\n\nGostou", "?", " Fim"]
DRAWING = "<svg viewBox='0 0 9 9'><circle r='2'/></svg>"


def http_side(arena: PracticeArena, svg_mode: bool) -> httpx.MockTransport:
    """``GET /rounds/current`` and ``/rounds/:id/responses``, from the practice arena's records."""

    def handle(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/health":
            return httpx.Response(200, json={"status": "ok", "timestamp": int(time.time() * 1000)})
        if not arena.rounds:
            return httpx.Response(404, json={"error": "No active round"})
        record = arena.rounds[-1]
        if path == "/rounds/current":
            started = datetime.datetime.now(datetime.timezone.utc).isoformat()
            return httpx.Response(
                200,
                json={
                    "id": f"round-{record.index}",
                    "sessionId": arena.session_id,
                    "index": record.index,
                    "prompt": record.challenge["prompt"],
                    "maxTokens": record.challenge.get("max_tokens"),
                    "svgMode": svg_mode,
                    "startedAt": started,
                    "endedAt": None,
                    "liveTokens": {p: e.tokens for p, e in record.entries.items()},
                },
            )
        if path == f"/rounds/round-{record.index}/responses":
            answers = [
                {"participant_id": p, "nickname": "Ana", "generated_content": e.text}
                for p, e in record.entries.items()
                if e.complete is not None
            ]
            return httpx.Response(200, json={"responses": answers, "svgMode": svg_mode})
        return httpx.Response(404, json={"error": "Round not found"})

    return httpx.MockTransport(handle)


class SvgAwareView(RecordingView):
    """Sets ``svg_known`` once the client has learned that the round is an SVG one."""

    def __init__(self) -> None:
        super().__init__()
        self.svg_known = anyio.Event()

    def status(self, kind: str, line: str) -> None:
        super().status(kind, line)
        if kind == "drawing_round":
            self.svg_known.set()


class DrawingModel:
    """Draws, then rambles; starts once the client knows the round is an SVG one
    (a real model takes far longer than the look-up)."""

    kind = "fake"
    model = "fake-1"

    def __init__(self, ready: anyio.Event) -> None:
        self.ready = ready
        self.yielded = 0
        self.closed = False

    async def check(self) -> None:
        pass

    async def models(self) -> list[ModelDescription]:
        return [ModelDescription(self.model)]

    async def stream(self, request: GenerationRequest) -> AsyncGenerator[TokenChunk, None]:
        await self.ready.wait()
        try:
            for piece in PIECES:
                await anyio.lowlevel.checkpoint()
                self.yielded += 1
                yield TokenChunk(piece)
        finally:
            self.closed = self.yielded < len(PIECES)


async def test_an_svg_round_ends_at_the_closing_tag_and_the_drawing_is_saved(
    arena: PracticeArena, tmp_path: Path
) -> None:
    view = SvgAwareView()
    model = DrawingModel(view.svg_known)
    settings = settings_for(arena, rounds=1, save_dir=str(tmp_path))
    container = fast_container(settings, runner=model)
    container.screen.override(providers.Object(view))  # the archive view stays
    container.arena_http.add_kwargs(transport=http_side(arena, svg_mode=True))
    async with playing(settings, container):
        with anyio.fail_after(5):
            await arena.wait_registered("ana-pc")
        record = await arena.start_round("Desenhe um sol em SVG", max_tokens=40)
        with anyio.fail_after(5):
            await record.entry("ana-pc").done.wait()
    entry = record.entry("ana-pc")
    assert entry.text == "Aqui: " + DRAWING  # no prose after the drawing
    assert entry.complete is not None
    assert entry.complete["tokens"] == 4
    assert model.closed  # the model was stopped, not read to the end
    assert "🎨 rodada de desenho: a resposta termina no </svg>" in view.statuses
    assert view.ended[-1].drawing_closed
    assert saved_drawings(tmp_path) == [DRAWING]


def saved_drawings(folder: Path) -> list[str]:
    return [path.read_text(encoding="utf-8") for path in folder.glob("*.svg")]


async def test_a_round_joined_late_learns_it_is_an_svg_round_too(arena: PracticeArena) -> None:
    """Registered after the round started: the look-up that finds the round says svgMode."""
    view = SvgAwareView()
    model = DrawingModel(view.svg_known)
    settings = settings_for(arena, rounds=1)
    container = fast_container(settings, runner=model)
    container.screen.override(providers.Object(view))
    container.arena_http.add_kwargs(transport=http_side(arena, svg_mode=True))
    record = await arena.start_round("Desenhe um sol em SVG", max_tokens=40)  # nobody there yet
    async with playing(settings, container):
        with anyio.fail_after(5):
            await record.entry("ana-pc").done.wait()
    assert record.entry("ana-pc").text == "Aqui: " + DRAWING
    assert any(s.startswith("entrando na rodada 1 já em andamento") for s in view.statuses)
    assert model.closed
