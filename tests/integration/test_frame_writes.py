"""Frames reach the socket at once, and a burst in one write, each still its own message.

A real websockets server on loopback receives the messages; the client
connection's transport counts its writes (one ``write`` is one system call
when the socket keeps up). The delivery's clock is a stand-in, so "within
the write gap" needs no waiting.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import anyio
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, serve

from gambiarra.adapters.arena_socket import send_frames
from gambiarra.adapters.delivery import WRITE_GAP, Delivery
from gambiarra.domain.protocol import Complete, ModelInfo, Token

pytestmark = pytest.mark.anyio


class Receiver:
    """A WebSocket server that keeps every text message, in order."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        self._more = anyio.Event()

    async def handle(self, ws: ServerConnection) -> None:
        async for message in ws:
            assert isinstance(message, str)
            self.messages.append(message)
            self._more.set()
            self._more = anyio.Event()

    async def wait_for(self, count: int) -> None:
        while len(self.messages) < count:
            await self._more.wait()


@asynccontextmanager
async def linked() -> AsyncIterator[tuple[ClientConnection, Receiver, list[int]]]:
    """A client connection to a receiver; the list counts the transport's writes."""
    receiver = Receiver()
    async with serve(receiver.handle, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}", compression=None) as ws:
            writes = [0]
            write: Callable[[bytes], None] = ws.transport.write

            def counted(data: bytes) -> None:
                writes[0] += 1
                write(data)

            ws.transport.write = counted  # type: ignore[method-assign]
            yield ws, receiver, writes


def token(seq: int) -> Token:
    return Token(round=1, participant_id="ana-pc", seq=seq, content=f" t{seq}")


async def test_frames_written_together_arrive_as_separate_messages_in_order() -> None:
    frames = [f'{{"n":{i}}}'.encode() for i in range(50)]
    async with linked() as (ws, receiver, writes):
        with anyio.fail_after(5):
            await send_frames(ws, frames)
            assert writes[0] == 1  # one write for the fifty frames
            await receiver.wait_for(50)
    assert receiver.messages == [frame.decode() for frame in frames]


async def test_a_token_is_written_at_once_and_a_burst_in_the_writers_next_write() -> None:
    now = [100.0]
    delivery = Delivery(ack_interval=3600.0, clock=lambda: now[0])
    delivery.linked = True
    async with linked() as (ws, receiver, writes), anyio.create_task_group() as tg:
        with anyio.fail_after(5):
            tg.start_soon(delivery.serve, ws)
            await anyio.wait_all_tasks_blocked()  # the writer waits for frames
            delivery.send(token(0))
            assert writes[0] == 1  # on the socket before the sender yields: no task switch
            delivery.send(token(1))  # within the write gap of the first: it waits
            delivery.send(token(2))
            assert writes[0] == 1
            await anyio.wait_all_tasks_blocked()
            assert writes[0] == 2  # the writer took both in one write
            now[0] += 2 * WRITE_GAP
            delivery.send(token(3))  # a gap later: at once again
            assert writes[0] == 3
            await receiver.wait_for(4)
            tg.cancel_scope.cancel()
    assert [json.loads(m)["seq"] for m in receiver.messages] == [0, 1, 2, 3]


async def test_a_complete_is_never_held_back_by_the_write_gap() -> None:
    delivery = Delivery(ack_interval=3600.0, clock=lambda: 100.0)
    delivery.linked = True
    complete = Complete(
        round=1,
        participant_id="ana-pc",
        tokens=1,
        duration_ms=5,
        model_info=ModelInfo(name="m", runner="fake"),
    )
    async with linked() as (ws, receiver, writes), anyio.create_task_group() as tg:
        with anyio.fail_after(5):
            tg.start_soon(delivery.serve, ws)
            await anyio.wait_all_tasks_blocked()
            delivery.send(token(0))
            delivery.send(complete)  # within the gap, and written at once all the same
            assert writes[0] == 2
            await receiver.wait_for(2)
            tg.cancel_scope.cancel()
    assert '"type":"complete"' in receiver.messages[1]


async def test_next_write_returns_once_frames_are_written() -> None:
    delivery = Delivery(ack_interval=3600.0)
    delivery.linked = True
    wrote = anyio.Event()

    async def wait_for_write() -> None:
        await delivery.next_write()
        wrote.set()

    async with linked() as (ws, _, writes), anyio.create_task_group() as tg:
        with anyio.fail_after(5):
            tg.start_soon(delivery.serve, ws)
            tg.start_soon(wait_for_write)
            await anyio.wait_all_tasks_blocked()
            assert not wrote.is_set()
            delivery.send(token(0))
            await wrote.wait()
            assert writes[0] == 1
            tg.cancel_scope.cancel()
