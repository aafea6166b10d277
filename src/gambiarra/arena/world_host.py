"""World mode on the arena's sockets: joins, actions, radar pulses, avatars leaving.

Kept apart from the connection handling in ``server``: it owns the world, the
socket each avatar plays on, and the task that pulses idle avatars. Like the
real arena, a ``world_join`` starts a stopped world, a late answer is wasted,
and an avatar (with its score) leaves when its socket drops.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import anyio.abc
from websockets.asyncio.server import ServerConnection

from gambiarra.arena.rules import SAY_SHOWN, utf16_prefix
from gambiarra.arena.world import Avatar, World

__all__ = ["WorldHost"]

Send = Callable[[ServerConnection, dict[str, Any]], Awaitable[None]]
Linked = Callable[[str, ServerConnection], bool]


class WorldHost:
    """Plays the 2-D world over the arena's connections.

    Args:
        send: sends one message on a socket (errors on a closed socket ignored).
        linked: whether a participant is registered on that socket right now.
        touch: tells the arena's waiters that something changed.
    """

    def __init__(self, send: Send, linked: Linked, touch: Callable[[], None]) -> None:
        self.world: World | None = None
        self._send = send
        self._linked = linked
        self._touch = touch
        self._links: dict[str, ServerConnection] = {}
        self._timing = (0.3, 0.6, 12.0)  # hop, stay, re-pulse (seconds)
        self._scope: anyio.CancelScope | None = None

    def start(
        self, tg: anyio.abc.TaskGroup, world: World, timing: tuple[float, float, float]
    ) -> None:
        """Replace the world with ``world`` and start pulsing it."""
        self.world, self._timing = world, timing
        self._run(tg, world)

    def stop(self) -> None:
        if self.world is not None:
            self.world.running = False
        if self._scope is not None:
            self._scope.cancel()
            self._scope = None
        self._touch()

    def on_message(
        self, tg: anyio.abc.TaskGroup, ws: ServerConnection, message: dict[str, Any]
    ) -> None:
        """A ``world_join`` or ``agent_action`` from a participant registered on ``ws``."""
        participant_id, world = message["participant_id"], self.world
        if message["type"] == "world_join":
            if world is None or not world.running:
                world = self.world = world or World()
                self._run(tg, world)  # the real arena starts a stopped world on a join
            avatar = world.join(participant_id, message.get("emoji"))
            avatar.pulsed_at = None  # (re)joined: the first perception goes out at once
            self._links[participant_id] = ws
        elif world is not None and participant_id in world.avatars:
            self._on_action(world, world.avatars[participant_id], message)

    def leave(self, ws: ServerConnection) -> None:
        """A dropped socket takes its avatar (and score) out of the world."""
        for participant_id, link in list(self._links.items()):
            if link is ws:
                del self._links[participant_id]
                if self.world is not None:
                    self.world.leave(participant_id)

    def _run(self, tg: anyio.abc.TaskGroup, world: World) -> None:
        if self._scope is not None:
            self._scope.cancel()
        world.running = True
        self._scope = anyio.CancelScope()
        tg.start_soon(self._drive, world, self._scope)

    def _on_action(self, world: World, avatar: Avatar, message: dict[str, Any]) -> None:
        now = anyio.current_time()
        hopping = now < avatar.busy_until
        if hopping or avatar.pulsed_at is None or message["pulse"] != avatar.pulse:
            avatar.ignored += 1  # still hopping, or the answer to an old pulse: wasted
            return
        avatar.accepted += 1
        if message.get("say"):
            avatar.says.append(utf16_prefix(message["say"], SAY_SHOWN))
        world.act(avatar, message["direction"])
        hop, stay, _ = self._timing
        avatar.busy_until = now + (stay if message["direction"] == "STAY" else hop)
        avatar.pulsed_at = None

    async def _drive(self, world: World, scope: anyio.CancelScope) -> None:
        """Pulse every idle avatar; re-pulse one whose answer never came."""
        _, _, repulse = self._timing
        with scope:
            while True:
                now = anyio.current_time()
                for participant_id, avatar in list(world.avatars.items()):
                    ws = self._links.get(participant_id)
                    if ws is None or not self._linked(participant_id, ws):
                        continue
                    idle = now >= avatar.busy_until
                    late = avatar.pulsed_at is not None and now - avatar.pulsed_at >= repulse
                    if idle and (avatar.pulsed_at is None or late):
                        await self._send(ws, world.perceive(avatar, now))
                        self._touch()
                await anyio.sleep(0.01)  # the world's own tick
