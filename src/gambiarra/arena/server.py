"""PracticeArena: a WebSocket arena on loopback, strict like the real servers.

Two flavours mirror the two real implementations (protocol.md):
- ``typescript`` (the main server): rounds count from 1, ``registered``
  carries ``session_id``, a challenge omits an unset seed, and an invalid
  frame is answered with ``Invalid message format`` on an open socket;
- ``python``: rounds count from 0, ``registered`` carries ``participant_id``,
  seed is ``null``, and an invalid frame, a wrong PIN or a missing session
  closes the socket.
Both drop any token whose seq is not exactly the next one for that
(participant, round), keep that buffer across reconnects, and never re-send a
challenge.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import ssl
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, Literal

import anyio
import anyio.abc
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from gambiarra.arena.records import Entry, RoundRecord
from gambiarra.arena.rules import Invalid, parse_client_frame
from gambiarra.arena.world import Avatar, World

__all__ = ["Flavor", "PracticeArena"]

Flavor = Literal["typescript", "python"]
TokenHook = Callable[[str, str], None]
EntryHook = Callable[[RoundRecord, Entry], None]
RoundHook = Callable[[RoundRecord], None]


class PracticeArena:
    """An arena server for rehearsal and tests. Use as an async context manager."""

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
    ) -> None:
        self.pin = pin
        self.flavor = flavor
        self.session_id: str | None = secrets.token_hex(8) if session_open else None
        self.rounds: list[RoundRecord] = []
        self.registrations: list[dict[str, Any]] = []
        self.register_attempts = 0
        self.invalid: list[str] = []
        self.close_codes: list[int | None] = []
        self.world: World | None = None
        self.agent_prompts: list[dict[str, Any]] = []
        self._world_links: dict[str, ServerConnection] = {}
        self._world_timing = (0.3, 0.6, 12.0)
        self._heartbeat_interval = heartbeat_interval
        self._ping = (ping_interval, ping_timeout)
        self._ssl = ssl_context
        self._changed = anyio.Event()
        self._on_token = on_token
        self._on_done = on_done
        self._on_round = on_round
        self._participants: dict[str, ServerConnection] = {}
        self._server: Server | None = None
        self._tg: anyio.abc.TaskGroup | None = None

    # ------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> PracticeArena:
        # The real servers ping every 30 s and drop a link after 3 missed pongs.
        self._server = await serve(
            self._handle,
            "127.0.0.1",
            0,
            max_size=2**20,
            ping_interval=self._ping[0],
            ping_timeout=self._ping[1],
            compression=None,
            ssl=self._ssl,
        )
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
        self._server.close()
        await self._server.wait_closed()

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        scheme = "wss" if self._ssl is not None else "ws"
        return f"{scheme}://127.0.0.1:{port}/ws"

    # ------------------------------------------------------------ organiser

    def open_session(self, pin: str | None = None) -> str:
        """Open a session (the organiser's ``POST /session``); returns its PIN."""
        self.session_id = secrets.token_hex(8)
        self.pin = pin if pin is not None else self.pin
        return self.pin

    async def end_session(self, new_pin: str) -> None:
        """Replace the session: everyone gets SESSION_ENDED and is disconnected."""
        message = {"type": "error", "message": "Session ended", "code": "SESSION_ENDED"}
        for ws in list(self._participants.values()):
            await self._send(ws, message)
            await ws.close()
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
    ) -> RoundRecord:
        """Broadcast a challenge to every registered participant."""
        first = 1 if self.flavor == "typescript" else 0
        challenge: dict[str, Any] = {
            "type": "challenge",
            "session_id": self.session_id,
            "round": first + len(self.rounds),
            "prompt": prompt,
            "max_tokens": max_tokens,
            "temperature": temperature,
            "deadline_ms": deadline_ms,
            "seed": seed,
        }
        if self.flavor == "typescript":
            challenge = {k: v for k, v in challenge.items() if v is not None}
        record = RoundRecord(challenge["round"], challenge, anyio.current_time())
        self.rounds.append(record)
        if self._on_round is not None:
            self._on_round(record)
        for participant_id, ws in list(self._participants.items()):
            record.entry(participant_id)
            await self._send(ws, challenge)
        return record

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
        if kind in ("world_join", "agent_action", "agent_prompt"):
            return await self._on_world(ws, message)
        record = self._round(message["round"])
        if record is None or self._participants.get(message["participant_id"]) is not ws:
            return True  # not a round we ran, or not registered on this socket: ignored
        entry = record.entry(message["participant_id"])
        now = anyio.current_time()
        if kind == "token":
            if entry.accept(message["seq"], message["content"], now) and self._on_token:
                self._on_token(message["participant_id"], message["content"])
        elif kind == "complete":
            entry.complete, entry.complete_at = message, now
            entry.completes += 1
            self._finish(record, entry)
        else:
            entry.errors.append(message)
            self._finish(record, entry)
        return True

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
        previous = self._participants.get(participant_id)
        if previous is not None and previous is not ws:
            await previous.close()  # the same participant on a new socket wins
        self._participants[participant_id] = ws
        self.registrations.append(message)
        key = "participant_id" if python else "session_id"
        value = participant_id if python else self.session_id
        await self._send(ws, {"type": "registered", key: value})
        return True

    # ------------------------------------------------------------ world mode

    async def start_world(
        self,
        *,
        seed: int = 7,
        food_count: int = 4,
        hop_seconds: float = 0.3,
        stay_seconds: float = 0.6,
        repulse_seconds: float = 12.0,
    ) -> World:
        """Open the 2-D world (the organiser's ``POST /world/start``)."""
        assert self._tg is not None
        self.world = World(food_count=food_count, seed=seed)
        self._world_timing = (hop_seconds, stay_seconds, repulse_seconds)
        self._tg.start_soon(self._drive_world, self.world)
        return self.world

    async def _on_world(self, ws: ServerConnection, message: dict[str, Any]) -> bool:
        participant_id = message["participant_id"]
        if self._participants.get(participant_id) is not ws:
            await self._send(ws, {"type": "error", "message": "Register before joining the world"})
            return True
        kind, world = message["type"], self.world
        if kind == "agent_prompt":
            self.agent_prompts.append(message)
        elif world is not None and kind == "world_join":
            avatar = world.join(participant_id, message.get("emoji"))
            avatar.pulsed_at = None  # (re)joined: the first perception goes out at once
            self._world_links[participant_id] = ws
        elif world is not None and participant_id in world.avatars:
            self._on_action(world, world.avatars[participant_id], message)
        return True

    def _on_action(self, world: World, avatar: Avatar, message: dict[str, Any]) -> None:
        now = anyio.current_time()
        hopping = now < avatar.busy_until
        if hopping or avatar.pulsed_at is None or message["pulse"] != avatar.pulse:
            avatar.ignored += 1  # still hopping, or the answer to an old pulse: wasted
            return
        avatar.accepted += 1
        if message.get("say"):
            avatar.says.append(message["say"][:60])
        world.act(avatar, message["direction"])
        hop, stay, _ = self._world_timing
        avatar.busy_until = now + (stay if message["direction"] == "STAY" else hop)
        avatar.pulsed_at = None

    async def _drive_world(self, world: World) -> None:
        """Pulse every idle avatar; re-pulse one whose answer never came."""
        _, _, repulse = self._world_timing
        while True:
            now = anyio.current_time()
            for participant_id, avatar in list(world.avatars.items()):
                ws = self._world_links.get(participant_id)
                if ws is None or self._participants.get(participant_id) is not ws:
                    continue  # not (or no longer) connected: pulses resume on rejoin
                idle = now >= avatar.busy_until
                late = avatar.pulsed_at is not None and now - avatar.pulsed_at >= repulse
                if idle and (avatar.pulsed_at is None or late):
                    await self._send(ws, world.perceive(avatar, now))
                    self._touch()
            await anyio.sleep(0.01)

    # ------------------------------------------------------------ helpers

    def _round(self, index: Any) -> RoundRecord | None:
        return next((r for r in self.rounds if r.index == index), None)

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
            beat = {"type": "heartbeat", "ts": int(time.time() * 1000)}
            for ws in list(self._participants.values()):
                await self._send(ws, beat)
