"""WebSocketTransport: the link to the arena, kept alive whatever the LAN does.

One connection at a time, each running two tasks:
- the reader takes every frame, so websockets' keepalive answers the arena's
  pings while a model generates, and hands messages to the client;
- the writer drains the ``Outbox`` in order, so ``send`` never blocks the
  generation (not even on a link that went silent and stopped draining).
A third small task asks the arena for a pong every ``ack_interval`` while
frames are unconfirmed: the arena reads a connection's frames in order, so a
pong proves every frame written before its ping arrived.

On any loss (close, reset, keepalive timeout) it reconnects with LAN-sized
backoff, registers again and writes everything unconfirmed again with the same
seq; registration errors are handled per protocol.md's table.
"""

from __future__ import annotations

import socket
import ssl
from collections import deque
from collections.abc import Awaitable, Callable, Iterator

import anyio
import anyio.abc
import structlog
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from gambiarra.adapters.retry import backoff
from gambiarra.adapters.throttle import Throttle
from gambiarra.domain.arena_errors import ArenaErrorKind, classify
from gambiarra.domain.outbox import Outbox
from gambiarra.domain.protocol import (
    ClientMessage,
    Complete,
    ErrorReport,
    Register,
    Registered,
    ServerError,
    Token,
    decode_server,
    encode_client,
)
from gambiarra.errors import (
    ArenaRejected,
    ArenaUnreachable,
    ConfigError,
    ProtocolError,
    unwrap,
)
from gambiarra.ports import Incoming, LinkDown, LinkUp, Retrying, SessionReplaced

__all__ = ["WebSocketTransport"]

log = structlog.get_logger("gambiarra.transport")

MAX_FRAME = 2**20  # the arena's own limit; anything larger is not a real message
# Unconfirmed frames that trigger a confirmation before the ack interval is up.
ACK_EVERY = 4096
# Round messages are held until confirmed and re-sent after a reconnect.
_HELD = (Token, Complete, ErrorReport)
Receive = Callable[[Incoming], Awaitable[None]]


class _Retry(Exception):
    """This connection is over; try again after a pause."""

    def __init__(self, reason: str, registered: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.registered = registered


class WebSocketTransport:
    """Connects, registers, reconnects, and delivers round messages exactly once.

    Args:
        url: the arena's ``ws://`` or ``wss://`` URL.
        register: the ``register`` message, sent on every (re)connection.
        ssl_context: for ``wss://`` with a private CA; None uses the system's.
        max_reconnects: give up after this many attempts in a row (None: never).
        delays: the backoff schedule, restarted after each successful register.
        ping_interval, ping_timeout: websockets' keepalive; a silent link is
            declared dead after about their sum.
        ack_interval: how often unconfirmed frames are confirmed with a ping.
    """

    def __init__(
        self,
        url: str,
        register: Register,
        *,
        ssl_context: ssl.SSLContext | None = None,
        open_timeout: float = 10.0,
        max_reconnects: int | None = None,
        delays: Callable[[], Iterator[float]] = backoff,
        ping_interval: float = 20.0,
        ping_timeout: float = 20.0,
        ack_interval: float = 0.5,
        outbox: Outbox | None = None,
    ) -> None:
        self.url = url
        self._register = register
        self._ssl = ssl_context
        self._open_timeout = open_timeout
        self._max_reconnects = max_reconnects
        self._delays = delays
        self._ping_interval = ping_interval
        self._ping_timeout = ping_timeout
        self._ack_interval = ack_interval
        self.outbox = outbox if outbox is not None else Outbox()
        self._wake = anyio.Event()
        self._confirmed = anyio.Event()
        self._ack_now = anyio.Event()
        self._last_sent = "register"
        self._live: deque[bytes] = deque()
        self._linked_now = False
        self._session_ended = False
        self._registered_before = False
        self._bad_frames = Throttle(anyio.current_time)

    # ------------------------------------------------------------ the port

    def send(self, message: ClientMessage) -> None:
        self._last_sent = str(message.__struct_config__.tag)  # the wire type
        if not isinstance(message, _HELD):
            # World messages are about now: one for a dead link is dropped, and
            # the agent joins again and answers the next pulse after a reconnect.
            if self._linked_now:
                self._live.append(encode_client(message))
                self._wake.set()
            return
        # The limit bounds what piles up while the link is down; complete and
        # error frames are always kept, a round's report must not be lost.
        bounded = isinstance(message, Token) and not self._linked_now
        if not self.outbox.add(encode_client(message), bounded=bounded):
            log.error("outbox_full", limit=self.outbox.limit, refused=self.outbox.refused)
        self._wake.set()

    async def flush(self) -> None:
        while self.outbox.unconfirmed:
            self._ack_now.set()
            await self._confirmed.wait()

    async def run(self, receive: Receive) -> None:
        delays = self._delays()
        failures = 0
        while True:
            try:
                await self._serve(await self._connect(), receive)
            except _Retry as retry:
                reason, registered = retry.reason, retry.registered
            if registered:
                delays, failures = self._delays(), 0
                await receive(LinkDown(reason))
            failures += 1
            if self._max_reconnects is not None and failures > self._max_reconnects:
                raise ArenaUnreachable(
                    f"{reason}; desisti depois de {failures} tentativa(s) "
                    f"(--max-reconnects {self._max_reconnects})"
                )
            delay = next(delays)
            await receive(Retrying(delay, failures, reason))
            await anyio.sleep(delay)

    # ------------------------------------------------------------ one connection

    async def _serve(self, ws: ClientConnection, receive: Receive) -> None:
        """Register and carry messages until the link ends, always by raising _Retry."""
        registered = False
        try:
            async with anyio.create_task_group() as tg:
                await ws.send(encode_client(self._register), text=True)
                async for frame in ws:
                    message = self._decode(frame)
                    if isinstance(message, Registered):
                        if registered:
                            continue  # one link per connection: a replayed frame changes nothing
                        registered = True
                        await self._linked(ws, tg, message, receive)
                    elif isinstance(message, ServerError):
                        await self._on_error(message, receive)
                    elif message is not None:
                        await receive(message)
                raise _Retry(f"a arena fechou a conexão (código {ws.close_code})")
        except Exception as exc:  # task groups wrap what their tasks raise
            error = unwrap(exc)
            if isinstance(error, _Retry):
                raise _Retry(error.reason, registered) from None
            if isinstance(error, ConnectionClosed):
                reason = f"a conexão com a arena caiu ({_close_reason(error)})"
                raise _Retry(reason, registered) from None
            if error is not exc:
                raise error from None
            raise
        finally:
            self._linked_now = False
            with anyio.move_on_after(1.0, shield=True):
                await ws.close()  # a normal close (1000), also on Ctrl-C

    async def _linked(
        self, ws: ClientConnection, tg: anyio.abc.TaskGroup, message: Registered, receive: Receive
    ) -> None:
        resent = self.outbox.rewind()
        self._live.clear()
        self._linked_now = True
        first = not self._registered_before
        self._registered_before, self._session_ended = True, False
        tg.start_soon(self._writer, ws)
        tg.start_soon(self._acker, ws)
        await receive(LinkUp(message.session_id, resent, first))

    async def _on_error(self, error: ServerError, receive: Receive) -> None:
        kind = classify(error)
        if kind is ArenaErrorKind.PIN_REJECTED:
            if self._session_ended:
                raise ArenaRejected(
                    "a organização abriu uma nova sessão e o PIN antigo não vale mais: "
                    "peça o novo PIN e rode de novo"
                )
            raise ArenaRejected("a arena recusou o PIN: confira o PIN com a organização")
        if kind is ArenaErrorKind.NO_SESSION:
            raise _Retry("a organização ainda não abriu a sessão")
        if kind is ArenaErrorKind.REGISTRATION_FAILED:
            raise _Retry("a arena não conseguiu registrar (Registration failed)")
        if kind is ArenaErrorKind.SESSION_ENDED:
            self.outbox.clear()  # those rounds are gone; their numbers will be reused
            self._session_ended = True
            await receive(SessionReplaced())
            raise _Retry("a organização abriu uma nova sessão")
        if kind is ArenaErrorKind.CLIENT_BUG:
            log.error("client_bug_reported_by_arena", message=error.message, after=self._last_sent)
        await receive(error)

    # ------------------------------------------------------------ background tasks

    async def _writer(self, ws: ClientConnection) -> None:
        while True:
            while self._live:
                await ws.send(self._live.popleft(), text=True)
            frame = self.outbox.next_unwritten()
            if frame is None:
                await self._wake.wait()
                self._wake = anyio.Event()
                continue
            await ws.send(frame, text=True)
            self.outbox.mark_written()
            if self.outbox.unconfirmed >= ACK_EVERY:
                self._ack_now.set()  # a fast model: confirm by volume, not only by time

    async def _acker(self, ws: ClientConnection) -> None:
        while True:
            with anyio.move_on_after(self._ack_interval):
                await self._ack_now.wait()  # flush() asks for a confirmation at once
            self._ack_now = anyio.Event()
            mark = self.outbox.written_mark
            if self.outbox.unconfirmed and mark > self.outbox.confirmed_mark:
                pong = await ws.ping()
                await pong
                self.outbox.confirm(mark)
                self._confirmed.set()
                self._confirmed = anyio.Event()

    # ------------------------------------------------------------ helpers

    async def _connect(self) -> ClientConnection:
        # Only pass `ssl` with our own context: websockets verifies wss:// by
        # default, and an explicit ssl=None would turn TLS off.
        tls = {"ssl": self._ssl} if self._ssl is not None and self.url.startswith("wss:") else {}
        try:
            return await connect(
                self.url,
                **tls,  # type: ignore[arg-type]
                open_timeout=self._open_timeout,
                ping_interval=self._ping_interval,
                ping_timeout=self._ping_timeout,
                close_timeout=1.0,
                max_size=MAX_FRAME,
                compression=None,  # tiny frames: deflate costs CPU and buys nothing
                proxy=None,  # a LAN arena is never behind the user's HTTP proxy
            )
        except InvalidURI:
            raise ConfigError(f"{self.url} não é um endereço ws:// ou wss://") from None
        except ssl.SSLCertVerificationError as exc:
            raise ArenaUnreachable(
                f"o certificado da arena em {self.url} não é confiável ({exc.verify_message}): "
                "se a organização usa um certificado próprio, passe-o com --ca-file"
            ) from None
        except InvalidStatus as exc:
            status = exc.response.status_code
            if 400 <= status < 500:
                raise ArenaUnreachable(
                    f"{self.url} respondeu HTTP {status} em vez de abrir o WebSocket: "
                    "confira o caminho em --url (normalmente termina em /ws)"
                ) from None
            raise _Retry(f"a arena respondeu HTTP {status}") from None
        except (OSError, InvalidHandshake, TimeoutError) as exc:
            raise _Retry(f"nenhuma arena respondeu em {self.url} ({_why(exc)})") from None

    def _decode(self, frame: str | bytes) -> Incoming | None:
        try:
            return decode_server(frame)
        except ProtocolError as exc:
            allowed, suppressed = self._bad_frames.allow()
            if allowed:
                log.warning("arena_frame_ignored", reason=str(exc)[:200], suppressed=suppressed)
            return None


def _why(exc: Exception) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "conexão recusada"
    if isinstance(exc, socket.gaierror):
        return "endereço não encontrado"
    if isinstance(exc, TimeoutError):
        return "sem resposta"
    return str(exc) or type(exc).__name__


def _close_reason(exc: ConnectionClosed) -> str:
    if exc.rcvd is not None:
        return f"código {exc.rcvd.code}"
    return "sem aviso de fechamento"


PROBE_TIMEOUT = 5.0


async def probe_arena(
    url: str, ssl_context: ssl.SSLContext | None, register: Register | None
) -> Registered | None:
    """Open a WebSocket to the arena and, with ``register``, try registering.

    Returns:
        The arena's ``registered`` answer, or None when only the handshake was asked.

    Raises:
        ArenaUnreachable: no WebSocket could be opened, or no answer in time.
        ArenaRejected: the PIN was refused.
        ConfigError: the URL is not a ws:// or wss:// URL.
    """
    transport = WebSocketTransport(url, register or _NO_REGISTER, ssl_context=ssl_context)
    try:
        ws = await transport._connect()
    except _Retry as retry:
        raise ArenaUnreachable(retry.reason) from None
    try:
        if register is None:
            return None
        with anyio.fail_after(PROBE_TIMEOUT):
            await ws.send(encode_client(register), text=True)
            async for frame in ws:
                message = transport._decode(frame)
                if isinstance(message, Registered):
                    return message
                if isinstance(message, ServerError):
                    await transport._on_error(message, _ignore)
        raise ArenaUnreachable("a arena fechou a conexão sem responder ao registro")
    except _Retry as retry:
        raise ArenaUnreachable(retry.reason) from None
    except (TimeoutError, ConnectionClosed):
        raise ArenaUnreachable(f"a arena em {url} não respondeu ao registro") from None
    finally:
        with anyio.move_on_after(1.0, shield=True):
            await ws.close()


_NO_REGISTER = Register(participant_id="-", nickname="-", pin="-", runner="-", model="-")


async def _ignore(_: Incoming) -> None:
    pass
