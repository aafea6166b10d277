"""Opening a WebSocket to the arena, with every failure turned into a link event,
and writing several frames to it at once.

``open_socket`` either returns an open connection or raises ``Refused``,
which carries the event for the link policy (``UpgradeRefused``,
``ConnectFailed``) and a one-line reason in Portuguese for the participant.
Used by the reconnect loop and by ``doctor``'s probe alike.

``send_frames`` writes frames that are ready together, each a complete text
message of its own, with one system call.
"""

from __future__ import annotations

import email.utils
import socket
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidHandshake, InvalidStatus, InvalidURI
from websockets.protocol import SEND_EOF, State

from gambiarra.domain.link import ConnectFailed, ConnectFailure, UpgradeRefused
from gambiarra.errors import ConfigError

__all__ = [
    "MAX_FRAME",
    "Refused",
    "SocketOptions",
    "can_write_now",
    "open_socket",
    "send_frames",
    "write_frames_now",
]

MAX_FRAME = 2**20  # the arena's own limit; anything larger is not a real message


class Refused(Exception):
    """No WebSocket: ``event`` for the link policy, ``reason`` for the participant."""

    def __init__(self, event: UpgradeRefused | ConnectFailed, reason: str) -> None:
        super().__init__(reason)
        self.event = event
        self.reason = reason


@dataclass(frozen=True)
class SocketOptions:
    """How to open the arena's WebSocket.

    ``ping_interval`` and ``ping_timeout`` are websockets' keepalive: a silent
    link is declared dead after about their sum.
    """

    ssl_context: ssl.SSLContext | None = None
    open_timeout: float = 10.0
    ping_interval: float = 20.0
    ping_timeout: float = 20.0


async def open_socket(url: str, options: SocketOptions) -> ClientConnection:
    """Open the WebSocket (no register yet).

    Raises:
        Refused: nothing answered, the upgrade was refused, or TLS failed.
        ConfigError: the URL is not a ws:// or wss:// URL.
    """
    # Only pass `ssl` with our own context: websockets verifies wss:// by
    # default, and an explicit ssl=None would turn TLS off.
    tls = {"ssl": options.ssl_context} if options.ssl_context and url.startswith("wss:") else {}
    try:
        return await connect(
            url,
            **tls,  # type: ignore[arg-type]
            open_timeout=options.open_timeout,
            ping_interval=options.ping_interval,
            ping_timeout=options.ping_timeout,
            close_timeout=1.0,
            max_size=MAX_FRAME,
            compression=None,  # tiny frames: deflate costs CPU and buys nothing
            proxy=None,  # a LAN arena is never behind the user's HTTP proxy
        )
    except InvalidURI:
        raise ConfigError(f"{url} não é um endereço ws:// ou wss://") from None
    except ssl.SSLCertVerificationError as exc:
        raise Refused(
            ConnectFailed(ConnectFailure.TLS_UNTRUSTED),
            f"o certificado da arena em {url} não é confiável ({exc.verify_message}): "
            "se a organização usa um certificado próprio, passe-o com --ca-file",
        ) from None
    except InvalidStatus as exc:
        status = exc.response.status_code
        headers = exc.response.headers
        wait = retry_after(headers.get("Retry-After"), _server_now(headers.get("Date")))
        raise Refused(UpgradeRefused(status, wait), _status_reason(url, status)) from None
    except (OSError, InvalidHandshake, TimeoutError) as exc:
        kind, why = _failure(exc)
        raise Refused(
            ConnectFailed(kind),
            f"nenhuma arena respondeu em {url} ({why}): confira o IP e a porta em --url "
            "e se a arena está no ar",
        ) from None


async def send_frames(ws: ClientConnection, frames: Sequence[bytes]) -> None:
    """Write these UTF-8 JSON frames as text messages, one frame each, in one system call.

    ``ws.send()`` writes each message to the socket on its own; an iterable
    would become one fragmented message, which the arena reads as one. So each
    frame goes through websockets' own protocol object (framing, client mask)
    and what it produced is written at once; ``send_context`` still checks the
    connection is open and applies websockets' flow control afterwards.

    Raises:
        ConnectionClosed: the connection is closed (or closes meanwhile).
    """
    async with ws.send_context():
        write_frames_now(ws, frames)


def can_write_now(ws: ClientConnection) -> bool:
    """Open, and all written so far already handed to the system: a write goes out at once."""
    return ws.protocol.state is State.OPEN and not ws.transport.get_write_buffer_size()


def write_frames_now(ws: ClientConnection, frames: Sequence[bytes]) -> None:
    """``send_frames`` without waiting, for a connection where ``can_write_now`` holds."""
    protocol = ws.protocol
    for frame in frames:
        protocol.send_text(frame)
    data = protocol.data_to_send()  # the frames just framed, nothing else on an open link
    ws.transport.write(b"".join(data))
    if SEND_EOF in data:  # never after send_text on an open link; as websockets would
        if ws.transport.can_write_eof():
            ws.transport.write_eof()
        else:
            ws.transport.close()


def _server_now(date: str | None) -> float | None:
    """The answering server's clock (a participant's clock may be minutes off)."""
    if not date:
        return None
    try:
        return email.utils.parsedate_to_datetime(date).timestamp()
    except (TypeError, ValueError):
        return None


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date.

    ``now`` is the server's clock (its ``Date`` header) when known, so a date is
    compared with the same clock that wrote it.
    """
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)  # delta-seconds (a test arena may send fractions)
    except ValueError:
        pass
    else:
        return seconds if seconds >= 0 else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _status_reason(url: str, status: int) -> str:
    if status == 429:
        return "a arena (ou um proxy na frente dela) pediu para esperar: muitas conexões (HTTP 429)"
    if status in (408, 503):
        return f"a arena está ocupada (HTTP {status})"
    if 400 <= status < 500:
        return (
            f"{url} respondeu HTTP {status} em vez de abrir o WebSocket: "
            "confira o caminho em --url (normalmente termina em /ws)"
        )
    return f"a arena respondeu HTTP {status}"


def _failure(exc: Exception) -> tuple[ConnectFailure, str]:
    if isinstance(exc, ConnectionRefusedError):
        return ConnectFailure.REFUSED, "conexão recusada"
    if isinstance(exc, socket.gaierror):
        return ConnectFailure.NO_ADDRESS, "endereço não encontrado"
    if isinstance(exc, TimeoutError):
        return ConnectFailure.TIMEOUT, "sem resposta"
    return ConnectFailure.OTHER, str(exc) or type(exc).__name__
