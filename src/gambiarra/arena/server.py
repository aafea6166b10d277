"""PracticeArena: a WebSocket arena on loopback, strict like the real servers.

Two flavours mirror the two real implementations (protocol.md):
- ``typescript`` (the main server): rounds count from 1 in each session,
  ``registered`` carries ``session_id``, a challenge omits an unset seed, an
  invalid frame is answered with ``Invalid message format`` on an open socket,
  and plain HTTP reads are served on the same host and port (``http_side``);
- ``python``: rounds count from 0, ``registered`` carries ``participant_id``,
  seed is ``null``, an invalid frame, a wrong PIN or a missing session closes
  the socket, and every HTTP path answers 404.
Both drop any token whose seq is not exactly the next one for that
(participant, round), keep that buffer across reconnects (in memory only: lost
by ``restart()``), never re-send a challenge, and close an older socket
without a close status when the same participant registers on a new one.
"""

from __future__ import annotations

import contextlib
import http
import json
import re
import ssl
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal
from urllib.parse import urlsplit

import anyio
import anyio.abc
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from gambiarra.arena import http_side
from gambiarra.arena.records import Entry, Profile, Recorded, RoundRecord
from gambiarra.arena.rules import Invalid, parse_client_frame
from gambiarra.arena.world import World
from gambiarra.arena.world_host import WorldHost

__all__ = ["Flavor", "PracticeArena"]

Flavor = Literal["typescript", "python"]
TokenHook = Callable[[str, str], None]
EntryHook = Callable[[RoundRecord, Entry], None]
RoundHook = Callable[[RoundRecord], None]

_RESPONSES_PATH = re.compile(r"/rounds/([^/]+)/responses")


class PracticeArena:
    """An arena server for rehearsal and tests. Use as an async context manager.

    Args:
        clock_offset_ms: added to every server wall time it reports (``/health``,
            ``startedAt``, heartbeats), to put its clock away from the client's.
        record_delay: seconds a ``complete`` takes to be written to the database,
            like the real server awaiting its database (also a public attribute,
            read at each ``complete``). The socket goes on reading meanwhile, and
            ``Entry.done``, ``completes`` and ``on_done`` happen on arrival; only
            the recorded answer (``Entry.recorded``, ``GET /rounds/<id>/responses``)
            shows up after the delay, taken from the buffer as it was on arrival.

    Test knobs (besides ``record_delay``): ``fail_http`` makes HTTP reads fail,
    ``refuse_upgrades`` and ``close_after_register`` trouble the WebSocket, and
    ``drop``, ``restart`` and ``end_session`` are the accidents of an event night.

    Attributes a test may read:
        http_requests: HTTP requests per path (not counting the ``/ws`` upgrade).
        upgrade_attempts: monotonic (anyio) time of every request to ``/ws``.
        warnings: the organiser's log, one ``WS_SEQ_MISMATCH ...`` line per dropped token.
        seq_mismatches: how many tokens were dropped for a wrong seq.
        registrations: every successful ``register`` message.
        register_attempts: every ``register`` received.
        restarts: how many times ``restart()`` ran.
    """

    def __init__(
        self,
        pin: str = "123456",
        flavor: Flavor = "typescript",
        *,
        session_open: bool = True,
        heartbeat_interval: float = 30.0,
        ping_interval: float = 30.0,
        ping_timeout: float = 90.0,
        ssl_context: ssl.SSLContext | None = None,
        on_token: TokenHook | None = None,
        on_done: EntryHook | None = None,
        on_round: RoundHook | None = None,
        clock_offset_ms: int = 0,
        record_delay: float = 0.0,
    ) -> None:
        self.pin = pin
        self.flavor = flavor
        self.clock_offset_ms = clock_offset_ms
        self.record_delay = record_delay
        self.session_id: str | None = str(uuid.uuid4()) if session_open else None
        self.rounds: list[RoundRecord] = []
        self.profiles: dict[str, Profile] = {}
        self.registrations: list[dict[str, Any]] = []
        self.register_attempts = 0
        self.invalid: list[str] = []
        self.close_codes: list[int | None] = []
        self.warnings: list[str] = []
        self.seq_mismatches = 0
        self.http_requests: Counter[str] = Counter()
        self.upgrade_attempts: list[float] = []
        self.restarts = 0
        self.agent_prompts: list[dict[str, Any]] = []
        self._world = WorldHost(self._send, self._linked, self._touch)
        self._heartbeat_interval = heartbeat_interval
        self._ping = (ping_interval, ping_timeout)
        self._ssl = ssl_context
        self._changed = anyio.Event()
        self._on_token = on_token
        self._on_done = on_done
        self._on_round = on_round
        self._participants: dict[str, ServerConnection] = {}
        self._refusals: list[tuple[int, float | None]] = []
        self._closes_after_register: list[int] = []
        self._http_failures: list[_HttpFailure] = []
        self._port = 0
        self._back = anyio.Event()
        self._server: Server | None = None
        self._tg: anyio.abc.TaskGroup | None = None

    # ------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> PracticeArena:
        await self._listen()
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        self._tg.start_soon(self._heartbeats)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        assert self._tg is not None
        self._tg.cancel_scope.cancel()
        await self._tg.__aexit__(exc_type, exc, tb)
        if self._server.is_serving():  # not when left in the middle of a restart
            self._server.close()
            await self._server.wait_closed()

    async def _listen(self) -> None:
        # The real servers ping every 30 s and drop a link after 3 missed pongs.
        self._server = await serve(
            self._handle,
            "127.0.0.1",
            self._port,
            max_size=2**20,
            ping_interval=self._ping[0],
            ping_timeout=self._ping[1],
            compression=None,
            ssl=self._ssl,
            process_request=self._process_request,
        )
        self._port = self._server.sockets[0].getsockname()[1]

    async def restart(self, down_for: float = 0.0) -> None:
        """Simulate the arena process restarting (killed, then started again).

        Every connection is cut with no close frame, every in-memory token
        buffer (and first-token time) is forgotten, and every avatar leaves;
        the session, PIN, rounds, recorded responses and profiles (the
        database) survive. For ``down_for`` seconds (or until ``come_back()``)
        nothing listens, so a connection is refused; when this returns the
        arena accepts connections again at the same URL.
        """
        assert self._server is not None
        server = self._server
        server.close(close_connections=False)
        for ws in list(server.all_connections):
            ws.transport.abort()
        await server.wait_closed()
        for record in self.rounds:
            for entry in record.entries.values():
                entry.forget()
        self._back = anyio.Event()
        self.restarts += 1
        self._touch()
        with anyio.move_on_after(down_for):
            await self._back.wait()  # the process is down: nothing listens
        await self._listen()

    def come_back(self) -> None:
        """End a ``restart(down_for=...)`` down time now (for tests that must not wait it out)."""
        self._back.set()

    @property
    def url(self) -> str:
        scheme = "wss" if self._ssl is not None else "ws"
        return f"{scheme}://127.0.0.1:{self._port}/ws"

    @property
    def http_url(self) -> str:
        """The same host and port as ``url``, for the HTTP reads (no trailing slash)."""
        scheme = "https" if self._ssl is not None else "http"
        return f"{scheme}://127.0.0.1:{self._port}"

    def server_time_ms(self) -> int:
        """The server's wall clock in epoch ms, offset by ``clock_offset_ms``."""
        return int(time.time() * 1000) + self.clock_offset_ms

    # ------------------------------------------------------------ organiser

    def open_session(self, pin: str | None = None) -> str:
        """Open a session (the organiser's ``POST /session``); returns its PIN."""
        self.session_id = str(uuid.uuid4())
        self.pin = pin if pin is not None else self.pin
        return self.pin

    async def end_session(self, new_pin: str) -> None:
        """Replace the session: everyone gets SESSION_ENDED and is disconnected."""
        message = {"type": "error", "message": "Session ended", "code": "SESSION_ENDED"}
        for ws in list(self._participants.values()):
            await self._send(ws, message)
            await _close_without_status(ws)
        self._participants.clear()
        self.open_session(new_pin)
        self._touch()

    async def start_round(
        self,
        prompt: str,
        *,
        max_tokens: int | None = 400,
        temperature: float | None = 0.8,
        deadline_ms: int | None = 90_000,
        seed: int | None = None,
        svg_mode: bool = False,
    ) -> RoundRecord:
        """Broadcast a challenge to every participant registered now.

        The round becomes the current one (ending the previous); it stays
        current until ``stop_round()`` or the next ``start_round()``, never
        ended by its deadline. A participant registering later never gets it.
        """
        previous = self.current_round
        if previous is not None:
            self._end(previous)
        first = 1 if self.flavor == "typescript" else 0
        in_session = sum(r.session_id == self.session_id for r in self.rounds)
        challenge: dict[str, Any] = {
            "type": "challenge",
            "session_id": self.session_id,
            "round": first + in_session,
            "prompt": prompt,
            "max_tokens": max_tokens,
            "temperature": temperature,
            "deadline_ms": deadline_ms,
            "seed": seed,
        }
        if self.flavor == "typescript":
            challenge = {k: v for k, v in challenge.items() if v is not None}
        record = RoundRecord(
            challenge["round"],
            challenge,
            anyio.current_time(),
            session_id=self.session_id,
            svg_mode=svg_mode,
            started_at_ms=self.server_time_ms(),
        )
        self.rounds.append(record)
        if self._on_round is not None:
            self._on_round(record)
        for participant_id, ws in list(self._participants.items()):
            record.entry(participant_id)
            await self._send(ws, challenge)
        return record

    def stop_round(self) -> RoundRecord | None:
        """End the current round (the organiser's ``POST /rounds/stop``); voting opens."""
        record = self.current_round
        if record is not None:
            self._end(record)
        return record

    @property
    def current_round(self) -> RoundRecord | None:
        """The round ``GET /rounds/current`` reports, if any."""
        if self.session_id is None:
            return None
        return next(
            (r for r in reversed(self.rounds) if r.session_id == self.session_id and r.running),
            None,
        )

    async def rebroadcast(self, record: RoundRecord) -> None:
        """Send a round's challenge again (a replayed broadcast)."""
        for ws in list(self._participants.values()):
            await self._send(ws, record.challenge)

    async def send_raw(self, participant_id: str, frame: str | bytes) -> None:
        """Send any frame at all to a participant (hostile-input tests)."""
        ws = self._participants.get(participant_id)
        if ws is not None:
            with contextlib.suppress(ConnectionClosed):
                await ws.send(frame)

    def drop(self, participant_id: str) -> None:
        """Cut one participant's link abruptly, with no close frame (a reset)."""
        ws = self._participants.get(participant_id)
        if ws is not None:
            ws.transport.abort()

    async def wait_registered(self, participant_id: str) -> None:
        await self.wait_for(lambda: participant_id in self._participants)

    async def wait_for(self, condition: Callable[[], bool]) -> None:
        """Wait until ``condition()`` holds; it is checked after every frame and link change."""
        while not condition():
            await self._changed.wait()

    def _touch(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    def is_connected(self, participant_id: str) -> bool:
        return participant_id in self._participants

    def _linked(self, participant_id: str, ws: ServerConnection) -> bool:
        return self._participants.get(participant_id) is ws

    # ------------------------------------------------------------ link accidents

    def refuse_upgrades(self, status: int, times: int, retry_after: float | None = None) -> None:
        """Answer the next ``times`` WebSocket upgrades with HTTP ``status`` instead.

        Like a proxy's 429 or a 503 in front of the arena. With ``retry_after``
        the answer carries ``Retry-After`` in seconds (written with ``%g``, so
        0.2 stays 0.2: a real proxy sends whole seconds, tests want short ones).
        Every upgrade attempt's time is kept in ``upgrade_attempts``.
        """
        self._refusals.extend([(status, retry_after)] * times)

    def close_after_register(self, times: int, code: int = 1000) -> None:
        """Close the socket with ``code`` right after each of the next ``times`` registrations.

        An arena that accepts, answers ``registered``, then hangs up at once.
        """
        self._closes_after_register.extend([code] * times)

    def fail_http(self, status: int, path_suffix: str, times: int | None = None) -> None:
        """Answer HTTP GETs whose path ends with ``path_suffix`` with ``status``.

        Like a 500 from the arena or a 429 from its rate limit (500 requests a
        minute): the body is the JSON error ``{"error": <reason phrase>}``. The
        next ``times`` matching requests fail, or every one when None; they are
        still counted in ``http_requests``. The WebSocket upgrade is not an HTTP
        read: ``refuse_upgrades`` troubles it.
        """
        self._http_failures.append(_HttpFailure(status, path_suffix, times))

    # ------------------------------------------------------------ HTTP side

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        """Let ``/ws`` upgrade (unless told to refuse); answer any other path as plain HTTP."""
        path = urlsplit(request.path).path
        if path == "/ws":
            self.upgrade_attempts.append(anyio.current_time())
            self._touch()
            if self._refusals:
                status, retry_after = self._refusals.pop(0)
                headers = {} if retry_after is None else {"Retry-After": f"{retry_after:g}"}
                body = {"error": http.HTTPStatus(status).phrase}
                return http_side.json_response(status, body, headers)
            return None
        self.http_requests[path] += 1
        self._touch()
        status, body = self._failure(path) or self._answer(path, request.path)
        return http_side.json_response(status, body)

    def _failure(self, path: str) -> http_side.Answer | None:
        """The error ``fail_http`` asked for on this path, if any is left."""
        for failure in self._http_failures:
            if path.endswith(failure.path_suffix) and failure.times != 0:
                if failure.times is not None:
                    failure.times -= 1
                return failure.status, {"error": http.HTTPStatus(failure.status).phrase}
        return None

    def _answer(self, path: str, url: str) -> http_side.Answer:
        """The answer for ``path``; ``url`` (path and query) goes into Fastify's 404 text."""
        if self.flavor == "python":
            return http_side.not_found("GET", url, python=True)
        if path == "/health":
            return http_side.health(self.server_time_ms())
        if path == "/rounds/current":
            return http_side.current_round(self.session_id, self.current_round)
        if match := _RESPONSES_PATH.fullmatch(path):
            record = next((r for r in self.rounds if r.id == match[1]), None)
            return http_side.round_responses(record)
        if path == "/presence":
            live = [self.profiles[pid] for pid in self._participants]
            return http_side.presence(self.session_id, live)
        if path == "/world/state":
            return http_side.world_state(self.world)
        return http_side.not_found("GET", url)

    # ------------------------------------------------------------ connection

    async def _handle(self, ws: ServerConnection) -> None:
        try:
            async for frame in ws:
                keep = await self._on_frame(ws, frame)
                self._touch()
                if not keep:
                    return
        except ConnectionClosed:
            pass
        finally:
            for participant_id, conn in list(self._participants.items()):
                if conn is ws:
                    del self._participants[participant_id]
            self._world.leave(ws)
            await ws.close()
            self.close_codes.append(ws.close_code)
            self._touch()

    async def _on_frame(self, ws: ServerConnection, frame: str | bytes) -> bool:
        """Handle one frame; False means the connection must end."""
        try:
            message = parse_client_frame(frame)
        except Invalid as exc:
            self.invalid.append(str(exc))
            if self.flavor == "python":
                return False
            await self._send(ws, {"type": "error", "message": "Invalid message format"})
            return True
        kind = message["type"]
        if kind == "register":
            return await self._register(ws, message)
        participant_id = message["participant_id"]
        if self._participants.get(participant_id) is ws:
            self.profiles[participant_id].last_seen_ms = self.server_time_ms()
        if kind in ("world_join", "agent_action", "agent_prompt"):
            return await self._on_world(ws, message)
        record = self._round(message["round"])
        if record is None or self._participants.get(participant_id) is not ws:
            return True  # not a round of this session, or not registered on this socket
        entry = record.entry(participant_id)
        now = anyio.current_time()
        if kind == "token":
            self._on_token_frame(record, entry, message, now)
        elif kind == "complete":
            row = entry.received(message, self.profiles[participant_id].nickname, now)
            if self.record_delay > 0 and self._tg is not None:
                self._tg.start_soon(self._store_later, entry, row, self.record_delay)
            else:
                entry.recorded = row
            self._finish(record, entry)
        else:
            entry.errors.append(message)
            self._finish(record, entry)
        return True

    def _on_token_frame(
        self, record: RoundRecord, entry: Entry, message: dict[str, Any], now: float
    ) -> None:
        expected = entry.next_seq
        if entry.accept(message["seq"], message["content"], now):
            if self._on_token is not None:
                self._on_token(entry.participant_id, message["content"])
            return
        self.seq_mismatches += 1
        self.warnings.append(
            f"WS_SEQ_MISMATCH: Token sequence mismatch — token dropped "
            f"participant={entry.participant_id} round={record.index} "
            f"expected={expected} got={message['seq']}"
        )

    async def _register(self, ws: ServerConnection, message: dict[str, Any]) -> bool:
        python = self.flavor == "python"
        self.register_attempts += 1
        if self.session_id is None:
            await self._send(ws, {"type": "error", "message": "No active session"})
            return not python
        if message["pin"] != self.pin:
            await self._send(
                ws, {"type": "error", "message": "Invalid PIN" if python else "Invalid PIN."}
            )
            return not python
        participant_id = message["participant_id"]
        self._remember(message)
        previous = self._participants.get(participant_id)
        if previous is not None and previous is not ws and self._tg is not None:
            # The newer socket wins; the older one is closed with no status and no error frame.
            self._tg.start_soon(_close_without_status, previous)
        self._participants[participant_id] = ws
        self.registrations.append(message)
        key = "participant_id" if python else "session_id"
        value = participant_id if python else self.session_id
        await self._send(ws, {"type": "registered", key: value})
        if self._closes_after_register:
            await ws.close(self._closes_after_register.pop(0))
            return False
        return True

    def _remember(self, message: dict[str, Any]) -> None:
        """Create or update the participant's profile (the database row)."""
        now = self.server_time_ms()
        participant_id = message["participant_id"]
        known = self.profiles.get(participant_id)
        self.profiles[participant_id] = Profile(
            id=participant_id,
            nickname=message["nickname"],
            runner=message.get("runner"),
            model=message.get("model"),
            created_at_ms=now if known is None else known.created_at_ms,
            last_seen_ms=now,
        )

    # ------------------------------------------------------------ world mode

    @property
    def world(self) -> World | None:
        """The 2-D world, once started (by the organiser or by a ``world_join``)."""
        return self._world.world

    async def start_world(
        self,
        *,
        seed: int = 7,
        food_count: int = 4,
        hop_seconds: float = 0.3,
        stay_seconds: float = 0.6,
        repulse_seconds: float = 12.0,
    ) -> World:
        """Open a new 2-D world (the organiser's ``POST /world/start``)."""
        assert self._tg is not None
        world = World(food_count=food_count, seed=seed)
        self._world.start(self._tg, world, (hop_seconds, stay_seconds, repulse_seconds))
        return world

    def stop_world(self) -> None:
        """Stop the world (``POST /world/stop``): no more pulses until it starts again.

        As on the real arena, any participant's ``world_join`` starts it again.
        """
        self._world.stop()

    async def _on_world(self, ws: ServerConnection, message: dict[str, Any]) -> bool:
        if self._participants.get(message["participant_id"]) is not ws:
            await self._send(ws, {"type": "error", "message": "Register before joining the world"})
        elif message["type"] == "agent_prompt":
            self.agent_prompts.append(message)
        else:
            assert self._tg is not None
            self._world.on_message(self._tg, ws, message)
        return True

    # ------------------------------------------------------------ helpers

    def _round(self, index: Any) -> RoundRecord | None:
        """A round of the current session by its index, as the real server looks it up."""
        return next(
            (r for r in self.rounds if r.index == index and r.session_id == self.session_id),
            None,
        )

    async def _store_later(self, entry: Entry, row: Recorded, delay: float) -> None:
        """The database write of a ``complete``, while the socket goes on reading."""
        await anyio.sleep(delay)
        entry.recorded = row
        self._touch()

    def _end(self, record: RoundRecord) -> None:
        record.ended_at_ms = self.server_time_ms()
        record.voting_status = "open"
        self._touch()

    def _finish(self, record: RoundRecord, entry: Entry) -> None:
        entry.done.set()
        if self._on_done is not None:
            self._on_done(record, entry)

    async def _send(self, ws: ServerConnection, message: dict[str, Any]) -> None:
        with contextlib.suppress(ConnectionClosed):
            await ws.send(json.dumps(message))

    async def _heartbeats(self) -> None:
        while True:
            await anyio.sleep(self._heartbeat_interval)
            beat = {"type": "heartbeat", "ts": self.server_time_ms()}
            for ws in list(self._participants.values()):
                await self._send(ws, beat)


@dataclass
class _HttpFailure:
    """One ``fail_http`` order: ``times`` left (None: for ever)."""

    status: int
    path_suffix: str
    times: int | None


async def _close_without_status(ws: ServerConnection) -> None:
    """Close with an empty close frame, as Node's ``ws.close()`` does (1005 on the client)."""
    with contextlib.suppress(ConnectionClosed):
        async with ws.send_context():
            ws.protocol.send_close()
