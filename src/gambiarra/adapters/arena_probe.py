"""ArenaProbe: ``doctor``'s look at the arena, built from the link's public pieces.

A handshake (``open_socket``), a register that leaves at once, and the arena's
presence list (``ArenaHttp``), so that ``doctor`` can test the PIN without
taking over the id of a client that is already playing.
"""

from __future__ import annotations

import anyio
from websockets.exceptions import ConnectionClosed

from gambiarra.adapters import link_texts as texts
from gambiarra.adapters.arena_http import ArenaHttp
from gambiarra.adapters.arena_socket import Refused, SocketOptions, open_socket
from gambiarra.domain.arena_errors import ArenaErrorKind, classify
from gambiarra.domain.protocol import (
    Register,
    Registered,
    ServerError,
    decode_server,
    encode_client,
)
from gambiarra.errors import ArenaRejected, ArenaUnreachable, ProtocolError

__all__ = ["PROBE_TIMEOUT", "ArenaProbe"]

PROBE_TIMEOUT = 5.0


class ArenaProbe:
    """Checks the arena at ``url``: handshake, PIN, and who is connected."""

    def __init__(self, url: str, http: ArenaHttp, options: SocketOptions) -> None:
        self.url = url
        self._http = http
        self._options = options

    async def handshake(self) -> None:
        """Open and close a WebSocket.

        Raises:
            ArenaUnreachable: no WebSocket could be opened.
            ConfigError: the URL is not a ws:// or wss:// URL.
        """
        try:
            ws = await open_socket(self.url, self._options)
        except Refused as refused:
            raise ArenaUnreachable(refused.reason) from None
        with anyio.move_on_after(1.0, shield=True):
            await ws.close()

    async def register(self, register: Register) -> Registered:
        """Register and leave at once.

        Raises:
            ArenaRejected: the PIN was refused.
            ArenaUnreachable: no WebSocket, no answer in time, or a closed link.
        """
        try:
            ws = await open_socket(self.url, self._options)
        except Refused as refused:
            raise ArenaUnreachable(refused.reason) from None
        try:
            with anyio.fail_after(PROBE_TIMEOUT):
                await ws.send(encode_client(register), text=True)
                async for frame in ws:
                    message = _decoded(frame)
                    if isinstance(message, Registered):
                        return message
                    if isinstance(message, ServerError):
                        _raise_for(message)
            raise ArenaUnreachable("a arena fechou a conexão sem responder ao registro")
        except (TimeoutError, ConnectionClosed):
            raise ArenaUnreachable(f"a arena em {self.url} não respondeu ao registro") from None
        finally:
            with anyio.move_on_after(1.0, shield=True):
                await ws.close()

    async def connected_ids(self) -> set[str] | None:
        """Ids connected now, or None when the arena does not say (no HTTP side)."""
        return await self._http.connected_ids()

    async def aclose(self) -> None:
        await self._http.aclose()


def _decoded(frame: str | bytes) -> object:
    try:
        return decode_server(frame)
    except ProtocolError:
        return None  # a frame meant for the display screens: not ours


def _raise_for(error: ServerError) -> None:
    kind = classify(error)
    if kind is ArenaErrorKind.PIN_REJECTED:
        raise ArenaRejected(texts.PIN_REJECTED)
    if kind is ArenaErrorKind.NO_SESSION:
        raise ArenaUnreachable(texts.NO_SESSION)
    if kind is ArenaErrorKind.REGISTRATION_FAILED:
        raise ArenaUnreachable(texts.REGISTRATION_FAILED)
