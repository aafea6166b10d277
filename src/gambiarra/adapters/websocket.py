"""WebSocketTransport: the link to the arena over ``websockets``' asyncio client.

Frames are read by whoever iterates ``messages()`` (the service runs that in
its own task), so websockets' keepalive keeps answering pings while a model
generates. Each message is sent as a text frame the moment ``send`` is called.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncGenerator
from typing import Any

import structlog
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from gambiarra.domain.protocol import (
    ClientMessage,
    Register,
    ServerMessage,
    decode_server,
    encode_client,
)
from gambiarra.errors import ArenaUnreachable, ConnectionLost, ProtocolError

__all__ = ["WebSocketTransport"]

log = structlog.get_logger("gambiarra.transport")

MAX_FRAME = 2**20  # the arena's own limit; anything larger is not a real message


class WebSocketTransport:
    """Connects, registers at once, then carries messages both ways."""

    def __init__(
        self,
        url: str,
        register: Register,
        ssl_context: ssl.SSLContext | None = None,
        open_timeout: float = 10.0,
    ) -> None:
        self.url = url
        self._register = register
        self._ssl = ssl_context
        self._open_timeout = open_timeout
        self._ws: ClientConnection | None = None

    async def send(self, message: ClientMessage) -> None:
        ws = self._ws
        if ws is None:
            raise ConnectionLost("sem conexão com a arena")
        try:
            await ws.send(encode_client(message), text=True)
        except ConnectionClosed as exc:
            raise ConnectionLost(f"a arena encerrou a conexão ({exc})") from None

    async def messages(self) -> AsyncGenerator[ServerMessage, None]:
        ws = await self._connect()
        try:
            self._ws = ws
            await self.send(self._register)
            async for frame in ws:
                message = self._decode(frame)
                if message is not None:
                    yield message
        except ConnectionClosed as exc:
            raise ConnectionLost(f"a arena encerrou a conexão ({exc})") from None
        finally:
            self._ws = None
            await ws.close()
        raise ConnectionLost(f"a arena encerrou a conexão (código {ws.close_code})")

    async def _connect(self) -> ClientConnection:
        # Only pass `ssl` with our own context: websockets verifies wss:// by
        # default, and an explicit ssl=None would turn TLS off.
        extra: dict[str, Any] = {"ssl": self._ssl} if self._ssl is not None else {}
        try:
            return await connect(
                self.url,
                **extra,
                open_timeout=self._open_timeout,
                max_size=MAX_FRAME,
                compression=None,  # tiny frames: deflate costs CPU and buys nothing
                proxy=None,  # a LAN arena is never behind the user's HTTP proxy
            )
        except InvalidURI:
            raise ArenaUnreachable(f"{self.url} não é um endereço ws:// ou wss://") from None
        except (OSError, InvalidHandshake, TimeoutError) as exc:
            reason = (exc.strerror if isinstance(exc, OSError) else None) or str(exc)
            reason = reason or type(exc).__name__
            raise ArenaUnreachable(
                f"nenhuma arena respondeu em {self.url} ({reason}): confira --url e a rede"
            ) from None

    def _decode(self, frame: str | bytes) -> ServerMessage | None:
        try:
            return decode_server(frame)
        except ProtocolError as exc:
            log.warning("arena_frame_ignored", reason=str(exc)[:200])
            return None
