"""The live page in a real browser: a practice session with ``web=True``, seen in headless Chromium.

The runner functions stop at gates the test opens, so the page is looked at
while the round is in play (the session, and the page's server, end with it).
Skipped, with the reason, where Chromium is not installed.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import unquote

import anyio
import pytest

import gambiarra
from gambiarra import RunnerRequest, SessionEvent, WebViewStarted
from gambiarra.adapters.history_store import HistoryEntry, HistoryStore
from tests.browser import CHROMIUM, NO_BROWSER, Chromium, Page

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(CHROMIUM is None, reason=NO_BROWSER),
]

BOAT = '<svg viewBox="0 0 10 10"><path d="M1 6 L9 6 L7 9 L3 9 Z" fill="#2a6"/></svg>'
HOSTILE_SVG = (
    '<svg viewBox="0 0 100 100" onload="window.pwned=1">'
    "<script>window.pwned=1</script>"
    '<image href="http://evil.test/x.png" width="9" height="9"/>'
    '<use href="https://evil.test/a.svg#x"/>'
    '<foreignObject><iframe src="http://evil.test/"></iframe></foreignObject>'
    '<rect width="50" height="50" style="fill:red;background:url(http://evil.test/b)"/>'
    '<circle cx="70" cy="70" r="20" fill="blue" onclick="window.pwned=1"/>'
)
HOSTILE_TEXT = 'Olha só: <img src=x onerror="window.pwned=1"> e <b>negrito</b> '


def seed_history(path: Path, svg: str, prompt: str) -> None:
    """A round played in an earlier session, with its drawing."""
    store = HistoryStore(path)
    store.add(
        HistoryEntry(
            played_at="2026-11-20T20:00:00+00:00",
            arena_url="ws://arena/ws",
            round=4,
            prompt=prompt,
            answer=svg,
            outcome="finished",
            model="mock",
            runner="mock",
            tokens=12,
            first_token_ms=80,
            duration_ms=900,
            tokens_per_second=13.3,
            svg=svg,
        )
    )
    store.close()


def drawing(src: str) -> str:
    prefix = "data:image/svg+xml;charset=utf-8,"
    assert src.startswith(prefix)
    return unquote(src[len(prefix) :])


class Gates:
    """Where the runner waits for the test."""

    def __init__(self, count: int) -> None:
        self.gates = [anyio.Event() for _ in range(count)]

    def open(self, index: int) -> None:
        self.gates[index].set()

    async def at(self, index: int) -> None:
        await self.gates[index].wait()


async def session_with_page(
    tmp_path: Path, runner: object, prompt: str, rounds: int, tg: anyio.abc.TaskGroup
) -> str:
    """Start a practice session with the page on; the page's address."""
    started: list[str] = []
    known = anyio.Event()

    def listener(event: SessionEvent) -> None:
        if isinstance(event, WebViewStarted):
            started.append(event.url)
            known.set()

    settings = gambiarra.make_settings(
        "practice", web=True, history=str(tmp_path / "history.db"), rounds=rounds
    )
    tg.start_soon(
        lambda: gambiarra.practice(settings, prompt=prompt, runner=runner, listener=listener)  # type: ignore[arg-type]
    )
    await known.wait()
    return started[0]


async def text_of(page: Page, selector: str) -> str:
    return str(await page.evaluate(f"document.querySelector({json.dumps(selector)}).textContent"))


async def test_the_page_streams_the_answer_and_draws_the_svg_as_it_grows(tmp_path: Path) -> None:
    seed_history(tmp_path / "history.db", BOAT, "Desenhe um barco")
    gates = Gates(2)

    async def desenhista(request: RunnerRequest) -> AsyncIterator[str]:
        if request.round == 1:
            yield "Aqui vai o gato: "
            yield '<svg viewBox="0 0 100 100"><circle cx="50" cy="50" r="40" fill="orange"/>'
            await gates.at(0)
            yield '<rect x="30" y="30" width="10" height="10" fill="black"/></svg>'
            yield " Pronto."
        else:
            await gates.at(1)
            yield "tchau"

    with anyio.fail_after(40):
        async with anyio.create_task_group() as tg:
            url = await session_with_page(tmp_path, desenhista, "Desenhe um gato em SVG", 2, tg)
            assert url.startswith("http://127.0.0.1:")
            async with Chromium() as browser:
                page = await browser.open(url)
                # Mid-round: the text so far, and the drawing so far (closed, rendered).
                await page.wait_for(
                    "document.getElementById('answer').textContent.includes('Aqui vai o gato')"
                    " && document.getElementById('drawing-img').src.includes('circle')"
                )
                src = await page.evaluate("document.getElementById('drawing-img').src")
                assert "<circle" in drawing(src)
                assert "<rect" not in drawing(src)
                width = await page.evaluate(
                    "document.getElementById('drawing-img').decode()"
                    ".then(() => document.getElementById('drawing-img').naturalWidth)"
                )
                assert width > 0  # the browser rendered it
                assert await text_of(page, "#prompt") == "Desenhe um gato em SVG"
                assert await text_of(page, "#round-title") == "Rodada 1"
                assert "conectado à arena" in await text_of(page, "#link")
                # The earlier round, from the history database, with its drawing.
                await page.wait_for("document.querySelectorAll('#history img').length === 1")
                assert "Desenhe um barco" in await text_of(page, "#history")
                print("\n" + await page.evaluate("document.querySelector('main').outerHTML"))

                gates.open(0)  # the drawing grows, the round ends, the next one waits
                await page.wait_for(
                    "document.getElementById('round-title').textContent === 'Rodada 2'"
                    " && document.querySelectorAll('#history img').length === 2"
                )
                played = await page.evaluate("document.querySelector('#history img').src")
                assert "<circle" in drawing(played)
                assert "<rect" in drawing(played)
                first = await text_of(page, "#history li")
                assert "Desenhe um gato em SVG" in first
                assert "✓ rodada 1:" in first  # its figures, in the console's words
                assert "Aqui vai o gato" in first
                assert await page.evaluate("window.__violations") == []
                assert await page.evaluate("window.__errors") == []
            gates.open(1)


async def test_a_hostile_answer_is_shown_as_text_and_its_drawing_neutralised(
    tmp_path: Path,
) -> None:
    seed_history(tmp_path / "history.db", HOSTILE_SVG + "</svg>", "<b>prompt</b> antigo")
    gates = Gates(1)

    async def hostil(request: RunnerRequest) -> AsyncIterator[str]:
        yield HOSTILE_TEXT
        yield HOSTILE_SVG
        await gates.at(0)
        yield "</svg>"

    with anyio.fail_after(40):
        async with anyio.create_task_group() as tg:
            url = await session_with_page(tmp_path, hostil, "<b>negrito</b> no desafio", 1, tg)
            async with Chromium() as browser:
                page = await browser.open(url)
                await page.wait_for(
                    "document.getElementById('drawing-img').src.includes('circle')"
                    " && document.querySelectorAll('#history img').length === 1"
                )
                await page.evaluate("document.getElementById('drawing-img').decode()")
                live = drawing(await page.evaluate("document.getElementById('drawing-img').src"))
                past = drawing(await page.evaluate("document.querySelector('#history img').src"))
                for shown in (live, past):
                    assert "<circle" in shown  # what is honest stays
                    for banned in ("script", "onload", "onclick", "evil.test", "foreignObject"):
                        assert banned not in shown
                # Text stays text: no element was made from the model's or the arena's words.
                assert HOSTILE_TEXT in await text_of(page, "#answer")
                assert await page.evaluate("document.querySelectorAll('#answer *').length") == 0
                assert await text_of(page, "#prompt") == "<b>negrito</b> no desafio"
                assert await page.evaluate("document.querySelectorAll('#prompt *').length") == 0
                assert "<b>prompt</b> antigo" in await text_of(page, "#history")
                assert await page.evaluate("document.querySelectorAll('main b').length") == 0
                assert await page.evaluate("typeof window.pwned") == "undefined"
                assert not [u for u in page.requested() if "evil.test" in u or u.endswith("/x")]
                assert await page.evaluate("window.__violations") == []
            gates.open(0)
