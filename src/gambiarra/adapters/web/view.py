"""WebView: the session live in a browser (``--web``), as one more view.

Telling it costs an append, like the screen: events and answer text wait in a
queue. Its own ``run()`` task serves the page and the event stream on one
websockets listener (plain HTTP through ``process_request``), folds what
waits into the ``PageState`` once per frame and wakes the pages; each page's
connection sends, at its own pace, the one update that brings it up to date.
A slow or gone browser therefore holds nothing back: not the arena, not the
other pages, not memory. ``close()`` stops the server.

The listener binds to loopback unless the participant asks (``--web-host``);
on loopback only the page's own addresses are answered (``http.refusal``).
"""

from __future__ import annotations

import ipaddress
import json
import math
import sqlite3
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import structlog
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from gambiarra.adapters.history_store import HistoryStore
from gambiarra.adapters.web import http
from gambiarra.adapters.web.page_state import HISTORY_LIMIT, PageState, Seen, history_item
from gambiarra.errors import ConfigError
from gambiarra.events import RoundStarted, SessionEvent, WebViewFailed, WebViewStarted

__all__ = ["WebView"]

log = structlog.get_logger("gambiarra.web")

# Pages get at most 20 updates a second, and the drawing is sanitised at most 5
# times a second (a parse of the whole answer), whatever the model's pace: this
# task shares the event loop with the arena's link.
FRAME_S = 0.05
DRAW_S = 0.2


@dataclass(slots=True)
class _Text:
    """Answer or reasoning text not folded in yet; later pieces join it."""

    reasoning: bool
    pieces: list[str]
    count: int


class WebView:
    """Serves the live page while the session runs.

    Args:
        host: where to listen (``--web-host``); a loopback address by default.
        port: 0 for any free port.
        history: the history database to show earlier rounds from (None: none).
        model: the model's name, for this session's rounds in the history.
        frame_s: the shortest time between two updates of the pages.
        draw_s: the shortest time between two sanitisings of a growing drawing.

    ``announce`` is called with ``WebViewStarted`` (or ``WebViewFailed``) from
    ``run()``; the composition root points it at the whole view, so the screen
    prints the address.
    """

    tick_interval: float | None = None

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        history: Path | None = None,
        model: str = "",
        frame_s: float = FRAME_S,
        draw_s: float = DRAW_S,
    ) -> None:
        self.announce: Callable[[SessionEvent], None] = lambda event: None
        self.url: str | None = None
        self._host = host
        self._port = port
        self._history = history
        self._model = model
        self._frame_s = frame_s
        self._draw_s = draw_s
        self._state = PageState(model)
        self._pending: deque[SessionEvent | _Text] = deque()
        self._wake = anyio.Event()
        self._changed = anyio.Event()
        self._hosts: frozenset[str] | None = None
        self._server: Server | None = None
        self._closed = False

    # ------------------------------------------------------------ the view

    def token(self, text: str, count: int = 1) -> None:
        self._put_text(text, False, count)

    def reasoning(self, text: str) -> None:
        self._put_text(text, True, 1)

    def show(self, event: SessionEvent) -> None:
        if self._closed:
            return
        self._pending.append(event)
        self._wake.set()

    def tick(self) -> None:
        pass

    async def run(self) -> None:
        """Serve the page until cancelled; a listener that cannot bind is announced, not raised."""
        past = await anyio.to_thread.run_sync(self._read_history)
        self._state = PageState(self._model, past)
        try:
            server = await serve(
                self._stream,
                self._host,
                self._port,
                process_request=self._http,
                max_size=4096,  # the page sends nothing
                compression=None,
            )
        except OSError as exc:
            log.warning("web_view_not_started", host=self._host, error=str(exc))
            self.close()  # no page: nothing more is kept for one
            self.announce(WebViewFailed(host=self._host, reason=exc.strerror or str(exc)))
            return
        self._server = server
        try:
            if not self._closed:  # not closed while it was binding
                self.announce(self._started(server))
                await self._fold_forever()
        finally:
            server.close()
            with anyio.move_on_after(1.0, shield=True):
                await server.wait_closed()

    def close(self) -> None:
        """Stop serving (idempotent); the pages see their stream close."""
        self._closed = True
        self._pending.clear()
        if self._server is not None:
            self._server.close()

    # ------------------------------------------------------------ folding

    def _put_text(self, text: str, reasoning: bool, count: int) -> None:
        if self._closed:
            return
        last = self._pending[-1] if self._pending else None
        if isinstance(last, _Text) and last.reasoning is reasoning:
            last.pieces.append(text)
            last.count += count
            return  # the wake-up for it is already pending
        self._pending.append(_Text(reasoning, [text], count))
        self._wake.set()

    async def _fold_forever(self) -> None:
        drawn_at = -math.inf
        while True:
            # A drawing that grew is redrawn when its turn comes, even if nothing else arrives.
            turn = drawn_at + self._draw_s - anyio.current_time()
            with anyio.move_on_after(turn if self._state.drawing_stale else math.inf):
                await self._wake.wait()
            if self._wake.is_set():
                self._wake = anyio.Event()
            self._fold()
            if self._state.drawing_stale and anyio.current_time() >= drawn_at + self._draw_s:
                self._state.refresh_drawing()
                drawn_at = anyio.current_time()
            changed, self._changed = self._changed, anyio.Event()
            changed.set()
            if self._frame_s:
                await anyio.sleep(self._frame_s)  # pacing: what arrives meanwhile joins

    def _fold(self) -> None:
        while self._pending:
            item = self._pending.popleft()
            if isinstance(item, _Text):
                text = "".join(item.pieces)
                self._state.add_text(text, reasoning=item.reasoning, count=item.count)
            else:
                if isinstance(item, RoundStarted):
                    self._state.refresh_drawing(final=True)  # the last round's drawing, complete
                self._state.apply(item)

    # ------------------------------------------------------------ serving

    def _started(self, server: Server) -> WebViewStarted:
        addresses = [socket.getsockname() for socket in server.sockets]
        ip = ipaddress.ip_address(addresses[0][0])
        port = int(addresses[0][1])
        loopback = all(ipaddress.ip_address(a[0]).is_loopback for a in addresses)
        bound = [f"[{a[0]}]" if ":" in a[0] else a[0] for a in addresses]
        self._hosts = http.allowed_hosts(port, [*bound, self._host]) if loopback else None
        if ip.is_unspecified:  # 0.0.0.0 or ::: this machine's browser uses loopback
            ip = ipaddress.ip_address("::1" if ip.version == 6 else "127.0.0.1")
        shown = f"[{ip}]" if ip.version == 6 else str(ip)
        self.url = f"http://{shown}:{port}/"
        return WebViewStarted(url=self.url, loopback=loopback)

    async def _http(self, connection: ServerConnection, request: Request) -> Response | None:
        refused = http.refusal(request, self._hosts)
        if refused is not None:
            return refused
        path = request.path.partition("?")[0]
        if path == http.EVENTS_PATH:
            return None  # the stream: go on with the WebSocket handshake
        if path in ("/", "/index.html"):
            return http.page_response(http.load_page())
        if path == http.HISTORY_PATH:
            return http.json_response({"rounds": self._state.history()})
        return http.text_response(404, "não há nada aqui: a página ao vivo está em /")

    async def _stream(self, ws: ServerConnection) -> None:
        """One page: send what it lacks whenever something changed, until it goes."""
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._until_gone, ws, tg.cancel_scope)
            seen = Seen()
            try:
                while True:
                    update = self._state.update(seen)
                    if update is None:
                        await self._changed.wait()
                        continue
                    await ws.send(_encode(update))
            except ConnectionClosed:
                pass
            tg.cancel_scope.cancel()

    @staticmethod
    async def _until_gone(ws: ServerConnection, scope: anyio.CancelScope) -> None:
        try:
            async for _ in ws:
                pass  # the page says nothing; reading lets pings and the close through
        except ConnectionClosed:
            pass
        scope.cancel()

    def _read_history(self) -> list[dict[str, Any]]:
        """Rounds played before this session; none when the history is off or unreadable."""
        if self._history is None or not self._history.exists():
            return []
        try:
            store = HistoryStore(self._history)
            try:
                return [history_item(entry) for entry in store.recent(HISTORY_LIMIT)]
            finally:
                store.close()
        except (ConfigError, sqlite3.Error) as exc:
            log.warning("web_history_unreadable", path=str(self._history), error=str(exc)[:200])
            return []


def _encode(update: dict[str, Any]) -> str:
    return json.dumps(update, ensure_ascii=False, separators=(",", ":"))
