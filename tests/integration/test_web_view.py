"""The live page's server over real loopback sockets: the page, the history JSON, the stream."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from gambiarra.adapters.history_store import HistoryEntry, HistoryStore
from gambiarra.adapters.web.view import WebView
from gambiarra.containers import compose_views
from gambiarra.domain.events import Outcome
from gambiarra.events import (
    Connected,
    RoundEnded,
    RoundStarted,
    SessionEvent,
    WebViewFailed,
    WebViewStarted,
)
from tests.fakes import RecordingView

pytestmark = pytest.mark.anyio

HOSTILE = '<svg onload="alert(1)"><script>alert(2)</script><circle r="3" onclick="x()"/></svg>'


@asynccontextmanager
async def serving(view: WebView) -> AsyncIterator[list[SessionEvent]]:
    """The view's run() in a task, until the block ends; what it announced."""
    announced: list[SessionEvent] = []
    said = anyio.Event()

    def announce(event: SessionEvent) -> None:
        announced.append(event)
        said.set()

    view.announce = announce
    async with anyio.create_task_group() as tg:
        tg.start_soon(view.run)
        await said.wait()
        yield announced
        tg.cancel_scope.cancel()
    view.close()


def stream_url(page: str) -> str:
    return page.replace("http://", "ws://") + "events"


def origin(page: str) -> str:
    return page.rstrip("/")


async def read_until(
    ws: ClientConnection, done: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """Fold the updates a page receives, as the page does, until ``done`` holds."""
    page: dict[str, Any] = {"answer": ""}
    while not done(page):
        update = json.loads(await ws.recv())
        if update.get("reset"):
            page = {"answer": ""}
        page["answer"] += update.pop("answer", "")
        page.update(update)
    return page


def seed(path: Path, svg: str) -> None:
    store = HistoryStore(path)
    store.add(
        HistoryEntry(
            played_at="2026-11-20T20:00:00+00:00",
            arena_url="ws://arena/ws",
            round=4,
            prompt="<b>Desenhe</b>",
            answer="...",
            outcome="finished",
            model="mock",
            runner="mock",
            svg=svg,
        )
    )
    store.close()


async def test_the_page_is_served_with_a_policy_that_runs_only_its_own_script_and_style() -> None:
    with anyio.fail_after(10):
        async with serving(WebView(frame_s=0, draw_s=0)) as announced:
            [started] = announced
            assert isinstance(started, WebViewStarted)
            async with httpx.AsyncClient(trust_env=False) as http:
                answer = await http.get(started.url)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    assert answer.headers["x-content-type-options"] == "nosniff"
    policy = answer.headers["content-security-policy"]
    for directive in (
        "default-src 'none'",
        "img-src data:",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "require-trusted-types-for 'script'",
    ):
        assert directive in policy
    [script] = re.findall(r"<script>(.*?)</script>", answer.text, re.DOTALL)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in policy
    # The page never parses text as HTML, and has no inline handler for the policy to allow.
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in script
    assert not re.search(r"<[^>]*\son[a-z]+\s*=", answer.text.replace(script, ""))
    assert '<pre id="answer"' in answer.text


async def test_the_history_json_shows_earlier_rounds_with_their_drawings_sanitised(
    tmp_path: Path,
) -> None:
    seed(tmp_path / "history.db", HOSTILE)
    with anyio.fail_after(10):
        async with serving(
            WebView(history=tmp_path / "history.db", frame_s=0, draw_s=0)
        ) as announced:
            url = announced[0].url  # type: ignore[union-attr]
            async with httpx.AsyncClient(trust_env=False) as http:
                answer = await http.get(url + "history.json")
    assert answer.status_code == 200
    [shown] = answer.json()["rounds"]
    assert shown["prompt"] == "<b>Desenhe</b>"  # text stays text; the page sets it as text
    assert shown["svg"] == '<svg xmlns="http://www.w3.org/2000/svg"><circle r="3"/></svg>'
    assert shown["summary"].startswith("✓ rodada 4:")


async def test_no_history_file_is_created_by_the_page(tmp_path: Path) -> None:
    with anyio.fail_after(10):
        async with serving(WebView(history=tmp_path / "nada.db", frame_s=0, draw_s=0)) as announced:
            assert isinstance(announced[0], WebViewStarted)
    assert not (tmp_path / "nada.db").exists()


async def test_the_stream_brings_the_round_as_it_streams_with_the_drawing_clean() -> None:
    view = WebView(frame_s=0, draw_s=0)
    with anyio.fail_after(10):
        async with serving(view) as announced:
            url = announced[0].url  # type: ignore[union-attr]
            async with connect(stream_url(url), origin=origin(url)) as ws:  # type: ignore[arg-type]
                view.show(Connected(first=True))
                view.show(RoundStarted(round=1, prompt="Desenhe", max_tokens=9, temperature=0))
                view.token("Olá ")
                view.token(HOSTILE[:40])
                so_far = "Olá " + HOSTILE[:40]
                page = await read_until(ws, lambda p: "svg" in p and p["answer"] == so_far)
                assert page["round"] == {"round": 1, "prompt": "Desenhe", "drawing": False}
                assert page["link"]["state"] == "connected"
                assert page["svg"] == '<svg xmlns="http://www.w3.org/2000/svg"></svg>'
                view.token(HOSTILE[40:])
                view.show(
                    RoundEnded(round=1, outcome=Outcome.FINISHED, tokens=3, first_token_ms=5,
                               duration_ms=50, tokens_per_second=40.0)
                )  # fmt: skip
                page = await read_until(ws, lambda p: "figures" in p)
                assert page["svg"].endswith('<circle r="3"/></svg>')
                assert "onload" not in page["svg"]
                assert "script" not in page["svg"]
                assert page["count"] == 3
                assert page["figures"]["summary"].startswith("✓ rodada 1: 3 tokens")
                # A page opened now gets the whole round at once.
                async with connect(stream_url(url), origin=origin(url)) as late:  # type: ignore[arg-type]
                    joined = await read_until(late, lambda p: "figures" in p)
                assert joined["answer"] == "Olá " + HOSTILE
                assert joined["svg"] == page["svg"]


async def test_it_listens_on_loopback_by_default_and_answers_only_its_own_addresses() -> None:
    view = WebView(frame_s=0, draw_s=0)
    with anyio.fail_after(10):
        async with serving(view) as announced:
            [started] = announced
            assert isinstance(started, WebViewStarted)
            assert started.loopback
            assert started.url.startswith("http://127.0.0.1:")
            assert view._server is not None
            assert {s.getsockname()[0] for s in view._server.sockets} == {"127.0.0.1"}
            port = started.url.rsplit(":", 1)[1].strip("/")
            async with httpx.AsyncClient(trust_env=False) as http:
                # A site that made its name point at 127.0.0.1 (DNS rebinding) sends its own Host.
                rebound = await http.get(started.url, headers={"Host": f"evil.test:{port}"})
                by_name = await http.get(started.url, headers={"Host": f"localhost:{port}"})
                missing = await http.get(started.url + "nada")
            assert rebound.status_code == 403
            assert by_name.status_code == 200
            assert missing.status_code == 404
            # Another site open in the browser must not read the stream.
            with pytest.raises(InvalidStatus) as refused:
                async with connect(stream_url(started.url), origin="http://evil.test"):  # type: ignore[arg-type]
                    pass
            assert refused.value.response.status_code == 403


async def test_an_address_it_cannot_listen_on_is_announced_and_run_returns() -> None:
    view = WebView(host="192.0.2.1", frame_s=0, draw_s=0)  # TEST-NET-1: on no machine
    announced: list[SessionEvent] = []
    view.announce = announced.append
    with anyio.fail_after(10):
        await view.run()
    [failed] = announced
    assert isinstance(failed, WebViewFailed)
    assert failed.host == "192.0.2.1"
    assert failed.reason


async def test_leaving_stops_the_server_and_closes_the_pages() -> None:
    view = WebView(frame_s=0, draw_s=0)
    with anyio.fail_after(10):
        async with serving(view) as announced:
            url = announced[0].url  # type: ignore[union-attr]
            ws = await connect(stream_url(url), origin=origin(url))  # type: ignore[arg-type]
            await ws.recv()  # the first update: the page is served
        with pytest.raises(ConnectionClosed):
            await ws.recv()
        with pytest.raises(ConnectionRefusedError):
            await connect(stream_url(url))
    view.token("after")  # a closed view takes no more
    assert not view._pending


def test_telling_the_view_costs_an_append() -> None:
    async def main() -> None:
        view = WebView()
        view.show(RoundStarted(round=1, prompt="p", max_tokens=9, temperature=0))
        for _ in range(1000):
            view.token("x")
        view.reasoning("hmm")
        assert len(view._pending) == 3  # the round, the text joined, the reasoning

    anyio.run(main)


async def test_a_page_that_does_not_read_holds_back_no_other_page() -> None:
    view = WebView(frame_s=0, draw_s=0)
    with anyio.fail_after(15):
        async with serving(view) as announced:
            url = announced[0].url  # type: ignore[union-attr]
            port = int(url.rsplit(":", 1)[1].strip("/"))
            # A page that opens the stream and then reads nothing, ever.
            async with await anyio.connect_tcp("127.0.0.1", port) as stuck:
                await stuck.send(
                    f"GET /events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                    "Sec-WebSocket-Version: 13\r\n\r\n".encode()
                )
                async with connect(stream_url(url), origin=origin(url), max_size=None) as reader:  # type: ignore[arg-type]
                    view.show(RoundStarted(round=1, prompt="p", max_tokens=9, temperature=0))
                    for _ in range(32):
                        view.token("x" * 2**19)  # 16 MiB: more than the sockets hold
                    view.token("FIM")
                    page = await read_until(reader, lambda p: p["answer"].endswith("FIM"))
                    assert len(page["answer"]) == 2**24 + 3
                    assert view._server is not None
                    waiting = [
                        c.transport.get_write_buffer_size() for c in view._server.connections
                    ]
                    assert max(waiting) > 0  # what the stuck page did not take


async def test_the_composed_view_serves_the_page_and_every_view_hears_its_address(
    tmp_path: Path,
) -> None:
    class Screen(RecordingView):
        heard = anyio.Event()

        def status(self, kind: str, line: str) -> None:
            super().status(kind, line)
            self.heard.set()

    screen = Screen()
    composed = compose_views(
        screen, None, None, "mock", "mock", history=tmp_path / "h.db", web_host="127.0.0.1"
    )
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(composed.run)
            await screen.heard.wait()
            tg.cancel_scope.cancel()
    composed.close()
    [line] = screen.statuses
    assert re.fullmatch(r"🌐 página ao vivo em http://127\.0\.0\.1:\d+/", line)
    assert isinstance(screen.events[0], WebViewStarted)
    assert compose_views(screen, None, None, "mock", "mock", web_host=None) is screen


async def test_a_drawing_paced_out_is_still_redrawn_when_nothing_else_comes() -> None:
    view = WebView(frame_s=0, draw_s=0.05)
    with anyio.fail_after(10):
        async with serving(view) as announced:
            url = announced[0].url  # type: ignore[union-attr]
            async with connect(stream_url(url), origin=origin(url)) as ws:  # type: ignore[arg-type]
                view.show(RoundStarted(round=1, prompt="p", max_tokens=9, temperature=0))
                view.token('<svg><rect width="1"/>')
                await read_until(ws, lambda p: "svg" in p)
                view.token('<circle r="2"/>')  # within the pacing: its drawing waits its turn
                page = await read_until(ws, lambda p: "circle" in p.get("svg", ""))
    assert page["svg"].endswith('<rect width="1"/><circle r="2"/></svg>')
